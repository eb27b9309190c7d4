"""Demo traffic: Chinese sales-group messages as reps really write them, from a seeded RNG.

A corpus is a week of two groups (config.yaml's wr-sales-east and wr-sales-south): complete and
incomplete 【跟进】 reports in several styles, 【成交】 deal reports, chatter outside the posting
windows and on the weekend, 【紧急】 messages late at night, a flood burst, customers' private
details and finances posted in the open, @-mentions of the AI bot, and reps messaging the app 1:1.
The personal identifiers are made up but well-formed (valid ID and bank-card check digits), so
the detectors see what they would see in real groups.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.simulator.directory import DEMO_MEMBERS, GROUP_MEMBERS

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOT_NAME = "销售助手"

CLIENTS = ("王总", "陈经理", "刘女士", "黄先生", "周总", "吴主任", "郑老师", "孙工", "马总", "林经理")
COMPANIES = (
    "上海恒信贸易有限公司", "杭州云帆科技", "苏州博远精密机械", "南京瑞丰医药", "深圳前海新能源",
    "广州粤海物流", "东莞华达电子", "佛山美居家具", "厦门海拓进出口", "宁波港城化工",
)
NEEDS = (
    "采购一批办公电脑，预算30万左右", "想了解我们的SaaS年费方案", "需要上门演示仓储系统",
    "对比了三家，关心售后响应时间", "续签明年的维保合同", "新厂区要上MES，先做调研",
)
LAST_CONTACTS = ("昨天下午电话沟通", "上周五拜访", "3月2日微信联系", "前天视频会议", "今天上午")
NEXT_ACTIONS = ("下周二带方案上门", "周四前发报价单", "月底前约技术交流", "明天电话确认预算", "下周一签合同")
CHATTER = ("今天辛苦了，明天继续冲！", "有人知道报销单现在交给谁吗", "周末有人加班吗", "晚上聚餐的在群里接龙",
           "这个月的目标还差一点，大家加油", "楼下咖啡店打折，需要的说一声")
FLOOD = ("收到", "好的", "+1", "明白", "收到收到", "👍", "好", "了解", "OK", "马上", "在的", "1")
FINANCIAL = ("听说他们资金链断裂了，回款要小心", "这家客户还欠款20多万没结，先别发货",
             "对方老板说最近现金流很紧张，可能要延期付款", "客户的征信有问题，银行贷款没批下来")
URGENT = ("【紧急】恒信的王总刚来电话，合同条款要改，今晚必须回复", "【紧急】明早8点的演示改到线上，请大家准备好",
          "【紧急】客户投诉设备故障，售后请马上联系")


#: Who writes reports and deals; managers and the director only chat, urge and ask the bot.
REPS = frozenset(m.userid for m in DEMO_MEMBERS if m.position == "销售代表")
_BY_ANYONE = frozenset({"chatter", "chatter_off_hours", "urgent", "mention"})


@dataclass(frozen=True)
class DemoMessage:
    """One message of the demo: a group message (chat_id set) or a 1:1 message to the app (chat_id "")."""

    kind: str
    chat_id: str
    sender: str
    sent_at: datetime
    text: str
    msgid: str

    @property
    def mentions_bot(self) -> bool:
        return self.text.startswith(f"@{BOT_NAME}")


def mobile(rng: random.Random) -> str:
    return rng.choice(("138", "139", "135", "186", "177", "150", "188")) + f"{rng.randrange(10**8):08d}"


def id_card(rng: random.Random) -> str:
    """An 18-digit resident ID with a valid ISO 7064 MOD 11-2 check character."""
    born = date(1970, 1, 1) + timedelta(days=rng.randrange(365 * 30))
    body = rng.choice(("310104", "440305", "330106", "320102")) + born.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def bank_card(rng: random.Random) -> str:
    """A UnionPay-style card number with a valid Luhn digit."""
    body = rng.choice(("622202", "621700", "622848", "623058")) + "".join(str(rng.randrange(10)) for _ in range(12))
    total = 0
    for i, digit in enumerate(int(d) for d in reversed(body)):
        if i % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return body + str((10 - total % 10) % 10)


def _follow_up(rng: random.Random, *, complete: bool) -> str:
    client, company = rng.choice(CLIENTS), rng.choice(COMPANIES)
    fields = {
        "客户姓名": client,
        "公司名称": company,
        # Reps often paste the customer's mobile here: exactly what the sensitive-data rule is for.
        "联系方式": mobile(rng) if rng.random() < 0.2 else f"已加{client}企业微信",
        "需求描述": rng.choice(NEEDS),
        "上次沟通时间": rng.choice(LAST_CONTACTS),
        "下一步行动计划": rng.choice(NEXT_ACTIONS),
    }
    if not complete:
        if rng.random() < 0.2:  # written in a hurry: every field there, but no label has its colon
            return "【跟进】" + "，".join(f"{k} {v}" for k, v in fields.items())
        for missing in rng.sample(sorted(fields), k=rng.choice((1, 2))):
            del fields[missing]
    style = rng.randrange(3)
    if style == 0:
        return "【跟进】\n" + "\n".join(f"{k}：{v}" for k, v in fields.items())
    if style == 1:
        aliases = {"客户姓名": "客户", "公司名称": "公司", "联系方式": "电话", "需求描述": "需求",
                   "上次沟通时间": "上次沟通", "下一步行动计划": "下一步"}
        return "#跟进 " + "；".join(f"{aliases[k]}:{v}" for k, v in fields.items())
    return "【跟进】" + "，".join(f"{k}：{v}" for k, v in fields.items())


def _deal(rng: random.Random) -> str:
    company = rng.choice(COMPANIES)
    amount = rng.choice(("5万", "12.5万元", "¥8,000", "30万", "五万", "￥12,800", "3000元"))
    return rng.choice((
        f"【成交】{company} 签单 {amount}，感谢大家支持！",
        f"【成交】客户：{rng.choice(CLIENTS)}\n公司：{company}\n成交金额：{amount}",
        f"#成交 {company}续费{amount}，回款已到",
    ))


def _sensitive(rng: random.Random) -> str:
    client = rng.choice(CLIENTS)
    mailbox = f"{rng.choice(('wangzong', 'chen.jl', 'liu_ns'))}@{rng.choice(('hengxin', 'yunfan'))}.com"
    return rng.choice((
        f"{client}的手机是{mobile(rng)}，谁有空帮忙回个电话",
        f"帮{client}办开户，身份证号{id_card(rng)}，先登记一下",
        f"{client}的付款卡号 {bank_card(rng)}，财务对一下",
        f"报价单发到{client}邮箱 {mailbox}",
        f"{client}微信号 {rng.choice(('hx_wang1985', 'chenjingli88', 'liu-ms-2020'))}，加一下拉群",
        f"{rng.choice(COMPANIES)}：{rng.choice(FINANCIAL)}",
    ))


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), SHANGHAI)


def _in_window(rng: random.Random, day: date) -> datetime:
    start = rng.choice(((9, 0, 120), (14, 0, 180)))
    return _at(day, start[0], start[1]) + timedelta(minutes=rng.randrange(start[2]), seconds=rng.randrange(60))


def _off_hours(rng: random.Random, day: date) -> datetime:
    hour = rng.choice((7, 8, 12, 13, 18, 19, 20, 21, 22))
    return _at(day, hour, rng.randrange(60))


def generate_corpus(
    *,
    seed: int = 2026,
    start: date = date(2026, 3, 2),
    days: int = 7,
    groups: Mapping[str, Sequence[str]] = GROUP_MEMBERS,
) -> list[DemoMessage]:
    """About 25 messages per group per workday plus weekend chatter, sorted by time; same seed, same corpus."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str, datetime, str]] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        weekend = day.weekday() >= 5
        for chat_id, members in groups.items():
            everyone = list(members)
            reps = [m for m in members if m in REPS] or everyone
            if weekend:
                for _ in range(rng.randrange(1, 4)):
                    out.append(("chatter", chat_id, rng.choice(everyone), _off_hours(rng, day), rng.choice(CHATTER)))
                continue
            plan = (
                [("report_complete", _in_window, lambda: _follow_up(rng, complete=True))] * 8
                + [("report_incomplete", _in_window, lambda: _follow_up(rng, complete=False))] * 4
                + [("deal", _in_window, lambda: _deal(rng))] * 2
                + [("chatter", _in_window, lambda: rng.choice(CHATTER))] * 3
                + [("chatter_off_hours", _off_hours, lambda: rng.choice(CHATTER))] * 2
                + [("sensitive", _in_window, lambda: _sensitive(rng))] * 2
                + [("mention", _in_window, lambda: f"@{BOT_NAME} " + rng.choice(("本周排行", "我的待办", "帮助")))]
            )
            if offset % 2 == 0:
                plan.append(("urgent", lambda r, d: _at(d, r.choice((20, 21, 22)), r.randrange(60)),
                             lambda: rng.choice(URGENT)))
            for kind, when, text in plan:
                sender = rng.choice(everyone if kind in _BY_ANYONE else reps)
                out.append((kind, chat_id, sender, when(rng, day), text()))
            if offset % 3 == 1:  # one rep floods the group: 12 short answers within ten minutes
                flooder, burst_start = rng.choice(reps), _at(day, 15, rng.randrange(40))
                for i in range(12):
                    out.append(("flood", chat_id, flooder, burst_start + timedelta(seconds=47 * i), rng.choice(FLOOD)))
        if not weekend:  # a rep asks the app for their to-do list, 1:1
            rep = rng.choice(sorted({m for members in groups.values() for m in members if m in REPS}))
            out.append(("direct", "", rep, _at(day, 8, 30 + rng.randrange(25)), "我的待办"))
    out.sort(key=lambda item: item[3])
    return [
        DemoMessage(kind, chat_id, sender, sent_at, text, msgid=f"{seed}{index:07d}")
        for index, (kind, chat_id, sender, sent_at, text) in enumerate(out, start=1)
    ]


def demo_corpus(
    *, now: datetime, seed: int = 2026, groups: Mapping[str, Sequence[str]] = GROUP_MEMBERS
) -> list[DemoMessage]:
    """Last week and this week up to today (Asia/Shanghai), plus the scenes a first look needs.

    Last week gives the leaderboard something to compare with (↑↓), this week fills the overview;
    the scenes, in the hour before `now`, leave a follow-up due today, a pending appeal and a burst
    of violations by one rep (one grouped alert). Message ids carry the week, so a demo database
    kept from an earlier week takes this week's traffic as new.
    """
    today = now.astimezone(SHANGHAI).date()
    start = today - timedelta(days=today.weekday() + 7)
    base = generate_corpus(seed=seed, start=start, days=(today - start).days + 1, groups=groups)
    messages = [m for m in base if m.sent_at <= now] + _scenes(now, groups)
    messages.sort(key=lambda m: m.sent_at)
    later = [m for m in base if m.sent_at > now]  # the rest of today: sent live, one per interval
    return [
        DemoMessage(m.kind, m.chat_id, m.sender, m.sent_at, m.text, msgid=f"{seed}{start:%y%m%d}{i:05d}")
        for i, m in enumerate(messages + later, start=1)
    ]


def _scenes(now: datetime, groups: Mapping[str, Sequence[str]]) -> list[DemoMessage]:
    chat_id = sorted(groups)[0]
    reps = [m for m in groups[chat_id] if m in REPS] or list(groups[chat_id])
    rep, other = reps[0], reps[-1]
    yesterday = now.astimezone(SHANGHAI).date() - timedelta(days=1)
    rng = random.Random(7)
    phone = mobile(rng)
    fifty_ago = int((now - timedelta(minutes=50)).timestamp())
    burst = datetime.fromtimestamp(fifty_ago - fifty_ago % 300 + 30, SHANGHAI)
    scenes = [
        # 明天 from yesterday is today: this client's next step is due today (我的待办, the reminders).
        ("scene_due", chat_id, rep, _at(yesterday, 10, 15),
         "【跟进】\n客户姓名：王总\n公司名称：上海恒信贸易有限公司\n联系方式：已加王总企业微信\n"
         "需求描述：采购一批办公电脑，预算30万左右\n上次沟通时间：今天上午\n下一步行动计划：明天电话确认预算"),
        # Three violations within a minute, inside one 5-minute alert bucket (outbox.burst_minutes'
        # default): the managers get the first alert, then one grouped alert (违规汇总) for the rest.
        ("scene_burst", chat_id, other, burst, f"王总的手机是{phone}，帮忙回个电话"),
        ("scene_burst", chat_id, other, burst + timedelta(seconds=30), f"王总开户的身份证号{id_card(rng)}，先登记一下"),
        ("scene_burst", chat_id, other, burst + timedelta(seconds=60), f"王总的付款卡号 {bank_card(rng)}，财务对一下"),
        # The rep contests that latest violation (1:1 to the app): a pending appeal on the dashboard.
        ("scene_appeal", "", other, now - timedelta(minutes=40), "申诉 客户主动发来的号码，我马上撤回了"),
        ("scene_todo", "", rep, now - timedelta(minutes=30), "我的待办"),
    ]
    return [DemoMessage(kind, chat, sender, at, text, msgid="") for kind, chat, sender, at, text in scenes]

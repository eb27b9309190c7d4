"""Alert content and routing: what managers, reps and escalation contacts read, in full."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from handlers import wording
from handlers.alerts import notify
from handlers.context import HandlerContext
from rules.config import RulesConfig
from rules.model import ClientUpdate, GroupMessage, Verdict
from storage import outbox
from storage.models import EscalationRow, MemberRow, MessageRow, OutboxItemRow, ViolationRow
from tests.conftest import sh

URL = "https://groupbot.example.com"
#: Processing time of these tests: Tuesday 10:00, inside a posting window (quiet hours do not apply).
IN_WINDOW = sh(2026, 3, 3, 10, 0)


def ctx_for(config: AppConfig, now: datetime = IN_WINDOW) -> HandlerContext:
    # notify never consults the rule engine: verdicts arrive already judged.
    return HandlerContext(config=config, engine=None, hmac_key=b"test-key", public_url=URL,  # type: ignore[arg-type]
                          clock=lambda: now)


def store(
    session: Session,
    *,
    msgid: str,
    sent_at: datetime,
    text: str,
    masked: str,
    broken: list[tuple[str, str, list[str], list[str]]],
    chat_id: str = "wr-sales-east",
    sender: str = "zhangwei",
) -> tuple[GroupMessage, list[ViolationRow]]:
    """A stored message and its violations, as handlers/message.py leaves them before notify."""
    message = MessageRow(
        msgid=msgid, chat_id=chat_id, sender=sender, sent_at=sent_at, source="callback",
        masked_text=masked, text_hmac="0" * 64,
    )
    session.add(message)
    session.flush()
    rows = [
        ViolationRow(
            message_id=message.id, msgid=msgid, chat_id=chat_id, sender=sender, rule=rule,
            detail="(engine detail)", kinds=kinds, missing=missing, action=action, occurred_at=sent_at,
        )
        for rule, action, kinds, missing in broken
    ]
    session.add_all(rows)
    session.flush()
    msg = GroupMessage(msgid=msgid, chat_id=chat_id, sender=sender, sent_at=sent_at, text=text, source="callback")
    return msg, rows


def alert(
    session: Session,
    ctx: HandlerContext,
    *,
    msg: GroupMessage,
    violations: list[ViolationRow],
    escalation: EscalationRow | None,
    settings: RulesConfig | None = None,
    update: ClientUpdate | None = None,
) -> None:
    """`notify` given what handlers/message.py hands it: the verdict (the stored masked text), the
    group's effective settings and the rows just stored."""
    masked = session.scalars(select(MessageRow.masked_text).where(MessageRow.msgid == msg.msgid)).one()
    verdict = Verdict(msg.msgid, (), masked, update=update)
    settings = settings or wording.group_rules(ctx.config, msg.chat_id)
    notify(session, ctx, msg=msg, verdict=verdict, settings=settings, violations=violations, escalation=escalation)


def queued(session: Session) -> list[OutboxItemRow]:
    return list(session.scalars(select(OutboxItemRow).order_by(OutboxItemRow.id)))


def content(item: OutboxItemRow) -> str:
    body = item.payload[item.payload["msgtype"]]
    return body["content"]


SENSITIVE_TEXT = "王总电话13812345678，公司欠银行两百万还没还"
SENSITIVE_MASKED = "王总电话138****5678，公司欠银行两百万还没还"


def test_manager_alert_says_who_where_when_what_why_and_links(session: Session, config: AppConfig) -> None:
    msg, rows = store(
        session, msgid="m-1", sent_at=sh(2026, 3, 2, 10, 15), text=SENSITIVE_TEXT, masked=SENSITIVE_MASKED,
        broken=[("sensitive", "alert_managers", ["financial", "mobile"], [])],
    )
    alert(session, ctx_for(config), msg=msg, violations=rows, escalation=None)

    [item] = queued(session)
    assert (item.channel, item.target, item.idempotency_key) == (
        "app", "lisi", "alert:wr-sales-east:zhangwei:20260302T0215"
    )
    assert content(item) == (
        "**【违规提醒】华东销售群**\n"
        "> 成员：张伟（华东销售部）\n"
        "> 时间：3月2日（周一）10:15\n"
        "> 规则：客户隐私\n"
        "> 原因：含客户隐私或财务信息：财务状况、手机号\n"
        "> 内容：王总电话138****5678，公司欠银行两百万还没还\n"
        "\n"
        f"[查看详情]({URL}/violations/{rows[0].id})"
    )


def test_alerts_say_what_the_handler_hands_in_and_derive_nothing(session: Session, config: AppConfig) -> None:
    """The settings the message was judged by, the verdict's masked text and the stored rows are
    used as given: nothing is looked up again (a message row is not even needed)."""
    msg = GroupMessage(msgid="m-h", chat_id="wr-sales-east", sender="zhangwei", sent_at=sh(2026, 3, 2, 10, 15),
                       text="第十一条", source="callback")
    row = ViolationRow(msgid="m-h", chat_id="wr-sales-east", sender="zhangwei", rule="frequency", detail="(detail)",
                       kinds=[], missing=[], action="alert_managers", occurred_at=msg.sent_at, id=4242)
    judged_by = config.rules.with_overrides({"frequency": {"limit": 7, "window_minutes": 30}})
    verdict = Verdict("m-h", (), "王总电话138****5678")
    notify(session, ctx_for(config), msg=msg, verdict=verdict, settings=judged_by, violations=[row],
           escalation=None)

    [item] = queued(session)
    assert content(item) == (
        "**【违规提醒】华东销售群**\n"
        "> 成员：张伟（华东销售部）\n"
        "> 时间：3月2日（周一）10:15\n"
        "> 规则：发帖频率\n"
        "> 原因：30 分钟内在本群发了超过 7 条消息\n"
        "> 内容：王总电话138****5678\n"
        "\n"
        f"[查看详情]({URL}/violations/4242)"
    )


@pytest.mark.parametrize(
    ("chat_id", "sent_at", "rule", "missing", "expected"),
    [
        (
            "wr-sales-east", sh(2026, 3, 2, 21, 40), "posting_window", [],
            "张伟，温馨提醒：工作消息请在工作日 09:00-11:00、14:00-17:00 发送，急事请在消息里加上【紧急】。谢谢配合！",
        ),
        (
            "wr-sales-east", sh(2026, 3, 2, 9, 30), "template", ["contact", "need"],
            "张伟，温馨提醒：跟进报告还缺少 联系方式、需求描述，请按格式补全后再发一次："
            "客户姓名：… 公司名称：… 联系方式：… 需求描述：… 上次沟通时间：… 下一步行动计划：…。谢谢配合！",
        ),
        (
            # 华南销售群 overrides the frequency limit to 15.
            "wr-sales-south", sh(2026, 3, 2, 15, 0), "frequency", [],
            "张伟，温馨提醒：每 60 分钟最多发 15 条，内容多可以合并成一条发。谢谢配合！",
        ),
    ],
)
def test_member_warning_mentions_the_rep_with_one_friendly_sentence(
    session: Session, config: AppConfig, chat_id: str, sent_at: datetime, rule: str, missing: list[str],
    expected: str,
) -> None:
    msg, rows = store(
        session, msgid="m-2", sent_at=sent_at, text="客户：王总；公司：华星科技", masked="客户：王总；公司：华星科技",
        broken=[(rule, "warn_member", [], missing)], chat_id=chat_id,
    )
    alert(session, ctx_for(config), msg=msg, violations=rows, escalation=None)

    [item] = queued(session)
    robot = config.group(chat_id).robot
    assert (item.channel, item.target) == ("robot", robot)
    assert item.payload["text"] == {"content": expected, "mentioned_list": ["zhangwei"]}


def test_record_only_sends_nothing(session: Session, config: AppConfig) -> None:
    msg, rows = store(
        session, msgid="m-3", sent_at=sh(2026, 3, 2, 21, 40), text="收到", masked="收到",
        broken=[("posting_window", "record", [], [])],
    )
    alert(session, ctx_for(config), msg=msg, violations=rows, escalation=None)
    assert queued(session) == []


def test_warning_without_a_group_robot_goes_to_the_rep_directly(session: Session, config: AppConfig) -> None:
    groups = tuple(g.model_copy(update={"robot": None}) for g in config.groups)
    no_robot = config.model_copy(update={"groups": groups})
    msg, rows = store(
        session, msgid="m-4", sent_at=sh(2026, 3, 2, 21, 40), text="明天见客户", masked="明天见客户",
        broken=[("posting_window", "warn_member", [], [])],
    )
    alert(session, ctx_for(no_robot), msg=msg, violations=rows, escalation=None)
    [item] = queued(session)
    assert (item.channel, item.target, item.payload["msgtype"]) == ("app", "zhangwei", "text")


def test_a_burst_becomes_one_alert_now_and_one_grouped_alert_at_the_end_of_the_window(
    session: Session, config: AppConfig
) -> None:
    ctx = ctx_for(config)
    for minute in range(15, 19):  # four sensitive posts in four minutes
        msg, rows = store(
            session, msgid=f"m-b{minute}", sent_at=sh(2026, 3, 2, 10, minute), text=SENSITIVE_TEXT,
            masked=SENSITIVE_MASKED, broken=[("sensitive", "alert_managers", ["mobile"], [])],
        )
        alert(session, ctx, msg=msg, violations=rows, escalation=None)

    first, grouped = queued(session)
    assert first.idempotency_key == "alert:wr-sales-east:zhangwei:20260302T0215"
    assert grouped.idempotency_key == "alert-burst:wr-sales-east:zhangwei:20260302T0215"
    assert grouped.next_attempt_at == sh(2026, 3, 2, 10, 20)
    ids = [v.id for v in session.scalars(select(ViolationRow).order_by(ViolationRow.id))]
    assert content(grouped) == (
        "**【违规汇总】华东销售群**\n"
        "张伟 在 10:15-10:20 又有 3 条违规：\n"
        f"> 3月2日（周一）10:16 客户隐私：含客户隐私或财务信息：手机号 [详情]({URL}/violations/{ids[1]})\n"
        f"> 3月2日（周一）10:17 客户隐私：含客户隐私或财务信息：手机号 [详情]({URL}/violations/{ids[2]})\n"
        f"> 3月2日（周一）10:18 客户隐私：含客户隐私或财务信息：手机号 [详情]({URL}/violations/{ids[3]})"
    )


def test_a_violation_after_the_grouped_alert_was_claimed_gets_its_own_alert(
    session: Session, config: AppConfig
) -> None:
    ctx = ctx_for(config)
    for minute in (15, 16):
        msg, rows = store(
            session, msgid=f"m-c{minute}", sent_at=sh(2026, 3, 2, 10, minute), text=SENSITIVE_TEXT,
            masked=SENSITIVE_MASKED, broken=[("sensitive", "alert_managers", ["mobile"], [])],
        )
        alert(session, ctx, msg=msg, violations=rows, escalation=None)
    grouped = outbox.get_by_key(session, key="alert-burst:wr-sales-east:zhangwei:20260302T0215")
    outbox.claim_due(session, owner="d1", limit=10, lease_seconds=60, now=sh(2026, 3, 2, 10, 21))
    assert grouped.lease_owner == "d1"

    msg, rows = store(
        session, msgid="m-c17", sent_at=sh(2026, 3, 2, 10, 17), text=SENSITIVE_TEXT, masked=SENSITIVE_MASKED,
        broken=[("sensitive", "alert_managers", ["mobile"], [])],
    )
    alert(session, ctx, msg=msg, violations=rows, escalation=None)

    assert [i.idempotency_key for i in queued(session)][-1] == "alert:msg:m-c17"
    assert len(grouped.payload["_meta"]["items"]) == 1  # the claimed row was left alone


def test_escalation_goes_to_the_escalation_contacts_once_a_day(session: Session, config: AppConfig) -> None:
    ctx = ctx_for(config)
    for hour in (21, 22):
        msg, rows = store(
            session, msgid=f"m-e{hour}", sent_at=sh(2026, 3, 2, hour, 5), text="今晚加班", masked="今晚加班",
            broken=[("posting_window", "record", [], [])],
        )
        escalation = EscalationRow(sender="zhangwei", chat_id="wr-sales-east", violation_id=rows[0].id, count=3,
                                window_days=7)
        session.add(escalation)
        session.flush()
        alert(session, ctx, msg=msg, violations=rows, escalation=escalation)

    [item] = queued(session)
    assert (item.channel, item.target) == ("app", "wangfang")
    assert content(item) == (
        "**【多次违规】华东销售群**\n"
        "> 成员：张伟（华东销售部）\n"
        "> 近 7 天违规 3 次，最近一次：3月2日（周一）21:05 发帖时段"
        "（周一 21:05 发送，不在工作日发帖时段（09:00-11:00、14:00-17:00）内）\n"
        "\n"
        f"请及时与其沟通。[查看记录]({URL}/violations/{session.scalars(select(ViolationRow.id)).first()})"
    )


@pytest.mark.parametrize(
    ("cached", "overridden", "expected"),
    [
        (None, True, "张伟（华东销售部）"),  # config.yaml override
        (("张伟伟", "渠道部"), True, "张伟（华东销售部）"),  # the override wins over the contacts API
        (("刘洋", "华北销售部"), False, "刘洋（华北销售部）"),  # the contacts API's name
        (None, False, "zhangwei"),  # nobody knows the name yet: the userid, never a blank
    ],
)
def test_alerts_name_people_from_overrides_then_the_directory(
    session: Session, config: AppConfig, cached: tuple[str, str] | None, overridden: bool, expected: str
) -> None:
    if not overridden:
        config = config.model_copy(update={"members": {}})
    if cached:
        session.add(MemberRow(userid="zhangwei", name=cached[0], department=cached[1]))
    msg, rows = store(
        session, msgid="m-n", sent_at=sh(2026, 3, 2, 10, 15), text=SENSITIVE_TEXT, masked=SENSITIVE_MASKED,
        broken=[("sensitive", "alert_managers", ["mobile"], [])],
    )
    alert(session, ctx_for(config), msg=msg, violations=rows, escalation=None)
    [item] = queued(session)
    assert f"> 成员：{expected}\n" in content(item)
    assert session.get(MemberRow, "zhangwei") is not None  # noted for the directory refresher


CLEAR = re.compile(r"1[3-9]\d{9}|\d{17}[\dXx]|\d{16,19}|[\w.]+@[\w.]+|wxid_\w+")


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("客户手机 13812345678 已加微信", "客户手机 138****5678 已加微信", ["mobile"]),
        ("身份证 110101199003074258 拍给我了", "身份证 110101********4258 拍给我了", ["id_card"]),
        ("打款到 6222 0212 3456 7890 123", "打款到 ****0123", ["bank_card"]),
        ("邮箱 wang.zong@huaxing.com 发合同", "邮箱 w***@huaxing.com 发合同", ["email"]),
        ("微信号 wxid_abc12345 加一下", "微信号 wx**** 加一下", ["im_account"]),
    ],
)
def test_no_rendered_alert_carries_a_clear_identifier(
    session: Session, config: AppConfig, text: str, masked: str, kinds: list[str]
) -> None:
    msg, rows = store(
        session, msgid="m-pii", sent_at=sh(2026, 3, 2, 21, 15), text=text, masked=masked,
        broken=[("sensitive", "alert_managers", kinds, []), ("posting_window", "warn_member", [], [])],
    )
    escalation = EscalationRow(sender="zhangwei", chat_id="wr-sales-east", violation_id=rows[0].id, count=3,
                            window_days=7)
    session.add(escalation)
    session.flush()
    alert(session, ctx_for(config), msg=msg, violations=rows, escalation=escalation)
    items = queued(session)
    assert len(items) == 3
    rendered = json.dumps([i.payload for i in items], ensure_ascii=False)
    assert CLEAR.findall(rendered) == []
    assert masked.split()[1] in rendered  # the masked form is what managers see


def test_alert_rows_commit_or_roll_back_with_the_violation(engine, config: AppConfig) -> None:
    from storage.db import make_session_factory

    factory = make_session_factory(engine)
    with factory() as session:
        msg, rows = store(
            session, msgid="m-tx", sent_at=sh(2026, 3, 2, 10, 15), text=SENSITIVE_TEXT, masked=SENSITIVE_MASKED,
            broken=[("sensitive", "alert_managers", ["mobile"], [])],
        )
        alert(session, ctx_for(config), msg=msg, violations=rows, escalation=None)
        session.rollback()  # the handler crashed before its commit
    with factory() as session:
        assert (queued(session), session.scalars(select(ViolationRow)).all()) == ([], [])
        msg, rows = store(
            session, msgid="m-tx", sent_at=sh(2026, 3, 2, 10, 15), text=SENSITIVE_TEXT, masked=SENSITIVE_MASKED,
            broken=[("sensitive", "alert_managers", ["mobile"], [])],
        )
        alert(session, ctx_for(config), msg=msg, violations=rows, escalation=None)
        session.commit()
    with factory() as session:
        assert len(queued(session)) == len(session.scalars(select(ViolationRow)).all()) == 1


def test_the_grouped_window_is_by_sent_at_so_a_new_window_alerts_at_once(
    session: Session, config: AppConfig
) -> None:
    ctx = ctx_for(config)
    for at in (sh(2026, 3, 2, 10, 19), sh(2026, 3, 2, 10, 20) + timedelta(seconds=1)):
        msg, rows = store(
            session, msgid=f"m-w{at.minute}", sent_at=at, text=SENSITIVE_TEXT, masked=SENSITIVE_MASKED,
            broken=[("sensitive", "alert_managers", ["mobile"], [])],
        )
        alert(session, ctx, msg=msg, violations=rows, escalation=None)
    assert [i.idempotency_key for i in queued(session)] == [
        "alert:wr-sales-east:zhangwei:20260302T0215",
        "alert:wr-sales-east:zhangwei:20260302T0220",
    ]


def test_handle_message_commits_the_violation_and_its_alert_together_or_not_at_all(
    engine, config: AppConfig
) -> None:
    from sqlalchemy import event

    from handlers.message import handle_message
    from rules.engine import RuleEngine
    from storage.db import make_session_factory

    factory = make_session_factory(engine)
    ctx = HandlerContext(config=config, engine=RuleEngine.from_config(config.rules, config.group_rules()),
                         hmac_key=b"test-key", public_url=URL, clock=lambda: sh(2026, 3, 2, 10, 16))
    msg = GroupMessage(msgid="m-atomic", chat_id="wr-sales-east", sender="zhangwei", sent_at=sh(2026, 3, 2, 10, 15),
                       text="王总手机13812345678，说公司现金流断了，欠了供应商不少钱", source="callback")

    class Crash(Exception):
        pass

    def crash(_session) -> None:
        raise Crash("the process died at commit")

    with factory() as session:
        event.listen(session, "before_commit", crash)
        with pytest.raises(Crash):
            handle_message(session, ctx, msg)
    with factory() as session:
        assert (session.scalars(select(ViolationRow)).all(), queued(session)) == ([], [])

    with factory() as session:
        assert handle_message(session, ctx, msg).created
    with factory() as session:
        [violation] = session.scalars(select(ViolationRow)).all()
        [alert] = queued(session)
        assert (violation.rule, alert.channel, alert.target) == ("sensitive", "app", "lisi")
        assert f"/violations/{violation.id})" in content(alert)
        assert "13812345678" not in content(alert) and "138****5678" in content(alert)


def test_a_long_burst_fits_wecoms_markdown_limit_and_counts_what_it_leaves_out(
    session: Session, config: AppConfig
) -> None:
    ctx = ctx_for(config)
    for second in range(0, 240, 6):  # 40 posts in four minutes
        msg, rows = store(
            session, msgid=f"m-l{second}", sent_at=sh(2026, 3, 2, 10, 15) + timedelta(seconds=second),
            text=SENSITIVE_TEXT, masked=SENSITIVE_MASKED, broken=[("sensitive", "alert_managers", ["mobile"], [])],
        )
        alert(session, ctx, msg=msg, violations=rows, escalation=None)
    _, grouped = queued(session)
    text = content(grouped)
    assert len(text.encode()) <= 2048
    shown = text.count("[详情]")
    assert f"> 另有 {39 - shown} 条较早的违规，请到看板查看" in text
    assert len(grouped.payload["_meta"]["items"]) == 39  # all of them are accounted for


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "templates:\n  member_warning: \"{{ nmae }}，温馨提醒：{{ hint }}\"\n",
            "templates (line 2): Value error, template 'member_warning' uses unknown variable(s) nmae",
        ),
        (
            "templates:\n  hints:\n    frequency: \"每 {{ window_minutes }} 分钟最多 {{ limt }} 条\"\n",
            "templates (line 2): Value error, template 'hints.frequency' uses unknown variable(s) limt",
        ),
        (
            "templates:\n  escalation: \"{% if count %}多次违规\"\n",
            "templates (line 2): Value error, template 'escalation' line 1: Unexpected end of template",
        ),
    ],
)
def test_a_template_typo_is_refused_when_the_config_loads_not_when_an_alert_is_due(
    yaml_text: str, expected: str
) -> None:
    from bot.config import parse_config
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config(yaml_text)
    assert expected in str(caught.value)

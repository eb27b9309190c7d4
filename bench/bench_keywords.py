"""Cost of the sensitive-data scan, and of custom keyword lists: 10,000 phrases vs 100.

The message mix is what a sales group sends: chatter, follow-up reports with masked contacts, and
messages with digit runs (order numbers, amounts, landlines, clear and masked mobiles, cards, IDs,
e-mail, WeChat/QQ, financial remarks); more than a third are reports or carry digit runs. Every
figure is the best of `--repeat` passes over the same messages in one process, in CPU time of
this process (time.process_time), so other work on a shared machine distorts it less. The run fails
(exit 1) when 10,000 custom keywords cost more than 1.5x what 100 cost. Run:

    .venv/bin/python bench/bench_keywords.py [--messages 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence

from rules.config import CustomKeywords, SensitiveSettings
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule

MAX_RATIO = 1.5
CHATTER = [
    "收到", "好的，马上处理", "今天下午去华星科技拜访王总", "早会纪要已发群文件，大家看一下",
    "客户说下周再聊", "报价单已经发给客户了", "明天上午有空吗？一起去远航物流", "辛苦了👍",
    "【紧急】客户系统宕机，请技术支持尽快联系", "这个月的目标大家记得对一下", "合同已盖章寄出",
    "王总那边预算还没批下来，年后再跟", "有没有人知道华东区的库存情况", "已加微信，晚上聊方案",
]  # fmt: skip
DIGITS = [
    "订单号 {order} 已同步", "王总手机{mobile}，回头加一下", "客户电话 021-{landline} 上午打过",
    "发票金额 12,800 元，单号 INV-2026-000123", "他的卡号 6222 0212 3456 7890 128 别外传",
    "身份证 11010519491231002X 先发我核对", "联系人邮箱 wang.zong@huaxing-tech.cn",
    "已脱敏：138****5678", "仓库面积 3500 平，货架 120 组", "回款 {amount} 元已到账",
    "客户公司负债很高，贷款还没还清", "QQ号：{qq}，有问题找他", "客服热线4008-123-456",
    "2026-03-0{day} 去拜访，带上报价", "微信：zhang_{qq} 加一下备注华星",
]  # fmt: skip
REPORTS = [
    "【跟进】客户姓名：王总\n公司名称：华星科技\n联系方式：138****5678\n需求描述：仓储系统改造，3个仓库\n"
    "上次沟通时间：昨天\n下一步行动计划：下周三上门演示",
    "#跟进 客户:李总；公司:远航物流；电话:{mobile}；需求:冷链温控；上次联系:上周五；下一步:周四报价",
    "客户：赵总，单位：盛达贸易，需求：ERP对接，计划：3/15前出方案",
    "【成交】客户：王总，公司：华星科技，成交金额：12.5万元",
]  # fmt: skip
#: Common characters, so random phrases share prefixes with real text and the automaton works.
PHRASE_CHARS = "客户公司王总华星科技远航物流贷款负债资金链周转欠款存款收入征信报价合同系统仓储方案明天下午联系"


def make_messages(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    pools = [(CHATTER, 0.55), (DIGITS, 0.3), (REPORTS, 0.15)]
    out = []
    for _ in range(n):
        pool = rng.choices([p for p, _ in pools], weights=[w for _, w in pools])[0]
        out.append(
            rng.choice(pool).format(
                order=f"2026030{rng.randint(1, 9)}{rng.randint(10**5, 10**6 - 1)}",
                mobile=f"1{rng.choice('3589')}{rng.randint(10**8, 10**9 - 1)}",
                landline=rng.randint(10**7, 10**8 - 1),
                amount=rng.randint(1000, 99999),
                qq=rng.randint(10**5, 10**9),
                day=rng.randint(1, 9),
            )
        )
    return out


def make_phrases(n: int, seed: int = 11) -> tuple[str, ...]:
    rng = random.Random(seed)
    phrases: set[str] = set()
    while len(phrases) < n:
        phrases.add("".join(rng.choices(PHRASE_CHARS, k=rng.randint(3, 6))))
    return tuple(sorted(phrases))


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def scan_all(rule: SensitiveRule, messages: Sequence[str]) -> Callable[[], object]:
    scan = rule.scan
    return lambda: [scan(m) for m in messages]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    messages = make_messages(args.messages)
    default = SensitiveRule(SensitiveSettings())
    with_findings = sum(1 for m in messages if default.scan(m))
    carrying_digits = sum(1 for m in messages if any(ch.isdigit() for ch in m))
    print(f"python {platform.python_version()} on {platform.machine()}; {len(messages)} messages")
    print(f"  {carrying_digits / len(messages):.0%} carry digits, {with_findings / len(messages):.0%} have findings")

    per_message = best_of(args.repeat, scan_all(default, messages)) / len(messages)
    masking = best_of(args.repeat, lambda: [apply_masks(m, default.scan(m)) for m in messages]) / len(messages)
    print(f"scan, default settings:      {per_message * 1e6:6.2f} µs/message ({1 / per_message:,.0f} msg/s)")
    print(f"scan + apply_masks:          {masking * 1e6:6.2f} µs/message")

    timings = {}
    for size in (100, 10_000):
        lists = (CustomKeywords(name=f"custom_{size}", words=make_phrases(size)),)
        start = time.perf_counter()
        rule = SensitiveRule(SensitiveSettings(custom_keywords=lists))
        built = time.perf_counter() - start
        timings[size] = best_of(args.repeat, scan_all(rule, messages))
        print(
            f"scan with {size:>6,} custom keywords: {timings[size] / len(messages) * 1e6:6.2f} µs/message "
            f"(automaton built in {built * 1e3:.1f} ms)"
        )
    ratio = timings[10_000] / timings[100]
    verdict = "ok" if ratio <= MAX_RATIO else "TOO SLOW"
    print(f"10,000 vs 100 keywords: {ratio:.2f}x (limit {MAX_RATIO}x) {verdict}")
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

"""Statements of a customer's finances (财务状况): debts, loans, arrears, savings, income, credit.

"客户负债三百多万，资金链快断了" is one; "客户预算50万" or "报价已发" is not, nor is our own money
("尾款还欠我们5万"). The detector works on phrase hits from the rule's one keyword automaton
(rules.keywords) and decides per clause (text between 。，；！？ and line breaks):

- *strong* phrases state finances by themselves (负债, 贷款, 资金链, 征信, 失信, 被执行人, 存款,
  月收入 …, plus the config's `financial_keywords`);
- *weak* phrases are finances only when the clause is not about a price, a budget, a contract or
  our receivables (欠款, 拖欠, 资产 …), so "合同尾款客户还拖欠着" is ours, not theirs;
- any hit is cancelled when it is part of a longer neutral phrase (资产管理, 征信查询系统), when a
  product word follows it (贷款系统, 存款业务 — we sell to banks), when our side owns it (我们的贷款),
  or when the clause holds one of the config's `financial_exclusions`.

Limits: this reads phrases, not meaning. A company's turnover (年营收, 营业额) is left out: reps
size up a prospect by it and it is mostly public. A finance word the lists do not know, or one written
with a typo, is missed; a strong phrase about someone other than the customer ("同事在还房贷")
is flagged. Bare 逾期 is left out on purpose: in sales chat it is mostly a late project, and
loan-related compounds (贷款逾期, 逾期还款 …) cover the customer's case. Managers extend the lists
in config rather than code.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable

from rules.model import Finding

KIND = "financial"

STRONG = (
    "负债", "欠债", "债务", "外债", "债主", "贷款", "借贷", "网贷", "高利贷", "房贷", "车贷", "经营贷",
    "抵押", "资金链", "现金流紧张", "现金流断", "现金流吃紧", "资金紧张", "资金周转", "周转不开",
    "周转不过来", "周转困难", "征信", "失信", "被执行人", "老赖", "限高令", "限制高消费", "破产",
    "资不抵债", "存款", "积蓄", "月收入", "年收入", "月薪", "年薪", "工资", "负资产", "亏损",
    "被冻结", "查封", "透支", "刷爆", "信用卡欠", "信用卡逾期", "贷款逾期", "逾期还款", "逾期未还",
    "还款逾期", "逾期记录", "欠税", "欠薪", "讨债", "催收", "借钱", "还不起", "身家", "家底",
    "银行流水", "还款压力",
)  # fmt: skip
WEAK = (
    "欠款", "欠钱", "拖欠", "欠了", "欠着", "还不上", "资产", "没钱", "缺钱", "付不起", "欠账", "赊账",
    "手头紧", "赖账",
)  # fmt: skip
#: In the same clause these make a weak phrase about a price, a budget or our receivables.
CUES = (
    "预算", "报价", "价格", "单价", "总价", "合同金额", "合同额", "合同款", "成交金额", "签单金额",
    "折扣", "优惠", "回款", "应收", "尾款", "货款", "首付款", "首款", "预付款", "定金", "订金", "付款",
    "账期", "发票", "开票", "欠我们", "欠了我们", "欠我司", "欠了我司", "欠咱们", "我们的", "我司",
)  # fmt: skip
#: Longer phrases that contain a finance word but say nothing about anyone's finances.
NEUTRAL = (
    "资产管理", "固定资产", "数字资产", "资产盘点", "资产负债表模板", "征信查询系统", "工资条模板",
    "收入确认", "收入准则", "抵押品管理", "收入囊中",
)  # fmt: skip
#: A finance word right before one of these names a product or a line of business.
PRODUCT_WORDS = ("系统", "平台", "业务", "产品", "模块", "项目", "软件", "管理", "方案", "接口", "报表", "部门")
#: A finance word right after one of these is our own.
OUR_SIDE = ("我们的", "我司的", "我方的", "咱们的", "我们", "我司", "我方", "咱们", "本公司", "我公司")

_CLAUSE_BREAK = re.compile(r"[。，,；;！!？?\n\r]")
#: How far before a hit a neutral phrase containing it can start.
_NEUTRAL_REACH = max(len(p) for p in NEUTRAL)

#: Tags the financial detector puts on its phrases in the shared automaton.
STRONG_TAG = "financial:strong"
WEAK_TAG = "financial:weak"
CUE_TAG = "financial:cue"
NEUTRAL_TAG = "financial:neutral"
EXCLUSION_TAG = "financial:exclusion"
_HIT_TAGS = (STRONG_TAG, WEAK_TAG)


def keyword_entries(extra_keywords: Iterable[str], exclusions: Iterable[str]) -> list[tuple[str, str]]:
    """The detector's phrases with their tags, for the rule's one automaton."""
    entries = [(p, STRONG_TAG) for p in (*STRONG, *extra_keywords)]
    entries += [(p, WEAK_TAG) for p in WEAK]
    entries += [(p, CUE_TAG) for p in CUES]
    entries += [(p, NEUTRAL_TAG) for p in NEUTRAL]
    entries += [(p, EXCLUSION_TAG) for p in exclusions]
    return entries


def find_financial(text: str, hits: list[tuple[str, int, int]]) -> list[Finding]:
    """Financial findings from the automaton's `hits` on `text` (other tags are ignored)."""
    candidates = sorted(((s, e, tag) for tag, s, e in hits if tag in _HIT_TAGS), key=lambda c: (c[0], -c[1]))
    if not candidates:
        return []
    neutral_end: dict[int, int] = {}
    for tag, s, e in hits:
        if tag == NEUTRAL_TAG:
            neutral_end[s] = max(e, neutral_end.get(s, 0))
    cues = sorted(s for tag, s, _ in hits if tag == CUE_TAG)
    exclusions = sorted(s for tag, s, _ in hits if tag == EXCLUSION_TAG)
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(text)]
    found: list[Finding] = []
    for start, end, tag in candidates:
        if found and start < found[-1].end:
            continue
        if any(neutral_end.get(s, -1) >= end for s in range(max(0, start - _NEUTRAL_REACH), start + 1)):
            continue
        if text.startswith(PRODUCT_WORDS, end) or text[max(0, start - 4) : start].endswith(OUR_SIDE):
            continue
        k = bisect_left(breaks, start)
        lo = breaks[k - 1] + 1 if k else 0
        hi = breaks[k] if k < len(breaks) else len(text)
        if _any_in(exclusions, lo, hi) or (tag == WEAK_TAG and _any_in(cues, lo, hi)):
            continue
        found.append(Finding(KIND, start, end, None))
    return found


def _any_in(sorted_starts: list[int], lo: int, hi: int) -> bool:
    k = bisect_left(sorted_starts, lo)
    return k < len(sorted_starts) and sorted_starts[k] < hi

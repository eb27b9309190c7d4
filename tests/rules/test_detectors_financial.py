"""Financial status: the customer's debts, loans, arrears, savings, income, credit record or cash
flow is flagged (never masked); budgets, prices, contract amounts, our own receivables and the
banking products we sell are not."""

from __future__ import annotations

import pytest

from rules.config import SensitiveSettings
from rules.sensitive import SensitiveRule


@pytest.fixture(scope="module")
def rule() -> SensitiveRule:
    return SensitiveRule(SensitiveSettings())


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("华星科技最近资金链断裂，付款可能要拖", ["资金链"]),
        ("王总说他们公司负债三百多万", ["负债"]),
        ("客户征信有问题，贷款没批下来", ["征信", "贷款"]),
        ("李总是失信被执行人，谨慎跟进", ["失信", "被执行人"]),
        ("这个客户月收入两万左右，意向挺强", ["月收入"]),
        ("客户欠款200万还没还上", ["欠款"]),
        ("听说他家存款不少，可以推高配版", ["存款"]),
        ("客户的信用卡逾期了好几期", ["信用卡逾期"]),
        ("他们去年亏损严重，今年砍预算", ["亏损"]),
        ("报价发了，但客户说最近周转不开", ["周转不开"]),
        # The budget cue is in another clause, so the weak 拖欠 still counts.
        ("预算没问题，就是他们拖欠供应商货", ["拖欠"]),
        ("客户要贷款付合同金额", ["贷款"]),
        ("客户说手头紧，下个月再付", ["手头紧"]),
        ("他们老板欠了一屁股债，小心点", ["欠了"]),
        ("看了客户的银行流水，不太乐观", ["银行流水"]),
        ("客户房贷压力大，想分期", ["房贷"]),
        ("王总公司被列为失信被执行人了", ["失信", "被执行人"]),
    ],
)
def test_financial_statements_are_flagged(rule: SensitiveRule, text: str, phrases: list[str]) -> None:
    findings = rule.scan(text)
    assert [(f.kind, text[f.start : f.end], f.mask) for f in findings] == [("financial", p, None) for p in phrases]


@pytest.mark.parametrize(
    "text",
    [
        "客户预算50万，下周报价",
        "报价单已发，价格18.8万",
        "合同金额50万，首付30%",
        "尾款还欠我们5万没付",
        "合同尾款客户还拖欠着",
        "客户拖欠我们的货款三个月了",
        "我们的回款进度要跟紧",
        "我们的贷款批下来了，下月扩招",
        "客户想做贷款系统升级",
        "他们在选资产管理系统",
        "征信系统改造，预算200万",
        "项目逾期两周了，客户有点急",
        "银行客户的存款业务线要上新平台",
        "客户资产管理部门约了周四演示",
        "客户回款逾期了，催一下财务",
        "客户年营收5000万，规模不错",
        "尾款的事客户说手头紧",
    ],
)
def test_budgets_prices_and_our_money_are_not_flagged(rule: SensitiveRule, text: str) -> None:
    assert rule.scan(text) == ()


@pytest.mark.parametrize(
    ("settings", "text", "phrases"),
    [
        (SensitiveSettings(financial_keywords=("欠银行",)), "听说他们欠银行不少", ["欠银行"]),
        (SensitiveSettings(financial_exclusions=("负债率看板",)), "客户要做负债率看板", []),
        (SensitiveSettings(financial_exclusions=("负债率看板",)), "客户负债率很高", ["负债"]),
        (SensitiveSettings(), "客户要做负债率看板", ["负债"]),
    ],
)
def test_config_keywords_and_exclusions(settings: SensitiveSettings, text: str, phrases: list[str]) -> None:
    findings = SensitiveRule(settings).scan(text)
    assert [text[f.start : f.end] for f in findings] == phrases

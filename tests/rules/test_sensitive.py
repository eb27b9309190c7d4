"""The sensitive rule as the engine sees it: scan → findings, check → the violation, masks applied.

Identifiers are masked whatever the settings say; `enabled` and `kinds` decide only the violation.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rules.config import CustomKeywords, CustomPattern, SensitiveSettings
from rules.masking import apply_masks
from rules.model import Facts, Finding, GroupMessage, Violation
from rules.sensitive import SensitiveRule
from tests.conftest import sh

DEFAULT = SensitiveSettings()
#: Whom `check` judges; the sensitive rule reads only the findings in the facts.
MSG = GroupMessage(msgid="m-1", chat_id="wr-sales-east", sender="zhangwei", sent_at=sh(2026, 3, 2, 10, 0), text="")


def _outcome(rule: SensitiveRule, text: str) -> tuple[str, list[str], Violation | None]:
    findings = rule.scan(text)
    return apply_masks(text, findings), [f.kind for f in findings], rule.check(MSG, Facts(findings=findings))


@pytest.mark.parametrize(
    ("text", "masked", "kinds", "detail"),
    [
        (
            "王总手机13812345678，他们公司负债不少",
            "王总手机138****5678，他们公司负债不少",
            ["mobile", "financial"],
            "customer mobile number and financial status shared in group",
        ),
        (
            "【跟进】客户：王总；公司：华星科技；电话：138-1234-5678；邮箱 wang@huaxing.cn；需求：仓储系统改造",
            "【跟进】客户：王总；公司：华星科技；电话：138****5678；邮箱 w***@huaxing.cn；需求：仓储系统改造",
            ["mobile", "email"],
            "customer mobile number and e-mail address shared in group",
        ),
        (
            "退款打到王总卡上6222021234567890128，身份证11010519491231002X，微信：wangzong_88",
            "退款打到王总卡上****0128，身份证110105********002X，微信：wa****",
            ["bank_card", "id_card", "im_account"],
            "customer resident ID number, bank card number and WeChat/QQ account shared in group",
        ),
        ("客户征信不太好", "客户征信不太好", ["financial"], "customer financial status shared in group"),
        (
            "【跟进】客户：王总；电话：138****5678；需求：CRM",
            "【跟进】客户：王总；电话：138****5678；需求：CRM",
            [],
            None,
        ),
        (
            "座机021-12345678，订单号20260301123456，预算50万",
            "座机021-12345678，订单号20260301123456，预算50万",
            [],
            None,
        ),
    ],
)
def test_scan_mask_and_check(text: str, masked: str, kinds: list[str], detail: str | None) -> None:
    rule = SensitiveRule(DEFAULT)
    expected = Violation("sensitive", detail, tuple(sorted(set(kinds)))) if detail else None
    assert _outcome(rule, text) == (masked, kinds, expected)


@pytest.mark.parametrize(
    ("settings", "violation_kinds"),
    [
        (SensitiveSettings(), ("financial", "mobile")),
        (SensitiveSettings(kinds=("financial",)), ("financial",)),
        (SensitiveSettings(kinds=("email",)), None),
    ],
)
def test_identifiers_are_masked_even_when_not_a_violation(
    settings: SensitiveSettings, violation_kinds: tuple[str, ...] | None
) -> None:
    text = "王总手机13812345678，他们公司负债不少"
    masked, kinds, violation = _outcome(SensitiveRule(settings), text)
    assert (masked, kinds) == ("王总手机138****5678，他们公司负债不少", ["mobile", "financial"])
    assert (violation.kinds if violation else None) == violation_kinds


@pytest.mark.parametrize(
    ("settings", "text", "masked", "kinds"),
    [
        (
            SensitiveSettings(
                custom_patterns=(
                    CustomPattern(name="hk_mobile", regex=r"\b[569]\d{3} ?\d{4}\b", kind="mobile"),
                )
            ),
            "香港客户手机 5123 4567",
            "香港客户手机 ****4567",
            ["mobile"],
        ),
        (
            SensitiveSettings(custom_patterns=(CustomPattern(name="arrears", regex=r"欠.{0,4}万"),)),
            "客户欠了供应商30万",
            "客户欠了供应商30万",
            ["financial"],
        ),
        (
            SensitiveSettings(custom_keywords=(CustomKeywords(name="lenders", words=("速借宝", "闪电贷")),)),
            "王总在速借宝上借过钱",
            "王总在速借宝上借过钱",
            ["financial"],
        ),
        (
            SensitiveSettings(
                custom_keywords=(CustomKeywords(name="vip_ids", words=("VIP-HX-0098",), kind="im_account"),)
            ),
            "客户会员号VIP-HX-0098",
            "客户会员号VI****",
            ["im_account"],
        ),
    ],
)
def test_custom_patterns_and_keyword_lists(
    settings: SensitiveSettings, text: str, masked: str, kinds: list[str]
) -> None:
    rule = SensitiveRule(settings)
    findings = rule.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


def test_findings_are_sorted_and_never_overlap() -> None:
    text = "微信：13812345678，邮箱13812345678@qq.com，卡6222021234567890128，客户负债不少"
    findings = SensitiveRule(DEFAULT).scan(text)
    assert [f.kind for f in findings] == ["mobile", "email", "bank_card", "financial"]
    assert all(a.end <= b.start for a, b in zip(findings, findings[1:], strict=False))


@pytest.mark.parametrize(
    ("findings", "detail"),
    [
        ((Finding("email", 0, 5, "a***@b.cn"),), "customer e-mail address shared in group"),
        (
            (Finding("financial", 9, 11, None), Finding("mobile", 0, 11, "138****5678")),
            "customer mobile number and financial status shared in group",
        ),
        ((), None),
    ],
)
def test_detail_names_kinds_never_values(findings: tuple[Finding, ...], detail: str | None) -> None:
    violation = SensitiveRule(DEFAULT).check(MSG, Facts(findings=findings))
    assert (violation.detail if violation else None) == detail


def test_detail_never_holds_the_clear_value() -> None:
    text = "王总13812345678 身份证11010519491231002X 邮箱wang@huaxing.cn 微信：wangzong_88"
    rule = SensitiveRule(DEFAULT)
    findings = rule.scan(text)
    violation = rule.check(MSG, Facts(findings=findings))
    assert violation is not None and len(findings) == 4
    rendered = repr(violation) + str(violation.to_contract()) + repr(findings)
    assert not [text[f.start : f.end] for f in findings if text[f.start : f.end] in rendered]


@pytest.mark.parametrize(
    ("block", "location", "message"),
    [
        ({"kinds": ["mobile", "phone"]}, ("kinds", 1), "Input should be 'mobile'"),
        (
            {"custom_patterns": [{"name": "x", "regex": "(", "kind": "financial"}]},
            ("custom_patterns", 0, "regex"),
            "invalid regular expression",
        ),
        (
            # RE2 takes no backreference or lookaround: user patterns can never backtrack for long.
            {"custom_patterns": [{"name": "x", "regex": r"(?<!\d)1\d{10}"}]},
            ("custom_patterns", 0, "regex"),
            "linear-time engine",
        ),
        (
            {"custom_patterns": [{"name": "x", "regex": "a*"}]},
            ("custom_patterns", 0, "regex"),
            "matches the empty string",
        ),
        (
            {"custom_patterns": [{"name": "x", "regex": "a+", "kind": "phone"}]},
            ("custom_patterns", 0, "kind"),
            "Input should be",
        ),
        ({"custom_keywords": [{"name": "lenders", "words": []}]}, ("custom_keywords", 0, "words"), "at least 1 item"),
        (
            {"custom_keywords": [{"name": "lenders", "words": ["速借宝", " "]}]},
            ("custom_keywords", 0, "words"),
            "words[1] is empty",
        ),
    ],
)
def test_invalid_settings_name_the_key(block: dict, location: tuple, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        SensitiveSettings.model_validate(block)
    (error,) = raised.value.errors()
    assert (error["loc"], message in error["msg"]) == (location, True)

"""Resident IDs: 18 characters, a real birth date and the GB 11643 check digit; an ID that also
passes Luhn is an ID, not a bank card."""

from __future__ import annotations

import pytest

from rules.config import SensitiveSettings
from rules.detectors import id_card
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule


@pytest.fixture(scope="module")
def rule() -> SensitiveRule:
    return SensitiveRule(SensitiveSettings())


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("客户身份证号11010519491231002X，办合同用", "客户身份证号110105********002X，办合同用", ["id_card"]),
        ("身份证：440306199003071232", "身份证：440306********1232", ["id_card"]),
        ("法人身份证 110105 19491231 002X 复印件已收", "法人身份证 110105********002X 复印件已收", ["id_card"]),
        ("身份证11010519491231002x小写也算", "身份证110105********002x小写也算", ["id_card"]),
        ("身份证 1101 0519 4912 3100 2X", "身份证 110105********002X", ["id_card"]),
        ("闰年生日的11010520000229003X也是有效的", "闰年生日的110105********003X也是有效的", ["id_card"]),
        ("这个号440306199003070256同时能过Luhn", "这个号440306********0256同时能过Luhn", ["id_card"]),
        (
            "王总身份证310115198502150041，手机13812345678",
            "王总身份证310115********0041，手机138****5678",
            ["id_card", "mobile"],
        ),
    ],
)
def test_resident_ids_are_masked(rule: SensitiveRule, text: str, masked: str, kinds: list[str]) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


@pytest.mark.parametrize(
    "text",
    [
        "身份证号110105194912310021，末位校验不对",
        "身份证号110105194902300020，2月30日不存在",
        "身份证号110105189901010033，1899年的不算",
        "身份证号11010519491231002，少了一位",
        "身份证号110105********002X，已打码",
        "编号2026030112345678，不是证件号",
    ],
)
def test_look_alikes_are_not_ids(rule: SensitiveRule, text: str) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), findings) == (text, ())


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("440306199003071232", True),
        ("110105194912310021", False),
        ("110105194902300020", False),
        ("110105189901010033", False),
        ("11010519491231002", False),
        ("1101051949123100２X", False),
        ("11010519491231002Y", False),
    ],
)
def test_is_resident_id(value: str, valid: bool) -> None:
    assert id_card.is_resident_id(value) is valid

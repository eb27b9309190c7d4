"""Bank cards: 16-19 digits passing Luhn, whole or grouped; a failing Luhn sum, an order number
or an irregular run of digits is not a card."""

from __future__ import annotations

import pytest

from rules.config import SensitiveSettings
from rules.detectors import bank_card
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule


@pytest.fixture(scope="module")
def rule() -> SensitiveRule:
    return SensitiveRule(SensitiveSettings())


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("客户退款账户6222021234567890128，开户行招商", "客户退款账户****0128，开户行招商", ["bank_card"]),
        ("卡号 6222 0212 3456 7890 128 户名王伟", "卡号 ****0128 户名王伟", ["bank_card"]),
        ("打款到6217-0000-1234-5670就行", "打款到****5670就行", ["bank_card"]),
        ("信用卡4367421234567896别发群里", "信用卡****7896别发群里", ["bank_card"]),
        ("18位卡号622848001234567894", "18位卡号****7894", ["bank_card"]),
        (
            "卡号6258076543210989，预留手机13812345678",
            "卡号****0989，预留手机138****5678",
            ["bank_card", "mobile"],
        ),
    ],
)
def test_bank_cards_are_masked(rule: SensitiveRule, text: str, masked: str, kinds: list[str]) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("卡号6222021234567890127，好像抄错了一位", "卡号6222021234567890127，好像抄错了一位", []),
        ("订单号2026030112345676已付款", "订单号2026030112345676已付款", []),
        ("订单号：202603011234567899 请财务核对", "订单号：202603011234567899 请财务核对", []),
        ("卡号****0128的那张", "卡号****0128的那张", []),
        ("合同编号 622202123456789 备案", "合同编号 622202123456789 备案", []),
        ("62220212345678901285 这串有20位", "62220212345678901285 这串有20位", []),
        # 19 digits across a date and a phone pass Luhn, but no card is grouped 4-2-2-11.
        ("2026-03-01 13812345674 的来电", "2026-03-01 138****5674 的来电", ["mobile"]),
    ],
)
def test_look_alikes_are_not_cards(rule: SensitiveRule, text: str, masked: str, kinds: list[str]) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


@pytest.mark.parametrize(
    ("group_lengths", "card_like"),
    [
        ([19], True),
        ([4, 4, 4, 4], True),
        ([4, 4, 4, 4, 3], True),
        ([6, 13], False),
        ([4, 2, 2, 11], False),
        ([4, 4, 4, 5], False),
    ],
)
def test_is_card_grouping(group_lengths: list[int], card_like: bool) -> None:
    assert bank_card.is_card_grouping(group_lengths) is card_like


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("6222021234567890128", True),
        ("6222021234567890127", False),
        ("4367421234567896", True),
        ("436742123456789", False),
        ("62220212345678901285", False),
        # Valid as a card too, but scan() reports it as the resident ID it is.
        ("440306199003070256", True),
    ],
)
def test_is_bank_card(digits: str, valid: bool) -> None:
    assert bank_card.is_bank_card(digits) is valid

"""E-mail addresses: any address, masked to first character + *** + @domain."""

from __future__ import annotations

import pytest

from rules.config import SensitiveSettings
from rules.detectors import email
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule


@pytest.fixture(scope="module")
def rule() -> SensitiveRule:
    return SensitiveRule(SensitiveSettings())


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("方案发我邮箱wang.li@huaxing-tech.com，谢谢", "方案发我邮箱w***@huaxing-tech.com，谢谢", ["email"]),
        ("客户邮箱：ZhangWei_88@163.com", "客户邮箱：Z***@163.com", ["email"]),
        ("报价单抄送 13812345678@qq.com", "报价单抄送 1***@qq.com", ["email"]),
        (
            "采购 li@abc.com.cn 和财务 fin+ap@abc.com.cn",
            "采购 l***@abc.com.cn 和财务 f***@abc.com.cn",
            ["email", "email"],
        ),
        ("Email:sales-east@xinghe.cn。", "Email:s***@xinghe.cn。", ["email"]),
    ],
)
def test_emails_are_masked(rule: SensitiveRule, text: str, masked: str, kinds: list[str]) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


@pytest.mark.parametrize(
    "text",
    [
        "@王总 明天上午十点见",
        "@所有人 周五前交周报",
        "邮箱待补充，客户说晚点发",
        "他邮箱是 wang.li@ 后面没写完",
        "邮箱w***@huaxing-tech.com已打码",
    ],
)
def test_look_alikes_are_not_emails(rule: SensitiveRule, text: str) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), findings) == (text, ())


@pytest.mark.parametrize(
    ("value", "masked"),
    [("wang.li@huaxing-tech.com", "w***@huaxing-tech.com"), ("a@b.cn", "a***@b.cn"), ("nodomain", "n***")],
)
def test_email_mask(value: str, masked: str) -> None:
    assert email.mask(value) == masked

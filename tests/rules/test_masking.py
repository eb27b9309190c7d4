"""apply_masks replaces each finding's span with its mask and leaves every other character alone."""

from __future__ import annotations

import pytest

from rules.masking import apply_masks, mask_value
from rules.model import Finding


@pytest.mark.parametrize(
    ("text", "findings", "masked"),
    [
        ("王总13812345678", (Finding("mobile", 2, 13, "138****5678"),), "王总138****5678"),
        (
            "a 13812345678 b wang@x.cn c",
            (Finding("email", 16, 25, "w***@x.cn"), Finding("mobile", 2, 13, "138****5678")),
            "a 138****5678 b w***@x.cn c",
        ),
        ("客户负债不少", (Finding("financial", 2, 4, None),), "客户负债不少"),
        ("无敏感信息\r\n\t  😀", (), "无敏感信息\r\n\t  😀"),
        # Defensive: an overlapping or out-of-range finding is skipped, never raises.
        ("13812345678", (Finding("mobile", 0, 11, "138****5678"), Finding("mobile", 5, 11, "X")), "138****5678"),
        ("短", (Finding("mobile", 0, 11, "138****5678"),), "短"),
    ],
)
def test_apply_masks(text: str, findings: tuple[Finding, ...], masked: str) -> None:
    assert apply_masks(text, findings) == masked


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("mobile", "+86 138-1234-5678", "138****5678"),
        ("id_card", "110105 19491231 002X", "110105********002X"),
        ("bank_card", "6222 0212 3456 7890 128", "****0128"),
        ("email", "wang.li@huaxing.cn", "w***@huaxing.cn"),
        ("im_account", "wangzong_88", "wa****"),
        ("im_account", "abc", "****"),
        ("financial", "负债", None),
    ],
)
def test_mask_value(kind: str, value: str, masked: str | None) -> None:
    assert mask_value(kind, value) == masked  # type: ignore[arg-type]

"""Mobile numbers: found with or without +86, spaces or dashes; landlines, hotlines, order numbers,
amounts and already-masked numbers are left exactly as written."""

from __future__ import annotations

import pytest

from rules.config import SensitiveSettings
from rules.detectors import mobile
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule


@pytest.fixture(scope="module")
def rule() -> SensitiveRule:
    return SensitiveRule(SensitiveSettings())


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("王总电话13812345678，明天上午回访", "王总电话138****5678，明天上午回访", ["mobile"]),
        ("客户手机：138 1234 5678", "客户手机：138****5678", ["mobile"]),
        ("联系人李经理 138-1234-5678 下午有空", "联系人李经理 138****5678 下午有空", ["mobile"]),
        ("对方留的是+86 139 0000 1234", "对方留的是139****1234", ["mobile"]),
        ("+8615912345678 王总的私人号", "159****5678 王总的私人号", ["mobile"]),
        ("海外同事转来的：0086 186 1234 5678", "海外同事转来的：186****5678", ["mobile"]),
        ("+86-177-1234-5678", "177****5678", ["mobile"]),
        ("电话13812345678 2份资料已寄", "电话138****5678 2份资料已寄", ["mobile"]),
        (
            "张总13812345678、李总19912345678都约了周四",
            "张总138****5678、李总199****5678都约了周四",
            ["mobile", "mobile"],
        ),
        ("王总电话１３８１２３４５６７８，全角也要打码", "王总电话138****5678，全角也要打码", ["mobile"]),
        ("微信：13812345678（手机同号）", "微信：138****5678（手机同号）", ["mobile"]),
        ("新号码16612345678", "新号码166****5678", ["mobile"]),
        ("资料寄快递 13812345678 王总收", "资料寄快递 138****5678 王总收", ["mobile"]),
        ("his phone no. 13812345678", "his phone no. 138****5678", ["mobile"]),
        ("(+86)13812345678", "(+86)138****5678", ["mobile"]),
        ("86-13812345678", "138****5678", ["mobile"]),
    ],
)
def test_mobile_numbers_are_masked(rule: SensitiveRule, text: str, masked: str, kinds: list[str]) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


@pytest.mark.parametrize(
    "text",
    [
        "座机021-12345678，下午打",
        "深圳办公室0755-8888 8888，找前台转",
        "客服热线4008-123-456，有问题随时打",
        "400-820-8820 是他们总部热线",
        "订单号20260301123456已发货",
        "快递单号 13812345678 明天到",
        "工单号：13812345678，已派单",
        "王总电话138****5678，已加微信",
        "合同金额13800000元，下周签",
        "报价1,380,000元含税",
        "2026-03-01 去拜访，2026-03-05 回访",
        "12345678901 这个号是空号",
        "14012345678 是物联网卡号段",
        "移动客服10086说号码已停机",
        "设备序列号SN13812345678待核对",
        "",
    ],
)
def test_look_alikes_are_not_mobiles(rule: SensitiveRule, text: str) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), findings) == (text, ())


@pytest.mark.parametrize(
    ("digits", "national"),
    [
        ("13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("02112345678", None),
        ("12345678901", None),
        ("1381234567", None),
        ("138123456789", None),
    ],
)
def test_national_mobile(digits: str, national: str | None) -> None:
    assert mobile.national_mobile(digits) == national


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("5123 4567", "****4567"),
        ("12345", "****"),
    ],
)
def test_mobile_mask(value: str, masked: str) -> None:
    assert mobile.mask(value) == masked

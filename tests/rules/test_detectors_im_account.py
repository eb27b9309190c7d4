"""WeChat and QQ accounts, found when the message names them (微信/微信号/wx/WeChat/QQ/qq号)."""

from __future__ import annotations

import pytest

from rules.config import SensitiveSettings
from rules.masking import apply_masks
from rules.sensitive import SensitiveRule


@pytest.fixture(scope="module")
def rule() -> SensitiveRule:
    return SensitiveRule(SensitiveSettings())


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("客户微信：abc_123，晚上加一下", "客户微信：ab****，晚上加一下", ["im_account"]),
        ("微信号: zhangwei1988", "微信号: zh****", ["im_account"]),
        ("wx zhang_88 备注华星科技", "wx zh**** 备注华星科技", ["im_account"]),
        ("WeChat: Lily-2026", "WeChat: Li****", ["im_account"]),
        ("王总QQ：10086123", "王总QQ：10****", ["im_account"]),
        ("qq号 384756291 是他私人的", "qq号 38**** 是他私人的", ["im_account"]),
        ("加他微信wxid_k2j3h4聊方案", "加他微信wx****聊方案", ["im_account"]),
        ("王总微信号是wangzong_88，备注公司名", "王总微信号是wa****，备注公司名", ["im_account"]),
        ("vx：Lucy_0901", "vx：Lu****", ["im_account"]),
        ("【跟进】客户：王总；微信：abc_123；需求：CRM", "【跟进】客户：王总；微信：ab****；需求：CRM", ["im_account"]),
        # A mobile used as the WeChat id is a mobile first.
        ("微信：13812345678", "微信：138****5678", ["mobile"]),
        # The address is an e-mail, not the QQ number inside it.
        ("QQ：10086123@qq.com", "QQ：1***@qq.com", ["email"]),
    ],
)
def test_named_accounts_are_masked(rule: SensitiveRule, text: str, masked: str, kinds: list[str]) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), [f.kind for f in findings]) == (masked, kinds)


@pytest.mark.parametrize(
    "text",
    [
        "已加微信，明天聊",
        "微信 meeting 改到周四",
        "拉了个微信群 sales2026 方便对接",
        "QQ群已建好",
        "微信：ab",
        "王总微信同号，直接搜手机号",
        "客户微信：ab****，已打码",
        "zhangwei1988 这个账号没说是什么",
        "Twx: abcdef123 不是微信",
    ],
)
def test_look_alikes_are_not_accounts(rule: SensitiveRule, text: str) -> None:
    findings = rule.scan(text)
    assert (apply_masks(text, findings), findings) == (text, ())

"""WeChat and QQ accounts (微信号, QQ号), found only when the message names them as such.

An account is 5-20 Latin letters, digits, `_` or `-` right after 微信/微信号/wx/WeChat/QQ/qq号
and a colon (full- or half-width), 是/为, or spaces: `微信：abc_123`, `wx zhang_88`, `QQ号: 10086123`,
`微信号是wangzong_88`.
After spaces alone (or glued to a Chinese label: 微信abc_123) the account must hold a digit, `_`
or `-`, so `微信 meeting` is not an account. The finding covers the account only, the label
stays: `微信：abc_123` → `微信：ab****`. A bare account with no label cannot be told from any other
word and is not found.
"""

from __future__ import annotations

import re

from rules.model import Finding

KIND = "im_account"
_ACCOUNT = r"[A-Za-z0-9][A-Za-z0-9_\-]{4,19}(?![A-Za-z0-9_\-])"
_LABEL = (
    r"(?:(?<![A-Za-z])(?i:wechat|weixin|wx|vx|qq)(?:号|账号|(?i:id))?"
    r"|微信(?:号|账号|(?i:id))?|[Vv]信号?|扣扣号?)"
)
_LATIN_LABEL = re.compile(r"(?i:wx|vx|qq|we)")
_NAMED = re.compile(
    rf"{_LABEL}(?:\s*(?:[:：]|是|为)\s*(?P<account>{_ACCOUNT})|(?:\s+|(?<=[^\x00-\x7f]))(?P<loose>{_ACCOUNT}))"
)


def find_im_accounts(text: str) -> list[Finding]:
    """Every named WeChat/QQ account in `text`, in order."""
    # Every label holds 信 or 扣 or starts wx/vx/qq/we; checking that first skips most chat lines.
    if "信" not in text and "扣" not in text and not _LATIN_LABEL.search(text):
        return []
    found: list[Finding] = []
    for m in _NAMED.finditer(text):
        name = "account" if m.group("account") is not None else "loose"
        value = m.group(name)
        if name == "loose" and value.isalpha():
            continue
        found.append(Finding(KIND, m.start(name), m.end(name), mask(value)))
    return found


def mask(value: str) -> str:
    """First two characters and four stars: ab****; a short value (custom pattern) shows none."""
    return f"{value[:2]}****" if len(value) >= 5 else "****"

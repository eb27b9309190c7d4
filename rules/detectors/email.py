"""E-mail addresses (邮箱): any address, masked to its first character and domain.

Example: 发我邮箱 wang.li@huaxing-tech.com → w***@huaxing-tech.com. Only ASCII addresses are found
(internationalized domains and full-width ＠ are rare in chat and left out).
"""

from __future__ import annotations

import re

from rules.model import Finding

KIND = "email"
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    r"[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9\-])"
)


def find_emails(text: str) -> list[Finding]:
    """Every e-mail address in `text`, in order."""
    if "@" not in text:
        return []
    return [Finding(KIND, m.start(), m.end(), mask(m.group())) for m in _EMAIL.finditer(text)]


def mask(value: str) -> str:
    """First character, three stars, then @domain: w***@huaxing-tech.com."""
    local, at, domain = value.partition("@")
    if not at:
        return f"{value[:1]}***" if len(value) >= 4 else "***"
    return f"{local[:1]}***@{domain}"

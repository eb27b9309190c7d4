"""Replace each finding's span with its mask, leaving every other character exactly as it was.

Example: apply_masks("王总13812345678", (Finding("mobile", 2, 13, "138****5678"),)) == "王总138****5678".
"""

from __future__ import annotations

from collections.abc import Iterable

from rules.detectors import bank_card, email, id_card, im_account, mobile
from rules.model import Finding, SensitiveKind

_MASKERS = {
    "mobile": mobile.mask,
    "id_card": id_card.mask,
    "bank_card": bank_card.mask,
    "email": email.mask,
    "im_account": im_account.mask,
}


def mask_value(kind: SensitiveKind, value: str) -> str | None:
    """The mask of a clear `value` of `kind` (None for `financial`, which is flagged, not masked).

    Custom patterns and keyword lists of an identifier kind are masked the way the built-in
    detector of that kind masks, so a manager's extra pattern never shows more than a built-in one.
    """
    masker = _MASKERS.get(kind)
    return masker(value) if masker else None


def apply_masks(text: str, findings: Iterable[Finding]) -> str:
    """`text` with every masked finding replaced; findings are sorted and must not overlap.

    A finding that overlaps an earlier one or falls outside the text is skipped rather than
    raising: masking runs on every message and must never take the pipeline down.
    """
    parts: list[str] = []
    pos = 0
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        if finding.mask is None or finding.start < pos or finding.end > len(text) or finding.end <= finding.start:
            continue
        parts.append(text[pos : finding.start])
        parts.append(finding.mask)
        pos = finding.end
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)

"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import phonenumbers
from hypothesis import assume
from hypothesis import strategies as st

MOBILE_PREFIXES = ["138", "139", "186", "159", "177", "199", "150", "188", "166"]


@st.composite
def cn_mobiles(draw: st.DrawFn) -> str:
    """A mainland mobile number, 11 digits, that phonenumbers takes for a valid one."""
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    number = prefix + draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    assume(phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")))
    return number

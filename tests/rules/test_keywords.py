"""One automaton matches every phrase of every list at once, overlaps included."""

from __future__ import annotations

import pytest

from rules.keywords import KeywordAutomaton


@pytest.mark.parametrize(
    ("entries", "text", "hits"),
    [
        ([("负债", "strong"), ("回款", "cue")], "客户负债，回款慢", [("strong", 2, 4), ("cue", 5, 7)]),
        # The neutral longer phrase and the shorter one inside it are both reported.
        ([("资产", "weak"), ("资产管理", "neutral")], "资产管理系统", [("weak", 0, 2), ("neutral", 0, 4)]),
        # A phrase in two lists carries both tags; a repeated entry counts once.
        ([("负债", "a"), ("负债", "b"), ("负债", "a")], "负债", [("a", 0, 2), ("b", 0, 2)]),
        # Offsets index the Python string even after characters outside the BMP.
        ([("征信", "strong")], "😀😀征信", [("strong", 2, 4)]),
        ([("征信", "strong"), ("", "ignored")], "没有命中", []),
        ([], "客户负债", []),
    ],
)
def test_find(entries: list[tuple[str, str]], text: str, hits: list[tuple[str, int, int]]) -> None:
    assert sorted(KeywordAutomaton(entries).find(text), key=lambda h: (h[1], h[2])) == hits


def test_ten_thousand_phrases_in_one_automaton() -> None:
    words = [f"关键词{i:05d}" for i in range(10_000)]
    automaton = KeywordAutomaton((w, "custom") for w in words)
    assert len(automaton) == 10_000
    assert automaton.find("提到关键词09999和关键词00042") == [("custom", 2, 10), ("custom", 11, 19)]

"""One Aho-Corasick automaton for every literal phrase list of the sensitive rule.

Built-in financial phrases, the config's `financial_keywords` and `financial_exclusions`, and the
`custom_keywords` lists all go into a single `ahocorasick_rs.AhoCorasick`, so one pass over a
message finds every phrase of every list: scanning with 10,000 phrases costs about what it costs
with 100 (bench/bench_keywords.py). Each phrase carries the tags of the lists it belongs to.

Example: KeywordAutomaton([("负债", "strong"), ("回款", "cue")]).find("客户负债") == [("strong", 2, 4)]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

import ahocorasick_rs

T = TypeVar("T", bound=Hashable)


class KeywordAutomaton(Generic[T]):
    """Phrases tagged with the list(s) they came from, matched all at once (overlaps included)."""

    __slots__ = ("_automaton", "_tags", "_size")

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        by_phrase: dict[str, list[T]] = {}
        for phrase, tag in entries:
            if not phrase:
                continue
            tags = by_phrase.setdefault(phrase, [])
            if tag not in tags:
                tags.append(tag)
        phrases = list(by_phrase)
        self._tags: tuple[tuple[T, ...], ...] = tuple(tuple(by_phrase[p]) for p in phrases)
        self._size = len(phrases)
        # Overlapping matches need the standard match kind; a shorter phrase inside a longer one
        # (资产 inside 资产管理) must be seen so the longer neutral phrase can cancel it.
        self._automaton = (
            ahocorasick_rs.AhoCorasick(phrases, matchkind=ahocorasick_rs.MatchKind.Standard) if phrases else None
        )

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"KeywordAutomaton(phrases={self._size})"

    def find(self, text: str) -> list[tuple[T, int, int]]:
        """Every (tag, start, end) occurrence in `text`, overlapping ones included, by end offset.

        Offsets index the Python string (code points), like `str` slicing.
        """
        if self._automaton is None or not text:
            return []
        tags = self._tags
        return [
            (tag, start, end)
            for index, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True)
            for tag in tags[index]
        ]

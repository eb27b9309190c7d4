"""The demo corpus: seeded, realistic, and covering every case the rules must see."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, time

import pytest

from bot.simulator.corpus import REPS, bank_card, generate_corpus, id_card
from bot.simulator.directory import GROUP_MEMBERS


def luhn_ok(number: str) -> bool:
    total = 0
    for i, digit in enumerate(int(d) for d in reversed(number)):
        if i % 2 == 1:
            digit = digit * 2 - 9 if digit * 2 > 9 else digit * 2
        total += digit
    return total % 10 == 0


def id_ok(number: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(number[:17], weights, strict=True)) % 11] == number[17]


def test_same_seed_same_corpus_other_seed_other_corpus():
    assert generate_corpus(seed=1) == generate_corpus(seed=1)
    assert generate_corpus(seed=1) != generate_corpus(seed=2)


def test_corpus_covers_every_kind_in_both_groups():
    corpus = generate_corpus()
    kinds = Counter(m.kind for m in corpus)
    assert set(kinds) == {"report_complete", "report_incomplete", "deal", "chatter", "chatter_off_hours",
                          "sensitive", "mention", "urgent", "flood", "direct"}
    assert {m.chat_id for m in corpus} == {"wr-sales-east", "wr-sales-south", ""}
    assert all(m.sender in GROUP_MEMBERS[m.chat_id] for m in corpus if m.chat_id)
    assert len({m.msgid for m in corpus}) == len(corpus)
    assert [m.sent_at for m in corpus] == sorted(m.sent_at for m in corpus)


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("report_complete", r"^(【跟进】|#跟进)"),
        ("report_incomplete", r"^(【跟进】|#跟进)"),
        ("deal", r"(?s)^(【成交】|#成交).*(万|¥|￥)"),
        ("urgent", r"^【紧急】"),
        ("mention", r"^@销售助手 "),
    ],
)
def test_messages_look_like_their_kind(kind, pattern):
    matching = [m for m in generate_corpus() if m.kind == kind]
    assert matching and all(re.search(pattern, m.text) for m in matching)


def test_reports_deals_and_floods_come_from_reps_not_managers():
    corpus = generate_corpus()
    assert {m.sender for m in corpus if m.kind in {"report_complete", "deal", "flood"}} <= REPS


def test_incomplete_reports_miss_at_least_one_field():
    for m in generate_corpus():
        if m.kind == "report_incomplete":
            labels = ("客户姓名|客户", "公司名称|公司", "联系方式|电话", "需求描述|需求", "上次沟通时间|上次沟通",
                      "下一步行动计划|下一步")
            assert sum(bool(re.search(f"({label})[：: ]", m.text)) for label in labels) in (4, 5)


def test_timing_business_hours_off_hours_and_weekends():
    corpus = generate_corpus(start=date(2026, 3, 2), days=7)
    windows = ((time(9), time(11)), (time(14), time(17)))
    assert all(any(a <= m.sent_at.time() < b for a, b in windows) for m in corpus if m.kind == "report_complete")
    assert all(not any(a <= m.sent_at.time() < b for a, b in windows) for m in corpus if m.kind == "urgent")
    assert {m.sent_at.weekday() for m in corpus} == set(range(7))
    assert {m.kind for m in corpus if m.sent_at.weekday() >= 5} == {"chatter"}
    assert all(m.sent_at.utcoffset().total_seconds() == 8 * 3600 for m in corpus)


def test_flood_is_a_burst_of_twelve_within_ten_minutes():
    bursts: dict[tuple[str, str, date], list] = {}
    for m in generate_corpus():
        if m.kind == "flood":
            bursts.setdefault((m.chat_id, m.sender, m.sent_at.date()), []).append(m.sent_at)
    assert bursts
    for times in bursts.values():
        assert len(times) == 12 and (max(times) - min(times)).total_seconds() <= 600


def test_sensitive_messages_carry_well_formed_identifiers():
    texts = " ".join(m.text for m in generate_corpus(seed=3, days=14) if m.kind == "sensitive")
    assert re.search(r"1[3-9]\d{9}", texts)
    assert re.search(r"[\w.]+@\w+\.com", texts)
    assert re.search(r"资金链断裂|欠款|现金流|征信", texts)
    assert all(id_ok(n) for n in re.findall(r"\d{17}[\dX]", texts) if len(n) == 18 and n[6:8] in ("19", "20"))


@pytest.mark.parametrize("seed", range(20))
def test_generated_identifiers_pass_their_checksums(seed):
    import random

    rng = random.Random(seed)
    assert id_ok(id_card(rng))
    card = bank_card(rng)
    assert len(card) == 19 and luhn_ok(card)

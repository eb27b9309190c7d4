"""The demo corpus: seeded, realistic, and covering every case the rules must see."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, time, timedelta

import pytest

from bot.simulator.corpus import REPS, bank_card, demo_corpus, generate_corpus, id_card
from bot.simulator.directory import GROUP_MEMBERS
from rules.engine import RuleEngine
from rules.model import GroupMessage
from tests.conftest import sh


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
        ("deal", r"(?s)^(【成交】|#成交).*(万|¥|￥|元)"),
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


LABELS = (
    "客户姓名|客户", "公司名称|公司", "联系方式|电话", "需求描述|需求", "上次沟通时间|上次沟通", "下一步行动计划|下一步"
)


def labelled_fields(text: str) -> int:
    """Fields written `标签：值` or `标签:值`, the only way the contract (replay.md §3) reads a label."""
    return sum(bool(re.search(f"({label})[：:]", text)) for label in LABELS)


@pytest.mark.parametrize(("kind", "counts"), [("report_complete", {6}), ("report_incomplete", {0, 4, 5})])
def test_reports_label_their_fields_as_the_contract_reads_them(kind, counts):
    found = {labelled_fields(m.text) for m in generate_corpus(seed=9, days=14) if m.kind == kind}
    assert found == counts


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


#: What the rule engine must conclude for each kind of demo message (rules with no prior posts).
EXPECTED_RULES = {
    "report_complete": lambda rules, verdict: "template" not in rules and verdict.update is not None,
    "report_incomplete": lambda rules, verdict: "template" in rules,
    "deal": lambda rules, verdict: verdict.deal is not None and verdict.deal.amount_yuan,
    "sensitive": lambda rules, verdict: "sensitive" in rules,
    "urgent": lambda rules, verdict: "posting_window" not in rules,
    "chatter_off_hours": lambda rules, verdict: "posting_window" in rules,
    "mention": lambda rules, verdict: not rules,
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_RULES))
def test_the_rule_engine_judges_each_kind_as_the_demo_intends(config, kind):
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    managers = {g.chat_id: set(g.managers) | set(config.rules.policy.exempt_members) for g in config.groups}
    judged = 0
    for m in generate_corpus(seed=4, start=date(2026, 3, 2), days=7):
        if m.kind != kind or m.sender in managers[m.chat_id]:
            continue
        msg = GroupMessage(msgid=m.msgid, chat_id=m.chat_id, sender=m.sender, sent_at=m.sent_at, text=m.text)
        verdict = engine.evaluate(msg, ())
        rules = {v.rule for v in verdict.violations}
        assert EXPECTED_RULES[kind](rules, verdict), (m.text, rules)
        judged += 1
    assert judged > 0


@pytest.mark.parametrize(
    "now",
    [
        sh(2026, 11, 23, 8, 0),  # Monday before work: this week is only what happens live
        sh(2026, 11, 25, 15, 30),  # Wednesday afternoon
        sh(2026, 11, 29, 22, 40),  # Sunday night
        sh(2027, 1, 1, 9, 30),  # a Friday that starts a month and a year
    ],
)
def test_the_demo_spans_last_week_and_this_week_relative_to_today(now):
    corpus = demo_corpus(now=now)
    today = now.date()
    monday = today - timedelta(days=today.weekday())
    past = [m for m in corpus if m.sent_at <= now]
    days = {m.sent_at.astimezone(now.tzinfo).date() for m in corpus}
    assert min(days) == monday - timedelta(days=7) and max(days) == today
    assert any(m.sent_at.date() >= monday for m in past)  # this week has something from the start
    # The past first (sent at once), then the rest of today (sent live): never out of order within each.
    assert corpus[: len(past)] == sorted(past, key=lambda m: m.sent_at)
    assert all(m.sent_at > now for m in corpus[len(past):])
    assert len({m.msgid for m in corpus}) == len(corpus)
    scenes = {m.kind: m for m in past if m.kind.startswith("scene_")}
    assert set(scenes) == {"scene_due", "scene_burst", "scene_appeal", "scene_todo"}
    due = scenes["scene_due"]
    assert due.sent_at.date() == today - timedelta(days=1) and "下一步行动计划：明天" in due.text  # due today
    assert scenes["scene_appeal"].text.startswith("申诉 ") and scenes["scene_appeal"].chat_id == ""
    # One rep, three violations, one 5-minute alert bucket: a grouped alert for the managers.
    burst = [m for m in past if m.kind == "scene_burst"]
    assert len(burst) == 3 and len({m.sender for m in burst}) == 1
    assert len({int(m.sent_at.timestamp()) // 300 for m in burst}) == 1


def test_a_demo_database_from_an_earlier_week_takes_this_weeks_traffic_as_new():
    this_week = {m.msgid for m in demo_corpus(now=sh(2026, 11, 25, 15, 30))}
    next_week = {m.msgid for m in demo_corpus(now=sh(2026, 12, 2, 15, 30))}
    assert not this_week & next_week

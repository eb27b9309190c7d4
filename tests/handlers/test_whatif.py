"""What-if: the same messages under the current and a proposed rule set; only differences reported."""

from __future__ import annotations

import json

import pytest

from handlers.whatif import WhatIfError, compare, parse_override, proposed_config, read_jsonl
from rules.model import GroupMessage
from tests.conftest import sh


def msg(n: int, when, text: str = "王总那边今天回复了，下午再跟", sender: str = "zhangwei") -> GroupMessage:
    return GroupMessage(msgid=f"m-{n}", chat_id="wr-sales-east", sender=sender, sent_at=when, text=text)


BURST = [msg(i, sh(2026, 3, 4, 10, i)) for i in range(4)]  # four posts in four minutes, Wednesday morning


@pytest.mark.parametrize(("override", "messages", "changed", "added"), [
    ("frequency: {limit: 2}", BURST, ["m-2", "m-3"], ("frequency",)),
    ("frequency: {limit: 10}", BURST, [], ()),
    ("frequency: {enabled: false}", BURST, [], ()),
    ("posting_window: {windows: ['09:00-12:00', '14:00-17:00']}",
     [msg(1, sh(2026, 3, 4, 11, 30)), msg(2, sh(2026, 3, 4, 10, 30))], ["m-1"], ()),
    ("posting_window: {windows: ['09:00-10:00']}", [msg(1, sh(2026, 3, 4, 10, 30))], ["m-1"], ("posting_window",)),
])
def test_compare_reports_only_differences(config, override, messages, changed, added):
    result = compare(config, proposed_config(config, parse_override(override)), messages)
    assert [c.msgid for c in result.changes] == changed
    assert result.messages == len(messages)
    for change in result.changes:
        assert change.added == added


def test_stored_masked_numbers_cannot_be_redetected(config):
    stored = [msg(1, sh(2026, 3, 4, 10, 0), "王总电话 138****5678，明天去拜访")]
    result = compare(config, config, stored)
    assert result.hits_before.get("sensitive", 0) == 0


def test_uploaded_clear_text_is_judged_but_only_masked_text_is_shown(config):
    lines = [json.dumps({"msgid": "u-1", "chat_id": "wr-sales-east", "sender": "zhangwei",
                         "sent_at": "2026-03-04T10:00:00+08:00", "text": "王总电话 13812345678，明天去拜访"},
                        ensure_ascii=False)]
    messages = read_jsonl(lines)
    result = compare(config, proposed_config(config, parse_override("sensitive: {enabled: false}")), messages)
    assert result.hits_before["sensitive"] == 1 and result.hits_after.get("sensitive", 0) == 0
    (change,) = result.changes
    assert change.removed == ("sensitive",)
    assert "13812345678" not in change.masked_text


@pytest.mark.parametrize(("text", "reason"), [
    ("frequency: [limit", "rule change: not valid YAML at line 1"),
    ("- frequency", "rule change: expected rule names mapping to settings"),
    ("frequncy: {limit: 2}", "rules: unknown rule 'frequncy'"),
    ("frequency: {limit: -1}", "rules.frequency.limit"),
])
def test_bad_rule_change_names_the_key(config, text, reason):
    with pytest.raises(WhatIfError, match=reason.replace("[", r"\[")):
        proposed_config(config, parse_override(text))


@pytest.mark.parametrize(("line", "reason"), [
    ("not json", "line 2: JSONDecodeError"),
    ('{"msgid": "x", "chat_id": "c", "sender": "s", "text": "t"}', "line 2: missing field 'sent_at'"),
    ('{"msgid": "x", "chat_id": "c", "sender": "s", "text": "t", "sent_at": "2026-03-04T10:00:00"}',
     "line 2: ValueError: msgid x: sent_at must carry a UTC offset"),
])
def test_bad_replay_lines_are_refused_with_their_number(line, reason):
    good = '{"msgid": "a", "chat_id": "c", "sender": "s", "text": "t", "sent_at": "2026-03-04T10:00:00+08:00"}'
    with pytest.raises(WhatIfError, match=reason):
        read_jsonl([good, line])

"""The what-if page: stored messages by date range, or an uploaded replay file; errors shown inline."""

from __future__ import annotations

import json

import pytest

from tests.conftest import sh

LINES = [
    {"msgid": f"f-{i}", "chat_id": "wr-sales-east", "sender": "zhangwei",
     "sent_at": sh(2026, 3, 4, 10, i).isoformat(), "text": f"第{i}条：今天拜访了三家客户"}
    for i in range(4)
] + [{"msgid": "f-south", "chat_id": "wr-sales-south", "sender": "chenjing",
      "sent_at": sh(2026, 3, 4, 10, 9).isoformat(), "text": "华南的消息"}]


def test_stored_range(as_user):
    c, token = as_user("boss")
    response = c.post("/dashboard/whatif", data={"override": "posting_window: {windows: ['09:00-22:00']}",
                                                 "since": "2026-03-03", "until": "2026-03-04", "csrf_token": token})
    assert response.status_code == 200
    assert "5 条消息，1 条判定变化" in response.text  # the 21:40 message is no longer out of hours
    assert "晚上补一句" in response.text


def test_uploaded_file_is_scoped_to_the_managers_groups(as_user):
    c, token = as_user("lisi")
    body = "\n".join(json.dumps(line, ensure_ascii=False) for line in LINES).encode()
    response = c.post("/dashboard/whatif", data={"override": "frequency: {limit: 2}", "csrf_token": token},
                      files={"upload": ("week.jsonl", body, "application/jsonl")})
    assert response.status_code == 200
    assert "4 条消息，2 条判定变化" in response.text
    assert "华南的消息" not in response.text


@pytest.mark.parametrize(("data", "reason"), [
    ({"override": "frequency: {limit: zero}", "since": "2026-03-01", "until": "2026-03-04"}, "rules.frequency.limit"),
    ({"override": "", "since": "", "until": ""}, "since/until: choose a date range"),
    ({"override": "", "since": "2026-03-01", "until": "昨天"}, "until: expected a date"),
])
def test_errors_are_shown_on_the_page(as_user, data, reason):
    c, token = as_user("boss")
    response = c.post("/dashboard/whatif", data={**data, "csrf_token": token})
    assert response.status_code == 400
    assert reason in response.text and "<form" in response.text

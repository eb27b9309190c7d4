"""`groupbot outbox status|dead|requeue`: what an admin sees and does about dead letters."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage import outbox
from storage.db import make_engine, make_session_factory
from storage.models import Base
from tests.conftest import sh

UNTRUSTED = "message/send: this server's IP is not in the app's trusted IPs: ... 企业可信IP ..."


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    monkeypatch.setenv("DATABASE_URL", url)
    factory = make_session_factory(engine)
    with factory() as session:
        for n, channel in enumerate(["app", "robot", "app"]):
            outbox.enqueue(
                session,
                key=f"k{n}",
                channel=channel,
                target="lisi" if channel == "app" else "east",
                payload={"msgtype": "text", "text": {"content": "告警"}},
                now=sh(2026, 3, 2, 10, 0),
                not_before=sh(2026, 3, 2, 10, 0),
            )
        session.flush()
        outbox.mark_dead(session, item_id=1, owner=None, error=UNTRUSTED)
        session.commit()
    yield factory
    engine.dispose()


def test_status_counts_messages_by_state(db) -> None:
    result = CliRunner().invoke(app, ["outbox", "status"])
    assert result.exit_code == 0
    assert [line.split() for line in result.output.splitlines()] == [
        ["pending", "2"],
        ["sending", "0"],
        ["sent", "0"],
        ["dead", "1"],
    ]


def test_dead_lists_the_reason_so_the_admin_knows_what_to_fix(db) -> None:
    result = CliRunner().invoke(app, ["outbox", "dead"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert "企业可信IP" in result.output and "lisi" in result.output


@pytest.mark.parametrize(
    ("ids", "exit_code", "message", "pending_after"),
    [
        (["1"], 0, "requeued 1 message(s)", 3),
        (["2"], 1, "not dead letters (or unknown ids): 2", 2),  # still pending: nothing to requeue
        (["99"], 1, "not dead letters (or unknown ids): 99", 2),
    ],
)
def test_requeue_sends_a_dead_letter_again(
    db, ids: list[str], exit_code: int, message: str, pending_after: int
) -> None:
    result = CliRunner().invoke(app, ["outbox", "requeue", *ids])
    assert result.exit_code == exit_code
    assert message in result.output
    with db() as session:
        assert outbox.count_by_status(session).get("pending", 0) == pending_after

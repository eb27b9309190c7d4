"""Jobs on demand (`groupbot jobs run`, the dashboard's button): the scheduler's exactly-once claim,
and forced re-runs that are explicit, audited and exactly once per request, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import UnknownJobError
from bot.scheduler import JobScheduler, run_on_demand
from storage.models import AuditLogRow, JobRunRow, OutboxItemRow
from tests.conftest import DEMO_CONFIG, sh
from tests.helpers import seed

EAST = "wr-sales-east"
MONDAY = sh(2026, 11, 23, 9, 30)


def run(factory, config, *, force=False, request_id=None, at=MONDAY, actor="boss", name="leaderboard"):
    return run_on_demand(name, session_factory=factory, config=config, at=at, owner=f"w-{id(factory)}",
                         actor=actor, force=force, request_id=request_id, wall_clock=lambda: at)


def markdown_posts(session) -> list[str]:
    keys = session.scalars(select(OutboxItemRow.idempotency_key).where(OutboxItemRow.idempotency_key.like("%:md%")))
    return sorted(keys)


@pytest.fixture
def week_with_a_deal(session):
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 11, 18, 10, 0), amount=30_000)
    session.commit()


def test_two_workers_running_the_same_job_at_once_post_once(workers, config, session, week_with_a_deal):
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda f: run(f, config), workers))
    assert sorted(r.outcome for r in results) == ["done", "taken"]
    assert {r.period for r in results} == {"2026-W47"}
    # The cron firing later that Monday finds the week taken.
    scheduler = JobScheduler(config, workers[0], owner="replica", clock=lambda: MONDAY)
    assert scheduler.fire("leaderboard") == "taken"
    session.expire_all()
    assert markdown_posts(session) == [
        "leaderboard:2026-W47:wr-sales-east:md", "leaderboard:2026-W47:wr-sales-south:md",
    ]


def test_a_forced_rerun_is_exactly_once_per_request_and_audited(workers, config, session, week_with_a_deal):
    assert run(workers[0], config).outcome == "done"
    assert run(workers[1], config).outcome == "taken"  # not forced: refused
    with ThreadPoolExecutor(2) as pool:  # the same request, handled by two workers at once
        results = list(pool.map(lambda f: run(f, config, force=True, request_id="a1b2c3d4"), workers))
    assert sorted(r.outcome for r in results) == ["done", "taken"]
    assert run(workers[0], config, force=True, request_id="a1b2c3d4").outcome == "taken"  # submitted again
    second = run(workers[1], config, force=True, request_id="ffff0001")
    assert (second.outcome, second.period) == ("done", "2026-W47#rerun-ffff0001")
    session.expire_all()
    assert markdown_posts(session) == [
        f"leaderboard:2026-W47:{chat}:md{suffix}"
        for chat in (EAST, "wr-sales-south") for suffix in ("", "#rerun-a1b2c3d4", "#rerun-ffff0001")
    ]
    claims = sorted(session.scalars(select(JobRunRow.period).where(JobRunRow.job == "leaderboard")))
    assert claims == ["2026-W47", "2026-W47#rerun-a1b2c3d4", "2026-W47#rerun-ffff0001"]
    audits = sorted((a.action, a.target, a.actor) for a in session.scalars(select(AuditLogRow)))
    assert audits == [
        ("job_rerun_forced", "job:leaderboard:2026-W47#rerun-a1b2c3d4", "boss"),
        ("job_rerun_forced", "job:leaderboard:2026-W47#rerun-ffff0001", "boss"),
        ("job_run", "job:leaderboard:2026-W47", "boss"),
    ]


def test_forcing_an_unrun_period_is_a_plain_run(workers, config, session):
    result = run(workers[0], config, force=True)
    assert (result.outcome, result.period) == ("done", "2026-W47")


def test_a_job_run_by_hand_ignores_the_workday_calendar(workers, config, session):
    sunday = sh(2026, 11, 22, 17, 30)
    assert run(workers[0], config, name="digest", at=sunday).outcome == "done"
    assert session.scalar(select(JobRunRow.period).where(JobRunRow.job == "digest")) == "2026-11-22"


@pytest.mark.parametrize(("name", "request_id", "error"), [
    ("leaderbord", None, UnknownJobError),
    ("leaderboard", "../../x", ValueError),
])
def test_bad_requests_are_refused(config, workers, name, request_id, error):
    with pytest.raises(error):
        run(workers[0], config, name=name, force=True, request_id=request_id)


runner = CliRunner()


def test_jobs_cli(db_url, engine, monkeypatch, session, week_with_a_deal):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("GROUPBOT_CONFIG", str(DEMO_CONFIG))  # the demo's groups and managers
    first = runner.invoke(app, ["jobs", "run", "leaderboard", "--at", "2026-11-23T09:30"])
    assert first.exit_code == 0 and "leaderboard 2026-W47: run done, 5 post(s) queued" in first.output
    again = runner.invoke(app, ["jobs", "run", "leaderboard", "--at", "2026-11-23T09:30+08:00"])
    assert again.exit_code == 1 and "already run" in again.output
    forced = runner.invoke(app, ["jobs", "run", "leaderboard", "--at", "2026-11-23T09:30", "--force"])
    assert forced.exit_code == 0 and "forced re-run done, 5 post(s) queued" in forced.output
    listing = runner.invoke(app, ["jobs", "list"])
    assert listing.exit_code == 0 and "leaderboard" in listing.output and "monthly" in listing.output
    for args, words in ((["jobs", "run", "nope"], "no job named 'nope'"),
                        (["jobs", "run", "digest", "--at", "monday"], "--at: expected an ISO time")):
        bad = runner.invoke(app, args)
        assert bad.exit_code == 2 and words in bad.output
    session.expire_all()
    assert {a.actor.startswith("cli:") for a in session.scalars(select(AuditLogRow))} == {True}

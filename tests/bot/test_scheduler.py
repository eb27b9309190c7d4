"""Schedules run exactly once per period across replicas and restarts, on an injected clock."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.scheduler import JOBS, JobScheduler, last_fire_time, start_scheduler
from bot.simulator.clock import ManualClock
from storage.db import make_engine, make_session_factory
from storage.models import JobRunRow, OutboxItemRow
from tests.conftest import sh
from tests.helpers import seed

SHANGHAI = ZoneInfo("Asia/Shanghai")
EAST, SOUTH = "wr-sales-east", "wr-sales-south"


@pytest.fixture
def replicas(db_url, config):
    """Three schedulers, each with its own engine (as three processes would have), one database."""
    engines = [make_engine(db_url) for _ in range(3)]
    clocks = [ManualClock(sh(2026, 1, 1)) for _ in range(3)]
    schedulers = [
        JobScheduler(config, make_session_factory(e), owner=f"replica-{i}", clock=c)
        for i, (e, c) in enumerate(zip(engines, clocks, strict=True))
    ]
    yield schedulers, clocks
    for e in engines:
        e.dispose()


def leaderboard_posts(session, chat_id: str) -> list[str]:
    keys = session.scalars(
        select(OutboxItemRow.idempotency_key).where(OutboxItemRow.idempotency_key.like(f"leaderboard:%:{chat_id}:md"))
    )
    return sorted(keys)


def reports_in(config, path: Path):
    """`config` writing its monthly reports to `path`."""
    return config.model_copy(update={"schedules": config.schedules.model_copy(update={"reports_dir": str(path)})})


def reports_under_a_file(config, tmp_path: Path):
    """`config` whose reports_dir lies below a plain file: writing the monthly XLSX fails."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    return reports_in(config, blocker / "reports")


def test_three_replicas_over_ten_weeks_post_ten_leaderboards_per_group(replicas, session):
    schedulers, clocks = replicas
    seed.deal(session, sender="zhangwei", chat_id=EAST, at=sh(2026, 9, 8, 10, 0), amount=30_000)
    session.commit()
    first_monday = date(2026, 9, 14)
    for week in range(10):
        monday = first_monday + timedelta(weeks=week)
        for i, clock in enumerate(clocks):  # replicas fire within a second of each other
            clock.now = datetime.combine(monday, datetime.min.time(), SHANGHAI).replace(hour=9, minute=30) + timedelta(
                milliseconds=300 * i
            )
        with ThreadPoolExecutor(3) as pool:
            outcomes = sorted(pool.map(lambda s: s.fire("leaderboard"), schedulers))
        assert outcomes == ["done", "taken", "taken"], monday
        # A replica restarting later that morning finds the week already claimed.
        clocks[0].now += timedelta(hours=1)
        assert schedulers[0].catch_up()["leaderboard"] == "taken"
    session.expire_all()
    for chat_id in (EAST, SOUTH):
        posts = leaderboard_posts(session, chat_id)
        assert len(posts) == 10
        assert posts[0] == f"leaderboard:2026-W37:{chat_id}:md" and posts[-1] == f"leaderboard:2026-W46:{chat_id}:md"
    claims = session.scalar(select(func.count()).select_from(JobRunRow).where(JobRunRow.job == "leaderboard"))
    assert claims == 10


@pytest.mark.parametrize(
    ("start_at", "first", "posts"),
    [
        (sh(2026, 11, 23, 11, 0), "done", 1),  # all down at 09:30, one up at 11:00: caught up
        (sh(2026, 11, 23, 12, 30), "done", 1),  # exactly at the end of the 180-minute grace
        (sh(2026, 11, 23, 12, 31), None, 0),  # past the grace: that week is not posted late
        (sh(2026, 11, 23, 9, 29), None, 1),  # too early; the replicas starting at 09:34 catch it up
    ],
)
def test_a_missed_week_is_caught_up_once_on_start_within_grace(replicas, session, start_at, first, posts):
    schedulers, clocks = replicas
    for clock in clocks:
        clock.now = start_at
    outcomes = [schedulers[0].catch_up().get("leaderboard")]
    assert outcomes == [first]
    # The other replicas start five minutes later: never a second post.
    for clock in clocks:
        clock.now = start_at + timedelta(minutes=5)
    outcomes += [s.catch_up().get("leaderboard") for s in schedulers[1:]]
    assert outcomes.count("done") == posts
    session.expire_all()
    assert len(leaderboard_posts(session, EAST)) == posts


def test_a_job_that_fails_leaves_neither_claim_nor_posts(db_url, config, session, tmp_path):
    # reports_dir is below a file, so writing the XLSX fails after the claim row was inserted.
    broken = reports_under_a_file(config, tmp_path)
    engine = make_engine(db_url)
    clock = ManualClock(sh(2026, 12, 1, 9, 0))  # Tuesday 1 December: the first workday
    replica = JobScheduler(broken, make_session_factory(engine), owner="replica-0", clock=clock)
    with pytest.raises(OSError):
        replica.fire("monthly")
    assert session.scalar(select(func.count()).select_from(JobRunRow)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxItemRow)) == 0
    session.rollback()  # SQLite: end the read transaction (BEGIN IMMEDIATE) before the next writer
    fixed = reports_in(broken, tmp_path / "reports")
    assert JobScheduler(fixed, make_session_factory(engine), owner="replica-1", clock=clock).fire("monthly") == "done"
    assert (tmp_path / "reports" / "monthly-2026-11.xlsx").exists()
    engine.dispose()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (sh(2026, 11, 23, 9, 5), "done"),  # Monday
        (sh(2026, 11, 21, 9, 5), "skipped"),  # Saturday
        (sh(2026, 10, 1, 9, 5), "skipped"),  # National Day
        (sh(2026, 2, 14, 9, 5), "done"),  # Saturday made a workday (调休)
    ],
)
def test_workday_only_jobs_skip_days_off_without_claiming(replicas, session, now, expected):
    schedulers, clocks = replicas
    clocks[0].now = now
    assert schedulers[0].fire("reminders") == expected
    claims = session.scalar(select(func.count()).select_from(JobRunRow).where(JobRunRow.job == "reminders"))
    assert claims == (1 if expected == "done" else 0)


def test_monthly_evaluation_runs_on_the_first_workday_only(replicas, tmp_path, session):
    schedulers, clocks = replicas
    for s in schedulers:
        s.config = reports_in(s.config, tmp_path)
    # November 2026 starts on a Sunday: the 1st is skipped, Monday the 2nd claims October, the 3rd finds it taken.
    outcomes = []
    for day in (1, 2, 3):
        clocks[day - 1].now = sh(2026, 11, day, 9, 0)
        outcomes.append(schedulers[day - 1].fire("monthly"))
    assert outcomes == ["skipped", "done", "taken"]
    assert session.scalar(select(JobRunRow.period).where(JobRunRow.job == "monthly")) == "2026-10"


@pytest.mark.parametrize(
    ("cron", "now", "grace_minutes", "expected"),
    [
        ("30 9 * * mon", sh(2026, 11, 23, 11, 0), 180, sh(2026, 11, 23, 9, 30)),
        ("30 9 * * mon", sh(2026, 11, 23, 9, 30), 180, sh(2026, 11, 23, 9, 30)),
        ("30 9 * * mon", sh(2026, 11, 24, 11, 0), 180, None),
        ("5 9 * * *", sh(2026, 11, 24, 9, 0), 0, None),
        ("*/30 * * * *", sh(2026, 11, 24, 10, 59), 120, sh(2026, 11, 24, 10, 30)),
    ],
)
def test_last_fire_time_within_grace(cron, now, grace_minutes, expected):
    assert last_fire_time(cron, SHANGHAI, now=now, grace=timedelta(minutes=grace_minutes)) == expected


def test_apscheduler_gets_every_enabled_job_with_its_cron_in_shanghai(config, db_url):
    engine = make_engine(db_url)
    replica = JobScheduler(config, make_session_factory(engine), owner="replica-0", clock=ManualClock(sh(2026, 1, 1)))

    async def started():
        aps = await start_scheduler(replica)
        try:
            return {job.id: job.next_run_time for job in aps.get_jobs()}
        finally:
            replica.shutdown()

    jobs = asyncio.run(started())
    engine.dispose()
    # missing_report is off; announcements are checked every minute.
    assert set(jobs) == {"leaderboard", "reminders", "stale_clients", "digest", "monthly", "announcements"}
    assert set(jobs) - {"announcements"} < set(JOBS)
    board = jobs["leaderboard"].astimezone(SHANGHAI)
    assert (board.weekday(), board.hour, board.minute) == (0, 9, 30)
    digest = jobs["digest"].astimezone(SHANGHAI)
    assert (digest.hour, digest.minute) == (17, 30)


def test_background_task_catches_up_on_start_and_stops(config, db_url, session):
    """What bot.app's lifespan runs: a replica started Monday 11:00 posts the missed leaderboard."""
    from types import SimpleNamespace

    from bot.app import BACKGROUND_TASKS
    from bot.scheduler import run_scheduler_task

    assert BACKGROUND_TASKS["scheduler"] is run_scheduler_task
    engine = make_engine(db_url)
    state = SimpleNamespace(config=config, sessions=make_session_factory(engine),
                            clock=ManualClock(sh(2026, 11, 23, 11, 0)))

    async def lifespan():
        stop = asyncio.Event()
        task = asyncio.create_task(run_scheduler_task(SimpleNamespace(state=state), stop))
        for _ in range(200):  # catch-up runs in a worker thread; wait for its claim, not a fixed time
            await asyncio.sleep(0.05)
            with state.sessions() as s:
                if s.scalar(select(JobRunRow.status).where(JobRunRow.job == "leaderboard")) == "done":
                    break
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(lifespan())
    engine.dispose()
    assert leaderboard_posts(session, EAST) == [f"leaderboard:2026-W47:{EAST}:md"]


def test_every_job_has_a_schedule_block_and_every_schedule_a_job(config):
    from bot.config import JobSchedule, SchedulesConfig

    schedule_fields = {n for n, f in SchedulesConfig.model_fields.items() if isinstance(f.default, JobSchedule)}
    assert schedule_fields == set(JOBS)
    for name, job in JOBS.items():
        assert job.run.__doc__ and job.run.__module__.startswith("handlers."), name
        assert isinstance(job.period(sh(2026, 11, 23, 9, 30), SHANGHAI), str)


def test_fire_job_logs_a_failure_without_raising_into_apscheduler(config, db_url, tmp_path, caplog):
    from bot.scheduler import fire_job

    broken = reports_under_a_file(config, tmp_path)
    engine = make_engine(db_url)
    replica = JobScheduler(broken, make_session_factory(engine), owner="replica-0",
                           clock=ManualClock(sh(2026, 12, 1, 9)))
    fire_job(replica, "monthly")
    engine.dispose()
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in failures] == [
        "job monthly failed on replica-0; the period stays unclaimed for another try"
    ]


def test_the_monthly_link_is_built_from_the_public_url(db_url, config, session, tmp_path):
    config = reports_in(config, tmp_path)
    engine = make_engine(db_url)
    clock = ManualClock(sh(2026, 12, 1, 9, 0))
    scheduler = JobScheduler(config, make_session_factory(engine), owner="replica-0", clock=clock,
                             public_url="https://bot.example.cn")
    assert scheduler.fire("monthly") == "done"
    contents = [item.payload["markdown"]["content"] for item in session.scalars(select(OutboxItemRow))]
    assert contents and all("(https://bot.example.cn/dashboard/reports/monthly-2026-11.xlsx)" in c for c in contents)
    engine.dispose()

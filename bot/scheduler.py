"""Scheduled jobs (APScheduler 3, asyncio), each exactly once per period across replicas.

APScheduler only says *when*; `storage.job_runs.claim_run` says *who*: a run claims `(job, period)`
in the transaction that queues its posts, so of three replicas firing at 09:30 one queues the
leaderboard and two find the week taken, and a crash leaves neither claim nor posts. A period missed
while every replica was down is caught up once on start, if its fire time is within
`schedules.grace_minutes`. Jobs marked `workdays_only` skip days the work calendar calls off.

The job table is a literal dict; job functions are module-level in handlers/ with plain arguments
`(session, config, *, now) -> posts queued`, and `now` (the fire time) decides the period.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig, JobSchedule
from bot.errors import UnknownJobError
from handlers import announcements, digest, leaderboard, monthly, nudges, reminders
from handlers.context import Clock, system_clock
from handlers.periods import day_period, month_period
from rules.workdays import WorkCalendar
from storage.job_runs import RERUN_MARK, claim_run, finish_run, is_claimed
from storage.outbox import KEY_SUFFIX
from storage.users import audit

log = logging.getLogger(__name__)

JobOutcome = Literal["done", "taken", "skipped", "disabled"]
REQUEST_ID = re.compile(r"[0-9a-f]{8,32}")


@dataclass(frozen=True)
class Job:
    #: Queues the job's posts in the given session; returns how many.
    run: Callable[..., int]
    #: The claim key for a fire time, e.g. '2026-W47' or '2026-11-23'.
    period: Callable[[datetime, ZoneInfo], str]
    #: The job's posts carry links: it gets `public_url=` (GROUPBOT_PUBLIC_URL) too.
    links: bool = False


JOBS: dict[str, Job] = {
    "leaderboard": Job(leaderboard.post_weekly, leaderboard.period),
    "reminders": Job(reminders.send_reminders, day_period),
    "stale_clients": Job(nudges.nudge_stale_clients, day_period),
    "digest": Job(digest.send_digests, day_period),
    "missing_report": Job(nudges.nudge_missing_reports, day_period),
    "monthly": Job(monthly.send_monthly, month_period, links=True),
}


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def schedule_of(config: AppConfig, name: str) -> JobSchedule:
    return getattr(config.schedules, name)


def work_calendar(config: AppConfig) -> WorkCalendar:
    """The posting window's calendar, so schedules and the rules agree on what a workday is."""
    pw = config.rules.posting_window

    def warn(year: int) -> None:
        log.warning("work calendar does not know %s; treating Monday-Friday as workdays", year)

    return WorkCalendar(pw.extra_holidays, pw.extra_workdays, on_unknown_year=warn)


def run_job(
    name: str,
    *,
    session_factory: sessionmaker[Session],
    config: AppConfig,
    now: datetime,
    owner: str,
    is_workday: Callable[[date], bool],
    wall_clock: Clock | None = None,
    public_url: str | None = None,
) -> JobOutcome:
    """Run `name` for the period of `now` unless a replica already has; commit claim and posts together."""
    schedule = schedule_of(config, name)
    if not schedule.enabled:
        return "disabled"
    tz = ZoneInfo(config.schedules.timezone)
    if schedule.workdays_only and not is_workday(now.astimezone(tz).date()):
        return "skipped"
    job = JOBS[name]
    period = job.period(now, tz)
    wall = wall_clock or (lambda: now)
    with session_factory() as session:
        if not claim_run(session, job=name, period=period, owner=owner, now=wall()):
            session.rollback()
            return "taken"
        links = {"public_url": public_url} if job.links and public_url else {}
        queued = job.run(session, config, now=now, **links)
        finish_run(session, job=name, period=period, now=wall(), detail=f"{queued} queued")
        session.commit()
    log.info("job %s period %s done by %s: %d post(s) queued", name, period, owner, queued)
    return "done"


@dataclass(frozen=True)
class ManualRun:
    """What `run_on_demand` did: the claim key it used, and how many posts it queued."""

    job: str
    #: The claimed period: the job's own ('2026-W47') or a forced re-run's ('2026-W47#rerun-1').
    period: str
    outcome: Literal["done", "taken"]
    queued: int
    forced: bool


def run_on_demand(
    name: str,
    *,
    session_factory: sessionmaker[Session],
    config: AppConfig,
    at: datetime,
    owner: str,
    actor: str,
    force: bool = False,
    request_id: str | None = None,
    wall_clock: Clock = system_clock,
) -> ManualRun:
    """Run `name` now as if fired at `at` (CLI `groupbot jobs run`, the dashboard's button).

    It takes the same `(job, period)` claim as the scheduler, so a period run by hand is not run
    again at its cron time, and a period already run is refused ("taken"). An explicit request
    ignores `enabled` and `workdays_only`. `force` re-runs a claimed period under a claim of its own,
    `period#rerun-<request_id>`, and gives its posts idempotency keys ending in the same suffix, so
    each forced request posts exactly once too: the same request submitted twice, or handled by two
    replicas, re-runs once. `request_id` (8-32 hex digits) names the request: the dashboard renders
    one into each form; without one, every call is a new request. Audited with `actor`.
    """
    if name not in JOBS:
        raise UnknownJobError(name, list(JOBS))
    if request_id is not None and not REQUEST_ID.fullmatch(request_id):
        raise ValueError("request_id must be 8 to 32 hex digits")
    job = JOBS[name]
    base = job.period(at, ZoneInfo(config.schedules.timezone))
    with session_factory() as session:
        period = base
        if force and is_claimed(session, job=name, period=base):
            suffix = f"{RERUN_MARK}{request_id or uuid.uuid4().hex[:12]}"
            period = base + suffix
            session.info[KEY_SUFFIX] = suffix
        if not claim_run(session, job=name, period=period, owner=owner, now=wall_clock()):
            session.rollback()
            return ManualRun(name, period, "taken", 0, force)
        queued = job.run(session, config, now=at)
        finish_run(session, job=name, period=period, now=wall_clock(), detail=f"{queued} queued (on demand)")
        audit(session, actor=actor, action="job_rerun_forced" if period != base else "job_run",
              target=f"job:{name}:{period}"[:200], now=wall_clock(),
              detail={"at": at.isoformat(), "queued": queued, "owner": owner, "force": force})
        session.commit()
    log.info("job %s period %s run on demand by %s: %d post(s) queued", name, period, owner, queued)
    return ManualRun(name, period, "done", queued, force)


def next_fire_time(cron: str, tz: ZoneInfo, *, now: datetime) -> datetime | None:
    return CronTrigger.from_crontab(cron, timezone=tz).get_next_fire_time(None, now)


def last_fire_time(cron: str, tz: ZoneInfo, *, now: datetime, grace: timedelta) -> datetime | None:
    """The latest fire time of `cron` in `[now - grace, now]`, or None."""
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    latest = None
    fire = trigger.get_next_fire_time(None, now - grace)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return latest


class JobScheduler:
    """One replica's scheduler: `catch_up()` on start, then APScheduler fires `fire_job` on cron."""

    def __init__(
        self,
        config: AppConfig,
        session_factory: sessionmaker[Session],
        *,
        owner: str | None = None,
        clock: Clock = system_clock,
        is_workday: Callable[[date], bool] | None = None,
        public_url: str | None = None,
    ) -> None:
        self.config = config
        self.public_url = public_url
        self.session_factory = session_factory
        self.owner = owner or default_owner()
        self.clock = clock
        self.is_workday = is_workday or work_calendar(config).is_workday
        self.tz = ZoneInfo(config.schedules.timezone)
        self._aps: AsyncIOScheduler | None = None

    def __repr__(self) -> str:
        return f"JobScheduler(owner={self.owner!r}, tz={self.tz.key!r})"

    def enabled_jobs(self) -> list[str]:
        return [name for name in JOBS if schedule_of(self.config, name).enabled]

    def run(self, name: str, now: datetime) -> JobOutcome:
        return run_job(
            name,
            session_factory=self.session_factory,
            config=self.config,
            now=now,
            owner=self.owner,
            is_workday=self.is_workday,
            wall_clock=self.clock,
            public_url=self.public_url,
        )

    def fire(self, name: str) -> JobOutcome:
        """What the cron trigger calls: run `name` for the period the current time falls in."""
        return self.run(name, self.clock())

    def post_announcements(self) -> int:
        return announcements.post_due(self.session_factory, self.config, now=self.clock(), owner=self.owner)

    def catch_up(self) -> dict[str, JobOutcome]:
        """Run, once, each job whose latest fire time lies within the grace window before now."""
        now = self.clock()
        grace = timedelta(minutes=self.config.schedules.grace_minutes)
        outcomes: dict[str, JobOutcome] = {}
        for name in self.enabled_jobs():
            fired = last_fire_time(schedule_of(self.config, name).cron, self.tz, now=now, grace=grace)
            if fired is not None:
                outcomes[name] = self.run(name, fired)
        return outcomes

    def start(self) -> AsyncIOScheduler:
        """Add every enabled job to a new AsyncIOScheduler and start it (needs a running loop)."""
        aps = AsyncIOScheduler(timezone=self.tz)
        for name in self.enabled_jobs():
            aps.add_job(
                fire_job,
                CronTrigger.from_crontab(schedule_of(self.config, name).cron, timezone=self.tz),
                args=[self, name],
                id=name,
                name=name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=self.config.schedules.grace_minutes * 60 or None,
            )
        # Announcements (handlers.announcements) are checked every minute; each occurrence is claimed.
        aps.add_job(fire_announcements, CronTrigger(minute="*", timezone=self.tz), args=[self],
                    id="announcements", name="announcements", coalesce=True, max_instances=1)
        aps.start()
        self._aps = aps
        return aps

    def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None


def fire_job(scheduler: JobScheduler, name: str) -> None:
    """APScheduler's callable (a plain function run in its thread pool); errors are logged, not raised."""
    try:
        scheduler.fire(name)
    except Exception:
        log.exception("job %s failed on %s; the period stays unclaimed for another try", name, scheduler.owner)


def fire_announcements(scheduler: JobScheduler) -> None:
    """APScheduler's per-minute callable for announcements; errors are logged, not raised."""
    try:
        scheduler.post_announcements()
    except Exception:
        log.exception("posting announcements failed on %s; unclaimed occurrences are tried next minute",
                      scheduler.owner)


async def start_scheduler(scheduler: JobScheduler) -> AsyncIOScheduler:
    """For the app's lifespan: catch up missed periods (in a thread: it does database work), then start."""
    try:
        await asyncio.to_thread(scheduler.catch_up)
    except Exception:
        log.exception("catching up missed schedules failed on %s", scheduler.owner)
    return scheduler.start()


async def run_scheduler_task(app: Any, stop: asyncio.Event) -> None:
    """`bot.app` background task: this replica's scheduler, from start-up (with catch-up) to `stop`."""
    settings = getattr(app.state, "settings", None)
    scheduler = JobScheduler(
        app.state.config, app.state.sessions, clock=app.state.clock, public_url=getattr(settings, "public_url", None)
    )
    await start_scheduler(scheduler)
    try:
        await stop.wait()
    finally:
        scheduler.shutdown()

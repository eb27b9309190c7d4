"""Claims on scheduled periods: the unique (job, period) row makes every schedule exactly-once.

A job claims its period in the same transaction that writes its outbox rows, so a crash leaves
neither and another replica (or the next start) can still run it; a committed claim means the posts
are queued too, and nobody runs that period again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.db import insert_ignoring_conflict
from storage.models import JobRunRow


def claim_run(session: Session, *, job: str, period: str, owner: str, now: datetime | None = None) -> bool:
    """Claim `(job, period)` for `owner`; False when any replica already holds it. Never commits."""
    values = {"job": job, "period": period, "claimed_by": owner, "status": "running"}
    if now is not None:
        values["started_at"] = now
    return insert_ignoring_conflict(session, JobRunRow, conflict=["job", "period"], **values)


def finish_run(
    session: Session, *, job: str, period: str, now: datetime, detail: str | None = None
) -> None:
    """Mark a claimed period done (with a short summary, e.g. how many posts were queued)."""
    session.execute(
        update(JobRunRow)
        .where(JobRunRow.job == job, JobRunRow.period == period)
        .values(status="done", finished_at=now, detail=detail)
    )


#: A forced re-run claims '<period>#rerun-<request id>' (bot.scheduler.run_on_demand).
RERUN_MARK = "#rerun-"


def is_claimed(session: Session, *, job: str, period: str) -> bool:
    return (
        session.scalar(select(JobRunRow.id).where(JobRunRow.job == job, JobRunRow.period == period)) is not None
    )


def recent_runs(session: Session, *, limit: int = 50) -> list[JobRunRow]:
    """The latest claims, newest first (for the dashboard and `groupbot` diagnostics)."""
    return list(session.scalars(select(JobRunRow).order_by(JobRunRow.started_at.desc()).limit(limit)))

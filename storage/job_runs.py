"""Claims on scheduled periods: the unique (job, period) row makes every schedule exactly-once.

A job claims its period in the same transaction that writes its outbox rows, so a crash leaves
neither and another replica (or the next start) can still run it; a committed claim means the posts
are queued too, and nobody runs that period again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models import JobRun


def claim_run(session: Session, *, job: str, period: str, owner: str, now: datetime | None = None) -> bool:
    """Claim `(job, period)` for `owner`; False when any replica already holds it. Never commits.

    INSERT ... ON CONFLICT DO NOTHING rather than catching IntegrityError: on PostgreSQL a concurrent
    claimer waits for the first transaction and then sees the conflict, without aborting its own
    transaction.
    """
    values = {"job": job, "period": period, "claimed_by": owner, "status": "running"}
    if now is not None:
        values["started_at"] = now
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(JobRun)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["job", "period"])
        .returning(JobRun.id)
    )
    # RETURNING, not rowcount: an ORM-executed insert reports rowcount -1 on psycopg 3.
    return session.execute(stmt).scalar() is not None


def finish_run(
    session: Session, *, job: str, period: str, now: datetime, detail: str | None = None
) -> None:
    """Mark a claimed period done (with a short summary, e.g. how many posts were queued)."""
    session.execute(
        update(JobRun)
        .where(JobRun.job == job, JobRun.period == period)
        .values(status="done", finished_at=now, detail=detail)
    )


def is_claimed(session: Session, *, job: str, period: str) -> bool:
    return (
        session.scalar(select(JobRun.id).where(JobRun.job == job, JobRun.period == period)) is not None
    )


def recent_runs(session: Session, *, limit: int = 50) -> list[JobRun]:
    """The latest claims, newest first (for the dashboard and `groupbot` diagnostics)."""
    return list(session.scalars(select(JobRun).order_by(JobRun.started_at.desc()).limit(limit)))

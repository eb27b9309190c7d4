"""Appeals (申诉) against violations: one pending appeal per violation at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Appeal, Violation


def latest_violation(session: Session, *, sender: str) -> Violation | None:
    """The member's most recent violation that still counts (not void)."""
    stmt = (
        select(Violation)
        .where(Violation.sender == sender, Violation.status != "void")
        .order_by(Violation.occurred_at.desc(), Violation.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def pending_for(session: Session, *, violation_id: int) -> Appeal | None:
    stmt = select(Appeal).where(Appeal.violation_id == violation_id, Appeal.status == "pending")
    return session.scalar(stmt)


def add_appeal(session: Session, *, violation: Violation, sender: str, reason: str, now: datetime) -> Appeal:
    appeal = Appeal(violation_id=violation.id, sender=sender, reason=reason, status="pending", created_at=now)
    session.add(appeal)
    session.flush()
    return appeal


def appeals_for(session: Session, *, violation_id: int) -> list[Appeal]:
    stmt = select(Appeal).where(Appeal.violation_id == violation_id).order_by(Appeal.created_at, Appeal.id)
    return list(session.scalars(stmt))


def decide(session: Session, *, appeal: Appeal, accepted: bool, by: str, note: str | None, now: datetime) -> Appeal:
    if appeal.status != "pending":
        raise ValueError(f"appeal {appeal.id} is already {appeal.status}")
    appeal.status = "accepted" if accepted else "rejected"
    appeal.decided_by = by
    appeal.decided_at = now
    appeal.decision_note = note
    session.add(appeal)
    return appeal

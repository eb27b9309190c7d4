"""Appeals (申诉) against violations: one pending appeal per violation at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AppealRow, ViolationRow


def latest_violation(session: Session, *, sender: str) -> ViolationRow | None:
    """The member's most recent violation that still counts (not void)."""
    stmt = (
        select(ViolationRow)
        .where(ViolationRow.sender == sender, ViolationRow.status != "void")
        .order_by(ViolationRow.occurred_at.desc(), ViolationRow.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def pending_for(session: Session, *, violation_id: int) -> AppealRow | None:
    stmt = select(AppealRow).where(AppealRow.violation_id == violation_id, AppealRow.status == "pending")
    return session.scalar(stmt)


def add_appeal(session: Session, *, violation: ViolationRow, sender: str, reason: str, now: datetime) -> AppealRow:
    appeal = AppealRow(violation_id=violation.id, sender=sender, reason=reason, status="pending", created_at=now)
    session.add(appeal)
    session.flush()
    return appeal


def appeals_for(session: Session, *, violation_id: int) -> list[AppealRow]:
    stmt = select(AppealRow).where(AppealRow.violation_id == violation_id).order_by(AppealRow.created_at, AppealRow.id)
    return list(session.scalars(stmt))


def decide(
    session: Session, *, appeal: AppealRow, accepted: bool, by: str, note: str | None, now: datetime
) -> AppealRow:
    if appeal.status != "pending":
        raise ValueError(f"appeal {appeal.id} is already {appeal.status}")
    appeal.status = "accepted" if accepted else "rejected"
    appeal.decided_by = by
    appeal.decided_at = now
    appeal.decision_note = note
    session.add(appeal)
    return appeal

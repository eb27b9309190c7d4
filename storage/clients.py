"""The mini-CRM: follow-up reports stored as updates, folded into one row per client and group.

Reports about the same client in the same group are matched on a normalized (name, company) key, so
"华星科技有限公司" and "华星科技 " are one company. The same client reported in two groups is two
records, one per group: each group's managers see and edit only what their groups reported, and
nothing moves between groups. A late-arriving older report is kept in the timeline but does not
overwrite the client's current next step.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rules.model import ClientUpdate
from storage.db import insert_ignoring_conflict
from storage.models import ClientRow, ClientUpdateRow

# Legal-form suffixes reps add or drop at will; stripped (longest first) before matching.
_COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_company(company: str | None) -> str:
    text = _NOISE.sub("", unicodedata.normalize("NFKC", company or "").casefold())
    # Repeatedly: "华星科技(集团)股份有限公司" sheds 股份有限公司, then 集团.
    stripped = True
    while stripped:
        stripped = False
        for suffix in _COMPANY_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, stripped = text[: -len(suffix)], True
                break
    return text


def client_key(name: str | None, company: str | None) -> str | None:
    """The matching key of a client, or None when the report names neither person nor company."""
    person = _NOISE.sub("", unicodedata.normalize("NFKC", name or "").casefold())
    org = normalize_company(company)
    if not person and not org:
        return None
    return f"{person}|{org}"


def save_update(
    session: Session,
    *,
    update: ClientUpdate,
    msgid: str,
    chat_id: str,
    sender: str,
    sent_at: datetime,
) -> tuple[ClientUpdateRow, ClientRow | None]:
    """Store a parsed follow-up report and fold it into its client (created on first sight).

    The client row is inserted with ON CONFLICT DO NOTHING, so two replicas meeting a new client at
    once end with one row and neither transaction fails.
    """
    client = upsert_client(session, update=update, chat_id=chat_id, sender=sender, sent_at=sent_at)
    row = update_row(update, client=client, msgid=msgid, chat_id=chat_id, sender=sender, sent_at=sent_at)
    session.add(row)
    session.flush()
    return row, client


def update_row(
    update: ClientUpdate, *, client: ClientRow | None, msgid: str, chat_id: str, sender: str, sent_at: datetime
) -> ClientUpdateRow:
    """The timeline row of one report (not added to the session)."""
    return ClientUpdateRow(
        **update_values(update, client_id=client.id if client else None, msgid=msgid, chat_id=chat_id,
                        sender=sender, sent_at=sent_at)
    )


def update_values(
    update: ClientUpdate, *, client_id: int | None, msgid: str, chat_id: str, sender: str, sent_at: datetime
) -> dict[str, object]:
    """The columns of one report's timeline row (`update_row`; a batch inserts many at once)."""
    return {
        "msgid": msgid,
        "client_id": client_id,
        "chat_id": chat_id,
        "sender": sender,
        "sent_at": sent_at,
        "client_name": update.client_name,
        "company": update.company,
        "contact": update.contact,
        "need": update.need,
        "last_contact_at": update.last_contact_at,
        "next_action": update.next_action,
        "next_action_due": update.next_action_due,
        "complete": update.complete,
    }


def upsert_client(
    session: Session, *, update: ClientUpdate, chat_id: str, sender: str, sent_at: datetime
) -> ClientRow | None:
    key = client_key(update.client_name, update.company)
    if key is None:
        return None
    insert_ignoring_conflict(
        session, ClientRow, conflict=["chat_id", "key"], chat_id=chat_id, key=key, name=update.client_name,
        company=update.company, grade="B", owner=sender,
    )
    client = session.scalars(
        select(ClientRow)
        .where(ClientRow.chat_id == chat_id, ClientRow.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    fold_update(client, update=update, sender=sender, sent_at=sent_at)
    session.flush()
    return client


#: The client columns a report folds into (`fold_update` writes these and no others).
FOLDED = ("name", "company", "contact_masked", "need", "next_action", "next_action_due", "last_update_at", "owner")


@dataclass(slots=True)
class ClientState:
    """A client's foldable columns read as plain values: a batch folds many reports into these without
    the ORM tracking each row (storage.batch.save_updates)."""

    id: int
    chat_id: str
    key: str
    name: str | None
    company: str | None
    contact_masked: str | None
    need: str | None
    next_action: str | None
    next_action_due: date | None
    last_update_at: datetime | None
    owner: str | None

    def folded(self) -> tuple:
        """The `FOLDED` values, to tell whether folding changed anything."""
        return tuple(getattr(self, name) for name in FOLDED)


def fold_update(client: ClientRow | ClientState, *, update: ClientUpdate, sender: str, sent_at: datetime) -> None:
    """Fold one report into its client: a newer report sets the next step, an older one only fills gaps."""
    newer = client.last_update_at is None or sent_at >= client.last_update_at
    if newer:
        client.name = update.client_name or client.name
        client.company = update.company or client.company
        client.contact_masked = update.contact or client.contact_masked
        client.need = update.need or client.need
        client.next_action = update.next_action
        client.next_action_due = update.next_action_due
        client.last_update_at = sent_at
        client.owner = sender
    else:
        # An older report only fills what the client does not know yet.
        client.contact_masked = client.contact_masked or update.contact
        client.need = client.need or update.need


def get_client(session: Session, *, client_id: int) -> ClientRow | None:
    return session.get(ClientRow, client_id)


def timeline(session: Session, *, client_id: int, limit: int = 50) -> list[ClientUpdateRow]:
    """The client's reports, newest first."""
    query = (
        select(ClientUpdateRow)
        .where(ClientUpdateRow.client_id == client_id)
        .order_by(ClientUpdateRow.sent_at.desc(), ClientUpdateRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def search(session: Session, *, query: str, limit: int = 50) -> list[ClientRow]:
    """Clients whose name or company contains `query` (case-insensitive), latest activity first."""
    needle = f"%{_escape_like(query.strip())}%"
    stmt = (
        select(ClientRow)
        .where(or_(ClientRow.name.ilike(needle, escape="\\"), ClientRow.company.ilike(needle, escape="\\")))
        .order_by(ClientRow.last_update_at.desc(), ClientRow.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def stale_clients(session: Session, *, days_by_grade: Mapping[str, int], now: datetime) -> list[ClientRow]:
    """Clients without an update for longer than their grade allows (A 3 days, B 7, C 14 ...).

    Ordered by owner, then longest silence first, so a reminder can be built per owner.
    """
    if not days_by_grade:
        return []
    conditions = [
        (ClientRow.grade == grade) & (ClientRow.last_update_at < now - timedelta(days=days))
        for grade, days in days_by_grade.items()
    ]
    stmt = select(ClientRow).where(or_(*conditions)).order_by(ClientRow.owner, ClientRow.last_update_at, ClientRow.id)
    return list(session.scalars(stmt))


def due_follow_ups(session: Session, *, on_or_before: date, owner: str | None = None) -> list[ClientRow]:
    """Clients whose next step is due on or before the date, by owner then due date."""
    stmt = select(ClientRow).where(ClientRow.next_action_due.is_not(None), ClientRow.next_action_due <= on_or_before)
    if owner is not None:
        stmt = stmt.where(ClientRow.owner == owner)
    stmt = stmt.order_by(ClientRow.owner, ClientRow.next_action_due, ClientRow.id)
    return list(session.scalars(stmt))


def set_grade(session: Session, *, client_id: int, grade: str) -> ClientRow:
    if grade not in ("A", "B", "C"):
        raise ValueError(f"grade must be A, B or C, got {grade!r}")
    client = session.get(ClientRow, client_id)
    if client is None:
        raise LookupError(f"client {client_id} does not exist")
    client.grade = grade
    return client


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

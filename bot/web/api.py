"""JSON endpoints of the dashboard (the same data as the pages, for scripts and the OpenAPI schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from bot.web.deps import SessionDep, StateDep, ViewerDep
from bot.web.overview import overview_data
from bot.web.timeutil import range_bounds
from handlers.directory import people
from handlers.wording import reason, rule_name
from rules.model import RuleName
from storage import evidence as evidence_store
from storage.dashboard import ViolationFilter, list_violations, search_clients

router = APIRouter(prefix="/api", tags=["dashboard"])


class OutboxOut(BaseModel):
    pending: int
    dead: int
    oldest_pending_at: datetime | None


class OverviewOut(BaseModel):
    today: dict[str, int]
    week: dict[str, int]
    outbox: OutboxOut


class EvidenceOut(BaseModel):
    """One message kept with a violation when it was recorded (masked; never rewritten later)."""

    #: < 0 before the violating message, 0 the message itself, > 0 after it.
    position: int
    sent_at: datetime
    sender: str
    sender_name: str = ""
    masked_text: str


class ViolationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    chat_id: str
    sender: str
    rule: str
    #: The rule's one Chinese name (templates.rule_names).
    rule_name: str = ""
    #: Why, in Chinese, from the stored facts (the engine's English line stays in `groupbot replay`).
    detail: str
    sender_name: str = ""
    #: A history import: counted, nobody was alerted (补录 on the dashboard).
    backfilled: bool
    kinds: list[str]
    missing: list[str]
    action: str
    status: str
    note: str | None
    occurred_at: datetime
    #: The group's messages before and after it (dashboard.evidence_messages each), oldest first;
    #: empty for violations recorded before evidence was kept.
    evidence: list[EvidenceOut] = []


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    #: The group whose reports this record holds: a client reported in two groups is two records.
    chat_id: str
    name: str | None
    company: str | None
    contact_masked: str | None
    grade: str
    owner: str | None
    next_action: str | None
    next_action_due: date | None
    last_update_at: datetime | None


@router.get("/overview", response_model=OverviewOut)
def api_overview(state: StateDep, session: SessionDep, viewer: ViewerDep) -> dict:
    return overview_data(state, session, viewer)


@router.get("/violations", response_model=list[ViolationOut])
def api_violations(
    state: StateDep,
    session: SessionDep,
    viewer: ViewerDep,
    group: Annotated[str | None, Query(max_length=128)] = None,
    member: Annotated[str | None, Query(max_length=128)] = None,
    rule: RuleName | None = None,
    status: Literal["open", "handled", "void"] | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list:
    if group and not viewer.sees(group):
        raise HTTPException(404, "no such group")
    try:
        start, end = range_bounds(since, until, ZoneInfo(state.config.timezone))
    except ValueError as exc:
        raise HTTPException(400, f"since/until: {exc}") from None
    filt = ViolationFilter(chat_id=group, sender=member, rule=rule, status=status, since=start, until=end)
    rows = list_violations(session, scope=viewer.scope, filt=filt, limit=limit, offset=offset)
    config = state.config
    kept = evidence_store.for_messages(session, message_ids=[v.message_id for v in rows], scope=viewer.scope)
    names = people(session, config, {v.sender for v in rows} | {m.sender for lines in kept.values() for m in lines})
    return [
        ViolationOut.model_validate(v).model_copy(update={
            "rule_name": rule_name(config, v.rule), "detail": reason(config, v),
            "sender_name": names[v.sender].name,
            "evidence": [
                EvidenceOut(position=m.position, sent_at=m.sent_at, sender=m.sender,
                            sender_name=names[m.sender].name, masked_text=m.masked_text)
                for m in kept.get(v.message_id, [])
            ],
        })
        for v in rows
    ]


@router.get("/clients", response_model=list[ClientOut])
def api_clients(
    session: SessionDep,
    viewer: ViewerDep,
    q: Annotated[str, Query(max_length=100)] = "",
    grade: Literal["A", "B", "C"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list:
    return search_clients(session, scope=viewer.scope, query=q, grade=grade, limit=limit)

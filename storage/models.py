"""SQLAlchemy 2 models: every table groupbot keeps.

Times are stored as aware UTC datetimes (`UtcDateTime`); business logic converts to Asia/Shanghai.
Message text is stored masked; the original is kept only as a keyed hash (HMAC-SHA256), enough to
prove what was said and to deduplicate, never to read a customer's number back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every dialect (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ChatText(TypeDecorator[str]):
    """Text that came from a chat message. PostgreSQL refuses NUL (U+0000) in text columns, and a
    bridge or a fuzzer can send one; it is stored as U+FFFD so the message is kept, never dropped.
    The rules still judge the text exactly as sent (replay and the live path agree)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return value.replace("\x00", "\ufffd") if value else value


class ChatString(ChatText):
    """`ChatText` with a length limit: ChatString(200) is a VARCHAR(200)."""

    impl = String
    cache_ok = True  # not inherited: SQLAlchemy asks each TypeDecorator class itself


def utcnow() -> datetime:
    """Column-default fallback only (`default=utcnow`), never called by storage functions.

    Storage functions are given the time (`now`) and write it themselves: inbox `received_at`,
    outbox `created_at`/`next_attempt_at`, members `updated_at`. The defaults stay as a fallback for
    the bookkeeping columns of rows built directly (violations, clients, appeals, audit log, job runs
    ... and bulk writers added later): removing them would turn any such insert into a NOT NULL error.
    """
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class InboxEventRow(Base):
    """An accepted inbound event, committed before WeCom gets its answer.

    `payload` holds the normalized event, sealed (AES-GCM, `storage.sealing`), until the worker has
    processed it; it is then cleared. Clear text never reaches the table.
    """

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: MsgId for messages; "evt:" + sha256 of the decrypted payload for events.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # callback | aibot | bridge | archive
    kind: Mapped[str] = mapped_column(String(20))  # message | event | command
    payload: Mapped[dict[str, Any] | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    #: Why processing failed for good (a bug, a message that cannot be judged); the row stays visible.
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Partial: only the rows a worker may still claim. The claim walks it in id order and stops
        # after one batch, whatever the backlog or the years of processed rows (a full index on
        # processed_at made PostgreSQL fetch and sort every pending row for each claim).
        Index("ix_inbox_due", "id", postgresql_where=text("processed_at IS NULL AND error IS NULL"),
              sqlite_where=text("processed_at IS NULL AND error IS NULL")),
        # The dead-letter page: parked rows, newest first.
        Index("ix_inbox_parked", "id", postgresql_where=text("error IS NOT NULL"),
              sqlite_where=text("error IS NOT NULL")),
    )


class GroupRow(Base):
    __tablename__ = "groups"

    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemberRow(Base):
    __tablename__ = "members"

    userid: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(200))
    #: When the contacts API was last asked about this member (refreshed daily).
    fetched_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MessageRow(Base):
    """A judged group message: masked text plus a keyed hash of the original."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(128), unique=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime]
    msgtype: Mapped[str] = mapped_column(String(32), default="text")
    source: Mapped[str] = mapped_column(String(20))
    masked_text: Mapped[str] = mapped_column(ChatText)
    #: HMAC-SHA256 (keyed with the service secret) of the original text, hex.
    text_hmac: Mapped[str] = mapped_column(String(64))
    is_report: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Judged more than `ingest.alert_max_age` after it was sent (a history import): counted, never pinged.
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_messages_chat_sender_sent", "chat_id", "sender", "sent_at"),
        # A violation's evidence: the messages before it in its group, newest first (storage.evidence).
        Index("ix_messages_chat_sent", "chat_id", "sent_at", "id"),
        # Dashboard and export listings by date across all groups.
        Index("ix_messages_sent", "sent_at"),
    )


class ViolationRow(Base):
    __tablename__ = "violations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    msgid: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    missing: Mapped[list[Any]] = mapped_column(default=list)
    action: Mapped[str] = mapped_column(String(20))
    #: What the Chinese wording needs (local send time, windows, limits in force): `detail` is the
    #: engine's English line for tools; people read handlers.wording.reason(facts).
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The message was a history import (see Message.backfilled): shown as 补录, no one was pinged.
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    occurred_at: Mapped[datetime]
    #: open -> handled (with a note) or void (appeal accepted); void leaves rankings and escalation.
    status: Mapped[str] = mapped_column(String(20), default="open")
    note: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(128))
    handled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("msgid", "rule", name="uq_violations_msgid_rule"),
        Index("ix_violations_sender_time", "sender", "occurred_at"),
        Index("ix_violations_chat_time", "chat_id", "occurred_at"),
        # The dashboard's unfiltered "newest first" page and per-rule filters.
        Index("ix_violations_time", "occurred_at"),
        Index("ix_violations_rule_time", "rule", "occurred_at"),
    )


class EscalationRow(Base):
    """A member who reached the repeat threshold; one row per (member, triggering violation)."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    sender: Mapped[str] = mapped_column(String(128))
    chat_id: Mapped[str] = mapped_column(String(128))
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id", ondelete="CASCADE"), unique=True)
    count: Mapped[int]
    window_days: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientRow(Base):
    """A customer as the follow-up reports describe it (the mini-CRM)."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: Normalized (name, company) used to match reports about the same client within one group.
    key: Mapped[str] = mapped_column(ChatString(300))
    name: Mapped[str | None] = mapped_column(ChatString(200))
    company: Mapped[str | None] = mapped_column(ChatString(200))
    contact_masked: Mapped[str | None] = mapped_column(ChatString(200))
    grade: Mapped[str] = mapped_column(String(1), default="B")
    owner: Mapped[str | None] = mapped_column(String(128))
    #: The group the reports came from. A client record belongs to one group and never moves, so a
    #: manager sees and edits only what their own groups reported (issue 11 item 3).
    chat_id: Mapped[str] = mapped_column(String(128))
    need: Mapped[str | None] = mapped_column(ChatText)
    next_action: Mapped[str | None] = mapped_column(ChatText)
    next_action_due: Mapped[date | None] = mapped_column(Date)
    last_update_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("chat_id", "key", name="uq_clients_chat_id_key"),
        Index("ix_clients_owner_due", "owner", "next_action_due"),
        Index("ix_clients_last_update", "last_update_at"),
        # Follow-ups due across all owners (the daily reminder job).
        Index("ix_clients_due", "next_action_due"),
    )


class ClientUpdateRow(Base):
    __tablename__ = "client_updates"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(128), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    chat_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime]
    client_name: Mapped[str | None] = mapped_column(ChatString(200))
    company: Mapped[str | None] = mapped_column(ChatString(200))
    contact: Mapped[str | None] = mapped_column(ChatString(200))
    need: Mapped[str | None] = mapped_column(ChatText)
    last_contact_at: Mapped[date | None] = mapped_column(Date)
    next_action: Mapped[str | None] = mapped_column(ChatText)
    next_action_due: Mapped[date | None] = mapped_column(Date)
    complete: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        # Covers the leaderboard/digest aggregates (range on sent_at, per group, count complete per
        # sender) so they are index-only scans; see bench/bench_leaderboard.py.
        Index("ix_client_updates_sent", "sent_at", "chat_id", "sender", "complete"),
        Index("ix_client_updates_client", "client_id", "sent_at"),
    )


class DealRow(Base):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(128), unique=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"))
    chat_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime]
    client_name: Mapped[str | None] = mapped_column(ChatString(200))
    company: Mapped[str | None] = mapped_column(ChatString(200))
    amount_yuan: Mapped[int | None] = mapped_column(BigInteger)

    # Covering, like ix_client_updates_sent: the weekly sum per sender never reads the table.
    __table_args__ = (Index("ix_deals_sent", "sent_at", "chat_id", "sender", "amount_yuan"),)


class OutboxItemRow(Base):
    """An outgoing WeCom message, written in the same transaction as the fact that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))  # robot | app | appchat
    #: Robot name, comma-separated userids, or appchat chatid.
    target: Mapped[str] = mapped_column(String(1000))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class AccessTokenRow(Base):
    """WeCom access tokens shared by every replica, one per (corp, secret) fingerprint."""

    __tablename__ = "access_tokens"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(600))
    expires_at: Mapped[datetime]


class RateEventRow(Base):
    """One send counted against a rate limit (robot 20/min, member 30/min and 1000/h)."""

    __tablename__ = "rate_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_rate_events_bucket_at", "bucket", "at"),)


class JobRunRow(Base):
    """A scheduled job's claim on one period: the unique key makes schedules exactly-once."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="running")
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_runs_job_period"),)


class CursorRow(Base):
    """Named resume points, e.g. the chat-archive seq."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DashboardUserRow(Base):
    """A dashboard account; `config` accounts are refreshed from config.yaml at each login."""

    __tablename__ = "dashboard_users"

    username: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: argon2id PHC string; never the password.
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))  # admin | manager
    #: The WeCom userid whose managed groups a manager sees (defaults to the username).
    userid: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(20), default="cli")  # cli | config
    #: Part of every session cookie; bumping it (logout, new password or role, disable) ends them all.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    #: `groupbot user disable`: no login, no open session.
    disabled: Mapped[bool] = mapped_column(default=False, server_default="0")
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottleRow(Base):
    """Failed dashboard logins per (account, address), per address and per account (bot.web.throttle).

    Keys are SHA-256 hashes, so the table holds neither the addresses nor whatever was typed as a
    username; `account` (the hash of the username) lets `groupbot user unlock` find an account's rows.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # pair | address | account
    account: Mapped[str | None] = mapped_column(String(64), index=True)
    failures: Mapped[int]
    last_failure_at: Mapped[datetime] = mapped_column(index=True)


class AppealRow(Base):
    """A rep's 申诉 against a violation: pending -> accepted (violation void) or rejected."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violations.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_appeals_violation", "violation_id"),)


class AuditLogRow(Base):
    """Who did what in the dashboard or CLI: exports, handling, appeals, re-queues, logins."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_audit_log_at", "at"),)


class TargetRow(Base):
    """A target set on the dashboard for one period ('2026-11' or '2026-Q4'), overriding config.yaml's.

    `scope` is rep (subject = userid) or group (subject = chat_id); a metric left NULL has no target.
    """

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(10))
    deal_amount: Mapped[int | None] = mapped_column(BigInteger)
    deal_count: Mapped[int | None]
    new_clients: Mapped[int | None]
    complete_reports: Mapped[int | None]
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("scope", "subject", "period", name="uq_targets_scope_subject_period"),)


class AnnouncementRow(Base):
    """A manager's scheduled message for their groups: once at `run_at`, or on `cron` (schedules' zone).

    Each occurrence posts exactly once across replicas: it claims `job_runs` ('announcement:<id>',
    occurrence time) in the transaction that queues its posts.
    """

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(10))  # text | markdown
    chat_ids: Mapped[list[Any]] = mapped_column(default=list)
    run_at: Mapped[datetime | None]
    cron: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | paused
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvidenceWindowRow(Base):
    """The evidence kept with a violating message: its group's messages around it, frozen (storage.evidence).

    Opened when the message's violations are recorded, with the `size` messages before it copied in;
    each later message of the group fills one of the `size` places after it until `after_missing`
    is 0. One window per violating message, shared by the rules it broke.
    """

    __tablename__ = "evidence_windows"

    message_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime]
    size: Mapped[int]
    after_missing: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The message handler looks up its group's still-open windows on every message.
    __table_args__ = (Index("ix_evidence_windows_open", "chat_id", "after_missing"),)


class EvidenceMessageRow(Base):
    """One message of an evidence window, copied (masked) when captured: later changes never rewrite it.

    `position` is -size..-1 before the violating message, 0 the message itself, 1..size after it.
    """

    __tablename__ = "evidence_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    window_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("evidence_windows.message_id", ondelete="CASCADE")
    )
    position: Mapped[int]
    #: The stored message it was copied from (no foreign key: the copy is what counts).
    source_message_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    sender: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[datetime]
    masked_text: Mapped[str] = mapped_column(ChatText)

    __table_args__ = (UniqueConstraint("window_id", "position", name="uq_evidence_messages_window_position"),)

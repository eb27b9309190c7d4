"""The soak's verdict: exactly-once counts from the database and the WeCom simulator's record.

Definitions (docs/reliability.md repeats them):

- *messages*: every msgid some replica acknowledged (HTTP 200, not in the answer's `errors`) is in
  `messages` exactly once; stored-but-unacknowledged ids (the answer was lost) are counted apart.
- *deliveries*: every outbox row the dispatcher marked `sent` matches exactly one accepted send in the
  simulator's record (same API, target and body without the envelope: `touser`, `agentid`, duplicate check); a second
  accepted send of the same row is a duplicate. Rows with identical bodies are compared as a multiset.
- *alerts*: every violation whose action is `alert_managers` is listed (by id) in exactly one sent
  manager alert; every `warn_member` violation is covered by the sent warning of its
  (group, member, burst bucket, rule), the deduplication `handlers.alerts` documents.
- *in doubt*: a robot post whose sender was killed between "sending" and WeCom's answer is parked
  as a dead letter (the webhook has no duplicate check, so the dispatcher does not guess); the
  record says whether it arrived. `guarantee_held` allows those, `exactly_once` needs every one of
  them to have arrived. Violations whose only alert is such a row count as *parked*.
- *schedules*: exactly one `job_runs` row per (job, period), status `done`, and each scheduled outbox
  row delivered once by the rule above, however many replicas fired the job.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.simulator.state import Record, Status
from handlers.alerts import Bucket
from storage import inbox
from storage.models import JobRunRow, MessageRow, OutboxItemRow, ViolationRow

#: The simulator accepted these (errcode 0); `dropped` is WeCom's silent per-member limit.
ACCEPTED = (Status.DELIVERED, Status.PARTIAL, Status.DROPPED)
API_OF_CHANNEL = {"robot": "webhook/send", "app": "message/send", "appchat": "appchat/send"}
#: The sender's envelope, not the message: addressing and message/send's duplicate-check switches.
ENVELOPE_KEYS = ("touser", "toparty", "totag", "agentid", "chatid", "safe", "enable_duplicate_check",
                 "duplicate_check_interval")
#: How storage.outbox.recover_in_doubt marks a row whose send a dead dispatcher left unanswered.
IN_DOUBT = "outcome unknown"
SCHEDULED_PREFIXES = ("leaderboard:", "reminders:", "stale_clients:", "digest:", "missing_report:", "monthly:")


@dataclass
class Counts:
    acknowledged: int = 0
    stored_acknowledged_once: int = 0
    acknowledged_missing: list[str] = field(default_factory=list)
    stored_unacknowledged: int = 0
    stored_total: int = 0
    inbox_pending: int = 0
    inbox_failed: int = 0
    outbox_by_status: dict[str, int] = field(default_factory=dict)
    #: Dead letters as `key: last error` (no message text in either).
    dead_letters: list[str] = field(default_factory=list)
    outbox_sent_delivered_once: int = 0
    outbox_sent_not_delivered: int = 0
    outbox_duplicate_deliveries: int = 0
    #: Robot posts a kill -9 left in doubt, parked as dead letters: arrived anyway / did not.
    in_doubt_delivered: int = 0
    in_doubt_not_delivered: int = 0
    #: message/send repeats (an in-doubt resend) that WeCom's duplicate check drops.
    wecom_duplicate_check_drops: int = 0
    deliveries_without_row: int = 0
    violations_by_action: dict[str, int] = field(default_factory=dict)
    alert_violations_covered_once: int = 0
    alert_violations_uncovered: int = 0
    alert_violations_in_several: int = 0
    alert_violations_parked: int = 0
    warn_violations_covered: int = 0
    warn_violations_uncovered: int = 0
    warn_violations_parked: int = 0
    job_periods: dict[str, int] = field(default_factory=dict)
    job_periods_not_once: int = 0
    scheduled_rows_sent: int = 0

    @property
    def guarantee_held(self) -> bool:
        """No loss, no duplicate; the only exception allowed is a send in doubt parked as a dead letter."""
        in_doubt = self.in_doubt_delivered + self.in_doubt_not_delivered
        return (
            not self.acknowledged_missing
            and self.stored_acknowledged_once == self.acknowledged
            and self.inbox_pending == 0
            and self.inbox_failed == 0
            and self.outbox_by_status.get("pending", 0) == 0
            and self.outbox_by_status.get("sending", 0) == 0
            and self.outbox_by_status.get("dead", 0) == in_doubt
            and self.outbox_sent_not_delivered == 0
            and self.outbox_duplicate_deliveries == 0
            and self.deliveries_without_row == 0
            and self.alert_violations_uncovered == 0
            and self.alert_violations_in_several == 0
            and self.warn_violations_uncovered == 0
            and self.job_periods_not_once == 0
        )

    @property
    def exactly_once(self) -> bool:
        """Strictly: also no send left in doubt, so every alert and warning was delivered once."""
        return self.guarantee_held and self.in_doubt_not_delivered == 0

    def to_json(self) -> dict:
        data = asdict(self)
        data["acknowledged_missing"] = data["acknowledged_missing"][:20]
        data["guarantee_held"] = self.guarantee_held
        data["exactly_once"] = self.exactly_once
        return data


def body_key(api: str, target: str, body: dict) -> str:
    """What identifies one send: the API, its target and the body without addressing or bookkeeping."""
    kept = {k: v for k, v in body.items() if k not in ENVELOPE_KEYS and not k.startswith("_")}
    return json.dumps([api, target, kept], sort_keys=True, ensure_ascii=False)


def _accepted(records: Iterable[Record]) -> tuple[Counter, int]:
    """Accepted sends by body, and how many repeats WeCom's duplicate check dropped (the simulator
    honours `enable_duplicate_check` and records those as `duplicate`, never as delivered)."""
    accepted: Counter = Counter()
    drops = 0
    for record in records:
        if record.status == Status.DUPLICATE:
            drops += 1
        elif record.status in ACCEPTED:
            accepted[body_key(record.api, record.target, record.body)] += 1
    return accepted, drops


def _key(row: OutboxItemRow) -> str:
    return body_key(API_OF_CHANNEL[row.channel], row.target, row.payload)


def _violation_ids(payload: dict) -> list[int]:
    meta = payload.get("_meta") or {}
    ids = list(meta.get("violation_ids") or [])
    for item in meta.get("items") or []:
        ids += item.get("violation_ids") or []
    return ids


def audit(session: Session, records: Iterable[Record], acknowledged: set[str], *, burst_minutes: int) -> Counts:
    counts = Counts(acknowledged=len(acknowledged))
    state = inbox.counts(session)
    counts.inbox_pending, counts.inbox_failed = state["pending"], state["failed"]

    stored = Counter(session.scalars(select(MessageRow.msgid)))
    counts.stored_total = sum(stored.values())
    counts.stored_acknowledged_once = sum(1 for m in acknowledged if stored.get(m) == 1)
    counts.acknowledged_missing = sorted(m for m in acknowledged if stored.get(m) != 1)
    counts.stored_unacknowledged = sum(1 for m in stored if m not in acknowledged)

    rows = list(session.scalars(select(OutboxItemRow)))
    counts.outbox_by_status = dict(Counter(r.status for r in rows))
    counts.dead_letters = [
        f"{r.idempotency_key}: {r.last_error} (attempts {r.attempts})" for r in rows if r.status == "dead"
    ]
    accepted, counts.wecom_duplicate_check_drops = _accepted(records)
    sent = [r for r in rows if r.status == "sent"]
    expected = Counter(_key(r) for r in sent)
    for key, n in expected.items():
        got = accepted.pop(key, 0)
        counts.outbox_sent_delivered_once += min(n, got)
        counts.outbox_sent_not_delivered += max(0, n - got)
        accepted[key] = max(0, got - n)  # left over: an in-doubt row's send, or a duplicate
    # A kill -9 between "sending" and WeCom's answer leaves the outcome unknown; robot posts have no
    # duplicate check, so the dispatcher parks them (storage.outbox.recover_in_doubt). The record
    # tells whether they arrived.
    delivered = list(sent)
    for row in rows:
        if row.status == "dead" and (row.last_error or "").startswith(IN_DOUBT):
            if accepted.get(_key(row), 0) > 0:
                accepted[_key(row)] -= 1
                counts.in_doubt_delivered += 1
                delivered.append(row)
            else:
                counts.in_doubt_not_delivered += 1
    for key, n in accepted.items():
        if key in expected:
            counts.outbox_duplicate_deliveries += n
        else:
            counts.deliveries_without_row += n

    alerts = [r for r in delivered if r.idempotency_key.startswith("alert")]
    in_alerts = Counter(v for r in alerts for v in _violation_ids(r.payload))
    delivered_keys = {r.idempotency_key for r in delivered}
    parked = Counter(v for r in rows if r.status == "dead" for v in _violation_ids(r.payload))
    parked_keys = {r.idempotency_key for r in rows if r.status == "dead"}
    violations = list(session.scalars(select(ViolationRow)))
    counts.violations_by_action = dict(Counter(v.action for v in violations))
    for v in violations:
        if v.action == "alert_managers":
            n = in_alerts.get(v.id, 0)
            counts.alert_violations_covered_once += n == 1
            counts.alert_violations_in_several += n > 1
            counts.alert_violations_parked += n == 0 and parked.get(v.id, 0) > 0
            counts.alert_violations_uncovered += n == 0 and not parked.get(v.id, 0)
        elif v.action == "warn_member":
            key = f"warn:{v.chat_id}:{v.sender}:{Bucket.of(v.occurred_at, burst_minutes).name}:{v.rule}"
            counts.warn_violations_covered += key in delivered_keys
            counts.warn_violations_parked += key not in delivered_keys and key in parked_keys
            counts.warn_violations_uncovered += key not in delivered_keys and key not in parked_keys

    periods = session.execute(
        select(JobRunRow.job, JobRunRow.period, func.count(), func.min(JobRunRow.status)).group_by(
            JobRunRow.job, JobRunRow.period
        )
    ).all()
    counts.job_periods = {f"{job} {period}": n for job, period, n, _ in periods}
    counts.job_periods_not_once = sum(1 for _, _, n, status in periods if n != 1 or status != "done")
    counts.scheduled_rows_sent = sum(1 for r in sent if r.idempotency_key.startswith(SCHEDULED_PREFIXES))
    return counts

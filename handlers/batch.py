"""A batch of group messages, judged and stored in one transaction: the one message-handling path.

The live inbox worker, `groupbot replay --store` and the archive catch-up (through the inbox) all
come here; `handlers.message.handle_message` is this with a batch of one. Per batch, whatever its
size, a fixed handful of statements:

1. lock the batch's senders (PostgreSQL advisory locks, ascending order: see `storage.batch`), so
   replicas judging at once never both miss each other's posts;
2. one query for the msgids already stored, one for the stored posts of every (chat, sender) in the
   batch within the frequency window on either side, one for the senders' recent violations (before
   the batch's earliest message, only the latest ones that can still change a verdict);
3. judge in arrival order (inbox id order, a file's line order), carrying the post history in memory
   through the batch: each message counts the posts known when it arrives, as shared/spec/replay.md
   defines for a file;
4. a message that arrives after posts its sender sent later re-judges them: any it now pushes over
   the frequency limit gains the frequency violation (and its alert) it would have had, whether it
   was stored by an earlier batch or earlier in this one, so the stored frequency violations are
   exact whatever order the messages of one (chat, sender) arrive in;
5. multi-row inserts for messages and violations, the evidence of the whole batch (storage.evidence),
   client updates and deals in (group, client) order (row locks in one order across workers), the
   alerts (their outbox keys read once), one UPDATE completing the inbox rows, commit.

Exactly-once is unchanged: `messages.msgid` is unique and inserted with ON CONFLICT DO NOTHING; an
already stored msgid is judged again against the stored history (itself excluded) and only its inbox
row is completed. A batch that fails is rolled back whole; the inbox worker then retries its rows
one by one (batches of one), so one bad message never blocks or loses the others.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from handlers import alerts, directory, wording
from handlers.context import HandlerContext
from rules.model import Facts, GroupMessage, Verdict, Violation
from rules.policy import decide
from storage import batch, clients, evidence, members, messages, outbox, violations
from storage.models import EscalationRow, ViolationRow


@dataclass(frozen=True, slots=True)
class HandledMessage:
    """The verdict, and whether this call stored the message (False: it was already stored)."""

    verdict: Verdict
    created: bool


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One message to judge, and the inbox row to complete with it (None: replay, tests)."""

    msg: GroupMessage
    inbox_event_id: int | None = None


@dataclass(slots=True)
class _Stored:
    """A message of this transaction that gets violation rows: a new one, or a re-judged late one."""

    msg: GroupMessage
    message_id: int
    violations: tuple[Violation, ...]
    backfilled: bool
    verdict: Verdict
    rows: list[ViolationRow] = field(default_factory=list)
    escalation: EscalationRow | None = None


class _History:
    """(sent_at, msgid) per (chat, sender), sorted, for the batch: stored posts plus judged ones."""

    def __init__(self, stored: dict[tuple[str, str], list[tuple[datetime, str]]]) -> None:
        self._posts = stored

    def prior(self, msg: GroupMessage, lookback: timedelta) -> list[datetime]:
        """Posts in (sent_at - lookback, sent_at], the message itself excluded (as if re-judged)."""
        posts = self._posts.get((msg.chat_id, msg.sender), [])
        lo = bisect.bisect_right(posts, msg.sent_at - lookback, key=_time)
        hi = bisect.bisect_right(posts, msg.sent_at, key=_time)
        return [t for t, msgid in posts[lo:hi] if msgid != msg.msgid]

    def add(self, msg: GroupMessage) -> None:
        posts = self._posts.setdefault((msg.chat_id, msg.sender), [])
        bisect.insort_right(posts, (msg.sent_at, msg.msgid), key=_time)

    def later(self, msg: GroupMessage, lookback: timedelta) -> list[tuple[datetime, str]]:
        """Posts in (sent_at, sent_at + lookback]: those whose count a late `msg` changes."""
        posts = self._posts.get((msg.chat_id, msg.sender), [])
        lo = bisect.bisect_right(posts, msg.sent_at, key=_time)
        hi = bisect.bisect_right(posts, msg.sent_at + lookback, key=_time)
        return posts[lo:hi]

    def window(self, chat_id: str, sender: str, sent_at: datetime, lookback: timedelta) -> list[datetime]:
        posts = self._posts.get((chat_id, sender), [])
        lo = bisect.bisect_right(posts, sent_at - lookback, key=_time)
        hi = bisect.bisect_right(posts, sent_at, key=_time)
        return [t for t, _ in posts[lo:hi]]


def _time(post: tuple[datetime, str]) -> datetime:
    return post[0]


def handle_batch(session: Session, ctx: HandlerContext, items: Sequence[BatchItem]) -> list[HandledMessage]:
    """Judge and store `items` in one transaction and commit; results in the order of `items`.

    Raises (after rolling back: nothing of the batch is stored) when any part fails; the caller
    retries the messages alone to isolate the one at fault.
    """
    try:
        results = _judge_and_store(session, ctx, items)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return results


def _judge_and_store(session: Session, ctx: HandlerContext, items: Sequence[BatchItem]) -> list[HandledMessage]:
    now = ctx.clock()
    engine = ctx.engine
    msgs = [item.msg for item in items]
    done_ids = [item.inbox_event_id for item in items if item.inbox_event_id is not None]
    if not msgs:
        return []
    group = [m for m in msgs if m.chat_id]
    batch.lock_senders(session, {m.sender for m in group})
    stored = batch.stored_msgids(session, {m.msgid for m in msgs})
    reach = engine.max_lookback
    history = _History(
        batch.post_history(
            session,
            pairs={(m.chat_id, m.sender) for m in group},
            since=min(m.sent_at for m in msgs) - reach,
            first=min(m.sent_at for m in msgs),
            until=max(m.sent_at for m in msgs) + reach,
            # A limit of N needs the N latest earlier posts; one more for a stored msgid judged again
            # (its own post is left out of its history).
            keep=engine.max_limit + 1,
        )
        if group
        else {}
    )

    # Judge in arrival order (the inbox's id order, a file's line order) with the history carried in
    # memory: each message counts the posts known when it arrives, as replay.md defines. A message
    # arriving after later-sent posts of its sender re-judges those afterwards (`_late_violations`).
    verdicts: list[Verdict | None] = [None] * len(msgs)
    fresh: list[int] = []  # indexes of messages to store, in arrival order
    seen: set[str] = set(stored)
    overtaken: dict[str, tuple[str, str, datetime]] = {}  # msgid → (chat, sender, sent_at)
    for i, msg in enumerate(msgs):
        prior = history.prior(msg, engine.lookback(msg.chat_id)) if msg.chat_id else []
        verdicts[i] = engine.evaluate(msg, prior)
        if msg.msgid in seen:
            continue
        seen.add(msg.msgid)
        fresh.append(i)
        if msg.chat_id:
            for sent_at, msgid in history.later(msg, engine.lookback(msg.chat_id)):
                overtaken[msgid] = (msg.chat_id, msg.sender, sent_at)
            history.add(msg)

    alert_age = ctx.config.ingest.alert_max_age
    rows = []
    for i in fresh:
        msg, verdict = msgs[i], verdicts[i]
        assert verdict is not None
        rows.append(
            {
                "msgid": msg.msgid,
                "chat_id": msg.chat_id,
                "sender": msg.sender,
                "sent_at": msg.sent_at,
                "msgtype": msg.msgtype,
                "source": msg.source,
                "masked_text": verdict.masked_text,
                "text_hmac": messages.text_hmac(msg.text, ctx.hmac_key),
                "is_report": verdict.update is not None,
                # A message judged long after it was sent (a history import) is stored and counted
                # like any other, but pings nobody: a warning about February posted today helps no one.
                "backfilled": now - msg.sent_at > alert_age,
                "created_at": now,
            }
        )
    ids = batch.insert_messages(session, rows) if rows else {}
    # A msgid missing from `ids` was stored by a concurrent worker since our read: a duplicate.
    created = [i for i in fresh if msgs[i].msgid in ids]
    created_set = set(created)

    judged = {
        msgs[i].msgid: _Stored(msgs[i], ids[msgs[i].msgid], verdicts[i].violations,  # type: ignore[union-attr]
                               now - msgs[i].sent_at > alert_age, verdicts[i])
        for i in created
    }
    late = _late_violations(session, ctx, overtaken, judged, history, now)
    entries = [*judged.values(), *late]
    _save_violations(session, ctx, entries, now)

    _capture_evidence(session, ctx, [judged[msgs[i].msgid] for i in created], now)

    # Client records: (group, client) order, so two workers lock the same clients in the same order.
    reports = [i for i in created if verdicts[i].update is not None]  # type: ignore[union-attr]
    reports.sort(key=lambda i: (msgs[i].chat_id, _client_key(verdicts[i]), msgs[i].sent_at))
    if reports:
        batch.save_updates(
            session,
            [(verdicts[i].update, msgs[i].msgid, msgs[i].chat_id, msgs[i].sender, msgs[i].sent_at)  # type: ignore[union-attr,misc]
             for i in reports],
            now=now,
        )
    sold = [i for i in created if verdicts[i].deal is not None]  # type: ignore[union-attr]
    if sold:
        batch.save_deals(
            session,
            [(verdicts[i].deal, msgs[i].msgid, msgs[i].chat_id, msgs[i].sender, msgs[i].sent_at)  # type: ignore[union-attr,misc]
             for i in sold],
        )

    loud = [e for e in entries if not e.backfilled and e.rows]
    if loud:
        # The batch's caches: members noted, names and outbox keys looked up once for every alert.
        senders = {e.msg.sender for e in loud}
        members.note_seen_many(session, userids=senders, now=now)
        session.info[members.NOTED] = senders
        session.info[directory.BATCH_PEOPLE] = directory.people(session, ctx.config, senders)
        outbox.remember(session, (
            key
            for e in loud
            for key in alerts.outbox_keys(ctx, msg=e.msg, violations=e.rows,
                                          settings=ctx.engine.settings_for(e.msg.chat_id))
        ))
        try:
            for entry in loud:
                alerts.notify(
                    session, ctx, msg=entry.msg, verdict=entry.verdict,
                    settings=ctx.engine.settings_for(entry.msg.chat_id), violations=entry.rows,
                    escalation=entry.escalation,
                )
        finally:
            session.info.pop(members.NOTED, None)
            session.info.pop(directory.BATCH_PEOPLE, None)
            outbox.forget(session)

    batch.mark_done_many(session, done_ids, now=now)
    return [HandledMessage(v, i in created_set) for i, v in enumerate(verdicts)]  # type: ignore[arg-type]


def _capture_evidence(session: Session, ctx: HandlerContext, stored: Sequence[_Stored], now: datetime) -> None:
    """The messages around each violation (storage.evidence), for the whole batch in arrival order."""
    messages = [
        evidence.StoredMessage(e.message_id, e.msg.chat_id, e.msg.sender, e.msg.sent_at, e.verdict.masked_text)
        for e in stored
        if e.msg.chat_id
    ]
    violated = {e.message_id for e in stored if e.rows}
    evidence.capture(session, messages=messages, violated=violated, size=ctx.config.dashboard.evidence_messages,
                     now=now)


def _client_key(verdict: Verdict | None) -> str:
    update = verdict.update if verdict else None
    return (clients.client_key(update.client_name, update.company) or "") if update else ""


def _save_violations(session: Session, ctx: HandlerContext, entries: Sequence[_Stored], now: datetime) -> None:
    """Violation rows (one flush), escalations (one more), with per-sender counts kept in memory."""
    entries = [e for e in entries if e.violations]
    if not entries:
        return
    engine = ctx.engine
    windows = {e.msg.chat_id: engine.settings_for(e.msg.chat_id).policy.escalation.days for e in entries}
    widest = timedelta(days=max(windows.values()))
    first = min(e.msg.sent_at for e in entries)
    counted = batch.violation_times(
        session,
        senders={e.msg.sender for e in entries},
        since=first - widest,
        first=first,
        until=max(e.msg.sent_at for e in entries),
        keep=max(engine.settings_for(chat_id).policy.escalation.count for chat_id in windows),
    )
    new_rows: list[ViolationRow] = []
    escalate: list[tuple[_Stored, int, int]] = []
    for entry in entries:
        msg = entry.msg
        settings = engine.settings_for(msg.chat_id)
        days = windows[msg.chat_id]
        times = counted[msg.sender]
        lo = bisect.bisect_right(times, msg.sent_at - timedelta(days=days))
        hi = bisect.bisect_right(times, msg.sent_at)
        prior_count = hi - lo
        decision = decide(settings, entry.violations, prior_count)
        entry.rows = [
            violations.new_violation(
                message_id=entry.message_id,
                msgid=msg.msgid,
                chat_id=msg.chat_id,
                sender=msg.sender,
                violation=violation,
                action=action,
                facts=wording.violation_facts(
                    ctx.config, rule=violation.rule, chat_id=msg.chat_id, occurred_at=msg.sent_at, rules=settings
                ),
                backfilled=entry.backfilled,
                occurred_at=msg.sent_at,
                now=now,
            )
            for violation, action in decision.actions
        ]
        new_rows.extend(entry.rows)
        for _ in entry.rows:
            bisect.insort_right(times, msg.sent_at)
        if decision.escalate and entry.rows:
            escalate.append((entry, prior_count + len(entry.rows), days))
    batch.insert_violations(session, new_rows)  # the escalations and the alerts' dashboard links need the ids
    if escalate:
        for entry, total, days in escalate:
            last = entry.rows[-1]
            entry.escalation = EscalationRow(
                sender=last.sender, chat_id=last.chat_id, violation_id=last.id, count=total, window_days=days,
                created_at=now,
            )
        session.add_all(e.escalation for e, _, _ in escalate)
        session.flush()


def _late_violations(
    session: Session,
    ctx: HandlerContext,
    overtaken: dict[str, tuple[str, str, datetime]],
    judged: dict[str, _Stored],
    history: _History,
    now: datetime,
) -> list[_Stored]:
    """Frequency violations of posts that a message arriving after them (but sent before them) now
    puts over the limit; they were judged without it.

    A post of this batch gets the violation added to its rows (its returned verdict stays the one it
    got on arrival, as replay prints); a post stored by an earlier batch gets a new violation row, and
    its alert, unless it already has one. Returns the entries for the earlier batches' posts.
    """
    over: dict[str, tuple[GroupMessage, Violation]] = {}
    for msgid, (chat_id, sender, sent_at) in overtaken.items():
        rules = ctx.engine.rules_for(chat_id)
        if not any(rule is rules.frequency and sender not in exempt for rule, exempt in rules.checks):
            continue
        post = GroupMessage(msgid=msgid, chat_id=chat_id, sender=sender, sent_at=sent_at, text="")
        posts = history.window(chat_id, sender, sent_at, rules.frequency.window)
        violation = rules.frequency.check(post, Facts(prior=posts[:-1]))  # one of them is the post itself
        if violation is None:
            continue
        entry = judged.get(msgid)
        if entry is None:
            over[msgid] = (post, violation)
        elif all(v.rule != "frequency" for v in entry.violations):
            entry.violations = (*entry.violations, violation)
    if not over:
        return []
    flagged = batch.frequency_flagged(session, over)
    todo = {msgid: v for msgid, v in over.items() if msgid not in flagged}
    found = batch.stored_messages(session, todo) if todo else {}
    alert_age = ctx.config.ingest.alert_max_age
    return [
        _Stored(
            post, found[msgid].id, (violation,), bool(found[msgid].backfilled) or now - post.sent_at > alert_age,
            # What the alert quotes: the stored (masked) text; nothing else of the post is re-derived.
            Verdict(msgid=msgid, violations=(violation,), masked_text=found[msgid].masked_text),
        )
        for msgid, (post, violation) in todo.items()
        if msgid in found
    ]

"""申诉: a rep contests their latest violation; a manager accepts (void) or rejects it.

Example: the rep writes 「申诉 客户主动加我微信，不是我发的号码」 to the app; the appeal is attached to
their most recent violation, the group's managers get a link, and the rep hears the outcome.
Neither function commits: the command dispatcher or the dashboard route commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.context import HandlerContext
from handlers.directory import person
from handlers.wording import name_with_id, rule_name
from storage import appeals as appeal_store
from storage import violations as violation_store
from storage.models import AppealRow
from storage.outbox import enqueue
from storage.users import audit

MAX_REASON = 500


@dataclass(frozen=True)
class AppealFiled:
    """What happened to a 申诉 command; `reply` is the text the rep gets back."""

    appeal: AppealRow | None
    reply: str


def _text(content: str) -> dict:
    return {"msgtype": "text", "text": {"content": content}}


def file_appeal(session: Session, ctx: HandlerContext, *, sender: str, reason: str, now: datetime) -> AppealFiled:
    """Attach an appeal to `sender`'s latest non-void violation and tell the group's managers."""
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        return AppealFiled(None, "请在「申诉」后写明理由，例如：申诉 客户主动发来的号码")
    violation = appeal_store.latest_violation(session, sender=sender)
    if violation is None:
        return AppealFiled(None, "没有找到可申诉的违规记录。")
    if appeal_store.pending_for(session, violation_id=violation.id) is not None:
        return AppealFiled(None, "这条违规已有待处理的申诉，请等待主管处理。")
    appeal = appeal_store.add_appeal(session, violation=violation, sender=sender, reason=reason, now=now)
    group = ctx.config.group(violation.chat_id)
    managers = group.managers if group else ()
    if managers:
        link = f"{ctx.public_url.rstrip('/')}/dashboard/violations/{violation.id}"
        rule = rule_name(ctx.config, violation.rule)
        rep = person(session, ctx.config, sender)
        who = name_with_id(rep.name, sender)
        # Not in the directory yet: the dispatcher asks WeCom (user/get) before sending.
        meta = {"unnamed": [sender]} if rep.name == sender and sender not in ctx.config.members else {}
        enqueue(
            session,
            key=f"appeal:{appeal.id}:filed",
            channel="app",
            target="|".join(managers),
            payload={**_text(f"{who} 对「{rule}」违规提出申诉，请处理：{link}"), "_meta": meta}, now=now,
        )
    return AppealFiled(appeal, f"已收到申诉（编号 {appeal.id}），主管处理后会通知你。")


def decide_appeal(
    session: Session, *, appeal: AppealRow, accepted: bool, by: str, note: str | None, now: datetime
) -> AppealRow:
    """Accept (the violation becomes void and leaves rankings and escalation) or reject; tell the rep."""
    appeal_store.decide(session, appeal=appeal, accepted=accepted, by=by, note=note, now=now)
    if accepted:
        violation_store.set_status(
            session, violation_id=appeal.violation_id, status="void", by=by, now=now, note=f"申诉通过：{note or ''}"
        )
        text = "你的申诉已通过，该条违规记录已撤销。"
    else:
        text = "你的申诉未通过，违规记录保留。"
    if note:
        text += f"\n主管说明：{note}"
    enqueue(
        session,
        key=f"appeal:{appeal.id}:{appeal.status}",
        channel="app",
        target=appeal.sender,
        payload=_text(text), now=now,
    )
    audit(
        session,
        actor=by,
        action=f"appeal_{appeal.status}",
        target=f"violation:{appeal.violation_id}",
        detail={"appeal": appeal.id},
        now=now,
    )
    return appeal

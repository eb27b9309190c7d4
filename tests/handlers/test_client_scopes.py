"""Schedules follow each group's own client record (issue 11 item 3): the same client reported in two
groups reaches each group's managers and each rep with that group's next step only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from handlers import digest, reminders
from rules.model import ClientUpdate
from storage.clients import save_update
from storage.models import OutboxItemRow
from tests.conftest import sh

EAST, SOUTH = "wr-sales-east", "wr-sales-south"


def report(session, msgid, chat_id, sender, action, due, at):
    update = ClientUpdate(client_name="王总", company="华星科技", contact=None, need="门禁", last_contact_at=None,
                    next_action=action, next_action_due=due, missing=())
    save_update(session, update=update, msgid=msgid, chat_id=chat_id, sender=sender, sent_at=at)


def test_digests_and_reminders_carry_each_groups_own_next_step(session, config):
    report(session, "r-1", EAST, "zhangwei", "上门演示（预算200万）", date(2026, 11, 20), sh(2026, 11, 16, 10, 0))
    report(session, "r-2", SOUTH, "chenjing", "寄样品", date(2026, 11, 21), sh(2026, 11, 17, 10, 0))
    session.commit()
    now = sh(2026, 11, 23, 17, 30)

    digest.send_digests(session, config, now=now)
    reminders.send_reminders(session, config, now=now)
    items = {i.idempotency_key: i for i in session.scalars(select(OutboxItemRow))}

    east = items[f"digest:2026-11-23:{EAST}"].payload["markdown"]["content"]
    south = items[f"digest:2026-11-23:{SOUTH}"].payload["markdown"]["content"]
    assert "上门演示（预算200万）" in east and "寄样品" not in east
    assert "寄样品" in south and "预算200万" not in south
    assert "预算200万" in items["reminders:2026-11-23:zhangwei"].payload["text"]["content"]
    rep_south = items["reminders:2026-11-23:chenjing"].payload["text"]["content"]
    assert "寄样品" in rep_south and "预算200万" not in rep_south

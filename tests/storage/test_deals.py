"""storage.deals on SQLite and PostgreSQL: deal reports linked to clients, totals for the leaderboard."""

from __future__ import annotations

from datetime import date

import pytest

from rules.model import ClientUpdate, Deal
from storage import clients, deals
from tests.conftest import sh

T = sh(2026, 3, 2, 9, 30)


def save(session, msgid, update, at=T):
    return clients.save_update(
        session, update=update, msgid=msgid, chat_id="wr-sales-east", sender="zhangwei", sent_at=at
    )


def report():
    return ClientUpdate(
        client_name="王总",
        company="华星科技",
        contact="138****5678",
        need="仓储系统改造",
        last_contact_at=date(2026, 3, 1),
        next_action="下周三上门演示",
        next_action_due=date(2026, 3, 11),
    )


@pytest.mark.parametrize(
    ("parsed", "linked"),
    [
        (Deal("王总", "华星科技有限公司", 50_000), True),
        (Deal(None, None, 125_000), False),
        (Deal("王总", "星河物流", None), False),
    ],
    ids=["known-client", "no-client-named", "unknown-client"],
)
def test_a_deal_links_to_a_known_client(session, parsed, linked):
    _, client = save(session, "m-0", report())
    row = deals.save_deal(session, deal=parsed, msgid="d-1", chat_id="wr-sales-east", sender="zhangwei", sent_at=T)
    session.commit()

    assert row.client_id == (client.id if linked else None)
    assert row.amount_yuan == parsed.amount_yuan

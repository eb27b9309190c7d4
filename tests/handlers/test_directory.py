"""The member directory: names from WeCom's user/get (the simulator), overrides first, refreshed daily."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from bot.config import AppConfig
from bot.senders import token_cache
from bot.senders.contacts import ContactsLookup
from bot.settings import Settings
from bot.simulator.clock import ManualClock
from handlers.directory import Person, people, refresh_directory
from storage import members
from storage.db import make_session_factory
from storage.models import MemberRow, MessageRow
from tests.conftest import sh
from tests.helpers.simulator import running_simulator


def test_refresh_names_new_members_from_the_contacts_api_and_again_after_a_day(
    engine: Engine, config: AppConfig
) -> None:
    factory = make_session_factory(engine)
    clock = ManualClock(sh(2026, 3, 2, 9, 0))
    with factory() as session:
        for userid in ("liuyang", "sunli", "zhangwei", "nobody"):
            members.note_seen(session, userid=userid, now=clock())
        # zhoujie has posted but never broken a rule: the refresher finds him among the senders.
        session.add(MessageRow(msgid="m-1", chat_id="wr-sales-south", sender="zhoujie", sent_at=clock(),
                            source="callback", masked_text="今天拜访了两家客户", text_hmac="0" * 64))
        session.commit()
    with running_simulator(clock=clock) as sim:
        settings = Settings(wecom_api_base=sim.api_base, corp_id=sim.state.corp_id, app_secret=sim.state.app.secret,
                            robot_keys=json.dumps({}))

        async def go() -> list[int]:
            async with httpx.AsyncClient() as client:
                lookup = ContactsLookup(client, token_cache(client, settings, factory, clock),
                                        api_base=settings.wecom_api_base)
                asked = [await refresh_directory(factory, config, lookup, now=clock())]
                asked.append(await refresh_directory(factory, config, lookup, now=clock()))
                clock.advance(timedelta(hours=25).total_seconds())
                asked.append(await refresh_directory(factory, config, lookup, now=clock()))
                return asked

        # zhangwei is named in config.yaml and never looked up; "nobody" is unknown to WeCom.
        assert asyncio.run(go()) == [4, 0, 4]
    with factory() as session:
        assert people(session, config, ["liuyang", "sunli", "zhangwei", "nobody", "zhoujie"]) == {
            "liuyang": Person("liuyang", "刘洋"),
            "zhoujie": Person("zhoujie", "周杰"),
            "sunli": Person("sunli", "孙丽"),
            "zhangwei": Person("zhangwei", "张伟", "华东销售部"),
            "nobody": Person("nobody", "nobody"),
        }


@pytest.mark.parametrize(
    ("fetched_hours_ago", "due"),
    [(None, True), (1, False), (23, False), (25, True)],
)
def test_due_for_lookup_is_never_asked_or_older_than_a_day(
    session, fetched_hours_ago: int | None, due: bool
) -> None:
    now = sh(2026, 3, 2, 9, 0)
    fetched = None if fetched_hours_ago is None else now - timedelta(hours=fetched_hours_ago)
    session.add(MemberRow(userid="liuyang", name="刘洋", fetched_at=fetched))
    session.flush()
    assert members.due_for_lookup(session, now=now, max_age=timedelta(hours=24)) == (["liuyang"] if due else [])

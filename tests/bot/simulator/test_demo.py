"""The demo environment feeds the real service: callbacks, AI-bot mentions and the chat archive land."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.settings import Settings
from bot.simulator.corpus import generate_corpus
from bot.simulator.demo import DemoEnvironment, last_monday
from bot.simulator.serve import free_port, serve_in_thread
from bot.wecom.archive import ArchiveKeys, ArchivePoller
from storage.db import make_session_factory
from storage.models import InboxEventRow


def pick(kinds: list[str]):
    corpus = generate_corpus(seed=5, start=date(2026, 3, 2), days=3)
    return [next(m for m in corpus if m.kind == kind) for kind in kinds]


def test_settings_overrides_make_valid_settings_pointing_at_the_simulator(config):
    demo = DemoEnvironment(config, messages=[])
    settings = Settings(**demo.settings_overrides())
    assert settings.has_app_callback and settings.has_aibot and settings.has_wecom_credentials
    assert settings.wecom_api_base == demo.api_base
    assert {settings.robot_key(g.robot) for g in config.groups if g.robot} == set(demo.robot_keys.values())
    assert set(settings.archive_keys()) == {"1"}
    assert "'***'" in repr(demo.credentials) and demo.credentials.app_secret not in repr(demo.credentials)


def test_env_lines_load_back_into_the_same_settings(config, tmp_path, monkeypatch):
    monkeypatch.delenv("GROUPBOT_WECOM_API_BASE")  # the environment would win over the .env file
    demo = DemoEnvironment(config, messages=[])
    env = tmp_path / ".env"
    env.write_text("\n".join(demo.env_lines()) + "\n", encoding="utf-8")
    from_file = Settings(_env_file=env)
    direct = Settings(**demo.settings_overrides())
    assert from_file.model_dump() == direct.model_dump()
    assert from_file.archive_keys() == direct.archive_keys()


@pytest.mark.parametrize(
    ("now", "monday"),
    [
        (datetime(2026, 3, 11, 2, 0, tzinfo=UTC), date(2026, 3, 2)),  # a Wednesday
        (datetime(2026, 3, 15, 17, 0, tzinfo=UTC), date(2026, 3, 9)),  # Sunday 17:00 UTC is Monday in Shanghai
    ],
)
def test_demo_replays_last_week(now, monday):
    assert last_monday(now) == monday


def test_demo_traffic_reaches_the_service_through_every_channel(config, engine):
    port = free_port()
    messages = pick(["direct", "report_complete", "mention", "sensitive"])
    demo = DemoEnvironment(config, service_url=f"http://127.0.0.1:{port}", interval=0, messages=messages)
    settings = Settings(**demo.settings_overrides())
    service = create_app(config, settings, engine, background=False)
    demo.start(traffic=False)
    try:
        with serve_in_thread(service, port=port):
            demo.run_traffic()
        assert demo.delivered == [("app", 200), ("archive", 200), ("archive", 200), ("aibot", 200), ("archive", 200)]
        sessions = make_session_factory(engine)
        with sessions() as session:
            rows = session.scalars(select(InboxEventRow).order_by(InboxEventRow.id)).all()
            by_source = {(r.source, r.kind) for r in rows}
            # "我的待办" sent 1:1 to the app is a command; the mention arrives as an AI-bot message.
            assert by_source == {("callback", "command"), ("callback", "event"), ("aibot", "message")}
            direct = next(r for r in rows if r.source == "callback" and r.kind == "command")
            sealer = service.state.handler_context.sealer  # payloads are sealed at rest
            assert messages[0].sender == sealer.open(direct.payload, aad=direct.dedupe_key)["sender"]
        poller = ArchivePoller(demo.archive_sdk(), ArchiveKeys.from_settings(settings), sessions, sealer=sealer)
        result = poller.poll_once()
        assert (result.fetched, result.recorded) == (3, 3)
        with sessions() as session:
            archived = session.scalars(select(InboxEventRow).where(InboxEventRow.source == "archive")).all()
            opened = [sealer.open(r.payload, aad=r.dedupe_key) for r in archived]
            assert sorted(p["msgid"] for p in opened) == sorted(m.msgid for m in messages[1:])

        [mention] = [m for m in messages if m.kind == "mention"]
        response_url = next(iter(demo.state.response_urls.items()))
        url = f"{demo.url}/_sim/aibot/response/{response_url[0]}"
        reply = {"msgtype": "markdown", "markdown": {"content": "本周成交榜：**张伟** 12.5万元"}}
        assert httpx.post(url, json=reply).json()["errcode"] == 0
        assert httpx.post(url, json=reply).json()["errcode"] == 40014  # one-shot
        [record] = demo.state.query(api="aibot/response")
        assert (record.target, record.content) == (mention.chat_id, "本周成交榜：**张伟** 12.5万元")
    finally:
        demo.stop()


def test_bridge_channel_feeds_group_messages_to_a_service_in_another_process(config, engine):
    port = free_port()
    messages = pick(["report_incomplete", "deal", "direct"])
    demo = DemoEnvironment(config, service_url=f"http://127.0.0.1:{port}", interval=0, messages=messages,
                           group_channel="bridge")
    service = create_app(config, Settings(**demo.settings_overrides()), engine, background=False)
    with serve_in_thread(service, port=port):
        demo.run_traffic()
    assert sorted(demo.delivered) == [("app", 200), ("bridge", 200), ("bridge", 200)]
    assert len(demo.archive) == 0
    with make_session_factory(engine)() as session:
        bridged = session.scalars(select(InboxEventRow).where(InboxEventRow.source == "bridge")).all()
        opened = [service.state.handler_context.sealer.open(r.payload, aad=r.dedupe_key) for r in bridged]
        assert sorted(p["msgid"] for p in opened) == sorted(m.msgid for m in messages if m.chat_id)


def test_the_past_is_sent_at_once_then_the_start_up_jobs_then_the_rest_live(config, engine):
    import threading
    from dataclasses import replace

    from handlers.inbox_worker import InboxWorker

    port = free_port()
    now = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
    past = [replace(m, sent_at=now.replace(hour=1)) for m in pick(["direct", "direct"])]
    past[1] = replace(past[1], msgid=past[1].msgid + "1")
    later = replace(past[0], msgid=past[0].msgid + "2", sent_at=now.replace(hour=9))
    demo = DemoEnvironment(config, service_url=f"http://127.0.0.1:{port}", interval=0, messages=[*past, later],
                           clock=lambda: now)
    calls: list[int] = []
    demo.on_backlog = lambda: calls.append(len(demo.delivered))
    service = create_app(config, Settings(**demo.settings_overrides()), engine, background=False)
    worker = InboxWorker(service.state.sessions, service.state.handler_context, owner="test-worker")
    done = threading.Event()

    def judge() -> None:  # the service's inbox worker, in this thread
        while not done.wait(0.2):
            worker.run_once()

    judging = threading.Thread(target=judge, daemon=True)
    judging.start()
    with serve_in_thread(service, port=port):
        demo.run_traffic()
    done.set()
    judging.join(10)
    while worker.run_once():  # the live message may have arrived after the thread's last look
        pass
    assert calls == [2]  # after both past messages were delivered and judged, before the live one
    assert demo.delivered == [("app", 200)] * 3
    with make_session_factory(engine)() as session:
        rows = session.scalars(select(InboxEventRow).order_by(InboxEventRow.id)).all()
    assert len(rows) == 3 and all(r.processed_at is not None for r in rows)

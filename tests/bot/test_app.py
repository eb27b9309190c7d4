"""The web app end to end on a real database: callbacks in, inbox rows committed, worker judges once."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.config import AppConfig
from bot.settings import Settings
from handlers.inbox_worker import InboxWorker
from storage.db import make_engine, make_session_factory
from storage.models import Base, InboxEventRow, MessageRow
from tests.conftest import WECOM_VECTORS
from tests.helpers.tcpproxy import TcpProxy
from tests.helpers.wecom import (
    AES_KEY,
    AIBOT_KEY,
    AIBOT_TOKEN,
    CORP_ID,
    TOKEN,
    aibot_request,
    app_event_xml,
    app_text_xml,
    broken_requests,
    callback_request,
)

NOW = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)  # a Monday, 10:30 in Shanghai
INGEST_TOKEN = "bridge-token-5b1f0c9e"
SECRET_KEY = "app-test-secret-key-k9Qz3LmW7pRt2VxY"



def clock() -> datetime:
    return NOW


def make_settings() -> Settings:
    return Settings(
        _env_file=None,
        corp_id=CORP_ID,
        callback_token=TOKEN,
        encoding_aes_key=AES_KEY,
        aibot_token=AIBOT_TOKEN,
        aibot_encoding_aes_key=AIBOT_KEY,
        ingest_token=INGEST_TOKEN,
        secret_key=SECRET_KEY,
    )


@contextmanager
def serving(config: AppConfig, engine: Engine, settings: Settings | None = None) -> Iterator[TestClient]:
    """The whole app on the test database (test secrets, the fixed clock, no background tasks), started;
    `client.app` is the app."""
    app = create_app(config, settings or make_settings(), engine, background=False, clock=clock)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def app(config: AppConfig, engine: Engine) -> FastAPI:
    return create_app(config, make_settings(), engine, background=False, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def inbox_rows(engine: Engine) -> list[InboxEventRow]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(InboxEventRow).order_by(InboxEventRow.id)))


def message_count(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(MessageRow))


def run_worker(app: FastAPI) -> int:
    worker = InboxWorker(app.state.sessions, app.state.handler_context, owner="test-worker")
    handled = 0
    while batch := worker.run_once():
        handled += batch
    return handled


def group_message(
    msgid: str, text: str = "【跟进】客户：王总 公司：华星科技 需求：50台门禁 下一步：周三上门演示"
) -> dict:
    return {
        "msgid": msgid,
        "aibotid": "aib-1",
        "chatid": "wr-sales-east",
        "chattype": "group",
        "from": {"userid": "zhangwei"},
        "msgtype": "text",
        "text": {"content": text},
    }


def post_callback(client: TestClient, signed, path: str = "/wecom/callback"):
    return client.post(path, params=signed.params, content=signed.body)


# -- URL verification -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/wecom/callback", "/wecom/aibot"])
def test_url_verification_returns_only_the_plaintext(config: AppConfig, engine: Engine, path: str) -> None:
    vectors = json.loads(WECOM_VECTORS.read_text(encoding="utf-8"))["vectors"]
    vector = next(v for v in vectors if v["id"] == "A-verify-url")
    settings = make_settings().model_copy(update={"corp_id": vector["receive_id"]})
    if path == "/wecom/aibot":  # the AI bot uses receive id "", so build its echostr ourselves
        settings = make_settings()
    app = create_app(config, settings, engine, background=False, clock=clock)
    with TestClient(app) as client:
        if path == "/wecom/callback":
            query = f"msg_signature={vector['msg_signature']}&timestamp={vector['timestamp']}&nonce={vector['nonce']}"
            response = client.get(f"{path}?{query}&echostr={vector['echostr_urlencoded']}")
            expected = vector["expected_plaintext"]
        else:
            crypto = app.state.ingest.aibot_crypto
            echostr = crypto.encrypt("6742315478291063549")
            response = client.get(
                path,
                params={
                    "msg_signature": crypto.sign("1772413200", "5", echostr),
                    "timestamp": "1772413200",
                    "nonce": "5",
                    "echostr": echostr,
                },
            )
            expected = "6742315478291063549"
    assert response.status_code == 200
    assert response.content == expected.encode()


# -- POST round trips ---------------------------------------------------------------------------------


def test_app_callback_round_trips_into_the_inbox_and_is_processed(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    response = post_callback(client, callback_request(app_text_xml(msgid="4561255354251345929", content="帮助")))
    assert (response.status_code, response.content) == (200, b"")
    [row] = inbox_rows(engine)
    opened = app.state.handler_context.sealer.open(row.payload, aad=row.dedupe_key)  # sealed at rest
    assert (row.dedupe_key, row.kind, row.source, opened["text"]) == (
        "4561255354251345929",
        "command",
        "callback",
        "帮助",
    )
    assert run_worker(app) == 1
    [row] = inbox_rows(engine)
    assert (row.processed_at, row.payload) == (NOW, None)


def test_aibot_group_message_is_stored_then_judged_once(app: FastAPI, client: TestClient, engine: Engine) -> None:
    response = post_callback(client, aibot_request(group_message("aib-msg-1")), "/wecom/aibot")
    assert (response.status_code, response.content) == (200, b"")
    assert [r.kind for r in inbox_rows(engine)] == ["message"]
    assert message_count(engine) == 0  # judged by the worker, not in the request
    run_worker(app)
    assert message_count(engine) == 1
    assert inbox_rows(engine)[0].payload is None


@pytest.mark.parametrize("path", ["/wecom/callback", "/wecom/aibot"])
def test_the_same_msgid_three_times_is_stored_and_processed_once(
    app: FastAPI, client: TestClient, engine: Engine, path: str
) -> None:
    if path == "/wecom/callback":
        request = callback_request(app_text_xml(msgid="7001", content="查询 本周 业绩"))
    else:
        request = aibot_request(group_message("aib-7001"))
    assert [post_callback(client, request, path).status_code for _ in range(3)] == [200, 200, 200]
    assert len(inbox_rows(engine)) == 1
    assert run_worker(app) == 1
    assert post_callback(client, request, path).status_code == 200  # a late retry after processing
    assert run_worker(app) == 0
    assert message_count(engine) == (1 if path == "/wecom/aibot" else 0)


def test_stream_refresh_gets_a_finished_stream_and_records_nothing(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    request = aibot_request({"msgtype": "stream", "stream": {"id": "st-1"}}, nonce="77")
    response = post_callback(client, request, "/wecom/aibot")
    reply = response.json()
    crypto = app.state.ingest.aibot_crypto
    assert reply["msgsignature"] == crypto.sign(str(reply["timestamp"]), "77", reply["encrypt"])
    assert json.loads(crypto.decrypt(reply["encrypt"])) == {
        "msgtype": "stream",
        "stream": {"id": "st-1", "finish": True, "content": ""},
    }
    assert inbox_rows(engine) == []


def test_msgaudit_notify_wakes_the_archive_poller(app: FastAPI, client: TestClient, engine: Engine) -> None:
    wakeup = app.state.ingest.archive_wakeup
    assert not wakeup.is_set()
    assert post_callback(client, callback_request(app_event_xml(event="msgaudit_notify"))).status_code == 200
    assert wakeup.is_set()
    assert [(r.kind, r.dedupe_key[:4]) for r in inbox_rows(engine)] == [("event", "evt:")]


# -- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "request_", "status", "reason"), broken_requests(), ids=[row[0] for row in broken_requests()]
)
def test_broken_callbacks_are_4xx_with_a_reason_and_store_nothing(
    client: TestClient, engine: Engine, case: str, request_, status: int, reason: str
) -> None:
    response = post_callback(client, request_)
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert inbox_rows(engine) == []
    good = post_callback(client, callback_request(app_text_xml(msgid="8001", content="你好")))
    assert good.status_code == 200
    assert [r.dedupe_key for r in inbox_rows(engine)] == ["8001"]


def test_oversized_body_without_content_length_is_cut_off(client: TestClient, engine: Engine) -> None:
    request = callback_request(app_text_xml(msgid="1", content="x"))

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 65536

    response = client.post("/wecom/callback", params=request.params, content=chunks())
    assert response.status_code == 413
    assert inbox_rows(engine) == []


def test_unconfigured_callbacks_say_which_variables_are_missing(config: AppConfig, engine: Engine) -> None:
    app = create_app(config, Settings(_env_file=None, secret_key=SECRET_KEY), engine, background=False, clock=clock)
    with TestClient(app) as client:
        response = post_callback(client, callback_request(app_text_xml(msgid="1", content="x")))
    assert response.status_code == 404
    assert "GROUPBOT_CORP_ID" in response.json()["error"]


# -- bridge -------------------------------------------------------------------------------------------

GOOD = {
    "msgid": "b-1",
    "chat_id": "wr-sales-east",
    "sender": "lisi",
    "sent_at": "2026-03-02T10:05:00+08:00",
    "text": "今天拜访了华星科技的王总，对方对门禁方案有兴趣",
}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {INGEST_TOKEN}"}, 401),
        ({"Authorization": f"Bearer {INGEST_TOKEN}"}, 200),
    ],
)
def test_bridge_requires_the_bearer_token(client: TestClient, headers: dict, status: int) -> None:
    assert client.post("/ingest/messages", json=[GOOD], headers=headers).status_code == status


def test_bridge_accepts_valid_items_and_reports_the_rest_by_index(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    batch = [GOOD, {**GOOD, "msgid": "b-2", "sent_at": "2026-03-02 10:06"}, {**GOOD, "msgid": "b-3"}, GOOD, 42]
    response = client.post(
        "/ingest/messages", json={"messages": batch}, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 2,
        "duplicates": 1,
        "errors": [
            {"index": 1, "reason": "sent_at: Input should have timezone info"},
            {"index": 4, "reason": "item is not a JSON object"},
        ],
    }
    run_worker(app)
    assert message_count(engine) == 2


@pytest.mark.parametrize(("body", "reason"), [(b"{", "not UTF-8 JSON"), (b'{"rows": []}', "JSON array")])
def test_bridge_refuses_bodies_that_are_not_a_batch(client: TestClient, body: bytes, reason: str) -> None:
    response = client.post("/ingest/messages", content=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
    assert response.status_code == 400
    assert reason in response.json()["error"]


# -- health and outages -------------------------------------------------------------------------------


def test_healthz_reports_the_inbox_lag(client: TestClient) -> None:
    post_callback(client, callback_request(app_text_xml(msgid="9001", content="你好")))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["inbox"]) == (
        "ok",
        "ok",
        {"lag_seconds": 0.0, "pending": 1, "failed": 0, "parked": []},
    )


def test_sqlite_database_down_is_503_and_the_retry_is_stored_once_it_is_back(config: AppConfig, tmp_path: Path) -> None:
    """The database directory disappears (a lost volume), then comes back."""
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'groupbot.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    app = create_app(config, make_settings(), engine, background=False, clock=clock)
    request = callback_request(app_text_xml(msgid="6001", content="【紧急】客户临时改约到下午三点"))
    with TestClient(app) as client:
        engine.dispose()
        shutil.move(data, tmp_path / "elsewhere")
        down = post_callback(client, request)
        health = client.get("/healthz")
        shutil.move(tmp_path / "elsewhere", data)
        engine.dispose()
        up = post_callback(client, request)
    assert (down.status_code, down.headers["retry-after"]) == (503, "5")
    assert "database unavailable" in down.json()["error"]
    assert health.status_code == 503
    assert up.status_code == 200
    assert [r.dedupe_key for r in inbox_rows(engine)] == ["6001"]
    engine.dispose()


@pytest.mark.postgres
def test_postgres_connection_cut_is_503_and_the_retry_is_stored_once_it_is_back(config: AppConfig, pg_url: str) -> None:
    """The network to PostgreSQL goes down (connections reset, new ones refused), then comes back."""
    parsed = make_url(pg_url)
    with TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
        engine = make_engine(parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        with engine.begin() as conn:
            conn.execute(InboxEventRow.__table__.delete())
        app = create_app(config, make_settings(), engine, background=False, clock=clock)
        before = callback_request(app_text_xml(msgid="6001", content="收到"))
        request = callback_request(app_text_xml(msgid="6002", content="客户说下周再联系"))
        with TestClient(app) as client:
            # Pooled connections and the group commit's own one (storage.db.KeptConnection) exist now.
            assert client.get("/healthz").status_code == 200
            assert post_callback(client, before).status_code == 200
            proxy.cut()
            down = post_callback(client, request)
            health = client.get("/healthz")
            proxy.restore()
            up = post_callback(client, request)
            again = post_callback(client, request)
        assert (down.status_code, health.status_code, up.status_code, again.status_code) == (503, 503, 200, 200)
        assert [r.dedupe_key for r in inbox_rows(engine)] == ["6001", "6002"]
        engine.dispose()


def test_with_the_chat_archive_on_an_aibot_mention_is_not_judged_a_second_time(
    config: AppConfig, engine: Engine
) -> None:
    archive_on = config.model_copy(
        update={
            "ingest": config.ingest.model_copy(
                update={"archive": config.ingest.archive.model_copy(update={"enabled": True})}
            )
        }
    )
    app = create_app(archive_on, make_settings(), engine, background=False, clock=clock)
    with TestClient(app) as client:
        assert post_callback(client, aibot_request(group_message("aib-9")), "/wecom/aibot").status_code == 200
    assert [r.kind for r in inbox_rows(engine)] == ["mention"]
    run_worker(app)
    assert message_count(engine) == 0
    assert inbox_rows(engine)[0].processed_at == NOW


@pytest.mark.parametrize("path", ["/healthz", "/wecom/callback"])  # FastAPI's routes and the WeCom door
@pytest.mark.parametrize(("sent", "echoed"), [({"X-Request-ID": "wecom-retry-42"}, "wecom-retry-42"), ({}, None)])
def test_every_response_carries_a_request_id(client: TestClient, sent: dict, echoed: str | None, path: str) -> None:
    if path == "/healthz":
        response = client.get(path, headers=sent)
    else:
        signed = callback_request(app_text_xml(msgid="8001", content="收到"))
        response = client.post(path, params=signed.params, content=signed.body, headers=sent)
    assert response.status_code == 200
    rid = response.headers["x-request-id"]
    assert rid == echoed if echoed else len(rid) == 16


def test_concurrent_callbacks_share_commits_and_each_is_answered_after_its_row_is_durable(
    app: FastAPI, engine: Engine
) -> None:
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    requests = [
        callback_request(app_text_xml(msgid=f"{5000 + i % 40}", content="本周跟进了12家客户")) for i in range(60)
    ]

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://groupbot") as client:
            answers = await asyncio.gather(
                *(client.post("/wecom/callback", params=r.params, content=r.body) for r in requests)
            )
        return [a.status_code for a in answers]

    assert asyncio.run(burst()) == [200] * 60
    assert sorted(r.dedupe_key for r in inbox_rows(engine)) == [str(5000 + i) for i in range(40)]
    assert len(commits) < 60


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"msg_signature": "0" * 40}, 403, "msg_signature does not match"),
        ({"nonce": ""}, 403, "required"),
        ({"echostr": "not base64!"}, 403, "msg_signature"),
    ],
)
def test_url_verification_refuses_what_wecom_did_not_sign(
    client: TestClient, app: FastAPI, change: dict, status: int, reason: str
) -> None:
    crypto = app.state.ingest.app_crypto
    echostr = crypto.encrypt("5927118306241520313")
    params = {
        "msg_signature": crypto.sign("1772413200", "5", echostr),
        "timestamp": "1772413200",
        "nonce": "5",
        "echostr": echostr,
    }
    response = client.get("/wecom/callback", params={**params, **change})
    assert response.status_code == status
    assert reason in response.json()["error"]


def test_aibot_answers_503_within_its_one_second_budget_while_the_database_is_locked(
    config: AppConfig, tmp_path: Path
) -> None:
    """Another process holds SQLite's write lock (a backup, a migration); the AI bot must still answer."""
    path = tmp_path / "groupbot.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    app = create_app(config, make_settings(), engine, background=False, clock=clock)
    request = aibot_request(group_message("aib-locked-1"))
    blocker = sqlite3.connect(path, isolation_level=None)
    with TestClient(app) as client:
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        locked = post_callback(client, request, "/wecom/aibot")
        elapsed = time.monotonic() - started
        blocker.execute("ROLLBACK")
        retried = post_callback(client, request, "/wecom/aibot")
    blocker.close()
    assert (locked.status_code, retried.status_code) == (503, 200)
    assert elapsed < 1.5
    assert "longer than 0.8 s" in locked.json()["error"]
    assert [r.dedupe_key for r in inbox_rows(engine)] == ["aib-locked-1"]
    engine.dispose()


@pytest.mark.parametrize(("path", "location"), [("/", "/dashboard/"), ("/violations/7", "/dashboard/violations/7")])
def test_the_bare_address_and_alert_links_lead_into_the_dashboard(client: TestClient, path: str, location: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, location)

"""Security of the ingest doors (issue 11 items 4, 5, 9) on a real database, SQLite and PostgreSQL.

- What cannot be stored or judged is refused at the door with a 4xx naming the field (and, for a
  bridge batch, the item), never answered "accepted" and parked later.
- One bad request never fails another: concurrent valid callbacks share a group commit with it.
- The inbox payload is sealed at rest: the database bytes never hold a customer's clear number.
- Parked rows are listed masked on the dashboard and by id and reason in /healthz.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text

from bot.app import create_app
from bot.config import AppConfig
from bot.errors import PayloadError
from bot.wecom.normalize import Inbound
from storage import inbox
from storage.db import make_session_factory
from storage.models import InboxEventRow
from storage.users import put_user
from tests.bot.test_app import (
    INGEST_TOKEN,
    NOW,
    clock,
    group_message,
    inbox_rows,
    make_settings,
    message_count,
    post_callback,
    run_worker,
)
from tests.bot.web.conftest import PASSWORD, login
from tests.helpers.wecom import (
    AIBOT_KEY,
    AIBOT_TOKEN,
    Signed,
    aibot_request,
    app_text_xml,
    callback_request,
    encrypt_with_wechatpy,
    sign,
)

AUTH = {"authorization": f"Bearer {INGEST_TOKEN}"}
SECRET = "door-test-secret-key-0123456789-abcdef"
MOBILE = "13812345678"
SENT_AT = "2026-03-02T10:20:00+08:00"


def settings(secret: str = SECRET):
    return make_settings().model_copy(update={"secret_key": SecretStr(secret)})


@pytest.fixture
def app(config: AppConfig, engine: Engine) -> FastAPI:
    return create_app(config, settings(), engine, background=False, clock=clock)


@pytest.fixture
def client(app: FastAPI):
    with TestClient(app) as client:
        yield client


def bridge_item(msgid: str, **fields) -> dict:
    return {"msgid": msgid, "chat_id": "wr-sales-east", "sender": "zhangwei", "sent_at": SENT_AT,
            "text": "【跟进】客户：王总 公司：华星科技", **fields}


def aibot_message(msgid: str, **fields) -> dict:
    return {**group_message(msgid), **fields}


# -- item 4 and 5: refused at the door, with the field named ------------------------------------------

BRIDGE_REFUSALS = [
    ("NUL in msgid", bridge_item("m-\x00-1"), "msgid: contains a control or non-printable character"),
    ("300-character msgid", bridge_item("m" * 300), "msgid: longer than 128 characters"),
    ("bell in chat_id", bridge_item("m-2", chat_id="wr-\x07east"), "chat_id: contains a control or non-printable"),
    ("NUL in sender", bridge_item("m-3", sender="zhang\x00wei"), "sender: contains a control or non-printable"),
    ("newline in sender_name", bridge_item("m-4", sender_name="张伟\n管理员"), "sender_name: contains a control"),
    ("year 9999", bridge_item("m-5", sent_at="9999-12-31T23:59:59+08:00"), "sent_at: is more than one day in"),
    ("year 0001", bridge_item("m-6", sent_at="0001-01-01T00:00:00+00:00"), "sent_at: is before 2000-01-01"),
    ("lone surrogate in text", bridge_item("m-7", text="王总\ud800"), "text: is not valid Unicode"),
]


@pytest.mark.parametrize(("case", "item", "reason"), BRIDGE_REFUSALS, ids=[c[0] for c in BRIDGE_REFUSALS])
def test_bridge_refuses_what_cannot_be_judged_naming_item_and_field(client, engine, case, item, reason) -> None:
    body = json.dumps([bridge_item("ok-1"), item])  # the surrogate travels as a \ud800 escape
    response = client.post("/ingest/messages", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], len(answer["errors"])) == (1, 1)
    assert answer["errors"][0]["index"] == 1
    assert answer["errors"][0]["reason"].startswith(reason)
    assert [r.dedupe_key for r in inbox_rows(engine)] == ["ok-1"]


AIBOT_REFUSALS = [
    ("300-character msgid", aibot_message("a" * 300), "msgid: longer than 128 characters"),
    ("NUL in from.userid", aibot_message("ai-2", **{"from": {"userid": "zhang\x00wei"}}), "from.userid: contains"),
    ("NUL in chatid", aibot_message("ai-3", chatid="wr\x00east"), "chat_id: contains a control"),
    ("msgid as a number", {**group_message("ai-4"), "msgid": 4}, "msgid: Input should be a valid string"),
    ("stream as a string", {"msgtype": "stream", "stream": "s-1"}, "stream: Input should be an object"),
    ("text as a string", aibot_message("ai-6", text="你好"), "text: Input should be an object"),
    ("from as a list", aibot_message("ai-7", **{"from": ["zhangwei"]}), "from: Input should be an object"),
    ("deep nesting inside", aibot_message("ai-8", quote=json.loads("[" * 500 + "]" * 500)), "not JSON"),
]


@pytest.mark.parametrize(("case", "doc", "reason"), AIBOT_REFUSALS, ids=[c[0] for c in AIBOT_REFUSALS])
def test_aibot_refuses_ids_and_shapes_it_cannot_store(client, engine, case, doc, reason) -> None:
    response = post_callback(client, aibot_request(doc), "/wecom/aibot")
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert inbox_rows(engine) == []


def test_aibot_refuses_a_lone_surrogate_in_text(client, engine) -> None:
    plaintext = json.dumps(aibot_message("ai-9")).replace("\\u3010", "\\ud800")  # 【 → a lone surrogate
    assert "\\ud800" in plaintext
    encrypt = encrypt_with_wechatpy(plaintext, key=AIBOT_KEY, receive_id="")
    timestamp, nonce = "1772413200", "99"
    signed = Signed(params={"msg_signature": sign(AIBOT_TOKEN, timestamp, nonce, encrypt), "timestamp": timestamp,
                            "nonce": nonce}, body=json.dumps({"encrypt": encrypt}).encode())
    response = client.post("/wecom/aibot", params=signed.params, content=signed.body)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    assert inbox_rows(engine) == []


CALLBACK_REFUSALS = [
    ("300-character MsgId", app_text_xml(msgid="9" * 300, content="帮助"), "msgid: longer than 128 characters"),
    ("CreateTime in year 9999", app_text_xml(msgid="1", content="帮助", create_time=253402300799),
     "CreateTime: is more than one day in the future"),
    ("CreateTime in 1970", app_text_xml(msgid="2", content="帮助", create_time=0), "CreateTime: is before 2000"),
    ("300-character sender", app_text_xml(msgid="3", sender="z" * 300, content="帮助"), "FromUserName: longer"),
]


@pytest.mark.parametrize(("case", "xml", "reason"), CALLBACK_REFUSALS, ids=[c[0] for c in CALLBACK_REFUSALS])
def test_app_callback_refuses_ids_and_times_it_cannot_judge(client, engine, case, xml, reason) -> None:
    response = post_callback(client, callback_request(xml))
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(reason)
    assert inbox_rows(engine) == []


# -- item 9: hostile bodies are 4xx before any signature check ---------------------------------------


@pytest.mark.parametrize("path", ["/wecom/aibot", "/ingest/messages"])
def test_a_hundred_thousand_nested_brackets_are_a_400_not_a_recursion_error(client, engine, path, caplog) -> None:
    response = client.post(path, params={"msg_signature": "x", "timestamp": "1", "nonce": "2"},
                           content=b"[" * 100_000, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == {"error": "body is nested too deeply"}
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    assert inbox_rows(engine) == []


def test_a_valid_stream_refresh_still_gets_its_finished_stream(client, engine) -> None:
    response = post_callback(client, aibot_request({"msgtype": "stream", "stream": {"id": "s-42"}}), "/wecom/aibot")
    assert response.status_code == 200
    assert "encrypt" in response.json()
    assert inbox_rows(engine) == []


# -- item 4: one bad request never fails the others ------------------------------------------------------


def test_one_bad_bridge_batch_among_concurrent_callbacks_fails_only_itself(app: FastAPI, engine) -> None:
    """Reproduces the PostgreSQL finding: a NUL msgid used to fail the shared commit (188 of 200 got 503)."""

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            valid = [
                http.post("/wecom/aibot", params=r.params, content=r.body)
                for r in (aibot_request(group_message(f"ai-{i}")) for i in range(40))
            ]
            bad = http.post("/ingest/messages", headers=AUTH,
                            content=json.dumps([bridge_item("bad\x00id"), bridge_item("\ud800")]))
            return await asyncio.gather(*valid[:20], bad, *valid[20:])

    responses = asyncio.run(scenario())
    bad = responses.pop(20)
    assert [r.status_code for r in responses] == [200] * 40
    assert (bad.status_code, bad.json()["accepted"], [e["index"] for e in bad.json()["errors"]]) == (200, 0, [0, 1])
    assert len(inbox_rows(engine)) == 40


BAD_IDS = {
    "lone surrogate": "m-\ud800",  # neither SQLite nor PostgreSQL can encode it
    "NUL": "m-\x00-1",  # PostgreSQL refuses NUL in text
    "300 characters": "m" * 300,  # the inbox dedupe key holds 200
}


@pytest.mark.parametrize("bad_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_group_commit_the_database_refuses_is_retried_member_by_member(app: FastAPI, engine, bad_id) -> None:
    """Past the doors (a future door that forgets a check): the commit itself must isolate the bad event."""
    ingest = app.state.ingest

    def event(msgid: str) -> Inbound:
        payload = {"msgid": msgid, "chat_id": "wr-sales-east", "sender": "zhangwei", "sent_at": NOW.isoformat(),
                   "text": "收到", "msgtype": "text", "source": "bridge"}
        return Inbound(dedupe_key=msgid, source="bridge", kind="message", payload=payload)

    async def scenario() -> list:
        requests = [ingest.record([event(f"ok-{i}")]) for i in range(30)]
        requests.insert(15, ingest.record([event(bad_id)]))
        return await asyncio.gather(*requests, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    bad = outcomes.pop(15)
    assert outcomes == [[True]] * 30
    assert bad == [True] or isinstance(bad, PayloadError)  # SQLite stores NUL and long keys; never a 503
    assert {r.dedupe_key for r in inbox_rows(engine)} >= {f"ok-{i}" for i in range(30)}


# -- item 5: sealed at rest -------------------------------------------------------------------------------


def post_through_every_door(client: TestClient) -> None:
    text_ = f"【跟进】客户：王总 电话：{MOBILE} 公司：华星科技"
    assert post_callback(client, callback_request(app_text_xml(msgid="9100", content=text_))).status_code == 200
    assert post_callback(client, aibot_request(group_message("ai-seal", text_)), "/wecom/aibot").status_code == 200
    answer = client.post("/ingest/messages", json=[bridge_item("br-seal", text=text_)], headers=AUTH).json()
    assert answer["accepted"] == 1


def test_no_clear_number_in_the_sqlite_files(config: AppConfig, tmp_path: Path) -> None:
    from storage.db import make_engine
    from storage.models import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'groupbot.db'}")
    Base.metadata.create_all(engine)
    app = create_app(config, settings(), engine, background=False, clock=clock)
    with TestClient(app) as client:
        post_through_every_door(client)
        assert len(inbox_rows(engine)) == 3
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("groupbot.db*"))  # the file, its WAL and shm
        assert MOBILE.encode() not in raw
        assert run_worker(app) == 3  # the worker opens what the doors sealed and judges it
        assert message_count(engine) == 2  # the command (direct message) is not a group message
    engine.dispose()


def test_no_clear_number_in_postgresql_rows(config: AppConfig, pg_url: str) -> None:
    from storage.db import make_engine

    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE inbox_events RESTART IDENTITY CASCADE"))
    app = create_app(config, settings(), engine, background=False, clock=clock)
    with TestClient(app) as client:
        post_through_every_door(client)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT t::text FROM inbox_events t")).scalars().all()
        assert len(rows) == 3
        assert not [r for r in rows if MOBILE in r or "王总" in r]
        assert run_worker(app) == 3
    engine.dispose()


# -- item 5: parked rows, masked; a key change parks with a clear reason ---------------------------------


def test_rows_sealed_before_a_key_change_are_parked_with_the_reason(config, engine, client) -> None:
    post_callback(client, aibot_request(group_message("ai-old", f"王总 {MOBILE}")), "/wecom/aibot")
    rotated = create_app(config, settings("rotated-secret-key-0123456789-abcdefgh"), engine, background=False,
                         clock=clock)
    assert run_worker(rotated) == 1
    [row] = inbox_rows(engine)
    assert row.error.startswith("inbox payload was sealed with another secret key")
    assert MOBILE not in json.dumps(row.payload)
    assert message_count(engine) == 0


def test_parked_rows_are_listed_masked_for_admins_and_by_reason_in_healthz(app, client, engine) -> None:
    post_callback(client, aibot_request(group_message("ai-park", f"王总电话{MOBILE}，明天拜访")), "/wecom/aibot")
    with make_session_factory(engine)() as s:
        [row] = s.query(InboxEventRow).all()
        inbox.mark_failed(s, row.id, error="ValueError", now=NOW, max_attempts=0, retry_seconds=0)
        put_user(s, username="boss", password_hash=_hash(), role="admin")
        s.commit()

    health = client.get("/healthz").json()["inbox"]
    assert health["failed"] == 1
    assert health["parked"] == [{"id": row.id, "source": "aibot", "kind": "message",
                                 "received_at": health["parked"][0]["received_at"], "error": "ValueError"}]
    assert MOBILE not in json.dumps(health)

    assert login(client, "boss").status_code == 303
    page = client.get("/dashboard/deadletters").text
    assert "王总电话138****5678，明天拜访" in page
    assert MOBILE not in page


def _hash() -> str:
    from bot.web.auth import hash_password

    return hash_password(PASSWORD)


def test_wecom_callbacks_make_the_worker_yield_a_bridge_bulk_post_does_not(app: FastAPI, client: TestClient) -> None:
    """The worker holds back while WeCom waits on callbacks (5 s budget), not while a bridge posts in
    bulk: yielding to a bridge would only slow judging the messages it brings."""
    ingest = app.state.ingest
    answer = client.post("/ingest/messages", json=[bridge_item("bulk-1"), bridge_item("bulk-2")], headers=AUTH)
    assert answer.status_code == 200 and answer.json()["accepted"] == 2
    assert not ingest.recently_busy()

    assert post_callback(client, callback_request(app_text_xml(msgid="cb-1", content="收到"))).status_code == 200
    assert ingest.recently_busy()

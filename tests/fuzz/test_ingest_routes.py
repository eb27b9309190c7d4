"""Hypothesis over the HTTP ingest routes on a real database (SQLite and PostgreSQL): never a 5xx, and a
refused request never leaves an inbox row behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from bot.config import AppConfig
from storage.db import make_session_factory
from storage.models import InboxEventRow
from tests.bot.test_app import INGEST_TOKEN, clock, group_message, serving
from tests.helpers.wecom import aibot_request, app_text_xml, callback_request, encrypt_with_wechatpy, signed_xml

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
AUTH = {"authorization": f"Bearer {INGEST_TOKEN}"}
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)  # NUL included on purpose
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)
FIELDS = {
    "msgid": TEXT | st.integers(),
    "chat_id": st.sampled_from(["wr-sales-east", "", "wr-unknown"]) | TEXT,
    "sender": st.sampled_from(["zhangwei", ""]) | TEXT,
    "sent_at": st.sampled_from(["2026-03-02T10:30:00+08:00", "2026-03-02T10:30:00", "2026-13-45T99:00:00Z",
                                "yesterday", ""]) | st.integers() | TEXT,
    "text": TEXT | st.sampled_from(["王总手机13812345678", "已\x00处理"]),
    "msgtype": st.sampled_from(["text", "image", "voice"]) | TEXT,
}
AIBOT_KEYS = ("msgid", "chatid", "chattype", "msgtype", "from", "text")
BRIDGE_ITEM = st.fixed_dictionaries({}, optional=FIELDS) | JSON_VALUE


@pytest.fixture
def client(config: AppConfig, engine: Engine) -> Iterator[TestClient]:
    with serving(config, engine) as client:
        yield client


def inbox_count(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(InboxEventRow))


def assert_served(response, before: int, after: int) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert after == before, f"refused with {response.status_code} yet stored {after - before} row(s)"
        assert response.json(), "a refusal names what is wrong"


@FUZZ
@given(body=st.binary(max_size=400), params=st.dictionaries(
    st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr"]), TEXT, max_size=4),
    path=st.sampled_from(["/wecom/callback", "/wecom/aibot"]), method=st.sampled_from(["POST", "GET"]))
def test_arbitrary_callback_requests_are_never_a_5xx(client: TestClient, engine: Engine, body: bytes,
                                                     params: dict, path: str, method: str) -> None:
    """POST is a message, GET the URL check (echostr): unsigned garbage is refused either way."""
    before = inbox_count(engine)
    response = client.request(method, path, params=params, content=body if method == "POST" else None)
    assert response.status_code in (400, 403, 413), response.text
    assert_served(response, before, inbox_count(engine))


@FUZZ
@given(content=TEXT, msgid=st.text("0123456789", min_size=1, max_size=20), flip=st.integers(0, 400))
def test_signed_callbacks_with_any_content_are_stored_or_refused(client: TestClient, engine: Engine,
                                                                 content: str, msgid: str, flip: int) -> None:
    """A well-signed message whose XML may be broken by its content (NUL, ']]>', control characters)."""
    before = inbox_count(engine)
    request = callback_request(app_text_xml(msgid=msgid, content=content))
    assert_served(client.post("/wecom/callback", params=request.params, content=request.body), before,
                  inbox_count(engine))
    # The same plaintext with one ciphertext byte changed, re-signed: decrypt or parse must refuse cleanly.
    encrypt = encrypt_with_wechatpy(app_text_xml(msgid=msgid + "9", content=content))
    i = flip % len(encrypt)
    mutated = encrypt[:i] + ("A" if encrypt[i] != "A" else "B") + encrypt[i + 1 :]
    before = inbox_count(engine)
    forged = signed_xml(mutated)
    assert_served(client.post("/wecom/callback", params=forged.params, content=forged.body), before,
                  inbox_count(engine))


@FUZZ
@given(doc=st.fixed_dictionaries({}, optional=dict.fromkeys(AIBOT_KEYS, JSON_VALUE)))
def test_any_aibot_document_is_stored_or_refused(client: TestClient, engine: Engine, doc: dict) -> None:
    before = inbox_count(engine)
    request = aibot_request({**group_message("ai-1"), **doc})
    assert_served(client.post("/wecom/aibot", params=request.params, content=request.body), before,
                  inbox_count(engine))


@FUZZ
@given(batch=st.lists(BRIDGE_ITEM, max_size=5) | JSON_VALUE, wrap=st.booleans())
def test_any_bridge_batch_is_stored_or_refused_item_by_item(client: TestClient, engine: Engine, batch,
                                                            wrap: bool) -> None:
    body = json.dumps({"messages": batch} if wrap else batch).encode()
    before = inbox_count(engine)
    response = client.post("/ingest/messages", content=body, headers=AUTH)
    after = inbox_count(engine)
    assert_served(response, before, after)
    if response.status_code == 200:
        answer = response.json()
        assert after - before == answer["accepted"]
        items = batch if isinstance(batch, list) else []
        assert answer["accepted"] + answer["duplicates"] + len(answer["errors"]) == len(items)


# -- every JSON shape of the AI-bot and bridge bodies (issue 11 item 9) --------------------------------

#: A JSON value of any type, or one nested past the 200 levels pydantic-core parses
#: (100,000 levels: tests/bot/test_ingest_doors.py).
ANY_JSON = JSON_VALUE | st.integers(1, 300).map(lambda depth: json.loads("[" * depth + "]" * depth))
LONG_OR_HOSTILE = st.sampled_from(["x" * 300, "a\x00b", "\x07", "wr-sales-east", "zhangwei", "", "\u200b", " "])
ID = TEXT | LONG_OR_HOSTILE | ANY_JSON


def new_rows(engine: Engine, after: int) -> list[InboxEventRow]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(InboxEventRow).where(InboxEventRow.id > after)))


def last_id(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.max(InboxEventRow.id))) or 0


def assert_judgeable(client: TestClient, engine: Engine, after: int) -> None:
    """Accepted means judgeable: every stored id fits (<= 128 printable characters), sent_at is
    between 2000-01-01 and now + 1 day, and the payload opens with the app's key."""
    sealer = client.app.state.handler_context.sealer
    for row in new_rows(engine, after):
        assert row.payload is None or "sealed" in row.payload, "the inbox holds clear text"
        payload = sealer.open(row.payload, aad=row.dedupe_key)
        for field in ("msgid", "chat_id", "sender"):
            value = payload.get(field, "")
            assert len(value) <= 128 and (value == "" or value.isprintable()), (field, len(value))
        sent_at = datetime.fromisoformat(payload["sent_at"])
        assert datetime(2000, 1, 1, tzinfo=UTC) <= sent_at <= clock() + timedelta(days=1)
        payload.get("text", "").encode("utf-8")  # valid Unicode


def nested(key: str) -> st.SearchStrategy:
    """The sub-object `{key: …}` with any value, or any JSON value in its place."""
    return st.fixed_dictionaries({}, optional={key: ID}) | ANY_JSON


AIBOT_DOC = st.fixed_dictionaries(
    {"msgtype": st.sampled_from(["text", "stream", "event", "image", "mixed", ""]) | ANY_JSON,
     "msgid": ID, "from": nested("userid")},
    optional={
        "chatid": ID,
        "chattype": st.sampled_from(["group", "single"]) | ANY_JSON,
        "text": nested("content"),
        "stream": nested("id"),
        "event": nested("eventtype"),
    },
)


@FUZZ
@given(doc=AIBOT_DOC | ANY_JSON)
def test_every_json_shape_of_a_signed_aibot_message_is_stored_or_refused(client: TestClient, engine: Engine,
                                                                        doc) -> None:
    """Each key of each msgtype with a value of any JSON type (or the whole document any JSON value)."""
    before, after = inbox_count(engine), last_id(engine)
    request = aibot_request(doc)
    response = client.post("/wecom/aibot", params=request.params, content=request.body)
    assert_served(response, before, inbox_count(engine))
    assert_judgeable(client, engine, after)


#: Valid AI-bot documents of each msgtype; the mutation test replaces one field (or sub-field) of one.
AIBOT_BASES = {
    "text": group_message("ai-base"),
    "stream": {"msgid": "ai-s", "msgtype": "stream", "from": {"userid": "zhangwei"}, "stream": {"id": "s-1"}},
    "event": {"msgid": "ai-e", "msgtype": "event", "from": {"userid": "zhangwei"},
              "event": {"eventtype": "enter_chat"}},
}
AIBOT_PATHS = [("msgid",), ("msgtype",), ("chatid",), ("chattype",), ("from",), ("from", "userid"), ("text",),
               ("text", "content"), ("stream",), ("stream", "id"), ("event",), ("event", "eventtype")]
HOSTILE = st.sampled_from(["x" * 129, "x" * 300, "a\x00b", "\x07", "\u200b", "", 0, -1, 2.5, True, None, [], {},
                           ["zhangwei"], {"id": 1}])


def with_value(doc: dict, path: tuple[str, ...], value) -> dict:
    """`doc` with the field at `path` set to `value` (a non-object parent is replaced by an object)."""
    doc = json.loads(json.dumps(doc))
    parent = doc
    for key in path[:-1]:
        if not isinstance(parent.get(key), dict):
            parent[key] = {}
        parent = parent[key]
    parent[path[-1]] = value
    return doc


@settings(FUZZ, max_examples=120)
@given(base=st.sampled_from(sorted(AIBOT_BASES)), path=st.sampled_from(AIBOT_PATHS), value=HOSTILE | ID)
def test_any_one_aibot_field_of_any_json_type_is_stored_judgeable_or_refused(client: TestClient, engine: Engine,
                                                                            base: str, path, value) -> None:
    before, after = inbox_count(engine), last_id(engine)
    request = aibot_request(with_value(AIBOT_BASES[base], path, value))
    response = client.post("/wecom/aibot", params=request.params, content=request.body)
    assert_served(response, before, inbox_count(engine))
    assert_judgeable(client, engine, after)


BRIDGE_BASE = {"msgid": "br-base", "chat_id": "wr-sales-east", "sender": "zhangwei",
               "sent_at": "2026-03-02T10:30:00+08:00", "text": "收到", "sender_name": "张伟", "chat_name": "华东销售群"}


@settings(FUZZ, max_examples=120)
@given(field=st.sampled_from(sorted({*BRIDGE_BASE, "msgtype"})),
       value=HOSTILE | ID | st.sampled_from(["9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00Z", "王总\ud800"]))
def test_any_one_bridge_field_of_any_json_type_is_stored_judgeable_or_refused(client: TestClient, engine: Engine,
                                                                             field: str, value) -> None:
    before, after = inbox_count(engine), last_id(engine)
    item = {**BRIDGE_BASE, "msgid": f"br-{field}", field: value}
    response = client.post("/ingest/messages", content=json.dumps([item]).encode(), headers=AUTH)
    assert_served(response, before, inbox_count(engine))
    assert_judgeable(client, engine, after)
    answer = response.json()
    assert answer["accepted"] + answer["duplicates"] + len(answer["errors"]) == 1
    if answer["errors"]:
        assert answer["errors"][0]["index"] == 0 and answer["errors"][0]["reason"].startswith(field)


@FUZZ
@given(envelope=st.fixed_dictionaries({}, optional={"encrypt": ANY_JSON, "Encrypt": ANY_JSON}) | ANY_JSON)
def test_every_json_shape_of_the_aibot_envelope_is_refused_before_the_signature(client: TestClient, engine: Engine,
                                                                               envelope) -> None:
    before = inbox_count(engine)
    response = client.post("/wecom/aibot", params={"msg_signature": "0" * 40, "timestamp": "1", "nonce": "2"},
                           content=json.dumps(envelope).encode())
    assert response.status_code in (400, 403), response.text
    assert_served(response, before, inbox_count(engine))


BRIDGE_FIELDS = {**FIELDS, "msgid": ID, "chat_id": ID, "sender": ID, "sender_name": ID, "chat_name": ID,
                 "sent_at": FIELDS["sent_at"] | st.sampled_from(["9999-12-31T23:59:59+08:00", "0001-01-01T00:00:00Z"])
                 | ANY_JSON, "text": FIELDS["text"] | ANY_JSON, "msgtype": FIELDS["msgtype"] | ANY_JSON}


@FUZZ
@given(batch=st.lists(st.fixed_dictionaries({}, optional=BRIDGE_FIELDS) | ANY_JSON, max_size=4) | ANY_JSON,
       wrap=st.sampled_from(["list", "messages", "other"]))
def test_every_json_shape_of_a_bridge_batch_is_stored_or_refused_item_by_item(client: TestClient, engine: Engine,
                                                                              batch, wrap: str) -> None:
    doc = {"list": batch, "messages": {"messages": batch}, "other": {"items": batch}}[wrap]
    before, last = inbox_count(engine), last_id(engine)
    response = client.post("/ingest/messages", content=json.dumps(doc).encode(), headers=AUTH)
    after = inbox_count(engine)
    assert_served(response, before, after)
    assert_judgeable(client, engine, last)
    if response.status_code == 200:
        answer = response.json()
        assert after - before == answer["accepted"]
        assert answer["accepted"] + answer["duplicates"] + len(answer["errors"]) == len(batch)

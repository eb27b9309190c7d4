"""Hypothesis over the HTTP ingest routes on a real database (SQLite and PostgreSQL): never a 5xx, and a
refused request never leaves an inbox row behind."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from bot.app import create_app
from bot.config import AppConfig
from storage.db import make_session_factory
from storage.models import InboxEvent
from tests.bot.test_app import INGEST_TOKEN, clock, group_message, make_settings
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
    with TestClient(create_app(config, make_settings(), engine, background=False, clock=clock)) as client:
        yield client


def inbox_count(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(InboxEvent))


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

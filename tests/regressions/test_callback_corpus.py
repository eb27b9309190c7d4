"""Callback bodies that once broke something (a 500 from wechatpy's raw KeyError/UnicodeDecodeError/
ExpatError, padding bytes, entity bombs, NUL): each replayed through the real app on a real database must
be a 4xx naming the problem, and must leave no inbox row."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.config import AppConfig
from tests.bot.test_app import serving
from tests.fuzz.test_ingest_routes import inbox_count
from tests.helpers.wecom import AIBOT_TOKEN, TOKEN, Signed, callback_request, sign, signed_xml

CORPUS = json.loads((Path(__file__).parent / "callback_bodies.json").read_text())


@pytest.fixture
def client(config: AppConfig, engine: Engine) -> Iterator[TestClient]:
    with serving(config, engine) as client:
        yield client


def build(case: dict) -> Signed:
    if "plaintext" in case:
        return callback_request(case["plaintext"])
    if "encrypt" in case:
        return signed_xml(case["encrypt"])
    token = AIBOT_TOKEN if case["route"] == "/wecom/aibot" else TOKEN
    params = {"msg_signature": sign(token, "1772413200", "5", "x"), "timestamp": "1772413200", "nonce": "5"}
    return Signed(params, base64.b64decode(case["body_b64"]))


@pytest.mark.parametrize("case", CORPUS, ids=[c["case"] for c in CORPUS])
def test_a_body_that_once_broke_the_callback_is_a_clear_4xx(client: TestClient, engine: Engine, case: dict) -> None:
    request = build(case)
    response = client.post(case["route"], params=request.params, content=request.body)
    assert response.status_code == case["status"], response.text
    assert case["reason"] in response.text
    assert inbox_count(engine) == 0

"""NUL characters: PostgreSQL refuses them in text (the dashboard once answered 500 on `?q=%00`). A chat
message carrying one must still be stored, judged and its report recorded on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from bot.config import AppConfig
from storage.db import make_session_factory
from storage.models import MessageRow
from tests.bot.test_app import INGEST_TOKEN, run_worker, serving

TEXTS = [
    "【跟进】客户：王总\x00；公司：华星科技；需求：门禁；下一步：周三上门演示；电话：13812345678",
    "收到\x00",
    "\x00" * 50,
]


@pytest.fixture
def client(config: AppConfig, engine: Engine) -> Iterator[TestClient]:
    with serving(config, engine) as client:
        yield client


@pytest.mark.parametrize("text", TEXTS, ids=["report", "chatter", "only NUL"])
def test_a_message_with_nul_is_stored_and_judged(client: TestClient, engine: Engine, text: str) -> None:
    item = {"msgid": "nul-1", "chat_id": "wr-sales-east", "sender": "zhangwei",
            "sent_at": "2026-03-02T10:30:00+08:00", "text": text}
    response = client.post("/ingest/messages", json=[item], headers={"authorization": f"Bearer {INGEST_TOKEN}"})
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
    assert run_worker(client.app) == 1
    with make_session_factory(engine)() as session:
        stored = session.scalars(select(MessageRow)).all()
    assert len(stored) == 1
    assert "13812345678" not in repr(stored[0].__dict__)
    # Stored as U+FFFD: PostgreSQL refuses NUL in text (found by this corpus; see storage.models.ChatText).
    assert "\x00" not in stored[0].masked_text

"""Dashboard fixtures: a bare FastAPI app with the dashboard router on the real test database.

Accounts: `boss` (admin), `lisi` (manager of 华东销售群 wr-sales-east), `zhaolei` (manager of
华南销售群 wr-sales-south). Data is seeded by inserting our own storage rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.settings import Settings
from bot.simulator.clock import ManualClock
from bot.web import create_dashboard_router
from bot.web.auth import hash_password
from storage.db import make_session_factory
from storage.models import ClientRow, ClientUpdateRow, MessageRow, OutboxItemRow, ViolationRow
from storage.users import put_user
from tests.conftest import sh

PASSWORD = "correct horse battery"
NOW = sh(2026, 3, 4, 15, 30)  # a Wednesday afternoon


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def seeded(engine: Engine, password_hash: str) -> dict[str, int]:
    """Accounts plus violations, messages, clients and a dead letter in both groups."""
    with make_session_factory(engine)() as s:
        put_user(s, username="boss", password_hash=password_hash, role="admin")
        put_user(s, username="lisi", password_hash=password_hash, role="manager")
        put_user(s, username="zhaolei", password_hash=password_hash, role="manager")
        ids = seed_data(s)
        s.commit()
    return ids


def _message(s: Session, msgid: str, chat_id: str, sender: str, sent_at: datetime, text: str) -> MessageRow:
    m = MessageRow(msgid=msgid, chat_id=chat_id, sender=sender, sent_at=sent_at, source="callback",
                masked_text=text, text_hmac="0" * 64)
    s.add(m)
    s.flush()
    return m


def _violation(s: Session, m: MessageRow, rule: str, detail: str, **kw) -> ViolationRow:
    v = ViolationRow(message_id=m.id, msgid=m.msgid, chat_id=m.chat_id, sender=m.sender, rule=rule, detail=detail,
                  action="warn_member", occurred_at=m.sent_at, **kw)
    s.add(v)
    s.flush()
    return v


def seed_data(s: Session) -> dict[str, int]:
    east, south = "wr-sales-east", "wr-sales-south"
    _message(s, "m-0", east, "lisi", sh(2026, 3, 4, 9, 55), "大家今天把跟进报告发一下")
    m1 = _message(s, "m-1", east, "zhangwei", sh(2026, 3, 4, 10, 2), "王总电话 138****5678，明天去拜访")
    _message(s, "m-2", east, "zhangwei", sh(2026, 3, 4, 10, 5), "好的收到")
    m3 = _message(s, "m-3", east, "zhangwei", sh(2026, 3, 3, 21, 40), "晚上补一句：合同已发")
    m4 = _message(s, "m-4", south, "chenjing", sh(2026, 3, 4, 9, 30), "【跟进】客户：刘女士 公司：南方贸易")
    v1 = _violation(s, m1, "sensitive", "消息含客户手机号", kinds=["mobile"])
    v3 = _violation(s, m3, "posting_window", "21:40 不在发言时段 09:00-11:00、14:00-17:00")
    v4 = _violation(s, m4, "template", "跟进报告缺少 4 项",
                    missing=["contact", "need", "last_contact_at", "next_action"])
    c1 = ClientRow(key="王建国|华星科技", name="王建国", company="华星科技", contact_masked="138****5678", grade="A",
                owner="zhangwei", chat_id=east, need="采购 50 台服务器", next_action="周五上门演示",
                next_action_due=date(2026, 3, 6), last_update_at=sh(2026, 3, 4, 10, 2))
    c2 = ClientRow(key="刘女士|南方贸易", name="刘女士", company="南方贸易", grade="C", owner="chenjing", chat_id=south,
                last_update_at=sh(2026, 3, 4, 9, 30))
    s.add_all([c1, c2])
    s.flush()
    s.add_all([
        ClientUpdateRow(msgid="u-1", client_id=c1.id, chat_id=east, sender="zhangwei", sent_at=sh(2026, 3, 2, 10, 0),
                     client_name="王建国", company="华星科技", contact="138****5678", need="了解报价",
                     next_action="发报价单", complete=True),
        ClientUpdateRow(msgid="u-2", client_id=c1.id, chat_id=east, sender="zhangwei", sent_at=sh(2026, 3, 4, 10, 2),
                     client_name="王建国", company="华星科技", contact="138****5678", need="采购 50 台服务器",
                     next_action="周五上门演示", next_action_due=date(2026, 3, 6), complete=True),
        ClientUpdateRow(msgid="u-3", client_id=c2.id, chat_id=south, sender="chenjing", sent_at=sh(2026, 3, 4, 9, 30),
                     client_name="刘女士", company="南方贸易", complete=False),
    ])
    dead = OutboxItemRow(idempotency_key="warn:m-3", channel="app", target="zhangwei", status="dead", attempts=5,
                      payload={"msgtype": "text", "text": {"content": "提醒"}}, last_error="errcode 81013",
                      next_attempt_at=datetime(2026, 3, 4, 1, 0, tzinfo=UTC))
    s.add(dead)
    s.flush()
    return {"v_east": v1.id, "v_east_night": v3.id, "v_south": v4.id, "c_east": c1.id, "c_south": c2.id,
            "dead": dead.id}


@pytest.fixture
def make_app(engine: Engine, clock: ManualClock) -> Callable[[AppConfig], FastAPI]:
    def build(config: AppConfig) -> FastAPI:
        app = FastAPI()
        settings = Settings(secret_key="test-secret-key-for-dashboard-0123456789")
        app.include_router(create_dashboard_router(config, settings, make_session_factory(engine), clock=clock))
        return app

    return build


@pytest.fixture
def app(make_app, config: AppConfig, seeded) -> FastAPI:
    return make_app(config)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(c: TestClient, username: str, password: str = PASSWORD):
    token = csrf_of(c.get("/dashboard/login").text)
    return c.post("/dashboard/login", data={"username": username, "password": password, "csrf_token": token},
                  follow_redirects=False)


@pytest.fixture
def as_user(client: TestClient) -> Callable[[str], tuple[TestClient, str]]:
    """Log `client` in as the user; returns the client and the session's CSRF token."""

    def go(username: str) -> tuple[TestClient, str]:
        response = login(client, username)
        assert response.status_code == 303, response.text
        return client, csrf_of(client.get("/dashboard/").text)

    return go

"""A what-if can never freeze the service (issue 11 item 2).

The what-if runs in a worker thread with a time budget, users' patterns run on RE2 (linear time),
and only admins may propose patterns. The concurrency test serves the real app (callbacks, /healthz
and the dashboard) with uvicorn in a thread and measures WeCom's callbacks from another thread while
an admin's hostile what-if is in flight: had the what-if run on the event loop, they would wait for it.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import AppConfig
from bot.settings import Settings
from bot.simulator.serve import serve_in_thread
from bot.web import rules as rules_page
from storage.db import make_session_factory
from storage.models import MessageRow
from storage.users import put_user
from tests.bot.web.conftest import CSRF_RE, PASSWORD
from tests.conftest import sh
from tests.helpers.wecom import AES_KEY, CORP_ID, TOKEN, app_text_xml, callback_request

ARREARS = "sensitive: {custom_patterns: [{name: 欠款, regex: '欠.{0,4}万'}]}"
HOSTILE = "sensitive:\n  custom_patterns:\n    - {name: x, regex: '(x+x+)+y'}\n"
# With a backtracking engine, `(x+x+)+y` over this message takes seconds (about ×2 per extra x).
HOSTILE_TEXT = "x" * 28
# Enough ordinary messages that the what-if is still running while the callbacks are measured.
ORDINARY = 2500
# Callbacks answer in milliseconds; WeCom gives up after 5 s, and a what-if on the event loop blocks
# them for the whole of its run (27 s on the old code with this text). The limit leaves room for a
# shared 2-core machine whose load average reaches 10 (seen: 0.7 s there), far below either.
LATENCY_LIMIT_S = 2.0


def now() -> datetime:
    return datetime(2026, 3, 4, 7, 30, tzinfo=UTC)


@pytest.fixture
def app(config: AppConfig, engine: Engine, password_hash: str):
    with make_session_factory(engine)() as s:
        put_user(s, username="boss", password_hash=password_hash, role="admin")
        put_user(s, username="lisi", password_hash=password_hash, role="manager")
        s.add(MessageRow(msgid="m-hostile", chat_id="wr-sales-east", sender="zhangwei", sent_at=sh(2026, 3, 3, 10, 0),
                      source="callback", masked_text=HOSTILE_TEXT, text_hmac="0" * 64))
        s.add_all(
            MessageRow(msgid=f"m-{i}", chat_id="wr-sales-east", sender=f"rep{i % 7}",
                    sent_at=sh(2026, 3, 3, 10, 1 + i % 50, i % 60), source="callback",
                    masked_text=f"第{i}条：今天拜访了三家客户，王总说下周给答复", text_hmac="0" * 64)
            for i in range(ORDINARY)
        )
        s.commit()
    settings = Settings(_env_file=None, corp_id=CORP_ID, callback_token=TOKEN, encoding_aes_key=AES_KEY,
                        secret_key="test-secret-key-for-dashboard-0123456789")
    return create_app(config, settings, engine, background=False, clock=now)


async def _login(client: httpx.AsyncClient, username: str) -> str:
    token = CSRF_RE.search((await client.get("/dashboard/login")).text).group(1)
    answer = await client.post("/dashboard/login", data={"username": username, "password": PASSWORD,
                                                         "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return CSRF_RE.search((await client.get("/dashboard/")).text).group(1)


def _whatif(override: str, token: str) -> dict:
    return {"override": override, "since": "2026-03-03", "until": "2026-03-03", "csrf_token": token}


def _login_sync(client: httpx.Client, username: str) -> str:
    token = CSRF_RE.search(client.get("/dashboard/login").text).group(1)
    answer = client.post("/dashboard/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return CSRF_RE.search(client.get("/dashboard/").text).group(1)


def _probe(client: httpx.Client, i: int) -> tuple[float, float]:
    """(latency of /healthz, latency of a signed WeCom callback), from another thread than the server's."""
    start = time.perf_counter()
    health = client.get("/healthz")
    middle = time.perf_counter()
    signed = callback_request(app_text_xml(msgid=f"{900 + i}", content="帮助"))
    callback = client.post("/wecom/callback", params=signed.params, content=signed.body)
    end = time.perf_counter()
    assert (health.status_code, callback.status_code) == (200, 200)
    return middle - start, end - middle


def test_callbacks_answer_at_once_while_a_hostile_whatif_runs(app) -> None:
    # The real app under uvicorn in its own thread; the manager and WeCom are separate clients, so a
    # blocked event loop shows as a slow answer however the requests interleave.
    with serve_in_thread(app) as server, httpx.Client(base_url=server.url, timeout=120) as admin, \
            httpx.Client(base_url=server.url, timeout=120) as wecom:
        token = _login_sync(admin, "boss")
        _probe(wecom, -1)  # warm: the first callback builds its crypto and commit queue
        with ThreadPoolExecutor(1) as pool:
            whatif = pool.submit(admin.post, "/dashboard/whatif", data=_whatif(HOSTILE, token))
            time.sleep(0.05)  # the what-if is under way
            during: list[tuple[float, float]] = []
            while not whatif.done():
                during.append(_probe(wecom, len(during)))
            answer = whatif.result()

    assert answer.status_code == 200, answer.text[-500:]
    assert f"{ORDINARY + 1} 条消息" in answer.text
    assert during, "the what-if ended before any callback was measured"
    slowest = max(max(pair) for pair in during)
    assert slowest < LATENCY_LIMIT_S, f"a callback took {slowest:.2f} s while the what-if ran"


def test_a_whatif_past_its_budget_stops_with_a_clear_message(app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules_page, "WHATIF_BUDGET_S", 0.0)

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://groupbot") as client:
            token = await _login(client, "boss")
            return await client.post("/dashboard/whatif", data=_whatif("frequency: {limit: 5}", token))

    answer = asyncio.run(scenario())
    assert answer.status_code == 503
    assert "试算超时" in answer.text and "<form" in answer.text


@pytest.mark.parametrize(
    ("user", "override", "status", "says"),
    [
        ("lisi", HOSTILE, 403, "只有管理员可以试算自定义正则"),
        ("lisi", ARREARS, 403, "只有管理员可以试算自定义正则"),
        ("lisi", "frequency: {limit: 5}", 200, f"{ORDINARY + 1} 条消息"),
        ("lisi", "sensitive: {financial_keywords: [欠款]}", 200, f"{ORDINARY + 1} 条消息"),
        ("boss", ARREARS, 200, f"{ORDINARY + 1} 条消息"),
        ("boss", "sensitive: {custom_patterns: [{name: x, regex: '(x)\\1'}]}", 400, "linear-time engine"),
    ],
)
def test_only_admins_propose_patterns_and_patterns_must_suit_re2(app, user, override, status, says) -> None:
    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://groupbot") as client:
            token = await _login(client, user)
            return await client.post("/dashboard/whatif", data=_whatif(override, token))

    answer = asyncio.run(scenario())
    assert answer.status_code == status, answer.text[-500:]
    assert says in answer.text

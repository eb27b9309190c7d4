"""/metrics for Prometheus, /healthz's outbox depth and the dashboard mounted in the real app."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.settings import Settings
from storage import inbox
from storage.db import make_session_factory
from tests.bot.web.conftest import seed_data


@pytest.fixture
def app_client(config, engine):
    with make_session_factory(engine)() as s:
        seed_data(s)
        s.commit()
    app = create_app(config, Settings(secret_key="test-secret-key-for-metrics-0123456789"), engine, background=False)
    with TestClient(app) as c:
        yield c


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_from_the_database(app_client):
    app_client.get("/dashboard/login")
    app_client.get("/dashboard/violations/1", follow_redirects=False)
    # Answered by the WeCom door before FastAPI's router (not configured here: 404 with a reason).
    refused = app_client.post("/wecom/callback", content=b"<xml/>")
    assert (refused.status_code, refused.json()["error"].startswith("self-built app callback is not configured")) == (
        404, True)
    got = samples(app_client.get("/metrics").text)
    assert got[("groupbot_messages_processed", ())] == 5
    assert got[("groupbot_violations", (("rule", "sensitive"), ("status", "open")))] == 1
    assert got[("groupbot_violations", (("rule", "template"), ("status", "open")))] == 1
    assert got[("groupbot_outbox_items", (("channel", "app"), ("status", "dead")))] == 1
    assert got[("groupbot_outbox_failed_attempts", ())] == 5
    assert got[("groupbot_http_requests_total",
                (("method", "GET"), ("route", "/dashboard/login"), ("status", "200")))] == 1
    assert got[("groupbot_http_requests_total",
                (("method", "POST"), ("route", "/wecom/callback"), ("status", "404")))] == 1
    # Route templates, not raw paths, so ids do not explode the label set.
    assert ("groupbot_http_requests_total",
            (("method", "GET"), ("route", "/dashboard/violations/{violation_id}"), ("status", "303"))) in got


def test_healthz_reports_outbox_depth(app_client):
    body = app_client.get("/healthz").json()
    assert body["outbox"] == {"pending": 0, "dead": 1}


def test_alert_short_link_leads_into_the_dashboard(app_client):
    response = app_client.get("/violations/7", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/dashboard/violations/7"


def test_inbox_pending_counts_the_events_waiting_not_the_parked_or_done(app_client, engine):
    now = datetime(2026, 3, 2, 1, 15, tzinfo=UTC)
    with make_session_factory(engine)() as s:
        for key in ("m-1", "m-2", "m-3", "m-4"):
            inbox.record_event(s, dedupe_key=key, source="bridge", kind="message", payload={"msgid": key}, now=now)
        done, parked = inbox.claim(s, owner="w1", limit=2, lease_seconds=60, now=now)
        inbox.mark_done(s, done.id, now=now)
        inbox.mark_failed(s, parked.id, error="BadPayload", now=now, max_attempts=1, retry_seconds=30)
        s.commit()
    assert samples(app_client.get("/metrics").text)[("groupbot_inbox_pending", ())] == 2

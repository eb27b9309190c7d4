"""Prometheus metrics at /metrics: requests served, plus database-backed gauges read at scrape time.

The database is the source of truth for messages, violations, outbox and job runs (several replicas
share it), so those are gauges computed per scrape rather than per-process counters that would
disagree between replicas and reset on restart. Each app gets its own registry: no globals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware import Middleware

from storage import inbox
from storage.models import JobRunRow, MessageRow, OutboxItemRow, ViolationRow


class DatabaseCollector(Collector):
    """Counts read from the shared database at every scrape."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.sessions() as s:
            messages = s.scalar(select(func.count(MessageRow.id))) or 0
            by_rule = s.execute(select(ViolationRow.rule, ViolationRow.status, func.count()).group_by(
                ViolationRow.rule, ViolationRow.status)).all()
            outbox = s.execute(select(OutboxItemRow.status, OutboxItemRow.channel, func.count()).group_by(
                OutboxItemRow.status, OutboxItemRow.channel)).all()
            failures = s.scalar(select(func.coalesce(func.sum(OutboxItemRow.attempts), 0)).where(
                OutboxItemRow.status != "sent")) or 0
            jobs = s.execute(
                select(JobRunRow.job, JobRunRow.status, func.count()).group_by(JobRunRow.job, JobRunRow.status)
            ).all()
            inbox_pending = inbox.counts(s)["pending"]
        yield GaugeMetricFamily("groupbot_messages_processed", "Group messages judged and stored", value=messages)
        g = GaugeMetricFamily("groupbot_violations", "Violations stored, by rule and status", labels=["rule", "status"])
        for rule, status, n in by_rule:
            g.add_metric([rule, status], n)
        yield g
        g = GaugeMetricFamily(
            "groupbot_outbox_items", "Outbox rows by status and channel", labels=["status", "channel"]
        )
        for status, channel, n in outbox:
            g.add_metric([status, channel], n)
        yield g
        yield GaugeMetricFamily(
            "groupbot_outbox_failed_attempts", "Send attempts of unsent outbox rows so far", value=failures
        )
        g = GaugeMetricFamily("groupbot_job_runs", "Scheduled job runs by job and status", labels=["job", "status"])
        for job, status, n in jobs:
            g.add_metric([job, status], n)
        yield g
        yield GaugeMetricFamily(
            "groupbot_inbox_pending", "Accepted events waiting to be judged (parked not counted)", value=inbox_pending
        )


def route_label(scope: dict) -> str:
    """The path with its parameters as templates (/dashboard/violations/{violation_id}), so label
    cardinality stays bounded; "unmatched" for 404s. Built from the path because routes of included
    routers carry only their own part of the template."""
    if scope.get("route") is None:
        return "unmatched"
    names = {str(value): name for name, value in scope.get("path_params", {}).items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in scope["path"].split("/"))


class RequestMetrics:
    """Counts requests by method, route template and status, and times them.

    Plain ASGI rather than `@app.middleware("http")`: BaseHTTPMiddleware wraps every request body in
    extra tasks and streams, and it was the largest single cost of a WeCom callback.
    """

    def __init__(self, app: Any, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        # The labelled children, kept: `labels()` validates and locks on every call, a tenth of a
        # WeCom callback's own cost. As bounded as the labels themselves.
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            # The router writes the matched route into this same scope dict.
            route = route_label(scope)
            key = (scope["method"], route, status)
            counted = self._counted.get(key)
            if counted is None:
                counted = self._counted[key] = self.requests.labels(scope["method"], route, str(status))
            timed = self._timed.get(route)
            if timed is None:
                timed = self._timed[route] = self.latency.labels(route)
            counted.inc()
            timed.observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, sessions: sessionmaker[Session]) -> Middleware:
    """Add /metrics to `app`; returns the request-counting middleware and its options, for the caller
    to place (outermost, so it times and counts every request, the WeCom door's included)."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(sessions))
    requests = Counter(
        "groupbot_http_requests", "HTTP requests served", ["method", "route", "status"], registry=registry
    )
    latency = Histogram("groupbot_http_request_seconds", "HTTP request latency", ["route"], registry=registry)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Middleware(RequestMetrics, requests=requests, latency=latency)

"""Dashboard responses carry the security headers (the whole app, as `groupbot run` builds it); the
templates need no inline script or style, so the CSP stays 'self' only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from bot.web import PACKAGE
from tests.bot.web.conftest import login

KEY = "headers-test-key-Zp4Lq8Wm2Xv6Tn0Rb3Yc"
ALWAYS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
PAGES = ["/dashboard/login", "/dashboard/", "/dashboard/violations", "/dashboard/clients",
         "/dashboard/api/clients", "/dashboard/leaderboard.png"]


@pytest.fixture
def service(config, engine, clock, seeded):
    def build(public_url: str) -> TestClient:
        settings = Settings(_env_file=None, secret_key=KEY, public_url=public_url)
        return TestClient(create_app(config, settings, engine, background=False, clock=clock))

    return build


@pytest.mark.parametrize("path", PAGES)
def test_dashboard_pages_send_the_security_headers(service, path):
    with service("http://127.0.0.1:8000") as c:
        assert login(c, "boss").status_code == 303
        response = c.get(path)
    assert response.status_code == 200
    for name, value in ALWAYS.items():
        assert response.headers[name] == value
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize(("public_url", "hsts"), [("https://bot.example.com", True), ("http://10.0.0.5:8000", False)])
def test_hsts_only_when_the_public_url_is_https(service, public_url, hsts):
    with service(public_url) as c:
        response = c.get("/dashboard/login")
    assert ("strict-transport-security" in response.headers) is hsts
    if hsts:
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_the_stylesheet_may_be_cached_and_callbacks_get_no_page_headers(service):
    with service("http://127.0.0.1:8000") as c:
        css = c.get("/dashboard/static/style.css")
        health = c.get("/healthz")
    assert css.headers["x-content-type-options"] == "nosniff" and "cache-control" not in css.headers
    assert "content-security-policy" not in health.headers


def test_templates_have_no_inline_script_or_style():
    """What the CSP relies on: a new inline <script>, <style> or style= would be blocked in browsers."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)
    offenders = [p.name for p in (PACKAGE / "templates").glob("*.html")
                 if p.name != "simulator.html" and inline.search(p.read_text(encoding="utf-8"))]
    assert offenders == []

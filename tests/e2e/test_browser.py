"""The dashboard in a real browser: Playwright drives Debian's chromium against the real app.

Logs in, filters violations, marks one handled, opens a client timeline, runs a what-if and
downloads an export; each page is saved under docs/screenshots/. Skips when chromium or
playwright is missing, except with CI=true (then the run fails: `make browser` installs it).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import create_app
from bot.settings import Settings
from bot.simulator.serve import serve_in_thread
from bot.web.auth import hash_password
from storage.db import make_engine, make_session_factory
from storage.models import Base, Violation
from storage.users import put_user
from tests.bot.web.conftest import NOW, PASSWORD, seed_data
from tests.conftest import IN_CI, REPO

SHOTS = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    executable = shutil.which("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        executable = None
    if executable is None:
        if IN_CI:
            pytest.fail("CI=true but chromium or playwright is missing (make browser; pip install -e '.[dev]')")
        pytest.skip("chromium or playwright not installed")
    return executable


@pytest.fixture
def server(config, tmp_path: Path) -> Iterator[tuple[str, int]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'groupbot.db'}")
    Base.metadata.create_all(engine)
    with make_session_factory(engine)() as s:
        put_user(s, username="lisi", password_hash=hash_password(PASSWORD), role="manager")
        ids = seed_data(s)
        s.commit()
    app = create_app(config, Settings(secret_key="browser-test-secret-key-0123456789abcdef"), engine,
                     background=False, clock=lambda: NOW)
    with serve_in_thread(app) as running:
        yield running.url, ids["v_east"], engine
    engine.dispose()


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", accept_downloads=True)
        yield context.new_page()
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_manager_works_through_the_dashboard(server, page):
    base, violation_id, engine = server
    page.set_default_timeout(15_000)

    page.goto(f"{base}/dashboard/")
    assert page.url.endswith("/dashboard/login")
    shot(page, "01-login")
    page.fill("input[name=username]", "lisi")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")
    assert "本周违规" in page.content()
    shot(page, "02-overview")

    page.goto(f"{base}/dashboard/violations")
    page.select_option("select[name=rule]", "sensitive")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**rule=sensitive**")
    rows = page.locator("#violations tbody tr")
    assert rows.count() == 1 and "客户隐私" in rows.first.inner_text()
    assert "华南" not in page.content()  # lisi manages only 华东销售群
    shot(page, "03-violations")

    rows.first.locator("a").click()
    page.wait_for_url(f"**/dashboard/violations/{violation_id}")
    page.fill("textarea[name=note]", "已当面提醒张伟，消息已撤回")
    page.click("text=标记为已处理")
    page.wait_for_selector("#status.status-handled")
    shot(page, "04-violation-handled")
    with make_session_factory(engine)() as s:
        assert s.get(Violation, violation_id).status == "handled"

    page.goto(f"{base}/dashboard/clients")
    page.fill("input[name=q]", "华星")
    page.click("form.filters button[type=submit]")
    page.click("text=王建国")
    page.wait_for_selector("#timeline")
    assert page.locator("#timeline li").count() == 2
    shot(page, "05-client-timeline")

    page.goto(f"{base}/dashboard/whatif")
    page.fill("textarea[name=override]", "posting_window:\n  windows: ['09:00-22:00']\n")
    page.fill("input[name=since]", "2026-03-01")
    page.fill("input[name=until]", "2026-03-04")
    page.click("#whatif-form button[type=submit]")
    page.wait_for_selector("#whatif-result")
    assert "1 条判定变化" in page.inner_text("#whatif-result h2")
    shot(page, "06-whatif")

    page.goto(f"{base}/dashboard/exports")
    page.select_option("select[name=layout]", "fxiaoke")
    page.fill("input[name=since]", "2026-03-01")
    with page.expect_download() as download_info:
        page.click("#export-form button[type=submit]")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert [c.value for c in sheet[1]][:2] == ["客户名称", "客户级别"]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["华星科技"]
    shot(page, "07-exports")

    page.goto(f"{base}/dashboard/rules")
    shot(page, "08-rules")

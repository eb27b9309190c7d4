"""The dashboard in a real browser: Playwright drives Debian's chromium against the real app.

Logs in, filters violations, marks one handled, opens a client timeline, runs a what-if and
downloads an export; and a new user's first look: `groupbot run` in demo mode, the banner, `/`,
a non-empty overview, the monthly report link from the simulator downloading after login. Each
page is saved under docs/screenshots/. Skips when chromium or
playwright is missing, except with CI=true (then the run fails: `make browser` installs it).
"""

from __future__ import annotations

import io
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from bot.app import create_app
from bot.settings import Settings
from bot.simulator.serve import free_port, serve_in_thread
from bot.web.auth import hash_password
from storage.db import make_engine, make_session_factory
from storage.models import Base, ViolationRow
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
        assert s.get(ViolationRow, violation_id).status == "handled"

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


class DemoRun:
    """`groupbot run` in demo mode as a new user starts it: a subprocess on a free port, in an empty folder."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPBOT_") and k != "DATABASE_URL"}
        # No GROUPBOT_CONFIG, as after a fresh clone: demo mode serves the demo's groups and managers
        # (bot/simulator/demo_config.yaml); the shipped config.yaml names no group to alert.
        env |= {"DATABASE_URL": f"sqlite:///{workdir / 'demo.db'}"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--port", str(self.port)],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.banner: list[str] = []

    def read_banner(self, timeout: float = 60) -> list[str]:
        """Lines up to the health URL, the banner's last."""
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout], daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any(line.startswith("  health:") for line in self.banner):
            self.banner.append(lines.get(timeout=max(deadline - time.monotonic(), 0.1)).rstrip("\n"))
        return self.banner

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _until(check, timeout: float = 60, pause: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(pause)


@pytest.mark.slow
@pytest.mark.timeout(420)  # a real demo start-up, traffic and the outbox draining on a shared 2-core machine
def test_a_new_user_runs_the_demo_and_finds_something_everywhere(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    demo = DemoRun(tmp_path)
    try:
        banner = demo.read_banner()
        text = "\n".join(banner)
        # Each URL on one line with its label, whatever the width; three things to try.
        assert f"  dashboard: {demo.base}/dashboard/   login (this demo only): admin / " in text
        assert f"  health: {demo.base}/healthz" in banner
        assert [line[:4] for line in banner if line[:4] in ("  1.", "  2.", "  3.")] == ["  1.", "  2.", "  3."]
        password = re.search(r"admin / (\S+)", text)[1]
        simulator = re.search(r"simulator \(what WeCom shows the groups\): (\S+)", text)[1]

        root = httpx.get(f"{demo.base}/", follow_redirects=False)
        assert (root.status_code, root.headers["location"]) == (307, "/dashboard/")

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                          accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{demo.base}/")
            page.wait_for_url(f"{demo.base}/dashboard/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{demo.base}/dashboard/")

            def week_total() -> int:
                # The numbers are in the HTML; the chart may still render while the backlog is judged.
                page.reload(wait_until="domcontentloaded", timeout=60_000)
                cells = page.locator("section.card:has(h2:text-is('本周违规')) td.num").all_inner_texts()
                return sum(int(n) for n in cells)

            assert _until(week_total) > 0
            page.wait_for_load_state("load", timeout=60_000)
            shot(page, "00-demo-overview")

            def report_link() -> str | None:
                found = httpx.get(f"{simulator}messages", params={"contains": "/dashboard/reports/"}).json()
                links = [re.search(r"\((http[^)]+\.xlsx)\)", m["content"]) for m in found["messages"]]
                return next((link[1] for link in links if link), None)

            link = _until(report_link, timeout=180)

            def seen(word: str) -> int:
                return httpx.get(f"{simulator}messages", params={"contains": word}).json()["count"]

            # What the tour points at: a grouped alert, today's reminders, the rep's appeal.
            for word in ("违规汇总", "今天到期", "申诉"):
                assert _until(lambda word=word: seen(word), timeout=120), word
            assert link and link.startswith(f"{demo.base}/dashboard/reports/monthly-")
            before_login = httpx.get(link, follow_redirects=False)
            assert (before_login.status_code, before_login.headers["location"]) == (303, "/dashboard/login")

            page.goto(simulator)
            assert page.locator(".wc-quote").count() > 0  # markdown rendered, not shown as source
            anchor = page.locator(f"a[href='{link}']").first
            anchor.evaluate("a => a.removeAttribute('target')")  # same tab, so the download is this page's
            with page.expect_download() as download_info:
                anchor.click()
            download = download_info.value
            assert download.suggested_filename == link.rsplit("/", 1)[1]
            sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
            assert [c.value for c in sheet[1]][:3] == ["姓名", "userid", "跟进报告"]
            assert sheet.max_row > 1  # this month's reps, from the demo traffic
            page.goto(simulator)
            page.screenshot(path=str(SHOTS / "09-simulator.png"))  # the newest messages; the record is long
            context.close()
            browser.close()
    finally:
        demo.stop()

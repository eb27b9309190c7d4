"""Managers steer the team in a real browser: an admin sets a target and runs a job by hand, a
manager sees 达成率 on the overview, schedules an announcement after a preview and opens a rep's
scorecard; a manager reviews an appeal against a violation with its evidence (the messages around it,
masked). Screenshots go to docs/screenshots/ (09-15). Same fixtures and skip rules as tests/e2e/test_browser.py."""

from __future__ import annotations

from sqlalchemy import select

from bot.web.auth import hash_password
from handlers.appeals import file_appeal
from handlers.context import HandlerContext
from rules.engine import RuleEngine
from storage.db import make_session_factory
from storage.models import AnnouncementRow, AppealRow, JobRunRow, TargetRow, ViolationRow
from storage.users import put_user
from tests.bot.web.conftest import NOW, PASSWORD
from tests.bot.web.test_evidence_surfaces import AFTER, BEFORE, CLEAR, LEAK_MASKED, judge_the_leak
from tests.e2e.test_browser import page, server, shot  # noqa: F401  (fixtures)


def log_in(browser_page, base: str, username: str) -> None:
    browser_page.goto(f"{base}/dashboard/login")
    browser_page.fill("input[name=username]", username)
    browser_page.fill("input[name=password]", PASSWORD)
    browser_page.click("button[type=submit]")
    browser_page.wait_for_url(f"{base}/dashboard/")


def test_targets_jobs_and_announcements(server, page):  # noqa: F811
    base, _violation_id, engine = server
    page.set_default_timeout(15_000)
    with make_session_factory(engine)() as s:
        put_user(s, username="boss", password_hash=hash_password(PASSWORD), role="admin")
        s.commit()

    log_in(page, base, "boss")
    page.goto(f"{base}/dashboard/targets?period=2026-03")
    page.select_option("#target-form select[name=scope]", "rep")
    page.fill("#target-form input[name=subject]", "zhangwei")
    page.fill("#target-form input[name=complete_reports]", "4")
    page.fill("#target-form input[name=new_clients]", "2")
    page.click("#target-form button[type=submit]")
    page.wait_for_selector("#progress")
    assert "50%" in page.inner_text("#progress")  # 2 of 4 complete reports, 1 of 2 new clients
    shot(page, "09-targets")

    page.goto(f"{base}/dashboard/jobs")
    page.locator("#jobs tr", has_text="leaderboard").locator("button").click()
    page.wait_for_selector("#job-result")
    assert "已执行" in page.inner_text("#job-result")
    shot(page, "10-jobs")
    page.click("header .logout button")

    log_in(page, base, "lisi")
    assert "3月目标达成" in page.inner_text("#target-progress")
    shot(page, "11-overview-targets")

    page.goto(f"{base}/dashboard/announcements")
    page.fill("#announcement-form input[name=title]", "周会通知")
    page.check("#announcement-form input[value=wr-sales-east]")
    page.select_option("#announcement-form select[name=format]", "markdown")
    page.fill("#announcement-form textarea[name=body]", "**周五 15:00 周会**\n> 请带上本周跟进报告 <全部六项>")
    page.fill("#announcement-form input[name=run_at]", "2026-03-06T10:00")
    page.click("#announcement-form button[value=preview]")
    page.wait_for_selector("#preview")
    assert "<全部六项>" in page.inner_text("#preview")  # shown as text, not markup
    shot(page, "12-announcement-preview")
    page.click("#announcement-form button[value=save]")
    page.wait_for_url(f"{base}/dashboard/announcements")
    assert "周会通知" in page.inner_text("#announcements")
    shot(page, "13-announcements")

    page.goto(f"{base}/dashboard/")
    page.click("#target-progress a[href$='/reps/zhangwei']")
    page.wait_for_selector("#goals")
    assert "个人看板" in page.content() and "50%" in page.inner_text("#goals")
    # The server-drawn trend chart has loaded (polled from here: the dashboard's CSP forbids the
    # string evaluation page.wait_for_function would need).
    chart = page.locator("img.chart").first
    for _ in range(100):
        if chart.evaluate("img => img.complete && img.naturalWidth") > 0:
            break
        page.wait_for_timeout(100)
    assert chart.evaluate("img => img.naturalWidth") > 0
    shot(page, "14-scorecard")

    with make_session_factory(engine)() as s:
        assert s.scalars(select(TargetRow.subject)).all() == ["zhangwei"]
        assert s.scalars(select(JobRunRow.job)).all() == ["leaderboard"]
        assert s.scalars(select(AnnouncementRow.chat_ids)).all() == [["wr-sales-east"]]


def test_a_violation_with_its_evidence_in_appeal_review(server, page, config):  # noqa: F811
    base, _violation_id, engine = server
    page.set_default_timeout(15_000)
    leak = judge_the_leak(engine, config)  # a clear mobile number through the real handler
    with make_session_factory(engine)() as s:
        ctx = HandlerContext(config=config, engine=RuleEngine.from_config(config.rules, config.group_rules()),
                             hmac_key=b"test-hmac-key-0123456789abcdef", clock=lambda: NOW)
        assert file_appeal(s, ctx, sender="zhangwei", reason="客户让我转给同事的号码", now=NOW).appeal is not None
        s.commit()

    log_in(page, base, "lisi")
    page.goto(f"{base}/dashboard/violations?rule=sensitive")
    page.locator("#violations tbody tr").first.locator("a").click()
    page.wait_for_url(f"**/dashboard/violations/{leak}")
    lines = page.locator("#evidence li")
    assert lines.count() == 11  # 5 before, the message, 5 after
    assert LEAK_MASKED in page.inner_text("#evidence li.hit")
    texts = lines.all_inner_texts()
    assert BEFORE[-5] in texts[0] and AFTER[4] in texts[-1]
    assert "<b>好的</b>" in page.inner_text("#evidence")  # shown as text, not markup
    assert CLEAR not in page.content()
    shot(page, "15-violation-evidence")

    api = page.request.get(f"{base}/dashboard/api/violations?rule=sensitive")
    assert CLEAR not in api.text()
    assert len(next(v for v in api.json() if v["id"] == leak)["evidence"]) == 11

    page.click("button[name=decision][value=accept]")
    page.wait_for_selector("#status.status-void")
    assert page.locator("#evidence li").count() == 11  # the evidence outlives the appeal
    with make_session_factory(engine)() as s:
        assert s.get(ViolationRow, leak).status == "void"
        assert s.scalars(select(AppealRow.status)).all() == ["accepted"]

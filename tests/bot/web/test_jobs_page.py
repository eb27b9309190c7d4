"""The admins' jobs page: run a job now under the scheduler's claim; forcing is explicit and audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.db import make_session_factory
from storage.models import AuditLogRow, JobRunRow


def request_id_of(html: str) -> str:
    return re.search(r'name="request_id" value="([0-9a-f]+)"', html).group(1)


def test_an_admin_runs_a_job_now_once_and_forces_a_rerun_once(as_user, engine):
    c, token = as_user("boss")
    page = c.get("/dashboard/jobs").text
    assert "leaderboard" in page and "30 9 * * mon" in page
    form = {"csrf_token": token, "name": "leaderboard", "request_id": request_id_of(page)}
    first = c.post("/dashboard/jobs/run", data=form)
    assert first.status_code == 200 and "leaderboard 2026-W09：已执行" in first.text
    again = c.post("/dashboard/jobs/run", data=form)
    assert again.status_code == 409 and "该周期已执行过" in again.text
    forced = c.post("/dashboard/jobs/run", data={**form, "force": "on"})
    assert forced.status_code == 200 and "强制重跑" in forced.text
    resubmitted = c.post("/dashboard/jobs/run", data={**form, "force": "on"})  # a double click
    assert resubmitted.status_code == 409
    earlier = c.post("/dashboard/jobs/run", data={**form, "at": "2026-02-23T09:30"})
    assert earlier.status_code == 200 and "2026-W08" in earlier.text
    with make_session_factory(engine)() as s:
        claims = sorted(s.scalars(select(JobRunRow.period).where(JobRunRow.job == "leaderboard")))
        actions = sorted(
            (a.action, a.actor) for a in s.scalars(select(AuditLogRow).where(AuditLogRow.action.like("job%")))
        )
    assert claims == ["2026-W08", "2026-W09", f"2026-W09#rerun-{form['request_id']}"]
    assert actions == [("job_rerun_forced", "boss"), ("job_run", "boss"), ("job_run", "boss")]


def test_managers_have_no_jobs_page(as_user):
    c, token = as_user("lisi")
    assert c.get("/dashboard/jobs").status_code == 403
    assert c.post("/dashboard/jobs/run", data={"csrf_token": token, "name": "digest"}).status_code == 403


@pytest.mark.parametrize(
    ("field", "value", "status", "words"),
    [
        ("name", "leaderbord", 404, "name: no job"),
        ("at", "next monday", 400, "at: expected a time"),
        ("request_id", "<script>", 422, "request_id"),
    ],
)
def test_bad_job_requests_are_refused(as_user, field, value, status, words):
    c, token = as_user("boss")
    response = c.post("/dashboard/jobs/run", data={"csrf_token": token, "name": "digest", field: value})
    assert response.status_code == status and words in response.text

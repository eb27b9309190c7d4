"""The monthly report link: served by the dashboard after login, each viewer's groups only."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from handlers import monthly


@pytest.fixture
def client(make_app, config, seeded, tmp_path: Path):
    config = config.model_copy(
        update={"schedules": config.schedules.model_copy(update={"reports_dir": str(tmp_path)})}
    )
    # The job issued March's report (the company-wide copy is what marks it issued).
    monthly.write_xlsx([], tmp_path / "monthly-2026-03.xlsx", month=date(2026, 3, 1), config=config)
    with TestClient(make_app(config), base_url="http://testserver") as c:
        yield c


def reps_in(response) -> list[str]:
    sheet = load_workbook(io.BytesIO(response.content)).active
    return [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]


@pytest.mark.parametrize(
    ("username", "reps"),
    [
        ("lisi", ["zhangwei"]),  # 华东 manager: 华东's reps only
        ("zhaolei", ["chenjing"]),  # 华南 manager
        ("boss", ["zhangwei", "chenjing"]),  # admin: every group
    ],
)
def test_the_report_link_downloads_the_viewers_groups_only(as_user, username: str, reps: list[str]) -> None:
    c, _ = as_user(username)
    response = c.get("/dashboard/reports/monthly-2026-03.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert sorted(reps_in(response)) == sorted(reps)


def test_the_report_link_asks_for_a_login_first(client: TestClient) -> None:
    response = client.get("/dashboard/reports/monthly-2026-03.xlsx", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/dashboard/login")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("monthly-2026-02.xlsx", "has not been issued"),
        ("monthly-2026-13.xlsx", "no such report"),
        ("groupbot.db", "no such report"),
        ("monthly-2026-03.xlsx.bak", "no such report"),
    ],
)
def test_only_issued_monthly_reports_are_served(as_user, name: str, reason: str) -> None:
    c, _ = as_user("boss")
    response = c.get(f"/dashboard/reports/{name}")
    assert response.status_code == 404 and reason in response.text

"""The mainland-China work calendar: 2026 holidays, 调休 make-up days, patches, unknown years."""

from __future__ import annotations

from datetime import date

import pytest

from rules.workdays import WorkCalendar


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 2), True),  # an ordinary Monday
        (date(2026, 3, 7), False),  # an ordinary Saturday
        (date(2026, 2, 17), False),  # 春节 (Spring Festival), a Tuesday
        (date(2026, 2, 20), False),  # still the Spring Festival holiday, a Friday
        (date(2026, 2, 14), True),  # 调休: make-up Saturday before the Spring Festival
        (date(2026, 2, 28), True),  # 调休: make-up Saturday after it
        (date(2026, 10, 1), False),  # 国庆节
        (date(2026, 5, 1), False),  # 劳动节
    ],
)
def test_statutory_calendar(day: date, expected: bool) -> None:
    assert WorkCalendar().is_workday(day) is expected


def test_config_patches_override_the_package() -> None:
    calendar = WorkCalendar(extra_holidays=[date(2026, 3, 2)], extra_workdays=[date(2026, 3, 7)])
    assert calendar.is_workday(date(2026, 3, 2)) is False
    assert calendar.is_workday(date(2026, 3, 7)) is True


def test_unknown_year_falls_back_to_monday_to_friday_and_reports_once() -> None:
    reported: list[int] = []
    calendar = WorkCalendar(extra_holidays=[date(2099, 2, 9)], on_unknown_year=reported.append)
    assert calendar.is_workday(date(2099, 2, 9)) is False  # patched holiday, a Monday
    assert calendar.is_workday(date(2099, 2, 10)) is True  # Tuesday
    assert calendar.is_workday(date(2099, 2, 11)) is True
    assert calendar.is_workday(date(2099, 2, 14)) is False  # Saturday
    assert reported == [2099]
    assert calendar.unknown_years == {2099}

"""One small resolver for the dates reps write: 昨天, 上周五, 周五, 3月1日, 3/5, 下周三, 月底 ...

Resolved against the day the message was sent (Asia/Shanghai). `direction` says which way an
ambiguous expression leans: "past" for 上次沟通时间 (a bare 周五 is the latest Friday on or before
that day, a month-day after it is last year's), "future" for 下一步行动计划 (the earliest Friday on
or after it; a month-day more than 60 days before it is next year's, one up to 60 days before
stays in this year: an overdue plan, which the reminders must still see). Weeks run Monday to
Sunday. An expression that names no single day (上周, 年后) gives None.
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import date, timedelta
from typing import Literal

import cn2an

Direction = Literal["past", "future"]

_RELATIVE_DAYS = {
    "大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0,
    "明天": 1, "明日": 1, "后天": 2, "大后天": 3,
}  # fmt: skip
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}  # fmt: skip
_CN_NUM = "零〇一二两三四五六七八九十"
#: A year-less month-day for 下一步 this many days before sent_at is an overdue plan, not next year's
#: (contract: "下一步：11月10日签合同" written on 11-25 is 15 days overdue, not due in a year).
OVERDUE_DAYS = 60
# "3-5个工作日", "2/3的预算": a range or fraction of counted things, not a month/day.
_COUNTED = "天个周月年人万元台家套件次小号日%"

# One alternation, scanned left to right: the first expression in the value wins.
_DATE = re.compile(
    rf"""
    (?P<ymd>(?<!\d)(?P<y>\d{{4}})\s*[-/.年]\s*(?P<ym>\d{{1,2}})\s*[-/.月]\s*(?P<yd>\d{{1,2}})(?!\d)[日号]?)
  | (?P<mend>(?<!\d)(?P<em>\d{{1,2}})月(?P<epart>底|末|初))
  | (?P<md>(?<!\d)(?P<m>\d{{1,2}})\s*
        (?:月\s*(?P<d1>\d{{1,2}})\s*[日号]?|[/-](?P<d2>\d{{1,2}})(?![\d/-]|\s*[{_COUNTED}])))
  | (?P<cnmd>(?P<cm>[{_CN_NUM}]{{1,3}})月(?P<cd>[{_CN_NUM}]{{1,3}})[日号])
  | (?P<rel>大前天|前天|昨天|昨日|今天|今日|明天|明日|大后天|后天)
  | (?P<week>(?P<wp>上上|下下|上|本|这|下)?(?:个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7]))
  | (?P<month>(?P<mp>上个?|本|这个?|下个?)?月(?P<mpart>底|末|初))
    """,
    re.VERBOSE,
)


def resolve_date(text: str, today: date, direction: Direction) -> date | None:
    """The first single day `text` names, relative to `today`, or None.

    >>> resolve_date("昨天下午电话沟通", date(2026, 3, 2), "past")
    datetime.date(2026, 3, 1)
    """
    for m in _DATE.finditer(text):
        found = _resolve(m, today, direction)
        if found is not None:
            return found
    return None


def _resolve(m: re.Match[str], today: date, direction: Direction) -> date | None:
    if m["ymd"]:
        return _safe_date(int(m["y"]), int(m["ym"]), int(m["yd"]))
    if m["mend"]:
        month = int(m["em"])
        if not 1 <= month <= 12:
            return None
        return _month_day(month, 1 if m["epart"] == "初" else _LAST_DAY, today, direction)
    if m["md"]:
        return _month_day(int(m["m"]), int(m["d1"] or m["d2"]), today, direction)
    if m["cnmd"]:
        month, day = _cn_int(m["cm"]), _cn_int(m["cd"])
        return _month_day(month, day, today, direction) if month and day else None
    if m["rel"]:
        return today + timedelta(days=_RELATIVE_DAYS[m["rel"]])
    if m["week"]:
        return _weekday(m["wp"], _WEEKDAYS[m["wd"]], today, direction)
    return _month_part(m["mp"], m["mpart"], today)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


#: `day` for "the last day of the month", whichever year the month-day lands in (2月底 in a leap year).
_LAST_DAY = -1  # no written day is negative (3月0日 stays invalid)


def _month_day(month: int, day: int, today: date, direction: Direction) -> date | None:
    """`month`/`day` without a year: sent_at's year, or the one before/after (module docstring)."""
    found = _in_year(today.year, month, day)
    if found is None:
        return None
    if direction == "past" and found > today:
        return _in_year(today.year - 1, month, day)
    if direction == "future" and (today - found).days > OVERDUE_DAYS:
        return _in_year(today.year + 1, month, day)
    return found


def _in_year(year: int, month: int, day: int) -> date | None:
    if day == _LAST_DAY and 1 <= month <= 12:
        return date(year, month, calendar.monthrange(year, month)[1])
    return _safe_date(year, month, day)


def _weekday(prefix: str | None, weekday: int, today: date, direction: Direction) -> date:
    monday = today - timedelta(days=today.weekday())
    weeks = {"上上": -2, "上": -1, "本": 0, "这": 0, "下": 1, "下下": 2}
    if prefix:
        return monday + timedelta(weeks=weeks[prefix], days=weekday)
    delta = weekday - today.weekday()
    if direction == "past":
        return today + timedelta(days=delta if delta <= 0 else delta - 7)
    return today + timedelta(days=delta if delta >= 0 else delta + 7)


def _month_part(prefix: str | None, part: str, today: date) -> date:
    shift = {"上": -1, "下": 1}.get((prefix or "本")[0], 0)
    year, month = divmod(today.year * 12 + today.month - 1 + shift, 12)
    month += 1
    if part == "初":
        return date(year, month, 1)
    return date(year, month, calendar.monthrange(year, month)[1])


@functools.lru_cache(maxsize=512)  # cn2an is slow and month/day numerals are few
def _cn_int(text: str) -> int | None:
    try:
        value = cn2an.cn2an(text, "normal")
    except ValueError:
        return None
    return int(value) if value == int(value) else None

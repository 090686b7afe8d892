"""Calendar months and days, as the exit-cost method counts them: ``add_months`` clamps to the
month's end, and ``whole_months(a, b)`` is the largest n with ``add_months(a, n) <= b``, so the
two agree (from 2020-01-31, one month is 2020-02-29)."""

from __future__ import annotations

import calendar
from datetime import date

from domain.errors import DateOutOfRange


def add_months(day: date, months: int) -> date:
    """``day`` plus a whole number of calendar months (may be negative), clamped to the end of
    the month: 2020-01-31 + 1 = 2020-02-29, 2019-01-31 + 1 = 2019-02-28."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not date.min.year <= year <= date.max.year:
        raise DateOutOfRange(f"{day.isoformat()} plus {months} months is beyond the year {date.max.year}")
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def whole_months(start: date, end: date) -> int:
    """The number of complete calendar months from ``start`` to ``end``: the largest n with
    ``add_months(start, n) <= end``, or 0 if ``end`` is before ``start``."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + (end.month - start.month)
    while months > 0 and add_months(start, months) > end:
        months -= 1
    return months


def days_between(earlier: date, later: date) -> int:
    """Actual days from ``earlier`` to ``later`` (negative if ``later`` is earlier)."""
    return (later - earlier).days

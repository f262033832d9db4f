"""Due dates and day counts, in plain Python (docs/conventions.md "Dates").

The numba kernels carry their own integer calendar (``kernels``); this module
is the readable definition that the reference path uses and the tests compare
against.

Due dates
    Period ``k`` (1-based) ends on the due date ``k`` periods after the
    drawdown month, on the drawdown day of month, or on ``settlement_day``
    when the contract sets one (結息日), clamped to the month's end. With a
    settlement day the first period is a stub: shorter or longer than a full
    period, and day-count bases accrue it for its actual days.

Days
    Counted start-inclusive, end-exclusive (算頭不算尾).
"""

from __future__ import annotations

import calendar
from datetime import date


def add_months(year: int, month: int, months: int, day: int) -> date:
    """The date ``months`` after (year, month) on ``day``, clamped to month end.

    >>> add_months(2024, 1, 1, 31)
    datetime.date(2024, 2, 29)
    >>> add_months(2024, 11, 3, 15)
    datetime.date(2025, 2, 15)
    """
    index = year * 12 + (month - 1) + months
    y, m = divmod(index, 12)
    m += 1
    return date(y, m, min(day, calendar.monthrange(y, m)[1]))


def due_dates(start: date, periods: int, months_per_period: int,
              settlement_day: int | None = None) -> list[date]:
    """The ``periods`` due dates of a loan drawn on ``start``.

    >>> due_dates(date(2024, 1, 31), 3, 1)
    [datetime.date(2024, 2, 29), datetime.date(2024, 3, 31), datetime.date(2024, 4, 30)]
    >>> due_dates(date(2024, 3, 5), 2, 1, settlement_day=20)
    [datetime.date(2024, 4, 20), datetime.date(2024, 5, 20)]
    """
    day = settlement_day if settlement_day is not None else start.day
    return [add_months(start.year, start.month, k * months_per_period, day)
            for k in range(1, periods + 1)]


def days_actual(start: date, end: date) -> int:
    """Actual days, start-inclusive and end-exclusive.

    >>> days_actual(date(2024, 1, 1), date(2024, 3, 31))
    90
    """
    return (end - start).days


def days_30_360(start: date, end: date) -> int:
    """Days under 30/360 (ISDA 2006 §4.16(f), "Bond Basis").

    Notes
    -----
    ``D1`` becomes 30 when it is 31; ``D2`` becomes 30 when it is 31 and
    ``D1`` is (now) 30 or 31. Then
    ``days = 360 (Y2 - Y1) + 30 (M2 - M1) + (D2 - D1)``.

    >>> days_30_360(date(2024, 1, 31), date(2024, 2, 29))
    29
    >>> days_30_360(date(2024, 1, 30), date(2024, 3, 31))
    60
    """
    d1 = min(start.day, 30)
    d2 = end.day
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)

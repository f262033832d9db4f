"""Civil dates as day numbers, inside kernels: conversions, month lengths, years and 30/360.

Days are counted from 1970-01-01 in the proleptic Gregorian calendar (H.
Hinnant's algorithms). :func:`days_30_360` is the production's one definition
of the 30/360 day count: the amortization and subsidy kernels call it. (The
plain reference keeps its own, as independent evidence.)
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import numba as nb
import numpy as np

from subsidy_engine.kernels.codes import BASIS_30_360, BASIS_ACT_365, BASIS_MONTHLY
from subsidy_engine.kernels.threads import by_size, inline_jit, jit


@jit
def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400  # floor division already: no C-style adjustment
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@jit
def days_in_month(y: int, m: int) -> int:
    if m == 2:
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        return 29 if leap else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


#: The month index (months since January of the year 0, ``12 x year + month - 1``) of :data:`MONTH_FIRST`'s first.
MONTH_TABLE_START = 1900 * 12


def _month_firsts() -> np.ndarray:
    """The day number of the first day of each month from January 1900 to January 2300 (the standard library's
    proleptic Gregorian ordinals; a test checks them against :func:`days_from_civil`)."""
    epoch = date(1970, 1, 1).toordinal()
    table = np.array([date(k // 12, k % 12 + 1, 1).toordinal() - epoch
                      for k in range(MONTH_TABLE_START, 2300 * 12 + 1)], np.int32)
    table.flags.writeable = False
    return table


#: The first day of each month of the centuries nearly every loan falls in (1900-2299), for :func:`month_day`: a
#: kernel stepping a loan's due dates reads each month's first day and length here instead of walking through the
#: month lengths (measured at 100k loans: the calendar settlement loop 12-13% faster end to end, the tranche loop
#: 12-14%). A date of any other year from 1 to 9999 is computed instead.
MONTH_FIRST = _month_firsts()


@inline_jit
def month_day(month_index: int, day: int):
    """``(year, month, day, day number)`` of ``day`` in the month ``month_index`` (months since January of the
    year 0: ``12 x year + month - 1``), clamped to the month's end: a due date or a settlement date of a loan
    whose dates step by whole months, read from :data:`MONTH_FIRST` (computed outside its centuries).

    >>> from subsidy_engine.kernels.calendar import days_from_civil as day
    >>> month_day(2024 * 12 + 1, 31) == (2024, 2, 29, day(2024, 2, 29))
    True
    >>> month_day(2400 * 12 + 1, 30) == (2400, 2, 29, day(2400, 2, 29))
    True
    """
    y = month_index // 12
    m = month_index - 12 * y + 1
    k = month_index - MONTH_TABLE_START
    if 0 <= k < MONTH_FIRST.shape[0] - 1:
        first = int(MONTH_FIRST[k])
        if day > 28:
            day = min(day, int(MONTH_FIRST[k + 1]) - first)
    else:
        first = days_from_civil(y, m, FIRST_DAY)
        if day > 28:
            day = min(day, days_in_month(y, m))
    return y, m, day, first + day - 1


@jit
def days_30_360(y1: int, m1: int, d1: int, y2: int, m2: int, d2: int) -> int:
    """Days from ``y1-m1-d1`` to ``y2-m2-d2`` under 30/360 (ISDA 2006 §4.16(f), "Bond Basis").

    A day 31 counts as 30 at the start; at the end only when the start counts
    as 30 too: ``days = 360 (Y2 - Y1) + 30 (M2 - M1) + (D2 - D1)``.

    >>> days_30_360(2024, 1, 31, 2024, 2, 29)
    29
    >>> days_30_360(2024, 1, 30, 2024, 3, 31)
    60
    """
    d1 = min(d1, 30)
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (y2 - y1) + 30 * (m2 - m1) + (d2 - d1)


@jit
def year_denominator(basis: int) -> int:
    """The denominator of a period's share of a year on an interest ``basis`` (docs/conventions.md
    "Interest basis"): 365 on act/365, else 360 (the monthly basis counts a whole month as 30/360, a
    quarter as 90/360). The amortization's interest and every 貼息 accrual divide by it."""
    if basis == BASIS_ACT_365:
        return 365
    return 360


@jit
def months_and_odd_days(start_day: int, end_day: int, due_day: int):
    """``(whole months, odd days)`` of the period from day number ``start_day`` to ``end_day``: the whole
    months counted back from the end, one calendar month a step on the ``due_day`` of each month (clamped
    to the month's end), as long as they reach no earlier than the start; the odd days are the days from
    the start to the earliest month so reached (docs/conventions.md "Stub periods"). An end that is not on
    the due day (a loan closed by a prepayment) counts its months back on its own day.

    >>> from subsidy_engine.kernels.calendar import days_from_civil as day
    >>> months_and_odd_days(day(2024, 1, 31), day(2024, 2, 29), 31)
    (1, 0)
    >>> months_and_odd_days(day(2024, 3, 5), day(2024, 4, 20), 20)
    (1, 15)
    >>> months_and_odd_days(day(2024, 4, 30), day(2024, 5, 1), 1)
    (0, 1)
    >>> months_and_odd_days(day(2024, 1, 20), day(2024, 3, 10), 20)  # closed on the 10th: back on the 10th
    (1, 21)
    """
    y, m, d = civil_from_days(end_day)
    if d != min(due_day, days_in_month(y, m)):
        due_day = d
    months = 0
    reached = end_day
    while True:
        m -= 1
        if m == 0:
            m = 12
            y -= 1
        earlier = days_from_civil(y, m, min(due_day, days_in_month(y, m)))
        if earlier < start_day:
            return months, reached - start_day
        months += 1
        reached = earlier


#: An int64 zero: the civil date parts a caller of :func:`period_numerator_civil` passes when the basis does not read
#: them. numba compiles a function again for each literal argument type (``0`` is ``Literal[int](0)``, not int64),
#: so the callers pass int64 values (this, ``np.int64(CONSTANT)``, ``np.int64(0)`` for a running total) and each
#: helper is compiled once (tests/kernels/test_compiled_once.py).
NO_CIVIL = cast(int, np.int64(0))  # an int to mypy, as the annotations read numba's int64
FIRST_DAY = cast(int, np.int64(1))  # the day 1 of a month, for the same reason


@jit
def period_numerator_civil(basis: int, start_day: int, end_day: int, y1: int, m1: int, d1: int, y2: int,
                           m2: int, d2: int, due_day: int) -> int:
    """The numerator of a period's share of a year on an interest ``basis`` (over
    :func:`year_denominator`), from day number ``start_day`` (the date y1-m1-d1) to ``end_day``
    (y2-m2-d2): on the monthly basis 30 a whole month and 1 an odd day (:func:`months_and_odd_days`,
    the months on ``due_day``), the 30/360 days on 30/360, else the actual days (算頭不算尾). For a kernel
    that walks the civil dates already (the amortization)."""
    if basis == BASIS_MONTHLY:
        months, odd_days = months_and_odd_days(start_day, end_day, due_day)
        return 30 * months + odd_days
    if basis == BASIS_30_360:
        return days_30_360(y1, m1, d1, y2, m2, d2)
    return end_day - start_day


@jit
def period_numerator(basis: int, start_day: int, end_day: int, due_day: int) -> int:
    """:func:`period_numerator_civil` from day numbers alone (the civil dates found only when 30/360 reads
    them)."""
    if basis == BASIS_30_360:
        y1, m1, d1 = civil_from_days(start_day)
        y2, m2, d2 = civil_from_days(end_day)
        return period_numerator_civil(basis, start_day, end_day, y1, m1, d1, y2, m2, d2, due_day)
    return period_numerator_civil(basis, start_day, end_day, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL,
                                  due_day)


@jit
def period_accrual(basis, due_day, start_day, end_day, opening, drawn_opening, ev_day, ev_amount, e, e_end):
    """The accrual of one period ``[start_day, end_day)`` whose balance changes inside it, as integers over
    :func:`year_denominator`: ``(sum of balance x share of a year, the same of the principal drawn)``, in fen
    x numerator units (docs/conventions.md "Drawdowns and prepayments").

    Each amount accrues from the day it is drawn and stops on the day it is repaid, so the balance's sum is
    ``opening x num(start, end) + sum(change x num(day, end))`` over the events ``e:e_end`` (each strictly
    inside the period; a change is + drawn, - prepaid): on the day-count bases the balance of every day, on
    the monthly basis each amount's whole months and odd days to the end. The principal drawn (the base of
    貼息 on the principal) is ``drawn_opening`` at the start and grows with the drawdowns alone. The
    amortization's interest is ``round(rate x balance sum / den)``, 貼息's accrual the same with its
    factor: one rule.
    """
    whole = period_numerator(basis, start_day, end_day, due_day)
    balance_sum = opening * whole
    drawn_sum = drawn_opening * whole
    for k in range(e, e_end):
        part = ev_amount[k] * period_numerator(basis, ev_day[k], end_day, due_day)
        balance_sum += part
        if ev_amount[k] > 0:
            drawn_sum += part
    return balance_sum, drawn_sum


@jit
def window_balance_days(start_day, end_day, window_start, window_end, opening, drawn_opening, ev_day, ev_amount,
                        e, e_end):
    """``(balance x day, principal drawn x day)`` summed over the days of ``[start_day, end_day)`` inside the
    window ``[window_start, window_end)``, the balance changing with the events ``e:e_end`` inside the period:
    what a period cut by the 貼息 window accrues on, at the period's share of a year per day
    (docs/conventions.md "Drawdowns and prepayments")."""
    lo = max(start_day, window_start)
    hi = min(end_day, window_end)
    balance_days = opening * max(hi - lo, 0)
    drawn_days = drawn_opening * max(hi - lo, 0)
    for k in range(e, e_end):
        part = ev_amount[k] * max(hi - max(ev_day[k], lo), 0)
        balance_days += part
        if ev_amount[k] > 0:
            drawn_days += part
    return balance_days, drawn_days


@jit
def civil_from_days(day: int):
    """(year, month, day) of a day since 1970-01-01 (H. Hinnant's civil_from_days)."""
    z = day + 719468
    era = z // 146097  # floor division already: no C-style adjustment
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _calendar_year_threads(epoch_day, out):
    """The proleptic Gregorian year of each day since 1970-01-01 (H. Hinnant's civil_from_days)."""
    for i in nb.prange(epoch_day.shape[0]):
        out[i] = civil_from_days(epoch_day[i])[0]


@jit
def add_years_kernel(epoch_day, years, out):
    """The same day ``years[i]`` years after ``epoch_day[i]``, clamped to the month's end (29 Feb -> 28 Feb)."""
    for i in range(epoch_day.shape[0]):
        y, m, d = civil_from_days(epoch_day[i])
        y += years[i]
        out[i] = days_from_civil(y, m, min(d, days_in_month(y, m)))


calendar_year = by_size(_calendar_year_threads, "days")


def years_of(days: np.ndarray) -> np.ndarray:
    """The calendar year of each day number, as a new int64 array (:func:`calendar_year` into it)."""
    out = np.empty(days.shape[0], np.int64)
    calendar_year(np.ascontiguousarray(days, np.int64), out)
    return out


@jit
def _days_from_civil_each(y, m, d, out):
    for i in range(y.shape[0]):
        out[i] = days_from_civil(y[i], m[i], d[i])


@jit
def _civil_from_days_each(days, y, m, d):
    for i in range(days.shape[0]):
        y[i], m[i], d[i] = civil_from_days(days[i])


def civil_dates(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The year, month and day of each day number, as three new int64 arrays (one pass: numpy's datetime64
    route to the same took six, 66 ms for a million loans' start dates).

    >>> civil_dates(np.array([0, 19_782]))
    (array([1970, 2024]), array([1, 2]), array([ 1, 29]))
    """
    days = np.ascontiguousarray(days, np.int64)
    y, m, d = (np.empty(days.shape[0], np.int64) for _ in range(3))
    _civil_from_days_each(days, y, m, d)
    return y, m, d


@inline_jit
def due_month(start_y, start_m, months):
    """The month ``months`` after a start month, numbered ``year * 12 + month - 1``: a due date's month (its
    year is this // 12, whatever its day)."""
    return start_y * 12 + start_m - 1 + months


@jit
def _due_years_each(start_y, start_m, months, out):
    for i in range(start_y.shape[0]):
        out[i] = due_month(start_y[i], start_m[i], months[i]) // 12


def due_years(start_y: np.ndarray, start_m: np.ndarray, months: np.ndarray) -> np.ndarray:
    """The calendar year of the date ``months`` after each (start year, start month): a nominal due date's.

    >>> due_years(np.array([2024, 2024]), np.array([11, 12]), np.array([1, 1])).tolist()
    [2024, 2025]
    """
    columns = _int64_broadcast(start_y, start_m, months)
    years, months_from, count = (np.ascontiguousarray(c).ravel() for c in columns)
    out = np.empty(years.shape[0], np.int64)
    _due_years_each(years, months_from, count, out)
    return out.reshape(columns[0].shape)


@jit
def _due_days_each(start_y, start_m, months, due_day, out):
    for i in range(start_y.shape[0]):
        index = due_month(start_y[i], start_m[i], months[i])
        y = index // 12
        m = index % 12 + 1
        out[i] = days_from_civil(y, m, min(due_day[i], days_in_month(y, m)))


def _int64_broadcast(*arrays: Any) -> list[np.ndarray]:
    """The arrays as int64, broadcast to one shape; as they are when they share one (a quote's loan: numpy's
    broadcast costs more than the days it computes)."""
    columns = [np.asarray(a, dtype=np.int64) for a in arrays]
    if any(c.shape != columns[0].shape for c in columns[1:]):
        return list(np.broadcast_arrays(*columns))
    return columns


def due_days(start_y: np.ndarray, start_m: np.ndarray, months: np.ndarray, due_day: np.ndarray) -> np.ndarray:
    """The day number of the date ``months`` after each (start year, start month), on ``due_day`` clamped to
    the month's end: a loan's nominal due date (before any business-day move).

    >>> from subsidy_engine.core.dates import day_date
    >>> [day_date(d) for d in due_days(np.array([2024]), np.array([1]), np.array([1]), np.array([31]))]
    [datetime.date(2024, 2, 29)]
    """
    columns = _int64_broadcast(start_y, start_m, months, due_day)
    years, months_from, count, day = (np.ascontiguousarray(c).ravel() for c in columns)
    out = np.empty(years.shape[0], np.int64)
    _due_days_each(years, months_from, count, day, out)
    return out.reshape(columns[0].shape)


def civil_to_epoch_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of (y, m, d) arrays of any shape (broadcast), by :func:`days_from_civil`.

    >>> civil_to_epoch_days(np.array([1970, 2024]), np.array([1, 2]), np.array([1, 29])).tolist()
    [0, 19782]
    """
    years, months, days = _int64_broadcast(y, m, d)
    out = np.empty(years.shape, np.int64)
    _days_from_civil_each(np.ascontiguousarray(years).ravel(), np.ascontiguousarray(months).ravel(),
                          np.ascontiguousarray(days).ravel(), out.reshape(-1))
    return out


def add_years(epoch_day: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same day ``years`` later, clamped to the month's end, on days since 1970-01-01.

    >>> from datetime import date, timedelta
    >>> from subsidy_engine.core.dates import day_date, epoch_days
    >>> later = add_years(np.array([epoch_days(date(2024, 2, 29)), epoch_days(date(2026, 3, 15))]), np.array([1, 2]))
    >>> [day_date(day) for day in later]
    [datetime.date(2025, 2, 28), datetime.date(2028, 3, 15)]
    """
    days, count = _int64_broadcast(epoch_day, years)
    out = np.empty(days.shape, np.int64)
    add_years_kernel(np.ascontiguousarray(days).ravel(), np.ascontiguousarray(count).ravel(), out.reshape(-1))
    return out

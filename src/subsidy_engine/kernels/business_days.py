"""Business-day adjustment of day numbers, inside kernels: the one rule of ``following`` and ``modified_following``.

A calendar reaches a kernel as a table: ``is_business[k]`` is true (non-zero) when day ``first_day + k``
(days since 1970-01-01) is a business day. Outside the table a kernel knows nothing, unless the caller
opted in to the weekend projection (``weekends_beyond``): then a day outside the table is a business day
when it is a Monday to Friday. Without it the adjustment reports ``beyond`` and the caller raises
(:class:`subsidy_engine.params.business_days.BusinessCalendar` builds the tables and says why).
"""

from __future__ import annotations

import numpy as np

from subsidy_engine.kernels.calendar import civil_from_days
from subsidy_engine.kernels.codes import (
    BUSINESS_DAY_FOLLOWING,
    BUSINESS_DAY_MODIFIED_FOLLOWING,
    BUSINESS_DAY_NONE,
)
from subsidy_engine.kernels.threads import jit

#: ``(day + WEEKDAY_OFFSET) % 7`` is the day's weekday, Monday 0 to Sunday 6: day 0, 1970-01-01, was a Thursday.
WEEKDAY_OFFSET = 3


@jit
def weekday(day: int) -> int:
    """The weekday of a day number, Monday 0 to Sunday 6 (ISO's weekday less one, as ``date.weekday``).

    >>> weekday(0), weekday(3), weekday(-1)  # 1970-01-01 a Thursday, then a Sunday; 1969-12-31 a Wednesday
    (3, 6, 2)
    """
    return (day + WEEKDAY_OFFSET) % 7  # Python's (and numba's) floor modulo: right before 1970 too


@jit
def business_status(day: int, first_day: int, is_business, weekends_beyond: bool):
    """``(business, beyond)`` of a day number: whether it is a business day, and whether that is unknown.

    Inside the table the table says; outside it a Monday to Friday is a business day when ``weekends_beyond``
    is true, and otherwise the answer is ``(False, True)``: beyond the calendar.
    """
    k = day - first_day
    if 0 <= k < is_business.shape[0]:
        return is_business[k] != 0, False
    if weekends_beyond:
        return weekday(day) < 5, False
    return False, True


@jit
def adjust_day(day: int, rule: int, first_day: int, is_business, weekends_beyond: bool):
    """A due date moved to a business day by a business-day ``rule``.

    Parameters
    ----------
    day : int
        The date as a day number (days since 1970-01-01).
    rule : int
        ``BUSINESS_DAY_NONE``, ``BUSINESS_DAY_FOLLOWING`` or ``BUSINESS_DAY_MODIFIED_FOLLOWING``
        (:mod:`subsidy_engine.kernels.codes`, the codes of :class:`subsidy_engine.core.vocabulary.BusinessDay`).
    first_day : int
        The day number of the table's first day.
    is_business : uint8 or bool array
        ``is_business[k]`` true when day ``first_day + k`` is a business day.
    weekends_beyond : bool
        Outside the table, take Monday to Friday as business days (an explicit projection) instead of
        reporting ``beyond``.

    Returns
    -------
    adjusted_day : int
        The adjusted day number; when ``beyond``, the first day the rule needed and the table does not hold.
    beyond : bool
        True when the rule needed a day outside the table and ``weekends_beyond`` is false: the caller raises.

    Notes
    -----
    The rule, once for the engine:

    * ``none``: the day stands (the table is not read).
    * ``following``: the first business day on or after the day.
    * ``modified_following``: the ``following`` day, unless it falls in another calendar month than the day;
      then the last business day on or before the day.

    A day outside the table is a business day iff it is a Monday to Friday when ``weekends_beyond`` is true;
    otherwise the walk stops there with ``beyond``. Any other rule code raises ``ValueError``.

    Examples
    --------
    A week from Thursday 1970-01-01 (day 0) with Saturday and Sunday off and Friday 2 January a holiday:

    >>> import numpy as np
    >>> from subsidy_engine.kernels.codes import BUSINESS_DAY_FOLLOWING, BUSINESS_DAY_MODIFIED_FOLLOWING
    >>> table = np.array([1, 0, 0, 0, 1, 1, 1], dtype=np.uint8)  # Thu 1 Jan to Wed 7 Jan
    >>> adjust_day(1, BUSINESS_DAY_FOLLOWING, 0, table, False)  # Friday 2nd -> Monday 5th
    (4, False)
    >>> adjust_day(9, BUSINESS_DAY_FOLLOWING, 0, table, False)  # past the table, no projection
    (9, True)
    >>> adjust_day(9, BUSINESS_DAY_FOLLOWING, 0, table, True)  # Saturday 10 Jan -> Monday 12 Jan
    (11, False)
    >>> month_end = np.array([1, 0, 0], dtype=np.uint8)  # Thu 29, Fri 30 (a holiday), Sat 31 Jan 1970
    >>> adjust_day(29, BUSINESS_DAY_MODIFIED_FOLLOWING, 28, month_end, True)  # Monday is in February: back
    (28, False)
    """
    if rule == BUSINESS_DAY_NONE:
        return day, False
    if rule != BUSINESS_DAY_FOLLOWING and rule != BUSINESS_DAY_MODIFIED_FOLLOWING:
        raise ValueError("unknown business-day rule code")
    later = day
    while True:
        business, beyond = business_status(later, first_day, is_business, weekends_beyond)
        if beyond:
            return later, True
        if business:
            break
        later += 1
    if rule == BUSINESS_DAY_FOLLOWING or later == day:
        return later, False
    y, m, _ = civil_from_days(day)
    y_later, m_later, _ = civil_from_days(later)
    if y_later == y and m_later == m:
        return later, False
    earlier = day - 1  # the day itself is not a business day (else ``later == day``)
    while True:
        business, beyond = business_status(earlier, first_day, is_business, weekends_beyond)
        if beyond:
            return earlier, True
        if business:
            return earlier, False
        earlier -= 1


@jit
def adjust_each(days, rule: int, first_day: int, is_business, weekends_beyond: bool, out, beyond) -> int:
    """:func:`adjust_day` of each day number of ``days`` into ``out`` and ``beyond`` (arrays of the same
    length); returns the count of days beyond the table."""
    count = 0
    for i in range(days.shape[0]):
        out[i], beyond[i] = adjust_day(days[i], rule, first_day, is_business, weekends_beyond)
        count += beyond[i]
    return count


def adjust_days(days: np.ndarray, rule: int, first_day: int, is_business: np.ndarray,
                weekends_beyond: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`adjust_day` over an integer array of day numbers (any shape), on the kernel.

    Returns
    -------
    adjusted : int64 array
        The adjusted day numbers, shaped as ``days``.
    beyond : bool array
        True where the rule needed a day outside the table (the adjusted day is then that day).

    Examples
    --------
    >>> import numpy as np
    >>> from subsidy_engine.kernels.codes import BUSINESS_DAY_FOLLOWING
    >>> table = np.array([1, 0, 0, 0, 1, 1, 1], dtype=np.uint8)  # Thu 1 Jan 1970 to Wed 7 Jan, Fri 2 a holiday
    >>> adjusted, beyond = adjust_days(np.array([0, 1, 2, 3, 9]), BUSINESS_DAY_FOLLOWING, 0, table)
    >>> adjusted.tolist(), beyond.tolist()
    ([0, 4, 4, 4, 9], [False, False, False, False, True])
    """
    given = np.asarray(days)
    if given.dtype.kind not in "iu":
        raise TypeError(f"day numbers are integers (days since 1970-01-01), not {given.dtype}")
    flat = np.ascontiguousarray(given, dtype=np.int64).reshape(-1)
    out = np.empty(flat.shape[0], np.int64)
    beyond = np.zeros(flat.shape[0], np.bool_)
    adjust_each(flat, int(rule), int(first_day), np.ascontiguousarray(is_business), bool(weekends_beyond), out,
                beyond)
    return out.reshape(given.shape), beyond.reshape(given.shape)

"""China's business-day calendar (工作日), its coverage horizon and the weekend projection.

A loan's due date on a public holiday moves to a business day (``following`` or ``modified_following``,
:class:`subsidy_engine.core.vocabulary.BusinessDay`) under China's official calendar: the State Council's
yearly arrangement of the public holidays (国务院办公厅关于部分节假日安排的通知), including the weekend
days that are made working days (调休). :class:`BusinessCalendar` holds one day a byte over whole years,
and every adjustment goes through the one kernel rule,
:func:`subsidy_engine.kernels.business_days.adjust_day`.

The source
    :func:`china_calendar` is built from the PyPI package ``chinese-calendar`` (import ``chinese_calendar``,
    MIT, pure Python), which transcribes each year's notice: the holidays *and* the working weekend days.
    It refuses a year it has no data for, which gives a clear horizon. The package ``holidays`` projects
    future years from rules without 调休 (a silent guess), and exchange calendars follow the stock
    exchange, which is closed on the 调休 weekends when banks work. A bank's own calendar, or a test's, is
    built with :meth:`BusinessCalendar.of`.

The coverage horizon
    The calendar covers the whole years its data has (2004 to 2026 in chinese-calendar 1.11.0): the
    arrangement of a year is published in the November before it, so the later years are not known.
    Adjusting a date beyond the coverage, or one whose adjustment needs a day beyond it, raises
    :class:`CoverageError`, unless the caller opts in to the explicit weekend projection
    (:meth:`BusinessCalendar.with_weekend_projection`): later days are then Monday to Friday business days
    with no holidays, and results must report it (:meth:`BusinessCalendar.projection_note`), as they report
    an LPR projection (:mod:`subsidy_engine.params.lpr`). The projection runs forward only: a date before
    the coverage always raises (those years' arrangements were published; they are just not in the data).
    The :attr:`BusinessCalendar.digest` carries the table, the coverage and the projection flag into a
    result's provenance.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import NoReturn

import numpy as np

from subsidy_engine.core.dates import day_date, epoch_days
from subsidy_engine.core.language import Sentence
from subsidy_engine.core.vocabulary import BusinessDay
from subsidy_engine.errors import CoverageError
from subsidy_engine.kernels.business_days import WEEKDAY_OFFSET, adjust_day, adjust_days, business_status


@dataclass(frozen=True)
class BusinessCalendar:
    """Business days over a coverage of whole days, one byte a day, with an explicit projection beyond it.

    Attributes
    ----------
    name : str
        Where the data comes from, as results report it (``"China, chinese-calendar 1.11.0"``).
    first_day, last_day : date
        The coverage: the first and the last day the table holds.
    table : uint8 array, read-only
        ``table[k]`` is 1 when ``first_day + k days`` is a business day, else 0.
    weekends_beyond : bool
        The weekend projection: days after ``last_day`` are Monday to Friday business days with no holidays.
        False by default: such a day raises :class:`CoverageError`.
    digest : str
        SHA-256 (hex) of the table, the coverage and the projection flag, carried into results.

    Examples
    --------
    >>> calendar = BusinessCalendar.of([date(2025, 10, 1)], [date(2025, 10, 11)], date(2025, 10, 1),
    ...                                date(2025, 10, 31), "October 2025 (a test)")
    >>> calendar.adjust(date(2025, 10, 1), "following"), calendar.is_business_day(date(2025, 10, 11))
    (datetime.date(2025, 10, 2), True)
    """

    name: str
    first_day: date
    last_day: date
    table: np.ndarray = field(repr=False, compare=False)
    weekends_beyond: bool = False
    digest: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"{self.name}: the coverage ends ({self.last_day}) before it starts ({self.first_day})")
        given = np.asarray(self.table)
        days = (self.last_day - self.first_day).days + 1
        if given.ndim != 1 or given.shape[0] != days:
            raise ValueError(f"{self.name}: the table holds {given.shape} values, not one a day of the "
                             f"{days} days from {self.first_day} to {self.last_day}")
        if given.dtype.kind not in "biu" or not np.isin(given, (0, 1)).all():
            raise ValueError(f"{self.name}: the table holds 1 (a business day) or 0, not {given.dtype} values")
        table = np.array(given, dtype=np.uint8)  # a copy of its own: the caller's array may change
        table.flags.writeable = False
        object.__setattr__(self, "table", table)
        object.__setattr__(self, "weekends_beyond", bool(self.weekends_beyond))
        h = hashlib.sha256(table.tobytes())
        h.update(f"|first_day={self.first_day}|last_day={self.last_day}|weekends_beyond={self.weekends_beyond}"
                 .encode())
        object.__setattr__(self, "digest", h.hexdigest())

    @classmethod
    def of(cls, holidays: Iterable[date], workdays: Iterable[date], first_day: date, last_day: date,
           name: str) -> BusinessCalendar:
        """A calendar from explicit data: the business days are Monday to Friday less the ``holidays``, plus
        the ``workdays`` (weekend days made working days, 调休; a workday wins over a holiday on the same day).

        Raises
        ------
        ValueError
            A holiday or workday outside ``first_day`` to ``last_day`` (the coverage would be wrong).
        """
        if last_day < first_day:
            raise ValueError(f"{name}: the coverage ends ({last_day}) before it starts ({first_day})")
        start = epoch_days(first_day)
        days = np.arange(start, epoch_days(last_day) + 1, dtype=np.int64)
        table = ((days + WEEKDAY_OFFSET) % 7 < 5).astype(np.uint8)  # Monday to Friday (the kernel's weekday)
        for what, dates, value in (("holiday", holidays, 0), ("workday", workdays, 1)):
            for day in sorted(set(dates)):
                if not first_day <= day <= last_day:
                    raise ValueError(f"{name}: {what} {day} is outside the coverage {first_day} to {last_day}")
                table[epoch_days(day) - start] = value
        return cls(name=name, first_day=first_day, last_day=last_day, table=table)

    def covers(self, d: date) -> bool:
        """True when ``d`` is inside the data (the projection aside)."""
        return self.first_day <= d <= self.last_day

    def with_weekend_projection(self) -> BusinessCalendar:
        """The same data with the weekend projection: days after :attr:`last_day` are Monday to Friday
        business days with no holidays (reported by :meth:`projection_note`; the digest changes)."""
        return dataclasses.replace(self, weekends_beyond=True)

    def projection_note(self) -> str | None:
        """The note a result reports when it used this calendar with the weekend projection; None without it.

        >>> BusinessCalendar.of([], [], date(2025, 1, 1), date(2025, 12, 31), "test").projection_note() is None
        True
        """
        if not self.weekends_beyond:
            return None
        return Sentence(f"Dates after {self.last_day}, the last day of the business-day calendar {self.name}, are "
                        "taken as Monday to Friday business days with no holidays, since the official arrangement for "
                        "those years is not published.", "weekends_beyond", last_day=self.last_day, name=self.name)

    def is_business_day(self, d: date) -> bool:
        """True when ``d`` is a business day (the kernel's: the table, or the projection beyond it).

        Raises
        ------
        CoverageError
            ``d`` is outside the coverage and not projected (or before it: the projection runs forward only).
        """
        if d < self.first_day:
            self._refuse(d, d, "a business day")
        business, beyond = business_status(epoch_days(d), epoch_days(self.first_day), self.table,
                                           self.weekends_beyond)
        if beyond:
            self._refuse(d, d, "a business day")
        return bool(business)

    def adjust(self, d: date, rule: BusinessDay | str) -> date:
        """``d`` moved by a business-day ``rule`` (:func:`subsidy_engine.kernels.business_days.adjust_day`).

        ``none`` returns ``d`` and reads no calendar. ``following``: the first business day on or after ``d``;
        ``modified_following``: that day, unless it is in another month, then the last business day on or before.

        Raises
        ------
        CoverageError
            The rule needs a day beyond the coverage (without the projection) or before it.
        ValueError
            ``rule`` is not a :class:`BusinessDay`.
        """
        code = BusinessDay.parse(rule).code
        if code == BusinessDay.NONE.code:
            return d
        what = f"{BusinessDay.of_code(code).value} adjustment"
        if d < self.first_day:
            self._refuse(d, d, what)
        adjusted, beyond = adjust_day(epoch_days(d), code, epoch_days(self.first_day), self.table,
                                      self.weekends_beyond)
        moved = day_date(adjusted)
        if beyond or moved < self.first_day:
            self._refuse(d, moved, what)
        return moved

    def adjust_days(self, days: np.ndarray, rule: BusinessDay | str) -> np.ndarray:
        """:meth:`adjust` over an integer array of day numbers (days since 1970-01-01), as a new int64 array.

        >>> calendar = BusinessCalendar.of([], [], date(2025, 1, 1), date(2025, 12, 31), "weekends only")
        >>> saturday = epoch_days(date(2025, 3, 1))
        >>> [day_date(day) for day in calendar.adjust_days(np.array([saturday]), "modified_following")]
        [datetime.date(2025, 3, 3)]

        Raises
        ------
        CoverageError
            For the first day (in the array's order) the rule cannot adjust, with the count of such days.
        """
        code = BusinessDay.parse(rule).code
        given = np.asarray(days)
        first = epoch_days(self.first_day)
        adjusted, beyond = adjust_days(given, code, first, self.table, self.weekends_beyond)
        if code == BusinessDay.NONE.code:
            return adjusted
        refused = (beyond | (adjusted < first) | (given < first)).reshape(-1)
        if refused.any():
            index = int(np.flatnonzero(refused)[0])
            count = int(refused.sum())
            also = f" ({count - 1:,} more of the {given.size:,} days too)" if count > 1 else ""
            asked = day_date(int(given.reshape(-1)[index]))
            reached = day_date(int(adjusted.reshape(-1)[index]))
            self._refuse(asked, min(asked, reached) if asked < self.first_day else reached,
                         f"{BusinessDay.of_code(code).value} adjustment", also)
        return adjusted

    def _refuse(self, asked: date, reached: date, what: str, also: str = "") -> NoReturn:
        """Raise :class:`CoverageError` for ``asked``, whose adjustment needed ``reached``, outside the coverage:
        before it (the projection runs forward only) or beyond it (with how to opt in to the projection)."""
        via = f" (the rule reaches {reached})" if reached != asked else ""
        if reached < self.first_day:
            raise CoverageError(f"{what} asked for {asked}{via}, before the business-day calendar {self.name}, "
                                f"which starts on {self.first_day}{also}; no projection covers earlier years")
        raise CoverageError(
            f"{what} asked for {asked}{via}, beyond the business-day calendar {self.name}, whose last covered day "
            f"is {self.last_day}{also}: the official arrangement of later years is not published. To take later "
            "dates as Monday to Friday business days with no holidays, opt in with "
            "calendar.with_weekend_projection() and report its projection_note()"
        )


#: Days the State Council's notices make working days and ``chinese-calendar``'s data leaves days off, with the
#: notice: the calendar adds those inside the package's years to its workdays (a later version that has them
#: changes nothing; one whose data starts later leaves them out).
OFFICIAL_WORKDAYS_MISSING = {
    date(2005, 12, 31): "国务院办公厅关于2006年部分节假日安排的通知 (2005-12-22): 12月31日(星期六)上班",
}


@functools.lru_cache(maxsize=1)
def china_calendar() -> BusinessCalendar:
    """China's official business days from ``chinese-calendar``, over the whole years of its data, with the working
    days its data misses (:data:`OFFICIAL_WORKDAYS_MISSING`).

    Built once per process. The coverage runs from 1 January of the package's first year to 31 December of
    its last (``chinese_calendar.constants.holidays``' years: 2004 to 2026 in version 1.11.0).

    >>> calendar = china_calendar()
    >>> calendar.first_day, calendar.last_day
    (datetime.date(2004, 1, 1), datetime.date(2026, 12, 31))
    >>> calendar.adjust(date(2025, 5, 31), "following"), calendar.adjust(date(2025, 5, 31), "modified_following")
    (datetime.date(2025, 6, 3), datetime.date(2025, 5, 30))
    """
    from importlib.metadata import version

    from chinese_calendar import constants  # type: ignore[import-untyped]  # the package ships no type information

    years = sorted({day.year for day in constants.holidays})
    first_day, last_day = date(years[0], 1, 1), date(years[-1], 12, 31)
    missing = [day for day in OFFICIAL_WORKDAYS_MISSING if first_day <= day <= last_day]
    workdays = {**constants.workdays, **dict.fromkeys(missing)}
    return BusinessCalendar.of(constants.holidays, workdays, first_day, last_day,
                               f"China, chinese-calendar {version('chinese-calendar')}")

"""Dates typed by people: the one reader of a date written as text (docs/conventions.md "Dates").

Due dates, day counts and whole years are computed on day numbers inside the
kernels (:mod:`subsidy_engine.kernels.calendar`, :mod:`subsidy_engine.kernels.amortize`),
each rule once; the plain reference keeps its own, as independent evidence.

Dates typed as text
    ``YYYY-MM-DD`` and nothing else (docs/conventions.md, "Input files"):
    :func:`parse_date` is the one reader of a date written as text, and
    :data:`IsoDate` the date type of every validated model. Python's
    ``date.fromisoformat`` also reads ``20260315``, ``2026-W11-7`` and
    ``2026-074``, and pydantic reads an integer as a unix time; a person who
    was told to write YYYY-MM-DD means none of them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Final

from pydantic import BeforeValidator

from subsidy_engine.core.money import ascii_text, shown
from subsidy_engine.errors import DateError

#: A date as text: four, two and two ASCII digits (full-width digits are read as ASCII first).
ISO_DATE: Final = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_ISO_DATE = re.compile(ISO_DATE)


def parse_date(text: str, what: str = "") -> date:
    """A date written ``YYYY-MM-DD``, as a ``datetime.date``.

    Parameters
    ----------
    text : str
        The text as given. Spaces around it are trimmed; full-width digits and
        dashes (as a Chinese input method types them) are read as ASCII.
    what : str
        The name the error message starts with (a field or an option); none when empty.

    Returns
    -------
    date

    Raises
    ------
    DateError
        Any other form (``20260315``, ``2026-W11-7``, ``2026-3-5``, other
        scripts' digits) or a day that is not in the calendar.

    Examples
    --------
    >>> parse_date("2026-03-15"), parse_date("２０２６－０３－１５")
    (datetime.date(2026, 3, 15), datetime.date(2026, 3, 15))
    >>> parse_date("20260315", "start_date")
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.DateError: start_date: '20260315' is not an ISO date 'YYYY-MM-DD'
    """
    prefix = f"{what}: " if what else ""
    if not isinstance(text, str):
        raise DateError(f"{prefix}{type(text).__name__} is not a date; write 'YYYY-MM-DD'")
    plain = text.strip()
    if len(plain) == 10:  # full-width forms map one to one: any other length is no date (nor costs a mapping)
        plain = ascii_text(plain)
    if not _ISO_DATE.fullmatch(plain):
        raise DateError(f"{prefix}{shown(text)} is not an ISO date 'YYYY-MM-DD'")
    try:
        return date(int(plain[:4]), int(plain[5:7]), int(plain[8:]))
    except ValueError as exc:  # 2026-02-30, month 13, year 0
        raise DateError(f"{prefix}{shown(text)} is not an ISO date 'YYYY-MM-DD' ({exc})") from None


def as_date(value: object) -> date:
    """A model's date field: a ``date`` (not a datetime), or text read by :func:`parse_date`.

    Integers (pydantic would read a unix time), datetimes (a time of day would be dropped) and
    anything else are refused with a one-line reason (pydantic adds the field).

    >>> as_date("2026-03-15"), as_date(date(2026, 3, 15))
    (datetime.date(2026, 3, 15), datetime.date(2026, 3, 15))
    """
    # ValueError, not TypeError: pydantic makes only a ValueError the field's error
    if isinstance(value, datetime):
        raise ValueError("a datetime is not a date; pass a date or 'YYYY-MM-DD'")  # noqa: TRY004
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value)
    raise ValueError(f"{shown(value)} is not a date; pass a date or 'YYYY-MM-DD'")


#: The date type of validated models: ``IsoDate`` fields take what :func:`as_date` takes.
IsoDate = Annotated[date, BeforeValidator(as_date)]


#: Day 0 of the kernels' day numbers (and numpy's ``datetime64[D]``).
EPOCH = date(1970, 1, 1)


def epoch_days(day: date) -> int:
    """Days since 1970-01-01 (the kernels' and numpy's day count).

    >>> epoch_days(date(2024, 1, 15)), day_date(19737)
    (19737, datetime.date(2024, 1, 15))
    """
    return (day - EPOCH).days


def day_date(day: int) -> date:
    """The date of a day number (days since 1970-01-01): the inverse of :func:`epoch_days`."""
    return EPOCH + timedelta(days=int(day))

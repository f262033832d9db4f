"""The LPR (貸款市場報價利率) history, its coverage horizon and projections.

The fixings live in ``schedules/lpr.csv`` (one row per monthly publication,
values in percent as published, each with its status and source). A fixing is
in force from its publication date until the next one (docs/conventions.md
"Rates"), so the history only says what the LPR was up to the day before the
next expected publication: the **coverage horizon** is the 19th of the month
after the last fixing. Asking for a rate beyond it raises
:class:`CoverageError`, unless the caller extends the curve with an explicit
projection (:meth:`LprCurve.with_projection` or :meth:`LprCurve.hold_flat`);
schedules then report that they used projected rates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from .enums import Tenor
from .money import MoneyError, rate_to_units, to_decimal

STATUSES = ("official", "official-analog", "inferred", "projected")
EPOCH = date(1970, 1, 1)


def epoch_days(day: date) -> int:
    """Days since 1970-01-01 (the kernels' and numpy's day count)."""
    return (day - EPOCH).days


class CoverageError(LookupError):
    """A rate was asked for outside the dates the data covers."""


def schedules_dir() -> Path:
    """Where the bundled parameter files are.

    ``SUBSIDY_ENGINE_SCHEDULES`` overrides; an installed wheel carries them
    inside the package; a source checkout has them at the repository root.
    """
    override = os.environ.get("SUBSIDY_ENGINE_SCHEDULES")
    if override:
        return Path(override)
    packaged = resources.files("subsidy_engine") / "schedules"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "schedules"


@dataclass(frozen=True)
class Fixing:
    """One LPR publication: both tenors, with its status and source."""

    date: date
    lpr_1y: Decimal  # annual rate as a fraction, 0.0385 = 3.85%
    lpr_5y: Decimal
    status: str
    source: str

    def rate(self, tenor: Tenor) -> Decimal:
        return self.lpr_1y if tenor is Tenor.ONE_YEAR else self.lpr_5y


def _next_month_19th(day: date) -> date:
    y, m = (day.year, day.month + 1) if day.month < 12 else (day.year + 1, 1)
    return date(y, m, 19)


@dataclass(frozen=True)
class LprCurve:
    """LPR fixings as a step function with a coverage horizon.

    Attributes
    ----------
    fixings : tuple of Fixing
        Sorted by date, strictly increasing.
    coverage_end : date
        The last date whose rate is known (or explicitly projected).
    history_end : date
        The last date covered by published data; rates after it are projected.
    projection_label : str or None
        The scenario name of the projection, if any.
    digest : str
        SHA-256 of the data and projection, carried into results.
    """

    fixings: tuple[Fixing, ...]
    coverage_end: date
    history_end: date
    projection_label: str | None = None
    digest: str = ""
    _dates: tuple[date, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        dates = tuple(f.date for f in self.fixings)
        if not dates:
            raise ValueError("an LPR curve needs at least one fixing")
        if any(b <= a for a, b in zip(dates, dates[1:])):
            raise ValueError("LPR fixings must have strictly increasing dates")
        object.__setattr__(self, "_dates", dates)
        if not self.digest:
            object.__setattr__(self, "digest", self._compute_digest())

    def _compute_digest(self) -> str:
        h = hashlib.sha256()
        for f in self.fixings:
            h.update(f"{f.date}|{f.lpr_1y}|{f.lpr_5y}|{f.status}\n".encode())
        h.update(f"coverage_end={self.coverage_end}|label={self.projection_label}".encode())
        return h.hexdigest()

    @property
    def first_date(self) -> date:
        return self.fixings[0].date

    def check_covered(self, on: date, what: str = "LPR") -> None:
        """Raise :class:`CoverageError` unless ``on`` is inside the data."""
        if on < self.first_date:
            raise CoverageError(
                f"{what} asked for {on}, before the first fixing {self.first_date} "
                "(the reformed LPR series starts 2019-08-20)"
            )
        if on > self.coverage_end:
            raise CoverageError(
                f"{what} asked for {on}, beyond the data's coverage horizon "
                f"{self.coverage_end} (last fixing {self.fixings[-1].date}); extend the "
                "curve with an explicit projection: LprCurve.with_projection(...) or "
                "LprCurve.hold_flat(until=...)"
            )

    def fixing_on(self, on: date) -> Fixing:
        """The most recent fixing published on or before ``on``."""
        self.check_covered(on)
        return self.fixings[bisect_right(self._dates, on) - 1]

    def rate(self, tenor: Tenor | str, on: date) -> Decimal:
        """The LPR of ``tenor`` in force on ``on``.

        >>> curve = load_lpr()
        >>> curve.rate("1Y", date(2021, 7, 22)), curve.rate("5Y", date(2021, 7, 22))
        (Decimal('0.0385'), Decimal('0.0465'))
        """
        return self.fixing_on(on).rate(Tenor.parse(tenor))

    def is_projected(self, on: date) -> bool:
        """True when the rate on ``on`` comes from a projection, not history."""
        return on > self.history_end

    # -- vectorized look-up for the portfolio path -------------------------
    def fixing_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fixing days (since 1970-01-01) and the 1Y and 5Y rates in 1e-10 units."""
        cached = self.__dict__.get("_array_cache")
        if cached is None:
            days = np.array([epoch_days(f.date) for f in self.fixings], dtype=np.int64)
            r1 = np.array([rate_to_units(f.lpr_1y) for f in self.fixings], dtype=np.int64)
            r5 = np.array([rate_to_units(f.lpr_5y) for f in self.fixings], dtype=np.int64)
            cached = (days, r1, r5)
            object.__setattr__(self, "_array_cache", cached)
        return cached

    # -- scenarios ----------------------------------------------------------
    def with_projection(self, path: Iterable[Mapping[str, object]], *, until: date,
                        label: str) -> LprCurve:
        """Extend the history with projected fixings (a scenario).

        Parameters
        ----------
        path : iterable of mappings
            Rows with ``date``, ``lpr_1y_pct`` and ``lpr_5y_pct`` (percent as
            published, str/int/Decimal), after the coverage horizon: a
            projection extends the data, it never replaces a known rate.
        until : date
            The new coverage horizon; the last projected value holds until it.
        label : str
            The scenario's name, reported with every result that uses it.

        >>> curve = load_lpr().with_projection(
        ...     [{"date": date(2026, 12, 21), "lpr_1y_pct": "2.90", "lpr_5y_pct": "3.40"}],
        ...     until=date(2030, 12, 31), label="cut-10bp")
        >>> curve.rate("5Y", date(2027, 1, 1)), curve.is_projected(date(2027, 1, 1))
        (Decimal('0.034'), True)
        """
        rows = []
        for row in path:
            when = row["date"]
            if isinstance(when, str):
                when = date.fromisoformat(when)
            if not isinstance(when, date):
                raise ValueError(f"projection date {when!r} is not a date")
            rows.append(Fixing(
                date=when,
                lpr_1y=to_decimal(row["lpr_1y_pct"], "lpr_1y_pct") / 100,
                lpr_5y=to_decimal(row["lpr_5y_pct"], "lpr_5y_pct") / 100,
                status="projected",
                source=f"scenario {label}",
            ))
        if rows and rows[0].date <= self.coverage_end:
            raise ValueError(
                f"projected fixings must start after the data's coverage horizon "
                f"{self.coverage_end}: a projection may not replace known rates"
            )
        if until < max(self.coverage_end, rows[-1].date if rows else self.coverage_end):
            raise ValueError("a projection's horizon must not end before its data")
        return LprCurve(
            fixings=self.fixings + tuple(rows),
            coverage_end=until,
            history_end=self.history_end,
            projection_label=label,
        )

    def hold_flat(self, until: date, label: str = "flat") -> LprCurve:
        """Project the last known fixing unchanged until ``until`` (explicitly).

        >>> load_lpr().hold_flat(date(2060, 12, 31)).rate("5Y", date(2050, 1, 1))
        Decimal('0.035')
        """
        return self.with_projection([], until=until, label=label)


def _parse_lpr_csv(text: str, origin: str) -> tuple[Fixing, ...]:
    reader = csv.DictReader(io.StringIO(text))
    expected = ["date", "lpr_1y_pct", "lpr_5y_pct", "status", "source"]
    if reader.fieldnames != expected:
        raise ValueError(f"{origin}: columns must be {expected}, found {reader.fieldnames}")
    fixings = []
    for line, row in enumerate(reader, start=2):
        try:
            status = row["status"]
            if status not in STATUSES:
                raise ValueError(f"status {status!r} is not one of {STATUSES}")
            if not row["source"].strip():
                raise ValueError("source is empty")
            fixings.append(Fixing(
                date=date.fromisoformat(row["date"]),
                lpr_1y=to_decimal(row["lpr_1y_pct"], "lpr_1y_pct") / 100,
                lpr_5y=to_decimal(row["lpr_5y_pct"], "lpr_5y_pct") / 100,
                status=status,
                source=row["source"].strip(),
            ))
        except (ValueError, MoneyError) as exc:
            raise ValueError(f"{origin}, line {line}: {exc}") from None
    return tuple(fixings)


def load_lpr(path: str | os.PathLike[str] | None = None) -> LprCurve:
    """Load the LPR history (the bundled ``schedules/lpr.csv`` when ``path`` is None).

    >>> curve = load_lpr()
    >>> curve.first_date, curve.coverage_end
    (datetime.date(2019, 8, 20), datetime.date(2026, 6, 19))
    """
    file = Path(path) if path is not None else schedules_dir() / "lpr.csv"
    raw = file.read_bytes()
    fixings = _parse_lpr_csv(raw.decode("utf-8"), str(file))
    horizon = _next_month_19th(fixings[-1].date)
    return LprCurve(
        fixings=fixings,
        coverage_end=horizon,
        history_end=horizon,
        digest=hashlib.sha256(raw).hexdigest(),
    )


_DEFAULT: LprCurve | None = None


def default_lpr() -> LprCurve:
    """The bundled curve, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_lpr()
    return _DEFAULT


"""The LPR (貸款市場報價利率) history, its coverage horizon and projections.

The fixings live in ``schedules/lpr.csv`` (one row per monthly publication,
values in percent as published, each with its status and source). A fixing is
in force from its publication date until the next one (docs/conventions.md
"Rates"), so the history only says what the LPR was up to the day before the
next expected publication: the **coverage horizon** is the 19th of the month
after the last fixing. Asking for a rate beyond it raises
:class:`CoverageError`, unless the caller extends the curve with an explicit
projection (:meth:`LprCurve.with_projection` or :meth:`LprCurve.hold_flat`);
schedules then report that they used projected rates, and :func:`subsidy_engine.evaluate` lists the
projection in its notes (:meth:`LprCurve.projection_note`) and ``explain`` on each claim it touches.

Every LPR this module takes, from the file, a projection or a scenario's path, is read by one rule
(:func:`lpr_fraction`): the amount-text rule of :func:`subsidy_engine.core.money.to_decimal`, in percent as
published, above 0 and at most :data:`subsidy_engine.core.money.MAX_ANNUAL_RATE`. A file's problems are
reported all at once, each with the line a text editor shows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from subsidy_engine.core.dates import as_date, epoch_days, parse_date
from subsidy_engine.core.language import Sentence
from subsidy_engine.core.money import MAX_ANNUAL_RATE, RATE_DECIMALS, rate_to_units, scaled_integer, shown, to_decimal
from subsidy_engine.core.vocabulary import Tenor
from subsidy_engine.errors import CoverageError, MoneyError

STATUSES = ("official", "official-analog", "inferred", "projected")


def lpr_fraction(value: object, what: str) -> Decimal:
    """An LPR written in percent as published (``"3.45"``) as an annual rate (``0.0345``).

    The one rule of every LPR the engine takes: the text is read by
    :func:`subsidy_engine.core.money.to_decimal` (so ``"3,00"`` is refused, not read as 300), and the rate
    must be above 0 and at most :data:`~subsidy_engine.core.money.MAX_ANNUAL_RATE` (100% a year: above it
    is a unit error, such as 349.7 for 3.497), with at most ten decimal places as a fraction.

    Raises
    ------
    MoneyError
        ``"<what>: <the value>: <why>"``, one line.

    >>> lpr_fraction("3.45", "lpr_1y_pct")
    Decimal('0.0345')
    >>> lpr_fraction("349.7", "lpr_1y_pct")
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.MoneyError: lpr_1y_pct: '349.7' is 349.7% a year, above 100%, the highest rate the engine ...
    """
    percent = to_decimal(value, what)
    problem = lpr_bound_problem(percent)  # checked before any arithmetic: a hostile 1e999 is never divided
    if problem is not None and percent > 0:
        plain = f"{percent:f}" if percent.adjusted() < 20 else ""  # "1e3" says 1000%; a 900-digit one says no more
        raise MoneyError(f"{what}: {shown(value)} is {plain + '% a year, ' if plain else ''}{problem} (the LPR is "
                         "in percent: 3.45 for 3.45%)")
    if problem is not None:
        raise MoneyError(f"{what}: {shown(value)} is {problem}; an LPR is a rate in percent (3.45 for 3.45%)")
    rate = percent / 100  # exact: at most 3 digits before the point, and ten places are checked next
    if scaled_integer(rate, RATE_DECIMALS) is None:
        raise MoneyError(f"{what}: {shown(value)} has more than {RATE_DECIMALS - 2} decimal places (finer than "
                         "1/10000 of a basis point)")
    return rate


def lpr_bound_problem(percent: Decimal) -> str | None:
    """Why an LPR of ``percent`` % a year is refused (above 0, at most ``MAX_ANNUAL_RATE``), or None.

    The bound of every LPR, written once: the file, a projection and a scenario's path all ask it.

    >>> lpr_bound_problem(Decimal("3.45")), lpr_bound_problem(Decimal("349.7")), lpr_bound_problem(Decimal(0))
    (None, 'above 100%, the highest rate the engine takes', 'not positive')
    """
    ceiling = MAX_ANNUAL_RATE * 100
    if percent > ceiling:
        return f"above {ceiling:f}%, the highest rate the engine takes"
    if percent <= 0:
        return "not positive"
    return None


def _percent(rate: Decimal) -> str:
    """A fraction as the percent it is, in plain digits: 0.0350 as 3.5."""
    return f"{(rate * 100).normalize():f}"


def _problems_message(where: str, problems: list[str]) -> str:
    """``<where>, <problem>`` for one problem, ``<where>: N problems: <p1>; <p2>; ...`` for more: one line."""
    if len(problems) == 1:
        return f"{where}, {problems[0]}"
    return f"{where}: {len(problems)} problems: " + "; ".join(problems)


def schedules_dir() -> Path:
    """Where the bundled parameter files are.

    ``SUBSIDY_ENGINE_SCHEDULES`` overrides; an installed wheel carries them
    inside the package; a source checkout has them at the repository root.
    """
    override = os.environ.get("SUBSIDY_ENGINE_SCHEDULES")
    if override:
        return Path(override)
    package = Path(str(resources.files("subsidy_engine")))
    if (package / "schedules").is_dir():
        return package / "schedules"
    return package.resolve().parents[1] / "schedules"  # src/subsidy_engine -> the repository root


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


#: The day of the month the LPR is published (每月20日, unadjusted): a fixing holds until the day before the next.
FIXING_DAY = 20


def _until_next_fixing(day: date) -> date:
    """The last day a fixing published in ``day``'s month holds for sure: the day before next month's fixing."""
    y, m = (day.year, day.month + 1) if day.month < 12 else (day.year + 1, 1)
    return date(y, m, FIXING_DAY - 1)


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

    def projection_note(self, loans: int, first: date) -> str:
        """The note of a result with ``loans`` floating loans priced partly on the projection, the
        earliest from ``first``: what the projection is, and that it is not data.

        >>> load_lpr().hold_flat(date(2040, 12, 31)).projection_note(2, date(2027, 1, 1))
        "2 floating loans are priced partly on the LPR projection 'flat', not on published fixings, the first from \
2027-01-01: the last published fixing (2026-05-20: 1Y 3%, 5Y 3.5%) held flat from 2026-06-20 until 2040-12-31"
        """
        history = [f for f in self.fixings if f.date <= self.history_end]
        projected = [f for f in self.fixings if f.date > self.history_end]
        last = history[-1]
        said: dict[str, object] = {"loans": f"{loans:,}", "label": self.projection_label, "first": first,
                                   "last_date": last.date, "until": self.coverage_end}
        if projected:
            dates = (f"on {projected[0].date}" if len(projected) == 1 else
                     f"from {projected[0].date} to {projected[-1].date}")
            how = (f"the published data ends on {self.history_end}, the last fixing ({last.date}) holds until the "
                   f"first projected one; {len(projected)} projected fixing{'s' if len(projected) > 1 else ''} "
                   f"{dates}, the last held until {self.coverage_end}")
            key = "lpr_projection_path"
            said |= {"history_end": self.history_end, "count": len(projected),
                     "dates": f"{projected[0].date}" + (f" - {projected[-1].date}" if len(projected) > 1 else "")}
        else:
            how = (f"the last published fixing ({last.date}: 1Y {_percent(last.lpr_1y)}%, 5Y "
                   f"{_percent(last.lpr_5y)}%) held flat from {self.history_end + timedelta(days=1)} until "
                   f"{self.coverage_end}")
            key = "lpr_projection_flat"
            said |= {"one_year": _percent(last.lpr_1y), "five_year": _percent(last.lpr_5y),
                     "from_day": self.history_end + timedelta(days=1)}
        return Sentence(f"{loans:,} floating loan{'s are' if loans != 1 else ' is'} priced partly on the LPR "
                        f"projection {self.projection_label!r}, not on published fixings, "
                        f"{'the first ' if loans != 1 else ''}from {first}: {how}", key, **said)

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
        rows, problems = [], []
        for row in path:
            try:
                when = as_date(row["date"])
            except ValueError as exc:
                raise ValueError(f"projection {label!r}: date: {exc}") from None
            rates = {}
            for name in ("lpr_1y_pct", "lpr_5y_pct"):
                try:
                    rates[name] = lpr_fraction(row[name], name)
                except MoneyError as exc:
                    problems.append(f"{when}: {exc}")
            if len(rates) == 2:
                rows.append(Fixing(date=when, lpr_1y=rates["lpr_1y_pct"], lpr_5y=rates["lpr_5y_pct"],
                                   status="projected", source=f"scenario {label}"))
        if problems:
            raise ValueError(_problems_message(f"projection {label!r}", problems))
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

        The curve is made once for each ``until`` and ``label`` and then remembered (a curve cannot change):
        a service asked for loans ending in the same year gets the same curve, its digest and rate arrays
        computed once.

        >>> load_lpr().hold_flat(date(2060, 12, 31)).rate("5Y", date(2050, 1, 1))
        Decimal('0.035')
        """
        held: dict[tuple[date, str], LprCurve] = self.__dict__.setdefault("_held_flat", {})
        curve = held.get((until, label))
        if curve is None:
            curve = self.with_projection([], until=until, label=label)
            if len(held) >= HELD_FLAT_REMEMBERED:  # a long-running service asked for many horizons: start again
                held.clear()
            held[until, label] = curve
        return curve


#: How many flat-held curves a curve remembers (:meth:`LprCurve.hold_flat`): a quote's horizon is a year's end.
HELD_FLAT_REMEMBERED = 256

#: Rate units (1e-10, :func:`~subsidy_engine.core.money.rate_to_units`) in a basis point.
UNITS_A_BP = 1_000_000


@dataclass(frozen=True)
class LprPaths:
    """Many LPR curves priced in one call (a Monte Carlo batch): the published ``history``, then each path's own
    projected fixings on the same ``days``.

    A loan of a batch is priced on the path its ``lpr_path`` names
    (:class:`~subsidy_engine.loans.arrays.LoanArrays`), as :meth:`curve` of that path prices it alone: the rate
    segments read one row of :meth:`fixing_arrays` per loan, and every later step is the one of any loan.

    Attributes
    ----------
    history : LprCurve
        The published data; the paths start after it.
    days : tuple of date
        The projected fixing days, strictly increasing, after the history's last fixing.
    lpr_1y_bp, lpr_5y_bp : ndarray of int64 (paths, days)
        Each path's 1Y and 5Y LPR on ``days``, in basis points.
    coverage_end : date
        The last value of each path holds until this date.
    projection_label : str
        The batch's name, reported with what it prices.

    Examples
    --------
    >>> paths = LprPaths(load_lpr(), (date(2026, 6, 20),), np.array([[290], [310]]), np.array([[340], [360]]),
    ...                  coverage_end=date(2040, 12, 31), projection_label="two paths")
    >>> paths.count, paths.curve(1, "path 1").rate("5Y", date(2027, 1, 1))
    (2, Decimal('0.036'))
    """

    history: LprCurve
    days: tuple[date, ...]
    lpr_1y_bp: np.ndarray
    lpr_5y_bp: np.ndarray
    coverage_end: date
    projection_label: str
    digest: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if any(b <= a for a, b in zip(self.days, self.days[1:])):
            raise ValueError("the paths' fixing days must be strictly increasing")
        if self.days and self.days[0] <= self.history.fixings[-1].date:
            raise ValueError(f"the paths' fixing days must come after the published data "
                             f"({self.history.fixings[-1].date}), not from {self.days[0]}")
        for name in ("lpr_1y_bp", "lpr_5y_bp"):
            array = np.ascontiguousarray(getattr(self, name), np.int64)
            if array.ndim != 2 or array.shape[1] != len(self.days):
                raise ValueError(f"{name} must be paths x {len(self.days)} fixing days, not {array.shape}")
            object.__setattr__(self, name, array)
        if self.lpr_1y_bp.shape != self.lpr_5y_bp.shape:
            raise ValueError(f"lpr_5y_bp must be paths x {len(self.days)} fixing days, as lpr_1y_bp "
                             f"{self.lpr_1y_bp.shape}, not {self.lpr_5y_bp.shape}")
        if self.coverage_end < (self.days[-1] if self.days else self.history.coverage_end):
            raise ValueError("the paths' horizon must not end before their last fixing")
        if not self.digest:
            h = hashlib.sha256(f"{self.history.digest}|{self.days}|{self.coverage_end}|"
                               f"{self.projection_label}".encode())
            h.update(self.lpr_1y_bp.tobytes())
            h.update(self.lpr_5y_bp.tobytes())
            object.__setattr__(self, "digest", h.hexdigest())

    @property
    def count(self) -> int:
        """The number of paths."""
        return int(self.lpr_1y_bp.shape[0])

    @property
    def first_date(self) -> date:
        return self.history.first_date

    @property
    def history_end(self) -> date:
        return self.history.history_end

    def curve(self, path: int, label: str) -> LprCurve:
        """Path ``path`` as a curve of its own, its projected fixings and the curve named ``label``."""
        return LprCurve(self.history.fixings + tuple(
            Fixing(day, _bp_fraction(int(one)), _bp_fraction(int(five)), "projected", label)
            for day, one, five in zip(self.days, self.lpr_1y_bp[path], self.lpr_5y_bp[path])),
            coverage_end=self.coverage_end, history_end=self.history.history_end, projection_label=label)

    def fixing_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fixing days (since 1970-01-01) and the 1Y and 5Y rates in 1e-10 units, one row a path (paths x days):
        :meth:`LprCurve.fixing_arrays` of each path's curve."""
        cached = self.__dict__.get("_array_cache")
        if cached is None:
            day, one, five = self.history.fixing_arrays()
            days = np.concatenate([day, np.array([epoch_days(d) for d in self.days], np.int64)])
            rates = tuple(np.concatenate([np.broadcast_to(known, (self.count, known.shape[0])), bp * UNITS_A_BP],
                                         axis=1) for known, bp in ((one, self.lpr_1y_bp), (five, self.lpr_5y_bp)))
            cached = (days, *rates)
            object.__setattr__(self, "_array_cache", cached)
        return cached


_BP_FRACTIONS: dict[int, Decimal] = {}


def _bp_fraction(bp: int) -> Decimal:
    """``bp`` basis points as a fraction (a path's rates repeat: each is made once)."""
    value = _BP_FRACTIONS.get(bp)
    if value is None:
        value = _BP_FRACTIONS[bp] = Decimal(bp) / 10_000
    return value


def _parse_lpr_csv(text: str, origin: str) -> tuple[Fixing, ...]:
    """The fixings of an LPR file; every problem of every line at once, as one ``ValueError``."""
    reader = csv.reader(io.StringIO(text))
    expected = ["date", "lpr_1y_pct", "lpr_5y_pct", "status", "source"]
    header = next(reader, None)
    if header != expected:
        raise ValueError(f"{origin}: columns must be {expected}, found {header}")
    fixings: list[Fixing] = []
    problems: list[str] = []
    previous: date | None = None
    last_line = reader.line_num
    for cells in reader:
        # the line a text editor shows: the record's first (a blank line is skipped, a quoted field may span lines)
        line, last_line = last_line + 1, reader.line_num
        if not cells:
            continue
        found = []
        if len(cells) != len(expected):
            found.append(f"{len(cells)} fields, not {len(expected)} (a comma inside a number? write 3.00, not 3,00)")
        row = dict(zip(expected, cells + [""] * (len(expected) - len(cells))))
        try:
            day: date | None = parse_date(row["date"], "date")
        except ValueError as exc:
            day = None
            found.append(str(exc))
        if day is not None and previous is not None and day <= previous:
            found.append(f"date: {day} is not after the line before's {previous} (fixings in date order, once each)")
        previous = day if day is not None else previous
        rates = {}
        for name in ("lpr_1y_pct", "lpr_5y_pct"):
            try:
                rates[name] = lpr_fraction(row[name], name)
            except MoneyError as exc:
                found.append(str(exc))
        status = row["status"]
        if status not in STATUSES:
            found.append(f"status: {shown(status)} is not one of {', '.join(STATUSES)}")
        if not row["source"].strip():
            found.append("source: empty; give where the fixing was published")
        if found:
            problems.extend(f"line {line}: {problem}" for problem in found)
        elif day is not None:
            fixings.append(Fixing(date=day, lpr_1y=rates["lpr_1y_pct"], lpr_5y=rates["lpr_5y_pct"], status=status,
                                  source=row["source"].strip()))
    if problems:
        raise ValueError(_problems_message(origin, problems))
    if not fixings:
        raise ValueError(f"{origin}: no fixings, only a header")
    return tuple(fixings)


def load_lpr(path: str | os.PathLike[str] | None = None) -> LprCurve:
    """Load the LPR history (the bundled ``schedules/lpr.csv`` when ``path`` is None).

    >>> curve = load_lpr()
    >>> curve.first_date, curve.coverage_end
    (datetime.date(2019, 8, 20), datetime.date(2026, 6, 19))
    """
    file = Path(path) if path is not None else schedules_dir() / "lpr.csv"
    raw = file.read_bytes()
    fixings = _parse_lpr_csv(raw.decode("utf-8-sig"), str(file))  # a spreadsheet's UTF-8 starts with a BOM
    horizon = _until_next_fixing(fixings[-1].date)
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


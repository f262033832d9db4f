"""Loans as flat arrays for the kernels, from ``Loan`` models or from a table.

The table path validates column by column, without a Python loop per row,
and applies the same rules as :class:`~subsidy_engine.loans.contract.Loan` (the tests
check that a row is rejected here exactly when ``Loan`` refuses it). Each
problem becomes a rejection ``(row, loan_id, field, reason)``; ``row`` is the
0-based position of the row in the input table.

Table columns: ``loan_id`` and the ``Loan`` fields, with the floating rate
flattened into ``floating_tenor``, ``floating_spread_bp`` and
``floating_reset`` (a ``floating`` column of ``FloatingRate`` objects or
mappings is accepted too). Money and rates may be strings, integers,
``Decimal`` objects or exact decimal (Arrow) columns; a float column is
refused as a whole. Whole-number fields (``term_months``, ``grace_months``,
``settlement_day``) also accept whole floats, because pandas stores an
integer column with blanks as floats, and digit strings, as read from text
files (the ``Loan`` model itself stays strict).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from subsidy_engine.core.dates import day_date, epoch_days
from subsidy_engine.core.money import (
    BP_DECIMALS,
    MAX_ANNUAL_RATE,
    RATE_DECIMALS,
    fen_to_yuan,
    to_decimal,
    units_to_rate,
    yuan_to_fen,
)
from subsidy_engine.core.vocabulary import (
    BusinessDay,
    Frequency,
    InterestBasis,
    InterestDates,
    Method,
    PlanUnit,
    Recompute,
    Reset,
    Tenor,
)
from subsidy_engine.errors import MoneyError, PortfolioSchemaError
from subsidy_engine.io.column_readers import (
    Rejections,
    accepted_rows,
    blank_cells,
    date_column,
    decimal_units,
    enum_column,
    int_column,
    is_missing,
    repeated_ids,
)
from subsidy_engine.kernels.amortize import later_drawdowns_fen
from subsidy_engine.kernels.calendar import civil_dates, civil_to_epoch_days
from subsidy_engine.loans.contract import (
    CALENDAR_SETTLEMENT_DAY,
    DAILY_BASES,
    MAX_SPREAD_BP,
    MAX_TERM_MONTHS,
    SPREAD_BEYOND_BOUND,
    Drawdown,
    FloatingRate,
    Loan,
    Prepayment,
    default_basis,
    plan_to_fen,
)


@dataclass
class LoanEvents:
    """Each loan's drawdowns after the first and its prepayments (docs/conventions.md "Drawdowns and
    prepayments"), in date order, as CSR arrays: loan ``j``'s events are ``ptr[j]:ptr[j + 1]``. On one day
    a prepayment comes before a drawdown."""

    ptr: np.ndarray  # int64, one more than the loans
    day: np.ndarray  # int64 days since 1970-01-01
    amount: np.ndarray  # int64 fen: + drawn, - prepaid
    recompute: np.ndarray  # int64 Recompute code; a drawdown recomputes the payment
    index: np.ndarray  # int64: k >= 1 for drawdowns[k], -(k + 1) for prepayments[k] (for messages)

    @classmethod
    def of(cls, per_loan: Sequence[Sequence[tuple[int, int, int, int]]]) -> LoanEvents:
        """From each loan's events as ``(day, amount, recompute, index)``, sorted here."""
        ptr = np.zeros(len(per_loan) + 1, np.int64)
        np.cumsum([len(events) for events in per_loan], out=ptr[1:])
        flat = [event for events in per_loan
                for event in sorted(events, key=lambda e: (e[0], e[1] > 0))]  # a day's prepayment first
        columns = np.array(flat, np.int64).reshape(-1, 4).T
        return cls(ptr, *(np.ascontiguousarray(c) for c in columns))

    def take(self, index: np.ndarray) -> LoanEvents:
        counts = np.diff(self.ptr)[index]
        ptr = np.zeros(index.shape[0] + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])
        rows = (np.repeat(self.ptr[:-1][index] - ptr[:-1], counts) + np.arange(int(ptr[-1]))).astype(np.int64)
        return LoanEvents(ptr, self.day[rows], self.amount[rows], self.recompute[rows], self.index[rows])

    def drawn_later_fen(self) -> np.ndarray:
        """Per loan, the fen drawn after the first drawdown."""
        return later_drawdowns_fen(self.ptr, self.amount)


#: An empty int64 column, shared: no plan's fen, no event. It has no element to write into; it stays writable, as
#: the arrays the kernels are compiled for (a read-only one is another type to numba, and another compilation).
_NO_FEN = np.zeros(0, np.int64)


@dataclass
class LoanArrays:
    """One entry per loan, in kernel units (fen, 1e-10 rate units, periods)."""

    principal_fen: np.ndarray
    periods: np.ndarray
    months_per_period: np.ndarray
    method: np.ndarray
    grace: np.ndarray
    basis: np.ndarray
    start_y: np.ndarray
    start_m: np.ndarray
    start_d: np.ndarray
    due_day: np.ndarray
    is_floating: np.ndarray
    fixed_units: np.ndarray
    tenor_5y: np.ndarray
    spread_units: np.ndarray
    reset_anniversary: np.ndarray
    business_day: np.ndarray  # BusinessDay code: how a due date on a day off moves
    interest_months: np.ndarray  # months between calendar settlements (1, 3), 0: settled on the due dates
    interest_day: np.ndarray  # the day of month of calendar settlements (0 when there are none)
    plans: dict[int, list[int]] = field(default_factory=dict)
    events: LoanEvents | None = None  # None: no loan has drawdowns after the first or prepayments
    #: the LPR path each loan is priced on, of a batch of paths (:class:`~subsidy_engine.params.lpr.LprPaths`);
    #: None: every loan on the one curve
    lpr_path: np.ndarray | None = None
    #: the periods each loan is asked for at least (Monte Carlo: up to its 貼息 window's end); the lean loop of the
    #: amortization stops after them, the others price to the term. None: every period. A stopped loan's fen
    #: arrays are its schedule's first rows; the schedule table closes its last row at 0, as a loan's last.
    stop_period: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.principal_fen.shape[0])

    def take(self, index: np.ndarray) -> LoanArrays:
        """The loans at positions ``index`` (custom plans and events follow their loans)."""
        index = np.asarray(index, dtype=np.int64)
        arrays = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name not in _SPARSE}
        plans: dict[int, list[int]] = {}
        if self.plans:  # custom loans are few: map only their positions (a loan taken twice has its plan twice)
            owners = np.fromiter(self.plans, dtype=np.int64, count=len(self.plans))
            plans = {int(k): self.plans[int(index[k])] for k in np.flatnonzero(np.isin(index, owners))}
        return LoanArrays(**arrays, plans=plans, events=None if self.events is None else self.events.take(index),
                          lpr_path=None if self.lpr_path is None else self.lpr_path[index],
                          stop_period=None if self.stop_period is None else self.stop_period[index])

    def slice(self, lo: int, hi: int) -> LoanArrays:
        """Loans ``lo`` to ``hi`` as views (no copy), for chunked runs."""
        arrays = {f.name: getattr(self, f.name)[lo:hi] for f in fields(self) if f.name not in _SPARSE}
        plans = {k - lo: v for k, v in self.plans.items() if lo <= k < hi}
        events = None if self.events is None else self.events.take(np.arange(lo, hi))
        return LoanArrays(**arrays, plans=plans, events=events,
                          lpr_path=None if self.lpr_path is None else self.lpr_path[lo:hi],
                          stop_period=None if self.stop_period is None else self.stop_period[lo:hi])

    def first_drawdown_fen(self) -> np.ndarray:
        """What each loan owes on its start date: the principal less the tranches drawn later."""
        if self.events is None:
            return self.principal_fen
        return self.principal_fen - self.events.drawn_later_fen()

    def events_csr(self) -> LoanEvents:
        """The events, or an empty set of them (what the kernels take)."""
        if self.events is not None:
            return self.events
        return LoanEvents(np.zeros(len(self) + 1, np.int64), _NO_FEN, _NO_FEN, _NO_FEN, _NO_FEN)

    def start_days(self) -> np.ndarray:
        return civil_to_epoch_days(self.start_y, self.start_m, self.start_d)

    def plan_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Custom plans as CSR (pointer per loan, fen per period)."""
        if not self.plans:  # the usual book (and a quote's loan): every pointer 0
            return np.zeros(len(self) + 1, dtype=np.int64), _NO_FEN
        lengths = np.zeros(len(self), dtype=np.int64)
        for k, plan in self.plans.items():
            lengths[k] = len(plan)
        ptr = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        flat = np.zeros(int(ptr[-1]), dtype=np.int64)
        for k, plan in self.plans.items():
            flat[ptr[k]:ptr[k + 1]] = plan
        return ptr, flat


# ---------------------------------------------------------------------------
# From models
# ---------------------------------------------------------------------------
#: The integer columns of :class:`LoanArrays` that :func:`arrays_from_loans` reads from each model, in the order of
#: :func:`_loan_integers`; the flags after them.
_INTEGER_COLUMNS = ("principal_fen", "periods", "months_per_period", "method", "grace", "basis", "start_y", "start_m",
                    "start_d", "due_day", "fixed_units", "spread_units", "business_day", "interest_months",
                    "interest_day")
_FLAG_COLUMNS = ("is_floating", "tenor_5y", "reset_anniversary")


def _loan_integers(x: Loan) -> tuple[int, ...]:
    """A loan's values of :data:`_INTEGER_COLUMNS` and then :data:`_FLAG_COLUMNS` (as 0 or 1)."""
    floating, start = x.floating, x.start_date
    return (x.principal_fen, x.periods, x.frequency.months, x.method.code, x.grace_periods, x.basis.code,
            start.year, start.month, start.day, x.due_day,
            int(x.annual_rate.scaleb(RATE_DECIMALS)) if x.annual_rate is not None else 0,
            int(floating.spread.scaleb(RATE_DECIMALS)) if floating else 0,
            x.business_day.code, x.interest_months, x.interest_day if x.interest_months else 0,
            floating is not None, floating is not None and floating.tenor is Tenor.FIVE_YEAR,
            floating is not None and floating.reset is Reset.ANNIVERSARY)


def arrays_from_loans(loans: Sequence[Loan]) -> LoanArrays:
    """Flat arrays for validated ``Loan`` models: one matrix of their integers, a column per row of it (a quote's
    loan is read in one numpy call rather than one per column)."""
    values = np.array([_loan_integers(x) for x in loans], dtype=np.int64).reshape(
        len(loans), len(_INTEGER_COLUMNS) + len(_FLAG_COLUMNS)).T.copy()  # a column a row: contiguous for kernels
    k = len(_INTEGER_COLUMNS)
    return LoanArrays(
        **dict(zip(_INTEGER_COLUMNS, values[:k])),
        **dict(zip(_FLAG_COLUMNS, values[k:].astype(np.bool_))),  # one conversion for the flags, a row each
        plans={k: x.plan_fen for k, x in enumerate(loans) if x.plan_fen is not None},
        events=_events_of(loans),
    )


def _events_of(loans: Sequence[Loan]) -> LoanEvents | None:
    if not any(x.has_events for x in loans):
        return None
    return LoanEvents.of([event_rows(x) for x in loans])


def event_rows(loan: Loan) -> list[tuple[int, int, int, int]]:
    """A loan's events as :meth:`LoanEvents.of` takes them: ``(day, fen, recompute code, index)``, a tranche
    after the first +fen (index k), a prepayment -fen (index -(k + 1))."""
    return ([(epoch_days(d.date), yuan_to_fen(d.amount), Recompute.PAYMENT.code, k)
             for k, d in enumerate(loan.drawdowns) if k]
            + [(epoch_days(q.date), -yuan_to_fen(q.amount), q.recompute.code, -(k + 1))
               for k, q in enumerate(loan.prepayments)])


def loans_from_arrays(arrays: LoanArrays) -> list[Loan]:
    """The ``Loan`` models of ``arrays``: the inverse of :func:`arrays_from_loans`.

    A loan read from a table (:func:`arrays_from_frame`) becomes the model it validates as, for the
    callers that change a contract and price it again (:mod:`subsidy_engine.service.reconcile`). The
    model says what the arrays hold: the interest basis in force, the settlement day when it is not the
    drawdown day, a custom plan in fen as amounts.

    >>> loan = Loan(principal="1000000", annual_rate="0.049", term_months=24, start_date="2024-01-15",
    ...             settlement_day=20)
    >>> back = loans_from_arrays(arrays_from_loans([loan]))[0]
    >>> back.principal, back.annual_rate, back.settlement_day, back.basis.value
    (Decimal('1000000.00'), Decimal('0.049'), 20, 'monthly')
    """
    out = []
    for k in range(len(arrays)):
        months = int(arrays.months_per_period[k])
        start = date(int(arrays.start_y[k]), int(arrays.start_m[k]), int(arrays.start_d[k]))
        floating = None
        if arrays.is_floating[k]:
            floating = FloatingRate(
                tenor=Tenor.FIVE_YEAR if arrays.tenor_5y[k] else Tenor.ONE_YEAR,
                spread_bp=Decimal(int(arrays.spread_units[k])).scaleb(BP_DECIMALS - RATE_DECIMALS).normalize(),
                reset=Reset.ANNIVERSARY if arrays.reset_anniversary[k] else Reset.JANUARY)
        plan = arrays.plans.get(k)
        drawdowns, prepayments = _events_back(arrays, k, start)
        calendar = bool(arrays.interest_months[k])
        settlement_day = None
        if calendar and arrays.interest_day[k] != CALENDAR_SETTLEMENT_DAY:
            settlement_day = int(arrays.interest_day[k])  # the day of both the interest and the due dates
        elif arrays.due_day[k] != start.day:
            settlement_day = int(arrays.due_day[k])
        out.append(Loan(
            principal=fen_to_yuan(int(arrays.principal_fen[k])),
            annual_rate=None if floating else units_to_rate(arrays.fixed_units[k]).normalize(),
            floating=floating, term_months=int(arrays.periods[k]) * months,
            frequency=_FREQUENCY_OF_MONTHS[months],
            method=Method.of_code(arrays.method[k]), grace_months=int(arrays.grace[k]) * months,
            interest_basis=InterestBasis.of_code(arrays.basis[k]), start_date=start,
            settlement_day=settlement_day,
            principal_plan=None if plan is None else [fen_to_yuan(fen) for fen in plan],
            drawdowns=drawdowns, prepayments=prepayments, business_day=BusinessDay.of_code(arrays.business_day[k]),
            interest_dates=InterestDates.CALENDAR if calendar else InterestDates.PERIOD_END,
            interest_frequency=_FREQUENCY_OF_MONTHS[int(arrays.interest_months[k])] if calendar else None))
    return out


def _events_back(arrays: LoanArrays, k: int, start: date) -> tuple[list[Drawdown], list[Prepayment]]:
    """Loan ``k``'s drawdowns (the first on ``start``) and prepayments, from the event arrays."""
    events = arrays.events
    if events is None or events.ptr[k] == events.ptr[k + 1]:
        return [], []
    span = range(int(events.ptr[k]), int(events.ptr[k + 1]))
    later = [Drawdown(date=day_date(int(events.day[e])), amount=fen_to_yuan(int(events.amount[e])))
             for e in span if events.amount[e] > 0]
    drawdowns = []
    if later:
        first = int(arrays.principal_fen[k]) - sum(yuan_to_fen(d.amount) for d in later)
        drawdowns = [Drawdown(date=start, amount=fen_to_yuan(first)), *later]
    prepayments = [Prepayment(date=day_date(int(events.day[e])), amount=fen_to_yuan(-int(events.amount[e])),
                              recompute=Recompute.of_code(int(events.recompute[e])))
                   for e in span if events.amount[e] < 0]
    return drawdowns, prepayments


# ---------------------------------------------------------------------------
# From a table
# ---------------------------------------------------------------------------
LOAN_COLUMNS = (
    "principal", "annual_rate", "floating", "floating_tenor", "floating_spread_bp",
    "floating_reset", "term_months", "frequency", "method", "principal_plan_unit",
    "grace_months", "interest_basis", "start_date", "settlement_day", "principal_plan", "business_day",
    "interest_dates", "interest_frequency",
)


_SPARSE = ("plans", "events", "lpr_path", "stop_period")  # fields held per loan only where a loan has them (or any has)

#: The model's conventions as arrays for the table reader, indexed by code: one rule, read two ways.
_MONTHS_OF_FREQUENCY = np.array([frequency.months for frequency in Frequency], np.int64)
_DEFAULT_BASIS_OF_METHOD = np.array([default_basis(method).code for method in Method], np.int64)
_FREQUENCY_OF_MONTHS = {frequency.months: frequency for frequency in Frequency}

#: The columns a loan table must have.
LOAN_REQUIRED = ("loan_id", "principal", "term_months", "start_date")


def arrays_from_frame(table: pd.DataFrame, ignore_columns: Iterable[str] = ()
                      ) -> tuple[LoanArrays, np.ndarray, pd.DataFrame]:
    """Validate a loan table; returns (arrays of good rows, their positions, rejections)."""
    ignore = set(ignore_columns)
    unknown = [c for c in table.columns if c not in LOAN_COLUMNS and c != "loan_id" and c not in ignore]
    if unknown:
        raise PortfolioSchemaError(
            f"unknown columns {unknown}; a loan table has loan_id and the Loan fields "
            f"({', '.join(LOAN_COLUMNS)}); pass ignore_columns=[...] for columns to leave aside"
        )
    for required in LOAN_REQUIRED:
        if required not in table.columns:
            raise PortfolioSchemaError(f"the loan table has no {required!r} column")
    table = table.reset_index(drop=True)
    n = len(table)
    rej = Rejections(n)
    col = table.get

    loan_ids = table["loan_id"]
    rej.add(blank_cells(loan_ids), "loan_id", "is missing")
    dup = repeated_ids(loan_ids)
    rej.add(dup, "loan_id", "is a duplicate of an earlier row's loan_id")

    # principal
    fen, missing = decimal_units(table["principal"], 2, "principal", rej)
    rej.add(blank_cells(table["principal"]), "principal", "is missing")
    rej.add(~missing & (fen <= 0), "principal", "must be positive (at least 0.01 yuan)")

    # fixed rate
    if "annual_rate" in table.columns:
        fixed_units, no_fixed = decimal_units(table["annual_rate"], RATE_DECIMALS, "annual_rate", rej)
        fixed_given = ~blank_cells(table["annual_rate"])
    else:
        fixed_units, no_fixed = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
        fixed_given = np.zeros(n, dtype=bool)
    rej.add(~no_fixed & (fixed_units < 0), "annual_rate",
            "is negative; an annual rate is a fraction >= 0 (0.0385 = 3.85%)")
    rej.add(~no_fixed & (fixed_units > int(MAX_ANNUAL_RATE.scaleb(RATE_DECIMALS))), "annual_rate",
            "is above 1 (100% a year); an annual rate is a fraction, 0.0385 = 3.85%")

    # floating rate
    tenor_s, spread_s, reset_s = col("floating_tenor"), col("floating_spread_bp"), col("floating_reset")
    if "floating" in table.columns:
        if tenor_s is not None or spread_s is not None or reset_s is not None:
            raise PortfolioSchemaError("give either a 'floating' column or floating_* columns, not both")
        tenor_s, spread_s, reset_s = _flatten_floating(table["floating"], rej)
    tenor = enum_column(tenor_s, Tenor, "floating_tenor", None, rej, n)
    if spread_s is not None:
        spread_units, no_spread = decimal_units(spread_s, RATE_DECIMALS - BP_DECIMALS, "floating_spread_bp", rej)
        spread_given = ~blank_cells(spread_s)
    else:
        spread_units, no_spread = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
        spread_given = np.zeros(n, dtype=bool)
    rej.add(~no_spread & (np.abs(spread_units) > int(MAX_SPREAD_BP) * 10**(RATE_DECIMALS - BP_DECIMALS)),
            "floating_spread_bp", SPREAD_BEYOND_BOUND)
    reset = enum_column(reset_s, Reset, "floating_reset", Reset.JANUARY, rej, n)
    tenor_given = ~blank_cells(tenor_s) if tenor_s is not None else np.zeros(n, dtype=bool)
    is_floating = tenor_given | spread_given
    rej.add(is_floating & ~tenor_given, "floating_tenor", "is missing for a floating rate")
    rej.add(is_floating & tenor_given & ~spread_given, "floating_spread_bp", "is missing for a floating rate")
    rej.add(is_floating == fixed_given, "annual_rate, floating",
            "give exactly one (a fixed or an LPR-linked rate)")

    # term and frequency
    term, no_term = int_column(table["term_months"], "term_months", rej)
    rej.add(blank_cells(table["term_months"]), "term_months", "is missing")
    bad_term = ~no_term & ((term < 1) | (term > MAX_TERM_MONTHS))
    rej.add(bad_term, "term_months", f"must be between 1 and {MAX_TERM_MONTHS} months")
    no_term = no_term | bad_term  # like the model, dependent checks skip an invalid term
    freq = enum_column(col("frequency"), Frequency, "frequency", Frequency.MONTHLY, rej, n)
    mpp = _MONTHS_OF_FREQUENCY[np.maximum(freq, 0)]
    rej.add((freq >= 0) & ~no_term & (term % mpp != 0), "frequency",
            "term_months is not a whole number of quarterly periods")
    method = enum_column(col("method"), Method, "method", Method.EQUAL_INSTALLMENT, rej, n)
    unit = enum_column(col("principal_plan_unit"), PlanUnit, "principal_plan_unit", PlanUnit.AMOUNT, rej, n)

    # grace
    if "grace_months" in table.columns:
        grace_m, no_grace = int_column(table["grace_months"], "grace_months", rej)
        grace_m = np.where(no_grace, 0, grace_m)
    else:
        grace_m = np.zeros(n, dtype=np.int64)
    rej.add(grace_m < 0, "grace_months", "must not be negative")
    rej.add(~no_term & (grace_m >= term) & (grace_m >= 0), "grace_months", "must be less than term_months")
    rej.add((grace_m % mpp != 0) & (grace_m >= 0), "grace_months",
            "is not a whole number of quarterly periods")
    rej.add((grace_m > 0) & (method == Method.CUSTOM.code), "grace_months",
            "a custom loan writes its grace as zeros in principal_plan")

    business_day = enum_column(col("business_day"), BusinessDay, "business_day", BusinessDay.NONE, rej, n)
    interest_dates = enum_column(col("interest_dates"), InterestDates, "interest_dates", InterestDates.PERIOD_END,
                                 rej, n)
    interest_frequency = enum_column(col("interest_frequency"), Frequency, "interest_frequency", None, rej, n)
    on_calendar = interest_dates == InterestDates.CALENDAR.code
    rej.add((interest_dates == InterestDates.PERIOD_END.code) & (interest_frequency >= 0), "interest_frequency",
            "is only given with interest_dates 'calendar'")
    no_frequency = interest_frequency < 0
    if "interest_frequency" in table.columns:
        no_frequency &= blank_cells(table["interest_frequency"])  # an unknown word is reported as that
    rej.add(on_calendar & no_frequency, "interest_frequency",
            "interest_dates 'calendar' needs it ('monthly' or 'quarterly')")
    basis = enum_column(col("interest_basis"), InterestBasis, "interest_basis", None, rej, n)
    basis_given = basis >= 0
    if "interest_basis" in table.columns:
        s = table["interest_basis"]
        basis_given = s.notna().to_numpy() & (s.astype("string").str.strip().fillna("") != "").to_numpy()
    basis = np.where(basis_given, basis, np.where(on_calendar, InterestBasis.ACT_360.code,
                                                  _DEFAULT_BASIS_OF_METHOD[np.maximum(method, 0)]))
    daily = np.isin(basis, [b.code for b in DAILY_BASES])
    rej.add(on_calendar & basis_given & (basis >= 0) & ~daily, "interest_basis",
            f"interest_dates 'calendar' accrues each day's balance, on {' or '.join(b.value for b in DAILY_BASES)}")

    start, no_start = date_column(table["start_date"], "start_date", rej)
    rej.add(blank_cells(table["start_date"]), "start_date", "is missing")
    if "settlement_day" in table.columns:
        settle, no_settle = int_column(table["settlement_day"], "settlement_day", rej)
        rej.add(~no_settle & ((settle < 1) | (settle > 31)), "settlement_day",
                "must be a day of month, 1 to 31")
    else:
        settle, no_settle = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    y, m, d = civil_dates(start)
    rej.add(~no_start & ~no_term & (y * 12 + m - 1 + term > 9999 * 12 + 11), "start_date",
            "plus term_months ends after the year 9999")

    # custom plans: rare, checked one by one with the model's own rule
    plans: dict[int, list[int]] = {}
    plan_col = col("principal_plan")
    custom = method == Method.CUSTOM.code
    has_plan = plan_col.notna().to_numpy() if plan_col is not None else np.zeros(n, dtype=bool)
    if plan_col is not None and plan_col.dtype == object:
        has_plan = np.array([not is_missing(v) for v in plan_col.array], dtype=bool)
    rej.add(custom & ~has_plan, "principal_plan", "method 'custom' needs a principal_plan")
    rej.add(~custom & (method >= 0) & has_plan, "principal_plan", "is only given for method 'custom'")
    periods = np.where(mpp > 0, term // mpp, 0)
    plan_reasons = np.empty(n, dtype=object)
    plan_bad = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(custom & has_plan & ~rej.bad):
        try:
            raw = plan_col.iloc[k]  # type: ignore[union-attr]
            if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
                raise ValueError("must be a sequence of amounts or fractions")
            plan = tuple(to_decimal(v, "principal_plan item") for v in raw)
            if len(plan) != periods[k]:
                raise ValueError(f"has {len(plan)} entries; the loan has {periods[k]} periods")
            plans[int(k)] = plan_to_fen(plan, list(PlanUnit)[unit[k]], int(fen[k]))
        except (ValueError, MoneyError) as exc:
            plan_bad[k], plan_reasons[k] = True, str(exc)
    rej.add(plan_bad, "principal_plan", plan_reasons)

    good = np.flatnonzero(~rej.bad)
    arrays = LoanArrays(
        principal_fen=fen, periods=periods, months_per_period=mpp.astype(np.int64), method=method,
        grace=np.where(mpp > 0, grace_m // mpp, 0), basis=basis.astype(np.int64),
        start_y=y, start_m=m, start_d=d, due_day=np.where(no_settle, d, settle),
        is_floating=is_floating, fixed_units=fixed_units, tenor_5y=tenor == Tenor.FIVE_YEAR.code,
        spread_units=spread_units, reset_anniversary=reset == Reset.ANNIVERSARY.code,
        business_day=np.maximum(business_day, 0).astype(np.int64),
        interest_months=np.where(on_calendar & ~no_frequency,
                                 _MONTHS_OF_FREQUENCY[np.maximum(interest_frequency, 0)], 0).astype(np.int64),
        interest_day=np.where(~on_calendar, 0, np.where(no_settle, CALENDAR_SETTLEMENT_DAY, settle)).astype(np.int64),
        plans=plans,
    )
    return accepted_rows(arrays, good, n), good, rej.frame(loan_ids)


def _flatten_floating(series: pd.Series, rej: Rejections) -> tuple[pd.Series, pd.Series, pd.Series]:
    n = len(series)
    tenor = np.full(n, None, dtype=object)
    spread = np.full(n, None, dtype=object)
    reset = np.full(n, None, dtype=object)
    bad = np.zeros(n, dtype=bool)
    reasons = np.empty(n, dtype=object)
    for k, v in enumerate(series.array):
        if is_missing(v):
            continue
        try:
            f = v if isinstance(v, FloatingRate) else FloatingRate(**v)
            tenor[k], spread[k], reset[k] = f.tenor.value, f.spread_bp, f.reset.value
        except (TypeError, ValueError) as exc:
            bad[k], reasons[k] = True, str(exc).replace("\n", " ")
    rej.add(bad, "floating", reasons)
    return pd.Series(tenor), pd.Series(spread, dtype=object), pd.Series(reset)


__all__ = ["LOAN_COLUMNS", "LOAN_REQUIRED", "LoanArrays", "LoanEvents", "arrays_from_frame", "arrays_from_loans", "event_rows",
           "loans_from_arrays"]

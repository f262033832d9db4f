"""A bank's 貼息 claims, loan by loan, against the engine: :func:`reconcile`.

A bank submits rows: ``loan_id``, either a ``period`` number or a date range
(``from_date``, ``to_date``: the periods whose due date falls in it), the
``subsidy_claimed`` and, optionally, the ``interest_charged``. Each row comes
back with

* ``status``: ``match`` (the claimed subsidy, and the interest if given, equal
  the engine's to the fen), ``mismatch``, ``unknown_loan`` (not in the
  portfolio) or ``invalid`` (the row, or the portfolio's loan row, cannot be
  read; ``detail`` says why);
* the claimed and computed amounts and ``diff = claimed - computed``;
* for a mismatch, the ``likely_cause``: the first named alternative convention
  that reproduces the bank's figures exactly, in this order (``detail`` shows
  the figure and lists the other alternatives that also reproduce it):

  ============================ ==================================================
  ``the loan's events``        the loan without its prepayments; or drawn at once
                               on its first drawdown's day (every tranche from then)
  ``rate used``                a floating loan priced at its drawdown rate, held;
                               or repriced on the other reset date
  ``interest basis``           act_360, act_365, 30_360 or monthly instead of
                               the loan's own
  ``rounding stage``           the subsidy rounded once over the claimed periods
                               instead of per period; or truncated per period
  ``period boundaries``        the range taken by period start dates instead of
                               due dates; or the period before or after
  ``a holiday shift``          due dates not moved off days off; or moved to the
                               following business day (China's calendar)
  ``a cap``                    without the annual cap or the lifetime cap
  ``the window``               without the window's end; a year shorter or longer
  ============================ ==================================================

The computed figure is the engine's, exactly as :func:`subsidy_engine.evaluate`
computes a loan's 貼息 before the cross-loan caps: the loan's schedule
(:func:`subsidy_engine.amortize`) and the rule of the parameter set in force on
its drawdown date (:func:`subsidy_engine.measures.interest_subsidy`: window, interest
ceiling, annual and lifetime caps). The caps across an enterprise's or a
project's loans (evaluate's steps 2-5) are not per period, so they are not part
of a bank's per-period figure; :func:`subsidy_engine.explain` shows them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Hashable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from subsidy_engine.core.columns import MONEY_TYPE
from subsidy_engine.core.dates import day_date, epoch_days, parse_date
from subsidy_engine.core.money import (
    FEN_PER_YUAN,
    MAX_AMOUNT_YUAN,
    ONE_FEN,
    fen_to_yuan,
    round_fen,
    shown,
    to_decimal,
    whole_value,
)
from subsidy_engine.core.vocabulary import InterestBasis, Reset
from subsidy_engine.errors import CoverageError, DateError, MoneyError, PortfolioSchemaError
from subsidy_engine.io.cells import DEFAULT_LIMITS, Limits, read_table_file
from subsidy_engine.io.column_readers import is_missing
from subsidy_engine.loans.arrays import loans_from_arrays
from subsidy_engine.loans.contract import FloatingRate, Loan
from subsidy_engine.loans.schedule import amortize
from subsidy_engine.measures.interest_subsidy import SubsidySchedule, interest_subsidy
from subsidy_engine.params.lpr import LprCurve, load_lpr
from subsidy_engine.params.policy import Policy, load_policy
from subsidy_engine.params.rules import MAX_SUBSIDY_YEARS, InterestSubsidyRule
from subsidy_engine.pipeline.inputs import PortfolioTables, load_portfolio
from subsidy_engine.pipeline.steps import Context, as_problems, build_context

STATUSES = ("match", "mismatch", "unknown_loan", "invalid")
REPORT_COLUMNS = ("row", "loan_id", "period", "from_date", "to_date", "interest_charged", "interest_computed",
                  "subsidy_claimed", "subsidy_computed", "diff", "status", "likely_cause", "detail")


@dataclass(frozen=True)
class _Request:
    """One bank row, read."""

    period: int | None
    from_date: date | None
    to_date: date | None
    interest_charged: Decimal | None
    subsidy_claimed: Decimal


@dataclass(frozen=True)
class _Periods:
    """A loan's periods under one convention: numbers, start and due days (days since 1970-01-01) and
    values per period (int64 fen; the exact accruals as ``Fraction`` yuan)."""

    period: np.ndarray
    start_day: np.ndarray
    end_day: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.period.shape[0])

    def pick(self, req: _Request, by: str = "end_date", shift: int = 0) -> np.ndarray:
        """The periods a row asks about: its period number (shifted), or the range by due (or start) date."""
        if req.period is not None:
            return np.flatnonzero(self.period == req.period + shift)
        days = self.end_day if by == "end_date" else self.start_day
        assert req.from_date is not None and req.to_date is not None
        return np.flatnonzero((days >= epoch_days(req.from_date)) & (days <= epoch_days(req.to_date)))

    def total(self, name: str, index: np.ndarray) -> Decimal:
        return fen_to_yuan(int(self.values[name][index].sum()))

    def sums(self, index: np.ndarray) -> tuple[Decimal, Decimal]:
        """Interest and subsidy of the periods ``index``."""
        return self.total("interest", index), self.total("subsidy", index)

    def day(self, k: int) -> date:
        return day_date(self.end_day[k])


@dataclass
class LoanCase:
    """One loan of the portfolio: its contract, rule, curve, and its periods under each convention."""

    loan: Loan
    rule: InterestSubsidyRule
    curve: LprCurve | None
    cache: dict[str, _Periods | None]
    errors: dict[str, str] = field(default_factory=dict)
    standard_subsidy: SubsidySchedule | None = None  # the standard computation's 貼息, for its exact accruals

    def arrays(self, name: str = "standard", loan: Loan | None = None, rule: InterestSubsidyRule | None = None
               ) -> _Periods | None:
        """The periods under a named variant (interest and subsidy in fen), computed once; None when the
        variant cannot price the loan (``errors[name]`` says why)."""
        if name not in self.cache:
            try:
                schedule = amortize(loan or self.loan, self.curve)
                subsidy = interest_subsidy(schedule, rule or self.rule)
                if name == "standard":
                    self.standard_subsidy = subsidy
                self.cache[name] = _Periods(np.arange(1, schedule.periods + 1), schedule.start_day.astype(np.int64),
                                            schedule.end_day.astype(np.int64),
                                            {"interest": schedule.interest_fen, "subsidy": subsidy.subsidy_fen})
            except (CoverageError, ValueError, ArithmeticError) as exc:
                self.cache[name] = None  # this convention cannot price the loan
                self.errors[name] = " ".join(str(exc).split())
        return self.cache[name]

    def periods(self, name: str = "standard", loan: Loan | None = None, rule: InterestSubsidyRule | None = None
                ) -> pd.DataFrame | None:
        """:meth:`arrays` as a table: ``period, start_date, end_date, interest, subsidy`` (Decimals)."""
        p = self.arrays(name, loan, rule)
        if p is None:
            return None
        return pd.DataFrame({"period": p.period, "start_date": [day_date(d) for d in p.start_day],
                             "end_date": [p.day(k) for k in range(len(p))],
                             "interest": [fen_to_yuan(v) for v in p.values["interest"].tolist()],
                             "subsidy": [fen_to_yuan(v) for v in p.values["subsidy"].tolist()]})

    def sums(self, req: _Request, name: str, loan: Loan | None = None, rule: InterestSubsidyRule | None = None
             ) -> tuple[Decimal, Decimal] | None:
        """Interest and subsidy of the periods ``req`` asks about, under a named variant (None: cannot price)."""
        p = self.arrays(name, loan, rule)
        return None if p is None else p.sums(p.pick(req))

    def accruals(self) -> _Periods | None:
        """The standard periods with each period's exact accrual before the subsidy rounding (a ``Fraction`` of
        yuan) and what the caps and the interest ceiling cut from it (fen); None when the loan cannot be priced.
        Read from the standard computation, added to it the first time they are asked for."""
        p = self.arrays()
        if p is not None and "accrual" not in p.values:
            subsidy = self.standard_subsidy
            assert subsidy is not None  # computed with the standard periods just above
            accrual = np.empty(len(p), dtype=object)
            accrual[:] = subsidy.exact_accruals()
            p.values["accrual"], p.values["cut"] = accrual, subsidy.gross_fen - subsidy.subsidy_fen
        return p


Alternative = tuple[str, str, Callable[[LoanCase, _Request], tuple[Decimal, Decimal] | None]]


def _variant(name: str, **change: Any) -> Callable[[LoanCase, _Request], tuple[Decimal, Decimal] | None]:
    """Recompute with the loan (``loan=``) or the rule (``rule=``) changed."""
    def run(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
        if change.get("loan", {}).get("interest_basis") in (None, case.loan.basis) and "loan" in change:
            return None  # the loan's own basis is the standard computation
        loan = case.loan.model_copy(update=change["loan"]) if "loan" in change else None
        rule = case.rule.model_copy(update=change["rule"]) if "rule" in change else None
        if loan is not None:
            try:
                loan = Loan.model_validate(loan.model_dump())  # re-derive defaults (e.g. the basis)
            except ValidationError:
                return None  # a loan it cannot be (the monthly basis of one settling on calendar days): no cause
        return case.sums(req, name, loan, rule)
    return run


def _drawdown_rate(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
    floating = case.loan.floating
    if floating is None or case.curve is None:
        return None
    rate = case.curve.rate(floating.tenor, case.loan.start_date) + floating.spread
    held = Loan.model_validate({**case.loan.model_dump(), "floating": None, "annual_rate": rate})
    return case.sums(req, "rate: drawdown rate held", held)


def _other_reset(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
    floating = case.loan.floating
    if floating is None:
        return None
    other = Reset.ANNIVERSARY if floating.reset is Reset.JANUARY else Reset.JANUARY
    loan = Loan.model_validate({**case.loan.model_dump(), "floating": FloatingRate(
        tenor=floating.tenor, spread_bp=floating.spread_bp, reset=other)})
    return case.sums(req, f"rate: reset {other.value}", loan)


def _rounded(mode: str) -> Callable[[LoanCase, _Request], tuple[Decimal, Decimal] | None]:
    def run(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
        accruals = case.accruals()
        if accruals is None:
            return None  # the loan cannot be priced: no rounding explains a figure
        chosen = accruals.pick(req)
        if len(chosen) == 0 or any(c != 0 for c in accruals.values["cut"][chosen]):
            return None  # a cap or the interest ceiling cut these periods: rounding alone cannot say
        interest, accrual = accruals.total("interest", chosen), accruals.values["accrual"][chosen].tolist()
        if mode == "once":  # the exact sum, rounded half-up once
            return interest, fen_to_yuan(round_fen(sum(accrual, Fraction(0)) * FEN_PER_YUAN))
        return interest, fen_to_yuan(sum(math.floor(a * FEN_PER_YUAN) for a in accrual))  # each period truncated
    return run


def _boundary(by: str = "end_date", shift: int = 0) -> Callable[[LoanCase, _Request], tuple[Decimal, Decimal] | None]:
    def run(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
        if (req.period is None) != (shift == 0):
            return None  # start dates are for ranges, neighbours for period numbers
        p = case.arrays()
        chosen = None if p is None else p.pick(req, by, shift)
        return None if p is None or chosen is None or len(chosen) == 0 else p.sums(chosen)
    return run


def _window(years: int | None, label: str) -> Callable[[LoanCase, _Request], tuple[Decimal, Decimal] | None]:
    def run(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
        current = case.rule.max_years
        if current is None or (years is not None and not 1 <= current + years <= MAX_SUBSIDY_YEARS):
            return None
        rule = case.rule.model_copy(update={"max_years": None if years is None else current + years})
        return case.sums(req, f"window: {label}", rule=rule)
    return run


def _cap(name: str) -> Callable[[LoanCase, _Request], tuple[Decimal, Decimal] | None]:
    def run(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
        if getattr(case.rule, name) is None:
            return None
        return case.sums(req, f"cap: no {name}", rule=case.rule.model_copy(update={name: None}))
    return run


def _changed_loan(label: str, change: Callable[[Loan], dict[str, Any] | None]
                  ) -> Callable[[LoanCase, _Request], tuple[Decimal, Decimal] | None]:
    """Recompute with the loan's fields ``change(loan)`` (None: the change does not apply to this loan)."""
    def run(case: LoanCase, req: _Request) -> tuple[Decimal, Decimal] | None:
        update = change(case.loan)
        if update is None:
            return None
        loan = Loan.model_validate({**case.loan.model_dump(), "principal": case.loan.principal, **update})
        return case.sums(req, label, loan)
    return run


ALTERNATIVES: list[Alternative] = [
    ("the loan's events", "the prepayments ignored",
     _changed_loan("events: no prepayment", lambda loan: {"prepayments": []} if loan.prepayments else None)),
    ("the loan's events", "every tranche counted from the first drawdown",
     _changed_loan("events: drawn at once", lambda loan: {"drawdowns": []} if loan.drawdowns else None)),
    ("rate used", "the drawdown rate held (no reset)", _drawdown_rate),
    ("rate used", "repriced on the other reset date", _other_reset),
    *[("interest basis", f"interest basis {b.value}", _variant(f"basis {b.value}", loan={"interest_basis": b}))
      for b in InterestBasis],
    ("rounding stage", "the subsidy rounded once over the claimed periods", _rounded("once")),
    ("rounding stage", "the subsidy truncated per period", _rounded("floor")),
    ("period boundaries", "the range taken by period start dates", _boundary(by="start_date")),
    ("period boundaries", "the period before", _boundary(shift=-1)),
    ("period boundaries", "the period after", _boundary(shift=1)),
    ("a holiday shift", "due dates not moved off days off", _changed_loan(
        "business days: none", lambda loan: {"business_day": "none"} if loan.business_day.value != "none" else None)),
    ("a holiday shift", "due dates moved to the following business day", _changed_loan(
        "business days: following",
        lambda loan: {"business_day": "following"} if loan.business_day.value == "none" else None)),
    ("a cap", "without the annual cap", _cap("annual_cap")),
    ("a cap", "without the lifetime cap", _cap("lifetime_cap")),
    ("the window", "without the window's end", _window(None, "open")),
    ("the window", "a window one year shorter", _window(-1, "shorter")),
    ("the window", "a window one year longer", _window(1, "longer")),
]


def _cell(value: Any) -> Any:
    """A bank row's cell as a plain value: None when blank (the tables' rule, ``column_readers.is_missing`` or
    only spaces), a timestamp at midnight as a date, a numpy scalar as its Python value."""
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64)) or (isinstance(value, datetime)):
        stamp = pd.Timestamp(value)
        return stamp.date() if stamp == stamp.normalize() and stamp.tzinfo is None else value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rejected_loans(ctx: Context, out: dict[str, LoanCase | str]) -> dict[str, LoanCase | str]:
    """Each loan row the problems so far reject, with the reason (the first problem of a loan id counts)."""
    for report in (p for p in ctx.problems if not p.empty and "table" in p):
        for r in report[report.table == "loans"].itertuples():
            rejected_id: object = r.id  # an object column: text, None or NaN
            if rejected_id is not None and rejected_id == rejected_id and str(rejected_id) not in out:
                out[str(rejected_id)] = f"the portfolio's loan row {r.row} is rejected: {r.field} {r.reason}"
    return out


def loan_cases(tables: PortfolioTables, policy: Policy, curve: LprCurve | None) -> dict[str, LoanCase | str]:
    """Each loan that evaluate evaluates, as a case; each loan it rejects, with evaluate's reason."""
    ctx = build_context(tables, policy)  # evaluate's own rules: table problems, coverage, a loan's project
    out: dict[str, LoanCase | str] = {}
    if not len(ctx.loans):
        return _rejected_loans(ctx, out)
    # the loans as evaluate reads them (read once, by the table reader), then as the models the variants change
    try:
        arrays, good, rejections = ctx.table_read("loans")
    except PortfolioSchemaError as exc:  # the loans table as a whole cannot be read: every loan says why
        for loan_id in ctx.loans["loan_id"].astype(str):
            out[loan_id] = f"the portfolio's loans table cannot be read: {exc}"
        return out
    ctx.problems.append(as_problems(ctx.tables, rejections, "loans", "loan_id", ctx.kept_rows["loans"]))
    _rejected_loans(ctx, out)
    loan_ids = ctx.loans["loan_id"].astype(str).to_numpy()[good]
    for loan_id, loan in zip(loan_ids, loans_from_arrays(arrays)):
        out[str(loan_id)] = LoanCase(loan, policy.at(loan.start_date).interest_subsidy_rule(), curve, {})
    return out


def _day(value: Any, name: str) -> date:
    """A calendar date from a date or a text YYYY-MM-DD (``_cell`` made a timestamp at midnight a date)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_date(value)
        except DateError:
            pass  # said as for any other value
    raise ValueError(f"{name} {shown(value)} is not a date (write YYYY-MM-DD)")


def _read_row(row: Mapping[Hashable, Any]) -> _Request | str:
    """A bank row as a request, or why it is invalid."""
    def blank(v: Any) -> bool:
        return _cell(v) is None

    try:
        if blank(row.get("subsidy_claimed")):
            return "subsidy_claimed is missing"
        claimed = to_decimal(row["subsidy_claimed"], "subsidy_claimed", units=True)
        interest = None if blank(row.get("interest_charged")) else to_decimal(row["interest_charged"],
                                                                              "interest_charged", units=True)
    except (MoneyError, ArithmeticError) as exc:
        return str(exc)
    for name, value in (("subsidy_claimed", claimed), ("interest_charged", interest)):
        if value is not None and not Decimal(0) <= value <= MAX_AMOUNT_YUAN:
            return f"{name} {value} must be between 0 and 1e12 yuan"
        if value is not None and value != value.quantize(ONE_FEN):
            return f"{name} {value} must be an amount in fen (two decimals at most)"
    period = None if blank(row.get("period")) else row["period"]
    given = [not blank(row.get(c)) for c in ("from_date", "to_date")]
    if (period is not None) == all(given) or any(given) != all(given):
        return "give either period or both from_date and to_date"
    if period is not None:
        number = _whole(period)
        if number is None:
            return f"period {_cell(period)!r} is not a whole number"
        period = number
        if period < 1:
            return f"period {period} must be at least 1"
        return _Request(period, None, None, interest, claimed)
    try:
        start, end = (_day(_cell(row[name]), name) for name in ("from_date", "to_date"))
    except ValueError as exc:
        return str(exc)
    if start > end:
        return f"from_date {start} is after to_date {end}"
    return _Request(None, start, end, interest, claimed)


def reconcile(bank_claims: pd.DataFrame, portfolio: PortfolioTables | str | os.PathLike[str],
              policy: Policy | None = None, *, lpr: LprCurve | None = None) -> pd.DataFrame:
    """Check a bank's claimed 貼息, row by row, and name the likely cause of each difference.

    Parameters
    ----------
    bank_claims : DataFrame
        ``loan_id``, ``period`` or ``from_date`` and ``to_date``, ``subsidy_claimed``,
        optionally ``interest_charged``. Amounts as text, Decimal or integers (not floats).
    portfolio : PortfolioTables or path
        Where the loans are (:func:`subsidy_engine.load_portfolio`).
    policy : Policy, optional
        The parameter file (the bundled defaults when None).
    lpr : LprCurve, optional
        For floating loans; extend it (``hold_flat``) to price resets past the data.

    Returns
    -------
    DataFrame
        One row per bank row, in its order: ``row`` (0-based), the request, ``interest_charged``,
        ``interest_computed``, ``subsidy_claimed``, ``subsidy_computed``, ``diff``, ``status``,
        ``likely_cause`` and ``detail``. Typed as every result of the API: the amounts exact
        (Arrow decimal128(20, 2)), ``row`` and ``period`` int64, ``from_date`` and ``to_date`` date32,
        the rest Arrow strings; a blank (an amount not given or not computed, a request field that is
        not one) is a null.

    Notes
    -----
    ``diff = subsidy_claimed - subsidy_computed``. A row matches when ``diff = 0`` and the
    interest, if given, equals ``interest_computed``.

    Examples
    --------
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> tables = portfolio(50, seed=3)
    >>> loan = tables.loans.loan_id.iloc[0]
    >>> claims = pd.DataFrame({"loan_id": [loan, "nope"], "period": [1, 1], "subsidy_claimed": ["1.00", "2.00"]})
    >>> reconcile(claims, tables, lpr=load_lpr().hold_flat(date(2045, 12, 31)))[["loan_id", "status"]].values.tolist()
    [['L0', 'mismatch'], ['nope', 'unknown_loan']]
    """
    tables = portfolio if isinstance(portfolio, PortfolioTables) else load_portfolio(portfolio)
    policy = policy if policy is not None else load_policy()
    curve = lpr if lpr is not None else load_lpr()
    if "loan_id" not in bank_claims.columns or "subsidy_claimed" not in bank_claims.columns:
        raise ValueError(f"bank claims need loan_id and subsidy_claimed columns, found {list(bank_claims.columns)}")
    cases = loan_cases(tables, policy, curve)
    out = []
    for k, row in enumerate(bank_claims.reset_index(drop=True).astype(object).to_dict("records")):
        loan_id = row.get("loan_id")
        record: dict[str, Any] = {"row": k, "loan_id": loan_id, "period": row.get("period"),
                                  "from_date": row.get("from_date"), "to_date": row.get("to_date"),
                                  "interest_charged": None, "interest_computed": None, "subsidy_claimed": None,
                                  "subsidy_computed": None, "diff": None, "likely_cause": None, "detail": None}
        out.append(record)
        req = _read_row(row)
        if isinstance(req, str):
            record.update(status="invalid", detail=req)
            continue
        record.update(interest_charged=req.interest_charged, subsidy_claimed=req.subsidy_claimed)
        case = cases.get(str(loan_id)) if loan_id is not None and loan_id == loan_id else None
        if case is None:
            record.update(status="unknown_loan", detail=f"loan {loan_id!r} is not in the portfolio")
            continue
        if isinstance(case, str):
            record.update(status="invalid", detail=case)
            continue
        p = case.arrays()
        if p is None:
            record.update(status="invalid", detail=f"the engine cannot price this loan: "
                                                   f"{case.errors.get('standard', 'unknown reason')}")
            continue
        chosen = p.pick(req)
        if len(chosen) == 0:
            where = (f"period {req.period} (the loan has {len(p)})" if req.period is not None
                     else f"{req.from_date} to {req.to_date} (due dates {p.day(0)} to {p.day(len(p) - 1)})")
            record.update(status="invalid", detail=f"no period of the loan is {where}")
            continue
        interest, subsidy = p.sums(chosen)
        record.update(interest_computed=interest, subsidy_computed=subsidy, diff=req.subsidy_claimed - subsidy)
        if subsidy == req.subsidy_claimed and req.interest_charged in (None, interest):
            record.update(status="match")
            continue
        record["status"] = "mismatch"
        found = [(cause, label, figures) for cause, label, alternative in ALTERNATIVES
                 if (figures := alternative(case, req)) is not None and figures[1] == req.subsidy_claimed
                 and req.interest_charged in (None, figures[0])]
        if found:
            cause, label, (alt_interest, alt_subsidy) = found[0]
            also = "; also reproduced by: " + ", ".join(f[1] for f in found[1:]) if len(found) > 1 else ""
            record.update(likely_cause=cause, detail=f"{label} gives subsidy {alt_subsidy:,}"
                          + (f" and interest {alt_interest:,}" if req.interest_charged is not None else "")
                          + f", the bank's figure{also}")
        else:
            record["detail"] = ("no single named convention reproduces the bank's figure"
                                + (f"; the interest differs by {req.interest_charged - interest:,}"
                                   if req.interest_charged not in (None, interest) else ""))
    return _report_frame(out)


MONEY_COLUMNS = ("interest_charged", "interest_computed", "subsidy_claimed", "subsidy_computed", "diff")
TEXT_COLUMNS = ("loan_id", "status", "likely_cause", "detail")
INT64_RANGE = (-(2 ** 63), 2 ** 63 - 1)


def _whole(value: Any) -> int | None:
    """A bank row's period as given (as :func:`_read_row` reads it), or None: blank, or not a whole number
    (the tables' rule, :func:`~subsidy_engine.core.money.whole_value`) within int64."""
    number = whole_value(_cell(value))
    return number if number is not None and INT64_RANGE[0] <= number <= INT64_RANGE[1] else None


def _date_or_none(value: Any) -> date | None:
    """A bank row's date as given, or None: blank, or not a date (``detail`` of an invalid row says why)."""
    try:
        value = _cell(value)
        return None if value is None else _day(value, "_")
    except ValueError:
        return None


def _report_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The report as typed columns, like every result of the API: money as exact decimal128(20, 2),
    ``row`` and ``period`` as int64, the dates as date32, text as strings; a blank is a null.

    The request is shown as read: a ``period`` or a date that is not one is null (``detail`` says why).
    """
    def column(values: list[Any], dtype: pa.DataType) -> pd.Series:
        return pd.Series(pa.array(values, type=dtype), dtype=pd.ArrowDtype(dtype))

    def text(value: Any) -> str | None:
        value = _cell(value)
        return None if value is None else str(value)

    def values(name: str) -> list[Any]:
        return [r[name] for r in records]

    frame: dict[str, pd.Series] = {
        "row": column(values("row"), pa.int64()),
        "period": column([_whole(v) for v in values("period")], pa.int64()),
        **{name: column([_date_or_none(v) for v in values(name)], pa.date32()) for name in ("from_date", "to_date")},
        # amounts are read to the fen (two decimals at most) and computed in fen: quantize only rescales
        **{name: column([None if v is None else v.quantize(ONE_FEN) for v in values(name)], MONEY_TYPE)
           for name in MONEY_COLUMNS},
        **{name: column([text(v) for v in values(name)], pa.string()) for name in TEXT_COLUMNS},
    }
    return pd.DataFrame({name: frame[name] for name in REPORT_COLUMNS})


def _total(values: pd.Series) -> Decimal:
    """The exact sum of an amount column, its blanks (None, NaN, pd.NA) left out."""
    return Decimal(sum(values.dropna(), ONE_FEN * 0))


def reconcile_totals(report: pd.DataFrame) -> pd.DataFrame:
    """Per status: rows, subsidy claimed, computed and the difference (exact); then ``compared``, the rows
    with a computed figure (match and mismatch), where ``diff = claimed - computed`` holds in total.

    Rows without a computed figure (unknown_loan, invalid) show what was claimed and no computed amount.
    """
    rows = []
    for status in (*STATUSES, "compared"):
        part = report[report.status.isin(("match", "mismatch"))] if status == "compared" else \
            report[report.status == status]
        compared = status in ("match", "mismatch", "compared")
        rows.append({"status": status, "rows": len(part), "subsidy_claimed": _total(part.subsidy_claimed),
                     "subsidy_computed": _total(part.subsidy_computed) if compared else None,
                     "diff": _total(part["diff"]) if compared else None})
    return pd.DataFrame(rows)


def read_bank_claims(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> pd.DataFrame:
    """A bank's claims from CSV (text cells), .xlsx (the first sheet with a ``loan_id`` header, cells as
    typed: date cells are dates, numbers exact) or Parquet, as :mod:`subsidy_engine.io.cells` reads them.

    The row number the user sees for each row is in ``attrs["row_numbers"]`` (Excel row, CSV line);
    a file that cannot be read, or one past ``limits``, raises
    :class:`~subsidy_engine.io.column_readers.PortfolioSchemaError` naming it.
    """
    table = read_table_file(path, id_column="loan_id", limits=limits)
    frame = table.frame
    frame.attrs["row_numbers"] = table.rows
    frame.attrs["notes"] = list(table.notes)
    return frame


__all__ = ["ALTERNATIVES", "REPORT_COLUMNS", "STATUSES", "loan_cases", "read_bank_claims", "reconcile", "reconcile_totals"]

"""Interest subsidy (貼息) on a loan schedule: measures 1 and 15 of 京經信發〔2021〕78號.

Measure 15 (優惠利率信貸) pairs preferential-rate credit with 貼息 and measure 1
names 貼息 among the support for new-infrastructure projects; the policy gives
no figures, so a rule's points, share, window and caps come from the user or
from a parameter file (``schedules/policy-78.yaml``, each value with its source: the
Beijing analog is 2.5 percentage points for 2 years, never above the actual
rate, 京發改規〔2024〕4號).

The rules (docs/conventions.md, "Interest subsidy"), each rounding named:

* **Accrual** (*subsidy rounding*, half-up per period): every form accrues on
  the loan's own interest basis, ``base x factor x num/den``, where ``num/den``
  is the period's share of a year as its interest accrues (``30/360`` a whole month on the monthly basis and
  ``1/360`` an odd day of a stub, ``days/360`` on act/360 ...):

  - ``points_on_balance``: base = opening balance, factor = min(points, rate);
  - ``points_on_principal``: base = original principal, factor = min(points, rate);
  - ``share_of_interest``: subsidy = share x the interest charged (no basis);
  - ``rate_gap``: base = opening balance, factor = max(benchmark - rate, 0).
* **Window**: from ``start_date`` (the drawdown date by default) for
  ``max_years`` years (forever by default). A period straddling an edge accrues
  for its days inside only (``x inside_days / period_days``, in the same single
  rounding).
* Then, per period and in this order, each cut reported: never above the
  **interest charged** in the period; the **annual cap** on the total of a
  calendar year (the year of the due date, as the bank collects and the bureau
  budgets), the earlier periods first; the **lifetime cap** on the loan's total.

This is the order of docs/conventions.md: per period the window and the interest
ceiling, then per loan its per-year and whole-life caps (the caps across loans,
projects and enterprises follow in :mod:`subsidy_engine.pipeline.evaluate`). The kernel
(``kernels.subsidy.portfolio_subsidy``), :func:`interest_subsidy` and the
reference (``reference.calculators.reference_interest_subsidy``) all apply it so. A cap
limits what is paid, so its room is used only by what the ceiling leaves:
with only these caps, a loan is paid ``min(lifetime_cap, sum over years of
min(annual_cap, that year's sum of min(gross, interest)))``. The order matters
wherever a period's accrual exceeds its interest (``points_on_principal`` on a
repaid balance, a ``rate_gap`` wider than the rate): caps that counted the
accrual before the ceiling would spend their room on money never paid. E.g. a
rate gap of 3 points on a 1% loan accrues 3,000.00 a month against 1,000.00 of
interest: under an annual cap of 6,000 and a lifetime cap of 6,500 the ceiling
first pays 6,500.00, caps first would pay 2,500.00
(``tests/measures/test_interest_subsidy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from subsidy_engine.core.columns import date_series, money_series, repeated_text
from subsidy_engine.core.dates import epoch_days
from subsidy_engine.core.memo import IdentityMemo
from subsidy_engine.core.money import FEN_PER_YUAN, RATE_SCALE, fen_to_yuan, rate_to_units
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.core.vocabulary import SubsidyForm
from subsidy_engine.io.column_readers import Read
from subsidy_engine.kernels.calendar import calendar_year, civil_dates
from subsidy_engine.kernels.caps import cap_fen
from subsidy_engine.kernels.subsidy import loan_year_layout, portfolio_subsidy
from subsidy_engine.kernels.threads import read_only
from subsidy_engine.loans import amortization
from subsidy_engine.loans.arrays import LoanArrays
from subsidy_engine.loans.portfolio import amortize_portfolio
from subsidy_engine.loans.schedule import Schedule
from subsidy_engine.measures.claims import ClaimRows, ClaimsResult
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve, LprPaths
from subsidy_engine.params.policy import ParameterSet, Policy, RulesInForce, rules_in_force
from subsidy_engine.params.rules import InterestSubsidyRule, subsidy_window_days


@dataclass(frozen=True)
class SubsidySchedule:
    """The subsidy of each period of a schedule, with every cut reported.

    Attributes
    ----------
    gross_fen : ndarray
        The accrual inside the window, before any cut.
    subsidy_fen : ndarray
        What is paid.
    cut_by_interest_fen, cut_by_annual_cap_fen, cut_by_lifetime_cap_fen : ndarray
        ``gross = subsidy + the three cuts`` on every row.
    """

    schedule: Schedule
    rule: InterestSubsidyRule
    gross_fen: np.ndarray
    subsidy_fen: np.ndarray
    cut_by_interest_fen: np.ndarray
    cut_by_annual_cap_fen: np.ndarray
    cut_by_lifetime_cap_fen: np.ndarray
    provenance: Provenance
    #: the terms of each period's accrual ``base x factor x num x inside / (1e10 x den x days)`` (fen, 1e-10
    #: units, days), and ``day_base x day_factor / (1e10 x den)`` of a calendar settlement's own date:
    #: ``gross_fen`` is their sum rounded half-up once
    accrual_terms: tuple[np.ndarray, ...] = ()

    def exact_accruals(self) -> list[Fraction]:
        """Each period's accrual before the subsidy rounding, in yuan, exact (a bank that rounds
        differently is told apart by these).

        >>> from subsidy_engine import Loan, amortize
        >>> loan = Loan(principal="100000", annual_rate="0.0365", term_months=2, start_date="2024-01-31",
        ...             interest_basis="act_365")
        >>> rule = InterestSubsidyRule(form="points_on_balance", points="0.01")
        >>> [str(a) for a in interest_subsidy(amortize(loan), rule).exact_accruals()]
        ['5800/73', '155235383/3650000']
        """
        base, factor, num, den, inside, days, day_base, day_factor = (a.tolist() for a in self.accrual_terms)
        parts = [(Fraction(b * f * n * i, RATE_SCALE * FEN_PER_YUAN * d * p) if i > 0 and f > 0 and b > 0
                  else Fraction(0)) + Fraction(db * df, RATE_SCALE * FEN_PER_YUAN * d)
                 for b, f, n, d, i, p, db, df in zip(base, factor, num, den, inside, days, day_base, day_factor)]
        settles = self.schedule.settles
        if settles is None or self.rule.form is SubsidyForm.SHARE_OF_INTEREST:
            return parts
        # interest settled on calendar dates: a settlement accrues the parts of its rows since the last one
        out, running = [], Fraction(0)
        for part, settling in zip(parts, settles.tolist()):
            running += part
            out.append(running if settling else Fraction(0))
            if settling:
                running = Fraction(0)
        return out

    @property
    def total(self) -> Decimal:
        """The exact sum of the subsidy."""
        return fen_to_yuan(int(self.subsidy_fen.sum()))

    @property
    def total_cut(self) -> Decimal:
        return fen_to_yuan(int(self.gross_fen.sum() - self.subsidy_fen.sum()))

    def to_frame(self) -> pd.DataFrame:
        """One row per period: ``period, start_date, end_date, interest, subsidy,
        net_interest, cut``, then ``gross`` and the cut by reason."""
        s = self.schedule
        cut = self.gross_fen - self.subsidy_fen
        return pd.DataFrame({
            "period": np.arange(1, s.periods + 1, dtype=np.int32),
            "start_date": date_series(s.start_day),
            "end_date": date_series(s.end_day),
            "interest": money_series(s.interest_fen),
            "subsidy": money_series(self.subsidy_fen),
            "net_interest": money_series(s.interest_fen - self.subsidy_fen),
            "cut": money_series(cut),
            "gross": money_series(self.gross_fen),
            "cut_by_interest": money_series(self.cut_by_interest_fen),
            "cut_by_annual_cap": money_series(self.cut_by_annual_cap_fen),
            "cut_by_lifetime_cap": money_series(self.cut_by_lifetime_cap_fen),
        })


def interest_subsidy(schedule: Schedule, rule: InterestSubsidyRule) -> SubsidySchedule:
    """The interest subsidy of every period of ``schedule`` under ``rule``.

    Parameters
    ----------
    schedule : Schedule
        From :func:`subsidy_engine.amortize`.
    rule : InterestSubsidyRule

    Returns
    -------
    SubsidySchedule

    Notes
    -----
    For ``points_on_balance`` the subsidy of a period inside the window is
    ``round(B x min(points, rate) x num/den)``: on a monthly basis
    ``B x min(p, r) / 12``. The interest-charged rule makes the net interest
    ``interest - subsidy >= 0`` on every row. See the module docstring for
    every form, the window and the caps.

    Examples
    --------
    京發改規〔2024〕4號's example: a 500,000,000 loan at 3% with 2.5 points for 2 years
    saves about 25,000,000 (exactly so while the principal stays at 5亿: here two
    years of grace).

    >>> from subsidy_engine import Loan, amortize
    >>> loan = Loan(principal="500000000", annual_rate="0.03", term_months=60,
    ...             grace_months=24, start_date="2024-04-19")
    >>> rule = InterestSubsidyRule(form="points_on_principal", points="0.025", max_years=2)
    >>> interest_subsidy(amortize(loan), rule).total
    Decimal('25000000.08')
    """
    period = _run_kernel(schedule.kernel_arrays(), np.array([schedule.periods], np.int64), rule, per_period=True)
    return SubsidySchedule(
        schedule=schedule, rule=rule, gross_fen=period.gross, subsidy_fen=period.paid,
        cut_by_interest_fen=period.cut_by_interest, cut_by_annual_cap_fen=period.cut_by_annual_cap,
        cut_by_lifetime_cap_fen=period.cut_by_lifetime_cap,
        provenance=Provenance.of(schedule.provenance.parameters_sha256, rule.digest,
                                 scenario=schedule.provenance.scenario),
        accrual_terms=tuple(np.ascontiguousarray(column) for column in period.terms.T),
    )


__all__ = ["SubsidySchedule", "interest_subsidy", "interest_subsidy_portfolio",
           "interest_subsidy_rows", "subsidy_window"]


def interest_subsidy_portfolio(loans: pd.DataFrame, rules: InterestSubsidyRule | Policy, *,
                               lpr: LprCurve | None = None, drawdowns: pd.DataFrame | None = None,
                               prepayments: pd.DataFrame | None = None,
                               calendar: BusinessCalendar | None = None) -> ClaimsResult:
    """The 貼息 of every loan of a table, per loan and calendar year (measures 1 and 15).

    The same rules as :func:`interest_subsidy`, applied to every period of every
    loan at once: the accrual is one kernel pass over the long schedule, the
    interest ceiling is per period, the annual cap per loan and calendar year of
    the due date, the lifetime cap per loan. With a :class:`Policy`, each loan
    takes the rule of the set in force on its drawdown date.

    Parameters
    ----------
    loans : DataFrame
        ``loan_id``, the ``Loan`` fields and optionally ``project_id``.
    rules : InterestSubsidyRule or Policy
    lpr : LprCurve, optional
        For floating loans (see :func:`subsidy_engine.amortize_portfolio`).
    drawdowns, prepayments : DataFrame, optional
        The loans' tranches and prepayments, keyed by ``loan_id`` (see
        :func:`subsidy_engine.amortize_portfolio`): 貼息 follows the balance of every day.
    calendar : BusinessCalendar, optional
        The business days due dates move to (see :func:`subsidy_engine.amortize_portfolio`).

    Returns
    -------
    ClaimsResult
        ``claims``: loan_id, year, interest, gross, amount, cut_by_interest,
        cut_by_annual_cap, cut_by_lifetime_cap, parameter_set (years with no
        subsidy are left out); ``rejections`` as from ``amortize_portfolio``.

    Examples
    --------
    >>> from subsidy_engine import load_policy
    >>> table = pd.DataFrame({"loan_id": ["A"], "principal": ["500000000"], "annual_rate": ["0.03"],
    ...                       "term_months": [60], "grace_months": [24], "start_date": ["2024-04-19"]})
    >>> claims = interest_subsidy_portfolio(table, load_policy()).claims
    >>> claims[["year", "amount"]].values.tolist()
    [[2024, Decimal('8333333.36')], [2025, Decimal('12500000.04')], [2026, Decimal('4166666.68')]]
    """
    return ClaimsResult.of(interest_subsidy_rows(loans, rules, lpr=lpr, drawdowns=drawdowns, prepayments=prepayments,
                                                 calendar=calendar))


#: Loans amortized and given their 貼息 at a time by :func:`interest_subsidy_rows`, into one set of schedule arrays
#: reused batch after batch: a national book's 75M schedule rows (1.8 GB) would otherwise be new memory, which this
#: development VM faults in at about 0.5 GB/s. Each loan is priced alone; the batches' rows are its rows.
LOANS_A_BATCH = 131_072


def interest_subsidy_rows(loans: pd.DataFrame, rules: InterestSubsidyRule | Policy, *,
                          lpr: LprCurve | LprPaths | None = None, window_rows: bool = False,
                          read: Read | None = None, drawdowns: pd.DataFrame | None = None,
                          prepayments: pd.DataFrame | None = None,
                          calendar: BusinessCalendar | None = None, claims_only: bool = False) -> ClaimRows:
    """:func:`interest_subsidy_portfolio` as arrays (money in fen), for :func:`subsidy_engine.evaluate`.

    With ``window_rows``, ``internal["in_window"]`` marks the loan-years with a period inside the
    subsidy window: rows that do not depend on the rates, a superset of those paid. ``read``: the table
    as :func:`~subsidy_engine.loans.arrays.arrays_from_frame` read it already; its loans are then priced
    :data:`LOANS_A_BATCH` at a time. ``claims_only``: the rows marked ``in_window`` only (what evaluate makes
    claims of), each batch's taken before the batches are joined; a loan priced by the lean loop is then amortized
    only through the calendar year that pays the last of its 貼息 window (:func:`through_window_year`).
    """
    extra = [c for c in ("project_id",) if c in loans.columns]
    if claims_only and read is not None and read.arrays.stop_period is None and drawdowns is None \
            and prepayments is None:
        read = read._replace(arrays=replace(read.arrays, stop_period=through_window_year(read.arrays, rules)))
    batches = ([read] if read is None or drawdowns is not None or prepayments is not None
               else _in_batches(read, LOANS_A_BATCH))
    buffers = None
    if read is not None and len(batches) > 1:
        most = max(int(amortization.row_capacity(batch.arrays).sum()) for batch in batches if batch is not None)
        buffers = amortization.Outputs.allocate(most, 0, settles=bool((read.arrays.interest_months > 0).any()))
    years_of_batches, loan_rows, rejections, projections = [], [], [], []
    calendar_projection = calendar_digest = None
    for batch in batches:
        result = amortize_portfolio(loans, lpr=lpr, output="schedule", ignore_columns=extra, read=batch,
                                    drawdowns=drawdowns, prepayments=prepayments, calendar=calendar,
                                    buffers=buffers)
        years = subsidy_by_loan_year(result.fen, result.periods, rules, window_rows=window_rows,
                                     claims_only=claims_only)
        loan_rows.append(result.positions[years.loan_of_year])
        years_of_batches.append((years, len(result.loan_ids)))
        del years  # the list holds the batch's loan-years alone: joined lets each go as it is joined
        rejections.append(result.rejections)
        projections.append(result.projections)
        calendar_projection = calendar_projection or result.calendar_projection
        calendar_digest = calendar_digest or result.calendar_digest
    loan_row = loan_rows[0] if len(loan_rows) == 1 else np.concatenate(loan_rows)
    # each loan-year's loan id taken at once from the table (joining a text column per batch cost more)
    rows = LoanYears.joined(years_of_batches).claim_rows(
        loans["loan_id"].reset_index(drop=True).take(loan_row).reset_index(drop=True), loan_row, _joined_rejections(rejections, read),
        {"projections": projections[0] if len(projections) == 1 else pd.concat(projections, ignore_index=True),
         "notes": [calendar_projection] if calendar_projection else [], "calendar_digest": calendar_digest})
    if calendar_digest is None:
        return rows
    return replace(rows, digest=f"{rows.digest}|business days {calendar_digest}")


def through_window_year(arrays: LoanArrays, rules: InterestSubsidyRule | Policy) -> np.ndarray:
    """Each loan's periods through the calendar year of the due date that pays the last of its 貼息 window (its whole
    term when the window is open): every loan-year that can be a claim, each with all its periods, so that a year's
    interest is the whole year's. The rest of a schedule pays no 貼息: a national book's 30-year loans with windows of a few years are
    priced in a fraction of their rows. Only the lean loop stops (:func:`~subsidy_engine.loans.amortization.
    row_capacity`): a loan with tranches, prepayments, calendar settlements or business days runs to its term, so
    that whatever its later rows refuse (a prepayment above the balance) refuses it as before; a floating loan's
    resets are read over its whole term either way (:func:`~subsidy_engine.loans.repricing.rate_segments`).

    >>> from datetime import date
    >>> from subsidy_engine.loans.arrays import arrays_from_loans
    >>> from subsidy_engine.loans.contract import Loan
    >>> rule = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)
    >>> loans = arrays_from_loans([Loan(principal="100", annual_rate="0.04", term_months=360,
    ...                                 start_date=date(2024, 3, 15))])
    >>> through_window_year(loans, rule).tolist()  # the window ends 2026-03-15: periods due through 2026, and more
    [36]
    """
    end = subsidy_window(arrays.start_days(), rules)[1]
    open_ended = amortization.no_end(end)
    year, month, _ = civil_dates(np.where(open_ended, 0, end))
    # the period running over the window's end is paid on its due date, within a period of it: its year may hold
    # a claim (a December accrual paid on 1 January)
    paid_by = year * 12 + month - 1 + arrays.months_per_period
    return amortization.periods_through_month(arrays, (paid_by // 12 + 1) * 12, open_ended)


def _in_batches(read: Read, size: int) -> list[Read]:
    """``read``'s loans ``size`` at a time (views of its arrays; positions still those of the whole table); the
    reader's rejections go with the first batch."""
    count = len(read.positions)
    if count <= size:
        return [read]
    return [Read(read.arrays.slice(lo, min(lo + size, count)), read.positions[lo:lo + size],
                 read.rejections if lo == 0 else read.rejections.iloc[:0]) for lo in range(0, count, size)]


def _joined_rejections(parts: list[pd.DataFrame], read: Read | None) -> pd.DataFrame:
    """The batches' rejections as one batch would have given them: the reader's, and the loans the kernel could
    not price sorted in among them by row (the reader's alone are kept as they are)."""
    if len(parts) == 1:
        return parts[0]
    joined = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    if len(joined) == (0 if read is None else len(read.rejections)):
        return parts[0]
    return joined.sort_values(["row", "field"], kind="stable", ignore_index=True)


@dataclass(frozen=True)
class _Amounts:
    """What the 貼息 kernel writes, in fen, per loan-year or per period: ``gross = paid + the three cuts``."""

    year: np.ndarray
    interest: np.ndarray
    gross: np.ndarray
    paid: np.ndarray
    cut_by_interest: np.ndarray
    cut_by_annual_cap: np.ndarray
    cut_by_lifetime_cap: np.ndarray


#: The names of :class:`_Amounts`' fields, read once (``dataclasses.fields`` walks the class at each call).
_AMOUNT_NAMES = tuple(f.name for f in fields(_Amounts))


@dataclass(frozen=True)
class LoanYears(_Amounts):
    """The 貼息 of each loan and calendar year of its due dates, in fen (loans in schedule order)."""

    loan_of_year: np.ndarray
    loan_start_day: np.ndarray  # per loan-year
    set_index: np.ndarray  # per loan-year
    set_ids: list[str]
    digest: str
    in_window: np.ndarray
    window_start_day: np.ndarray  # per loan-year: the loan's window [start, end), as the kernel applied it
    window_end_day: np.ndarray

    @classmethod
    def joined(cls, parts: list[tuple[LoanYears, int]]) -> LoanYears:
        """The loan-years of batches of loans as one (``parts``: each batch's and its number of loans).

        ``parts`` is emptied: each batch's array of a column is let go as soon as that column is joined, so that
        the batches and the whole are never held at once (a national book's loan-years are 300 MB)."""
        if len(parts) == 1:
            return parts.pop()[0]
        set_ids, digest = parts[0][0].set_ids, parts[0][0].digest
        if any(p.set_ids != set_ids or p.digest != digest for p, _ in parts):
            raise AssertionError("batches of one book priced under different rules")
        starts = np.cumsum([0, *(count for _, count in parts[:-1])])
        columns = [{f.name: getattr(p, f.name) for f in fields(cls)} for p, _ in parts]
        parts.clear()
        arrays = {}
        for f in fields(cls):
            if f.name in ("set_ids", "digest"):
                continue
            pieces = [batch.pop(f.name) for batch in columns]
            arrays[f.name] = np.concatenate(pieces if f.name != "loan_of_year" else
                                            [loan + start for loan, start in zip(pieces, starts)])
            del pieces
        return cls(**arrays, set_ids=set_ids, digest=digest)

    def claim_rows(self, loan_id: Any, loan_row: np.ndarray, rejections: pd.DataFrame,
                   internal: dict[str, Any]) -> ClaimRows:
        """As :class:`ClaimRows`: ``loan_id`` and ``loan_row`` (the loan's row in its table) per loan-year."""
        keep = self.gross > 0
        return ClaimRows(columns={
            "loan_id": loan_id, "year": self.year.astype(np.int32),
            "interest": self.interest, "gross": self.gross, "amount": self.paid,
            "cut_by_interest": self.cut_by_interest, "cut_by_annual_cap": self.cut_by_annual_cap,
            "cut_by_lifetime_cap": self.cut_by_lifetime_cap,
            "parameter_set": np.array(self.set_ids, dtype=object)[self.set_index],
        }, money=("interest", "gross", "amount", "cut_by_interest", "cut_by_annual_cap", "cut_by_lifetime_cap"),
            paid=keep, id_column="loan_id", reasons=repeated_text(keep.shape[0], "outside the subsidy window"),
            rejections=rejections, digest=self.digest,
            internal={"loan_row": loan_row, "loan_start_day": self.loan_start_day, "set_index": self.set_index,
                      "in_window": self.in_window, "window_start_day": self.window_start_day,
                      "window_end_day": self.window_end_day, **internal})


#: The kernel's columns of each list of rules (frozen, and memoized by their parameter set).
_RULE_COLUMNS: IdentityMemo[np.ndarray] = IdentityMemo(256)


def _rule_columns(rules: list[InterestSubsidyRule]) -> np.ndarray:
    """The kernel's columns of each rule, a row each: form, points, share, benchmark, fixed start, years, annual and
    lifetime caps (read-only: shared by every call with these rules). One matrix, so that the rows of the loans'
    rules are taken in one numpy call (``columns.take(set_index, axis=1)``), not one a column."""
    def units(value: Decimal | None) -> int:
        return 0 if value is None else rate_to_units(value)

    def make() -> np.ndarray:
        columns = np.array([[get(r) for r in rules] for get in (
            lambda r: r.form.code, lambda r: units(r.points), lambda r: units(r.share),
            lambda r: units(r.benchmark_rate), lambda r: -1 if r.start_date is None else epoch_days(r.start_date),
            lambda r: -1 if r.max_years is None else r.max_years, lambda r: cap_fen(r.annual_cap),
            lambda r: cap_fen(r.lifetime_cap))], dtype=np.int64).reshape(8, len(rules))
        columns.flags.writeable = False
        return columns

    return _RULE_COLUMNS.get(tuple(rules), make)


def subsidy_window(loan_start_day: np.ndarray, rules: InterestSubsidyRule | Policy) -> tuple[np.ndarray, np.ndarray]:
    """Each loan's 貼息 window ``[start, end)`` in days since 1970-01-01, from its drawdown day and the rule in
    force on it; ``end`` is the largest int64 when the window is open.

    >>> from datetime import date
    >>> from subsidy_engine.core.dates import day_date
    >>> rule = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)
    >>> start, end = subsidy_window(np.array([epoch_days(date(2024, 2, 29))]), rule)
    >>> day_date(end[0])
    datetime.date(2026, 2, 28)
    """
    loan_start = np.asarray(loan_start_day, np.int64)
    in_force = rules_in_force(rules, loan_start, lambda s: s.interest_subsidy_rule())
    columns = _rule_columns(in_force.rules)
    return subsidy_window_days(columns[4][in_force.set_index], columns[5][in_force.set_index], loan_start)


@dataclass(frozen=True)
class _KernelRun(_Amounts):
    """What :func:`~subsidy_engine.kernels.subsidy.portfolio_subsidy` wrote, per loan-year or per period."""

    terms: np.ndarray  # per period only: base, factor, num, den, inside, days, day_base, day_factor
    loan_start: np.ndarray  # per loan
    first_year: np.ndarray  # per loan
    year_ptr: np.ndarray
    row_ptr: np.ndarray
    window_start: np.ndarray  # per loan
    window_end: np.ndarray  # per loan
    in_force: RulesInForce[InterestSubsidyRule]


#: The rows' settlement flags of a book whose loans all settle interest on their due dates: never read.
_EVERY_ROW_SETTLES = np.ones(0, np.bool_)
#: The rate segments the rows' dates end with, of a book whose loans all settle on their due dates: never read.
_NO_END_SEGMENT = np.zeros(0, np.int32)


def _run_kernel(f: dict[str, np.ndarray], periods: np.ndarray, rules: InterestSubsidyRule | Policy, *,
                per_period: bool, paid_only: bool = False) -> _KernelRun:
    """Run the 貼息 kernel over amortized loans: one output row per loan and calendar year of its due dates
    (no year in between is skipped), or one per period, with each period's accrual terms and amounts, or only
    what is paid (``paid_only``, per period: of the seven amounts and eight terms of a period, the one a bank's
    ledger reads; the other arrays are empty)."""
    end_day = f["end_day"]  # int32 days: widened inside the kernel, not copied (15M rows at 100k loans)
    row_ptr, first_year, year_ptr = loan_year_layout(periods, end_day)
    loan_start = f["loan_start_day"].astype(np.int64)

    in_force = rules_in_force(rules, loan_start, ParameterSet.interest_subsidy_rule, once=True)
    # each loan's rule's columns, taken in one call; ``take`` writes a C-ordered matrix (``[:, index]`` would not),
    # so that each row is a contiguous int64 column, the kind of array the kernel is compiled for
    form, points, share, benchmark, fixed_start, years, annual_cap, lifetime_cap = (
        _rule_columns(in_force.rules).take(in_force.set_index, axis=1))
    window_start, window_end = subsidy_window_days(fixed_start, years, loan_start)

    rows = int(row_ptr[-1]) if per_period else int(year_ptr[-1])
    paid_only = paid_only and per_period
    out = [np.empty(rows if k == 3 or not paid_only else 0, np.int64) for k in range(7)]  # out[3]: paid
    terms = np.empty((rows if per_period and not paid_only else 0, 8), np.int64)
    end_segment = f.get("end_segment")
    if end_segment is None and not (f["loan_interest_months"] > 0).any():
        # only a loan settling interest on calendar days reads it: a book without one needs no copy of its rows'
        # segments (46M rows in a national portfolio)
        end_segment = _NO_END_SEGMENT
    elif end_segment is None:  # the rate a row's date ends with is the next row's of its loan (its own for the last)
        segment = f["segment"]
        end_segment = np.empty_like(segment)
        end_segment[:-1] = segment[1:]
        ends = row_ptr[1:][periods > 0] - 1
        end_segment[ends] = segment[ends]
    if periods.shape[0]:
        # one kind of array from every path (a quote's are read-only, a ledger's segments int64), so that the
        # kernel is compiled once
        portfolio_subsidy(row_ptr, end_day, loan_start, f["interest"], f["principal"],
                          np.asarray(f["segment"], np.int32), f["segment_rate"], np.asarray(end_segment, np.int32),
                          f["loan_opening"], f["loan_basis"], f["loan_due_day"], f["loan_interest_months"],
                          f.get("settles", _EVERY_ROW_SETTLES), read_only(f["event_ptr"]), read_only(f["event_day"]),
                          read_only(f["event_amount"]),
                          form, points, share, benchmark, window_start, window_end, annual_cap, lifetime_cap,
                          year_ptr, per_period, *out, terms)
    year, interest, gross, paid, cut_by_interest, cut_by_annual_cap, cut_by_lifetime_cap = out
    return _KernelRun(year, interest, gross, paid, cut_by_interest, cut_by_annual_cap, cut_by_lifetime_cap, terms=terms, loan_start=loan_start, first_year=first_year, year_ptr=year_ptr,
                      row_ptr=row_ptr, window_start=window_start, window_end=window_end, in_force=in_force)


def subsidy_per_row(f: dict[str, np.ndarray], periods: np.ndarray, rule: InterestSubsidyRule | Policy
                    ) -> np.ndarray:
    """The 貼息 paid on each row of schedule arrays ``f`` (as :func:`subsidy_by_loan_year` reads them), in fen:
    for the rows a bank's ledger is rebuilt into (:mod:`subsidy_engine.measures.ledger`)."""
    return _run_kernel(f, periods, rule, per_period=True, paid_only=True).paid


def subsidy_by_loan_year(f: dict[str, np.ndarray], periods: np.ndarray, rules: InterestSubsidyRule | Policy, *,
                         window_rows: bool = False, claims_only: bool = False) -> LoanYears:
    """The 貼息 of amortized loans per loan and calendar year: the kernel behind :func:`interest_subsidy_rows`.

    ``f`` holds the schedule arrays of :attr:`subsidy_engine.loans.portfolio.PortfolioResult.fen` and
    ``periods`` each loan's number of periods; the table path and :func:`subsidy_engine.service.quote` share it
    (and :func:`interest_subsidy` runs the same kernel per period). ``claims_only`` keeps only the loan-years
    marked ``in_window`` (those paid, or with ``window_rows`` those of the window).
    """
    run = _run_kernel(f, periods, rules, per_period=False)
    year_ptr, row_ptr, end_day, first_year = run.year_ptr, run.row_ptr, f["end_day"], run.first_year
    window_start, window_end, in_force = run.window_start, run.window_end, run.in_force
    loan_of_year = np.repeat(np.arange(periods.shape[0]), year_ptr[1:] - year_ptr[:-1])
    keep = run.gross > 0
    in_window = keep
    if window_rows:  # a period [start, end] overlapping [window_start, window_end) marks its loan-year
        loan_of_period = np.repeat(np.arange(periods.shape[0]), periods)
        # a row pays what accrued since its loan's settlement before it: the row before, unless the loan settles on
        # calendar days (then only its settling rows do), and since the drawdown before the first
        settles = f.get("settles")
        period_start = np.empty(end_day.shape[0], np.int64)
        if settles is None or settles.all():
            period_start[1:] = end_day[:-1]
            has = periods > 0
            period_start[row_ptr[:-1][has]] = run.loan_start[has]
        else:
            before = np.full(end_day.shape[0], -1, np.int64)
            before[1:] = np.maximum.accumulate(np.where(settles, np.arange(end_day.shape[0]), -1))[:-1]
            own = before >= np.repeat(row_ptr[:-1], periods)  # a settlement of the row's own loan
            period_start[:] = np.where(own, np.asarray(end_day, np.int64)[np.maximum(before, 0)],
                                       run.loan_start[loan_of_period])
        period_year = np.empty(end_day.shape[0], np.int64)
        calendar_year(np.asarray(end_day, np.int64), period_year)
        overlap = (period_start < window_end[loan_of_period]) & (end_day > window_start[loan_of_period])
        in_window = np.zeros(keep.shape[0], bool)
        in_window[(year_ptr[:-1][loan_of_period] + period_year - first_year[loan_of_period])[overlap]] = True
        if (keep & ~in_window).any():
            raise AssertionError("a loan-year paid outside its subsidy window: the window rows are wrong")
    if claims_only:  # a national book's loan-years are 2.5 times its claims: the rest is never copied further
        kept = np.flatnonzero(in_window)
        amounts = {name: getattr(run, name)[kept] for name in _AMOUNT_NAMES}
        loan_of_year, in_window = loan_of_year[kept], in_window[kept]
    else:
        amounts = {name: getattr(run, name) for name in _AMOUNT_NAMES}
    return LoanYears(**amounts, loan_of_year=loan_of_year, loan_start_day=run.loan_start[loan_of_year],
                     set_index=in_force.set_index[loan_of_year], set_ids=list(in_force.ids),
                     digest=in_force.digest, in_window=in_window,
                     window_start_day=window_start[loan_of_year], window_end_day=window_end[loan_of_year])

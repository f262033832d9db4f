"""One loan's schedule: :func:`amortize` and :class:`Schedule` (measure 15).

The scalar API for banks, the portal and tests. It runs the same numba kernel
as the portfolio path (so a loan quoted alone and the same loan in a
portfolio agree to the fen) and returns exact amounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

import numpy as np
import pandas as pd

from subsidy_engine.core.columns import date_series, money_series, rate_series
from subsidy_engine.core.dates import EPOCH, day_date
from subsidy_engine.core.money import RATE_SCALE, fen_to_yuan, rate_to_units, round_fen, units_to_rate
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.core.vocabulary import Method
from subsidy_engine.errors import CoverageError
from subsidy_engine.loans import amortization
from subsidy_engine.loans.arrays import LoanEvents, arrays_from_loans
from subsidy_engine.loans.contract import Loan
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve, default_lpr

SCHEDULE_COLUMNS = ("period", "start_date", "end_date", "days", "annual_rate", "opening_balance", "drawn",
                    "interest", "principal", "payment", "closing_balance")
QUOTE_CONVENTIONS = ("unrounded_payment", "rounded_payment")


_NO_EVENTS = LoanEvents(np.zeros(2, np.int64), *(np.zeros(0, np.int64) for _ in range(4)))
for _array in vars(_NO_EVENTS).values():
    _array.flags.writeable = False


@dataclass(frozen=True)
class ScheduleRow:
    """One period of a schedule, every amount exact to the fen: ``closing = opening + drawn - principal``,
    where ``drawn`` is the tranches drawn after the period's start, up to its end (owed from the next period
    on), and ``principal`` what was repaid in it, scheduled and prepaid. ``settles`` is false on a due date of a
    loan settling interest on calendar dates that is not one of them: its interest runs on to the next."""

    period: int
    start_date: date
    end_date: date
    days: int
    annual_rate: Decimal
    opening_balance: Decimal
    interest: Decimal
    principal: Decimal
    payment: Decimal
    closing_balance: Decimal
    drawn: Decimal = Decimal("0.00")
    settles: bool = True


@dataclass(frozen=True)
class Schedule:
    """The repayment schedule of one loan, exact to the fen.

    Attributes
    ----------
    loan : Loan
        The contract.
    projected_from : date or None
        The first reset date priced from a projected LPR, if any.
    provenance : Provenance
        Engine version and the hash of the rate data (and business-day calendar) used.
    calendar_projection : str or None
        The business-day calendar's projection note, when a due date was moved on days past its data
        (:meth:`~subsidy_engine.params.business_days.BusinessCalendar.projection_note`).
    settles : ndarray of bool or None
        Of a loan settling interest on calendar dates: whether each row settles interest (a due date that is
        not a settlement date carries the accrual on). None when every row does.
    """

    loan: Loan
    end_day: np.ndarray
    rate_units: np.ndarray
    opening_fen: np.ndarray
    interest_fen: np.ndarray
    principal_fen: np.ndarray
    projected_from: date | None
    provenance: Provenance
    calendar_projection: str | None = None
    settles: np.ndarray | None = None

    @property
    def periods(self) -> int:
        return int(self.interest_fen.shape[0])

    @cached_property
    def _spans(self) -> tuple[np.ndarray, np.ndarray]:
        first = np.array([(self.loan.start_date - EPOCH).days], dtype=self.end_day.dtype)
        return amortization.row_spans(self.end_day, np.array([0, self.periods], np.int64), first, self.settles)

    @property
    def start_day(self) -> np.ndarray:
        """Each row's first day of interest (a row after a calendar settlement starts the day after it)."""
        return self._spans[0]

    @property
    def days(self) -> np.ndarray:
        """Each row's days of interest (a calendar settlement counts its own date)."""
        return self._spans[1]

    def kernel_arrays(self) -> dict[str, np.ndarray]:
        """This schedule as the per-period arrays of :func:`subsidy_engine.loans.amortization.schedule_arrays`
        (one loan; each period its own rate segment)."""
        loan = self.loan
        events = arrays_from_loans([loan]).events_csr() if loan.has_events else _NO_EVENTS
        return {"end_day": self.end_day, "segment": np.arange(self.periods, dtype=np.int32),
                "interest": self.interest_fen, "principal": self.principal_fen,
                "loan_principal": np.array([loan.principal_fen], np.int64),
                "loan_opening": np.array([loan.first_drawdown_fen], np.int64),
                **amortization.event_arrays(events),
                "loan_basis": np.array([loan.basis.code], np.int64),
                "loan_due_day": np.array([loan.due_day], np.int64),
                "loan_interest_months": np.array([loan.interest_months], np.int64),
                **({} if self.settles is None else {"settles": self.settles}),
                "loan_start_day": self.start_day[:1].astype(np.int64), "segment_rate": self.rate_units}

    @cached_property
    def drawn_fen(self) -> np.ndarray:
        """The tranches drawn in each period (after its start, up to its end): ``closing - opening +
        principal``, the closing balance being the next period's opening, and 0 after the last."""
        closing = np.zeros_like(self.opening_fen)
        closing[:-1] = self.opening_fen[1:]
        return closing - self.opening_fen + self.principal_fen

    def to_frame(self) -> pd.DataFrame:
        """One row per period; money and rates as exact decimal columns.

        Columns: ``period, start_date, end_date, days, annual_rate,
        opening_balance, drawn, interest, principal, payment, closing_balance``.
        ``payment = interest + principal`` and ``closing_balance =
        opening_balance + drawn - principal`` on every row. A loan settling interest on calendar dates has
        a row for each settlement and each due date (``period`` numbers the rows) and a ``settles`` column.
        """
        return pd.DataFrame({
            "period": np.arange(1, self.periods + 1, dtype=np.int32),
            "start_date": date_series(self.start_day),
            "end_date": date_series(self.end_day),
            "days": self.days.astype(np.int32),
            "annual_rate": rate_series(self.rate_units),
            "opening_balance": money_series(self.opening_fen),
            "drawn": money_series(self.drawn_fen),
            "interest": money_series(self.interest_fen),
            "principal": money_series(self.principal_fen),
            "payment": money_series(self.interest_fen + self.principal_fen),
            "closing_balance": money_series(self.opening_fen + self.drawn_fen - self.principal_fen),
            **({} if self.settles is None else {"settles": self.settles}),
        })

    @property
    def rows(self) -> list[ScheduleRow]:
        """The periods as records of ``Decimal`` values."""
        out = []
        for p in range(self.periods):
            start = day_date(self.start_day[p])
            end = day_date(self.end_day[p])
            opening, interest, principal, drawn = (int(self.opening_fen[p]), int(self.interest_fen[p]),
                                                   int(self.principal_fen[p]), int(self.drawn_fen[p]))
            out.append(ScheduleRow(
                period=p + 1, start_date=start, end_date=end, days=int(self.days[p]),
                annual_rate=units_to_rate(self.rate_units[p]).normalize(),
                opening_balance=fen_to_yuan(opening), interest=fen_to_yuan(interest),
                principal=fen_to_yuan(principal), payment=fen_to_yuan(interest + principal),
                closing_balance=fen_to_yuan(opening + drawn - principal), drawn=fen_to_yuan(drawn),
                settles=True if self.settles is None else bool(self.settles[p])))
        return out

    @property
    def total_interest(self) -> Decimal:
        """The real total interest: the sum of the rounded rows."""
        return fen_to_yuan(int(self.interest_fen.sum()))

    @property
    def total_payment(self) -> Decimal:
        """The real total paid: principal plus total interest."""
        return fen_to_yuan(int(self.interest_fen.sum() + self.principal_fen.sum()))

    @property
    def first_payment(self) -> Decimal:
        return fen_to_yuan(int(self.interest_fen[0] + self.principal_fen[0]))

    def _quote_terms(self) -> tuple[int, Fraction, int, int]:
        """``(principal in fen, nominal period rate, grace periods, amortizing periods)`` of a loan that
        calculators can quote: one fixed rate, a method they know."""
        loan = self.loan
        if loan.annual_rate is None:
            raise ValueError("quoted figures assume one fixed rate; this loan is floating "
                             "(use total_interest)")
        if loan.has_events:
            raise ValueError("quoted figures assume a loan drawn at once and repaid on its plan; this one has "
                             "drawdowns or prepayments (use total_interest)")
        if loan.interest_months:
            raise ValueError("quoted figures assume interest paid with each installment; this loan settles it on "
                             "calendar dates (use total_interest)")
        if loan.method is Method.CUSTOM:
            raise ValueError("quoted figures are defined for equal_installment, equal_principal "
                             "and interest_only loans (use total_interest)")
        i = Fraction(rate_to_units(loan.annual_rate), RATE_SCALE * loan.frequency.periods_per_year)
        return loan.principal_fen, i, loan.grace_periods, loan.periods - loan.grace_periods

    def _exact_quoted_payments(self) -> list[Fraction]:
        """Each period's payment as calculators compute it, unrounded, in fen."""
        principal, i, g, m = self._quote_terms()
        interest_only = principal * i
        if self.loan.method is Method.INTEREST_ONLY:
            return [interest_only] * (g + m - 1) + [principal + interest_only]
        if self.loan.method is Method.EQUAL_PRINCIPAL:
            return [interest_only] * g + [Fraction(principal, m) + (principal - Fraction(k * principal, m)) * i
                                          for k in range(m)]
        if i == 0:
            annuity = Fraction(principal, m)
        else:
            grown = (1 + i) ** m
            annuity = principal * i * grown / (grown - 1)
        return [interest_only] * g + [annuity] * m

    def quoted_payments(self) -> list[Decimal]:
        """Each period's payment as a published calculator shows it: the exact payment rounded to the fen
        once (the ``rounded_payment`` quote convention).

        Calculators assume the nominal period rate ``i = rate / 12`` (``/ 4``) and one fixed rate, and
        round a payment as a whole: equal principal (等額本金) shows ``round(P/m + B_k i)`` with the
        unrounded balance ``B_k = P - k P/m``, where the schedule rounds the principal and the interest
        each to the fen (and may differ by a fen); equal installment (等額本息) shows ``round(M)``
        every period, interest only ``round(P i)`` and the principal with the last. A grace period
        shows ``round(P i)``. The schedule's rows are what is charged; these are what is advertised.

        Examples
        --------
        >>> s = amortize(Loan(principal="230000", annual_rate="0.049", term_months=120,
        ...                   method="equal_principal", start_date="2024-01-15"))
        >>> s.quoted_payments()[:2], s.first_payment
        ([Decimal('2855.83'), Decimal('2848.01')], Decimal('2855.84'))
        """
        return [fen_to_yuan(round_fen(p)) for p in self._exact_quoted_payments()]

    def quoted_total_interest(self, convention: str) -> Decimal:
        """Total interest as a published calculator would quote it.

        Parameters
        ----------
        convention : {"unrounded_payment", "rounded_payment"}
            ``unrounded_payment``: the exact (unrounded) payments summed, less
            the principal, rounded once at the end.
            ``rounded_payment``: each payment rounded to the fen first
            (:meth:`quoted_payments`), then summed, less the principal.

        Notes
        -----
        Published calculators assume one fixed rate and the nominal period
        rate ``i = rate / 12`` (``/ 4``) whatever the day count, so the quote
        is defined for fixed-rate equal-installment, equal-principal and
        interest-only loans. Grace periods add ``g * P * i`` (unrounded) or
        ``g * round(P * i)`` (rounded). For equal installment over ``m``
        periods, ``unrounded = M m - P`` with ``M = P i (1+i)^m / ((1+i)^m - 1)``;
        for equal principal, ``unrounded = P i (m + 1) / 2``.

        Examples
        --------
        >>> s = amortize(Loan(principal="1000000", annual_rate="0.049",
        ...                   term_months=360, start_date="2024-01-15"))
        >>> s.quoted_total_interest("rounded_payment"), s.total_interest
        (Decimal('910617.20'), Decimal('910615.12'))
        >>> s.quoted_total_interest("unrounded_payment")
        Decimal('910616.19')
        """
        if convention not in QUOTE_CONVENTIONS:
            raise ValueError(f"convention {convention!r} is not one of {QUOTE_CONVENTIONS}")
        payments = self._exact_quoted_payments()
        if convention == "rounded_payment":
            payments = [Fraction(round_fen(p)) for p in payments]
        return fen_to_yuan(round_fen(sum(payments, Fraction(0)) - self.loan.principal_fen))


def amortize(loan: Loan, lpr: LprCurve | None = None, calendar: BusinessCalendar | None = None) -> Schedule:
    """Amortize one loan.

    Parameters
    ----------
    loan : Loan
        The validated contract.
    lpr : LprCurve, optional
        The LPR data for a floating loan; the bundled history by default.
        Pass a curve extended with a projection to price resets beyond it.
    calendar : BusinessCalendar, optional
        The business days a loan with a ``business_day`` rule moves its due dates to; China's official
        calendar by default (:func:`~subsidy_engine.params.business_days.china_calendar`). Pass
        ``china_calendar().with_weekend_projection()`` for due dates beyond its data.

    Returns
    -------
    Schedule

    Raises
    ------
    CoverageError
        A floating loan's reset falls beyond the curve's horizon, or a due date to move beyond the calendar's.

    Notes
    -----
    Equal installment (等額本息): ``M = P i (1+i)^n / ((1+i)^n - 1)``, rounded
    half-up; each period ``interest = round(B i)``, ``principal = M - interest``;
    the last period repays the balance. Equal principal (等額本金): ``principal
    = round(P / n)``, ``payment = principal + interest``. See
    :mod:`subsidy_engine.reference.calculators` for every rule and rounding.

    Examples
    --------
    >>> s = amortize(Loan(principal="1000000", annual_rate="0.049", term_months=360,
    ...                   start_date="2024-01-15"))
    >>> s.first_payment, s.rows[0].interest, s.rows[-1].closing_balance
    (Decimal('5307.27'), Decimal('4083.33'), Decimal('0.00'))
    """
    curve = lpr if lpr is not None else (default_lpr() if loan.floating is not None else None)
    result = amortization.run(arrays_from_loans([loan]), curve, rows=True, years=False, calendar=calendar)
    if result.errors:
        reason = result.errors[0]
        raise CoverageError(reason) if result.coverage_errors else ValueError(reason)
    written = int(result.written[0])
    out = result.out
    end_day, segment, interest, principal = (out.end_day[:written], out.segment[:written],
                                             out.interest[:written], out.principal[:written])
    projected = int(result.projected_from[0])
    return Schedule(
        loan=loan,
        end_day=end_day,
        rate_units=result.segment_rate[segment],
        opening_fen=amortization.opening_balances(result.loan_opening_fen, np.array([0, written]), principal,
                                                  end_day, **amortization.event_arrays(result.events)),
        interest_fen=interest,
        principal_fen=principal,
        projected_from=None if projected < 0 else day_date(projected),
        provenance=Provenance.of(curve.digest if curve else "fixed-rate", *result.calendar_digests(),
                                 scenario=curve.projection_label if curve else None),
        calendar_projection=result.calendar_projection,
        settles=out.settles[:written] if loan.interest_months else None,
    )

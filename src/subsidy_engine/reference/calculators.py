"""The reference amortization: plain Python, ``Decimal`` amounts, one loan at a time.

This is the executable form of docs/conventions.md and the yardstick of the numba
kernel (``kernels``): the tests prove them equal to the fen. It favours being
obviously right over being fast.

Rules, each rounding named (all half-up to the fen, applied where the amount
is produced):

* **Rate of a period** - the rate in force on the period's first day. A fixed
  loan has one rate. A floating loan starts at the most recent LPR fixing on
  or before the drawdown date plus the spread, and on each reset date (every
  1 January, or every drawdown anniversary) takes the most recent fixing on or
  before that date plus the spread; the new rate applies from the first
  period that starts on or after the reset date (no period is split).
* **Interest of a period** (*interest rounding*) - ``round(opening x rate x
  fraction)`` where the fraction is ``1/12`` a whole month under the
  ``monthly`` basis, whatever its days, and ``1/360`` an odd day of a stub
  (the first period, when the loan is drawn on another day than its due
  day: whole months from the first due day on or after the drawdown, odd
  days before it); ``days/360``, ``days/365`` or ``days_30_360/360`` under
  the day-count bases.
* **Equal installment** (等額本息) - the payment ``M = P i (1+i)^m /
  ((1+i)^m - 1)`` with the nominal period rate ``i = rate/12`` (``/4``) over
  the ``m`` periods after the grace, *payment rounding* of the exact rational
  value. It is computed when amortization starts and again whenever the rate
  changes, over the remaining balance and periods. Principal of a period =
  ``M - round(opening x i)``, kept within ``[0, opening]``; under the monthly
  basis this is ``M - interest``, so payment = M (but for a stub). Under a day-count basis the
  principal follows the same annuity and the interest is that of the actual
  days, so the payment differs from ``M`` by the day-count difference.
* **Equal principal** (等額本金) - principal per period ``round(P / m)``
  (*principal rounding*), kept within the balance.
* **Interest only** (先息後本) - no principal until the last period.
* **Custom** - the plan's amounts (fractions are split to the fen by the
  largest-remainder rule).
* **Last period** - repays the whole remaining balance, so the balance ends
  at exactly 0.00.
* **Business days** - a due date on a day that is not a business day moves to
  the first business day after it (``following``), or, when that is in the next
  month, to the last one before it (``modified_following``). The period ends on
  the moved date and the next starts there, so interest is charged for the days
  as they fall; on the monthly basis a period whose dates moved is a stub (whole
  months counted back on its end day, odd days before). The rate of a period is
  set by its unmoved start.
"""

from __future__ import annotations

import calendar
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, Callable

from subsidy_engine.core.money import div_half_up, fen_to_yuan, quantize_fen, rate_to_units, yuan_to_fen
from subsidy_engine.core.vocabulary import BusinessDay, InterestBasis, Method, Recompute, Reset
from subsidy_engine.loans.contract import Loan
from subsidy_engine.loans.schedule import ScheduleRow
from subsidy_engine.params.lpr import LprCurve


def reset_dates(loan: Loan, last_start: date) -> list[date]:
    """Repricing dates of a floating loan that fall on or before ``last_start``."""
    assert loan.floating is not None
    dates: list[date] = []
    start = loan.start_date
    if loan.floating.reset is Reset.JANUARY:
        year = start.year + 1
        while (d := date(year, 1, 1)) <= last_start:
            dates.append(d)
            year += 1
    else:
        k = 1
        while (d := add_months(start.year, start.month, 12 * k, start.day)) <= last_start:
            dates.append(d)
            k += 1
    return dates


def period_rates(loan: Loan, starts: list[date], curve: LprCurve | None) -> tuple[list[Decimal], bool]:
    """The annual rate of each period and whether any came from a projection.

    Raises :class:`~subsidy_engine.params.lpr.CoverageError` for a floating loan
    whose drawdown or resets fall outside the curve's coverage.
    """
    if loan.annual_rate is not None:
        return [loan.annual_rate] * len(starts), False
    assert loan.floating is not None and curve is not None
    spread, tenor = loan.floating.spread, loan.floating.tenor
    fixing_dates = [loan.start_date, *reset_dates(loan, starts[-1])]
    rates_at = []
    for d in fixing_dates:
        curve.check_covered(d, what=f"LPR {tenor} for the rate set on {d}")
        rate = curve.rate(tenor, d) + spread
        if rate < 0:
            raise ValueError(f"floating: LPR {tenor} on {d} plus {loan.floating.spread_bp} bp is negative")
        rates_at.append(rate)
    projected = any(curve.is_projected(d) for d in fixing_dates)
    return [rates_at[bisect_right(fixing_dates, s) - 1] for s in starts], projected


def add_months(year: int, month: int, months: int, day: int) -> date:
    """The date ``months`` after (year, month) on ``day``, clamped to month end.

    >>> add_months(2024, 1, 1, 31)
    datetime.date(2024, 2, 29)
    >>> add_months(2024, 11, 3, 15)
    datetime.date(2025, 2, 15)
    """
    y, m = divmod(year * 12 + (month - 1) + months, 12)
    return date(y, m + 1, min(day, calendar.monthrange(y, m + 1)[1]))


def due_dates(start: date, periods: int, months_per_period: int,
              settlement_day: int | None = None) -> list[date]:
    """The ``periods`` due dates of a loan drawn on ``start``.

    >>> due_dates(date(2024, 1, 31), 3, 1)
    [datetime.date(2024, 2, 29), datetime.date(2024, 3, 31), datetime.date(2024, 4, 30)]
    >>> due_dates(date(2024, 3, 5), 2, 1, settlement_day=20)
    [datetime.date(2024, 4, 20), datetime.date(2024, 5, 20)]
    """
    day = settlement_day if settlement_day is not None else start.day
    return [add_months(start.year, start.month, k * months_per_period, day)
            for k in range(1, periods + 1)]


#: Working days by the State Council's notices that ``chinese_calendar``'s data leaves days off, transcribed here
#: from the notices (not from the engine): 国务院办公厅关于2006年部分节假日安排的通知 (2005-12-22), "12月31日(星期六)上班".
NOTICED_WORKDAYS_THE_PACKAGE_MISSES = frozenset({date(2005, 12, 31)})


def china_business_day(d: date) -> bool:
    """China's official business days, read from ``chinese_calendar`` itself (not the engine's table of it) with
    the working days its data misses (:data:`NOTICED_WORKDAYS_THE_PACKAGE_MISSES`): raises ``NotImplementedError``
    for a year the package has no data for."""
    import chinese_calendar  # type: ignore[import-untyped]  # no type information shipped

    return d in NOTICED_WORKDAYS_THE_PACKAGE_MISSES or bool(chinese_calendar.is_workday(d))


def moved(d: date, rule: BusinessDay, is_business: Callable[[date], bool]) -> date:
    """``d`` moved to a business day by ``rule``.

    >>> moved(date(2025, 10, 1), BusinessDay.FOLLOWING, china_business_day)  # National Day week
    datetime.date(2025, 10, 9)
    >>> moved(date(2025, 5, 31), BusinessDay.MODIFIED_FOLLOWING, china_business_day)  # Dragon Boat, month end
    datetime.date(2025, 5, 30)
    """
    if rule is BusinessDay.NONE:
        return d
    later = d
    while not is_business(later):
        later += timedelta(days=1)
    if rule is BusinessDay.FOLLOWING or later.month == d.month:
        return later
    earlier = d - timedelta(days=1)
    while not is_business(earlier):
        earlier -= timedelta(days=1)
    return earlier


# The reference's own day counts: the kernels' 30/360 (kernels.calendar.days_30_360) is production's;
# this copy is evidence that it is right.
def days_actual(start: date, end: date) -> int:
    """Actual days, start-inclusive and end-exclusive.

    >>> days_actual(date(2024, 1, 1), date(2024, 3, 31))
    90
    """
    return (end - start).days


def days_30_360(start: date, end: date) -> int:
    """Days under 30/360 (ISDA 2006 §4.16(f), "Bond Basis").

    Notes
    -----
    ``D1`` becomes 30 when it is 31; ``D2`` becomes 30 when it is 31 and
    ``D1`` is (now) 30 or 31. Then
    ``days = 360 (Y2 - Y1) + 30 (M2 - M1) + (D2 - D1)``.

    >>> days_30_360(date(2024, 1, 31), date(2024, 2, 29))
    29
    >>> days_30_360(date(2024, 1, 30), date(2024, 3, 31))
    60
    """
    d1 = min(start.day, 30)
    d2 = end.day
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def _annuity_payment_fen(balance_fen: int, rate_units: int, periods_per_year: int, periods: int) -> int:
    """Payment rounding: ``round(B i (1+i)^m / ((1+i)^m - 1))`` from exact integers.

    With ``i = r / D`` (``D = 1e10 x periods per year``) the payment is the
    rational ``B r (D+r)^m / (D ((D+r)^m - D^m))``; a 60-digit Decimal could
    not tell a half-fen tie of it, integers can.
    """
    if rate_units == 0:
        return div_half_up(balance_fen, periods)
    scale = 10**10 * periods_per_year
    grown = (scale + rate_units) ** periods
    numerator = balance_fen * rate_units * grown
    denominator = scale * (grown - scale**periods)
    return div_half_up(numerator, denominator)


def _fraction(basis: InterestBasis, start: date, end: date, due_day: int) -> tuple[int, int]:
    """The period's share of a year as (numerator, denominator) integers.

    Kept as two integers so that interest is ``opening x rate x num / den`` with
    one division at the end: dividing first (75/360 = 0.2083...) would turn an
    exact half-fen tie into 0.4999... and round it the wrong way.

    >>> _fraction(InterestBasis.MONTHLY, date(2024, 3, 5), date(2024, 4, 20), 20)
    (45, 360)
    """
    if basis is InterestBasis.MONTHLY:
        # The first due day on or after the start; whole months from it to the end (a due day too, or the
        # day a prepayment closed the loan: then its own day is the one counted), and the odd days before it:
        # months / 12 + days / 360 = (30 months + days) / 360.
        if end.day != min(due_day, calendar.monthrange(end.year, end.month)[1]):
            due_day = end.day
        first = add_months(start.year, start.month, 0, due_day)
        if first < start:
            first = add_months(start.year, start.month, 1, due_day)
        months = (end.year * 12 + end.month) - (first.year * 12 + first.month)
        return 30 * months + days_actual(start, first), 360
    if basis is InterestBasis.ACT_360:
        return days_actual(start, end), 360
    if basis is InterestBasis.ACT_365:
        return days_actual(start, end), 365
    return days_30_360(start, end), 360


def _events(loan: Loan) -> list[tuple[date, int, bool]]:
    """The loan's later tranches (+ fen) and prepayments (- fen) in date order, a day's prepayment first,
    each with whether it recomputes the payment."""
    tranches = [(d.date, yuan_to_fen(d.amount), True) for d in loan.drawdowns[1:]]
    prepaid = [(q.date, -yuan_to_fen(q.amount), q.recompute is Recompute.PAYMENT) for q in loan.prepayments]
    return sorted(tranches + prepaid, key=lambda e: (e[0], e[1] > 0))


def _after(balance: int, day: date, change: int) -> int:
    """The balance after a tranche (+) or a prepayment (-), which may not exceed it."""
    if -change > balance:
        raise ValueError(f"a prepayment of {fen_to_yuan(-change)} on {day} is more than the balance then "
                         f"({fen_to_yuan(balance)})")
    return balance + change


def settlement_dates(loan: Loan, last: date, is_business: Callable[[date], bool]) -> list[date]:
    """A loan's calendar settlements (結息日) after its start and before ``last``: the ``interest_day`` of every
    month, or of March, June, September and December, after the start, moved like its due dates; one moved
    back onto the start is left out (the next one settles the start day with the others). Each settles the
    days since the last one up to and including its own.

    >>> from subsidy_engine import Loan
    >>> loan = Loan(principal="1000", annual_rate="0.04", term_months=12, start_date="2025-02-05",
    ...             interest_dates="calendar", interest_frequency="quarterly", business_day="following")
    >>> settlement_dates(loan, date(2025, 12, 31), china_business_day)  # Saturday 20 September: Monday 22nd
    [datetime.date(2025, 3, 20), datetime.date(2025, 6, 20), datetime.date(2025, 9, 22), datetime.date(2025, 12, 22)]
    """
    step = loan.interest_months
    out: list[date] = []
    month_index = loan.start_date.year * 12 + loan.start_date.month - 1
    while True:
        year, month = divmod(month_index, 12)
        month_index += 1
        if (year, month + 1) > (last.year, last.month):  # moved at most back to its month's first day: after last
            return out  # (and a month after December 9999 has no date)
        if (month + 1) % step:
            continue
        nominal = date(year, month + 1, min(loan.interest_day, calendar.monthrange(year, month + 1)[1]))
        day = moved(nominal, loan.business_day, is_business)
        if day >= last:
            return out
        if nominal > loan.start_date and day > loan.start_date:
            out.append(day)


def _daily_interest(balance: int, start: date, end: date, changes: list[tuple[date, int]], rate: Decimal,
                    year_days: int) -> Fraction:
    """The interest of the days ``[start, end)``, one day at a time: each day's balance x rate / year_days,
    the balance changing by ``changes`` (day, fen) on their days, exact."""
    total = Fraction(0)
    day = start
    pending = sorted(changes)
    while day < end:
        while pending and pending[0][0] <= day:
            balance += pending.pop(0)[1]
        total += Fraction(balance) * Fraction(rate) / year_days
        day += timedelta(days=1)
    return total


def reference_schedule(loan: Loan, curve: LprCurve | None = None,
                       is_business: Callable[[date], bool] = china_business_day) -> tuple[list[ScheduleRow], bool]:
    """Amortize ``loan`` the slow, plain way.

    Returns the rows and whether any rate came from a projection. Raises ``ValueError`` for a prepayment
    above the balance or an event after the loan was repaid in full. A loan with a ``business_day`` rule
    moves its due dates on the business days ``is_business`` tells (China's by default).

    >>> from subsidy_engine import Loan
    >>> rows, _ = reference_schedule(Loan(principal="1000000", annual_rate="0.049",
    ...                                   term_months=360, start_date="2024-01-15"))
    >>> rows[0].payment, rows[0].interest, rows[0].principal
    (Decimal('5307.27'), Decimal('4083.33'), Decimal('1223.94'))
    """
    n = loan.periods
    ppy = loan.frequency.periods_per_year
    nominal_ends = due_dates(loan.start_date, n, loan.frequency.months, loan.settlement_day)
    ends = [moved(end, loan.business_day, is_business) for end in nominal_ends]
    due_day = loan.settlement_day if loan.settlement_day is not None else loan.start_date.day
    starts = [loan.start_date, *ends[:-1]]
    rates, projected = period_rates(loan, [loan.start_date, *nominal_ends[:-1]], curve)
    grace = loan.grace_periods
    method = loan.method
    plan = loan.plan_fen
    pending = _events(loan)
    has_events = bool(pending)

    rows: list[ScheduleRow] = []
    balance = yuan_to_fen(loan.drawdowns[0].amount) if loan.drawdowns else loan.principal_fen
    payment_fen = 0  # equal installment's M
    level_principal = 0  # equal principal's round(P / m)
    recompute = False  # a tranche, or a prepayment asking for it, since the last due date
    shorten = False  # a prepayment keeping the payment, since the last due date
    last = n - 1  # the last period, earlier once such a prepayment shortens the term
    # Calendar settlement: interest accrues day by day and is settled on the settlement dates, each a row of
    # its own, and on the loan's last day; a due date that is not one carries it on.
    settlements = settlement_dates(loan, ends[-1], is_business) if loan.interest_months else []
    year_days = 365 if loan.basis is InterestBasis.ACT_365 else 360
    unsettled = Fraction(0)  # fen accrued since the last settlement, exact

    def events_until(balance: int, start: date, stop: date) -> tuple[list[tuple[date, int, bool]], date | None, int]:
        """The events strictly inside ``(start, stop)`` up to the one that repays the whole balance (its day is
        returned), and the balance after them."""
        nonlocal recompute, shorten
        inside = [e for e in pending if start < e[0] < stop]
        running = balance
        for k, (day, amount, asks) in enumerate(inside):
            running = _after(running, day, amount)
            recompute = recompute or asks
            shorten = shorten or not asks
            if running == 0:
                return inside[:k + 1], day, running
        return inside, None, running

    def round_fen(exact: Fraction) -> Decimal:
        return fen_to_yuan(div_half_up(exact.numerator, exact.denominator))  # interest rounding

    with localcontext() as ctx:
        ctx.prec = 60
        accrue_from = loan.start_date  # the first day not yet accrued: a settlement settles its own day too
        for p in range(n):
            rate, start, end = rates[p], starts[p], ends[p]
            while settlements and settlements[0] < end:
                settle_day = settlements.pop(0)
                opening = balance
                inside, closing_day, running = events_until(balance, start, settle_day)
                stop = closing_day or settle_day
                unsettled += _daily_interest(balance, accrue_from, stop, [(d, a) for d, a, _ in inside], rate,
                                             year_days)
                pending = pending[len(inside):]
                balance = running
                prepaid = -sum(amount for _, amount, _ in inside if amount < 0)
                drawn = sum(amount for _, amount, _ in inside if amount > 0)
                while closing_day is None and pending and pending[0][0] == settle_day:  # after the settlement
                    day, amount, asks = pending.pop(0)
                    balance = _after(balance, day, amount)
                    recompute = recompute or asks
                    shorten = shorten or not asks
                    prepaid, drawn = prepaid - min(amount, 0), drawn + max(amount, 0)
                    if balance == 0:
                        closing_day = settle_day
                if closing_day is not None and pending:
                    raise ValueError(f"an event on {pending[0][0]} comes after the loan was repaid in full")
                # the settlement day itself, at its balance at the end of the day (after its own events)
                unsettled += _daily_interest(balance, stop, stop + timedelta(days=1), [], rate, year_days)
                interest = round_fen(unsettled)
                unsettled = Fraction(0)
                rows.append(ScheduleRow(
                    period=len(rows) + 1, start_date=accrue_from, end_date=stop,
                    days=days_actual(accrue_from, stop) + 1,
                    annual_rate=rate, opening_balance=fen_to_yuan(opening), interest=interest,
                    principal=fen_to_yuan(prepaid), payment=interest + fen_to_yuan(prepaid),
                    closing_balance=fen_to_yuan(balance), drawn=fen_to_yuan(drawn), settles=True))
                if closing_day is not None:
                    return rows, projected
                start = settle_day
                accrue_from = settle_day + timedelta(days=1)
            opening = balance
            # Each amount accrues from its day to the period's end: the opening balance over the whole
            # period, a tranche from its day, a prepayment less from its day. A prepayment of the whole
            # balance ends the loan, and the period, on its day.
            inside, closing_day, running = events_until(balance, start, end)
            if closing_day is not None:
                end = closing_day
            pending = pending[len(inside):]
            if loan.interest_months:
                unsettled += _daily_interest(balance, accrue_from, end, [(d, a) for d, a, _ in inside], rate,
                                             year_days)
                interest = Decimal("0.00")
            else:
                pieces = [(start, balance)] + [(day, amount) for day, amount, _ in inside]
                accrued = Fraction(0)  # fen x share of a year, exact: a half-fen tie stays a tie
                for day, amount in pieces:
                    num, den = _fraction(loan.basis, day, end, due_day)
                    accrued += Fraction(amount * num, den)
                interest = round_fen(accrued * Fraction(rate))
            prepaid = -sum(amount for _, amount, _ in inside if amount < 0)
            drawn = sum(amount for _, amount, _ in inside if amount > 0)
            balance = running
            if shorten and p > grace and not recompute and closing_day is None:
                # the term in which the kept payment (equal principal's share) repays the balance
                left = last - p + 1
                if method is Method.EQUAL_PRINCIPAL and level_principal > 0:
                    last = min(p - 1 + -(-balance // level_principal), last)
                elif method is Method.EQUAL_INSTALLMENT:
                    fits = [m for m in range(1, left + 1)
                            if _annuity_payment_fen(balance, rate_to_units(rate), ppy, m) <= payment_fen]
                    last = p - 1 + (fits[0] if fits else left)
            if closing_day is not None:
                principal_fen = 0
            elif p == last:
                principal_fen = balance
            elif method is Method.CUSTOM:
                assert plan is not None
                principal_fen = min(plan[p], balance)
            elif p < grace or method is Method.INTEREST_ONLY:
                principal_fen = 0
            elif method is Method.EQUAL_PRINCIPAL:
                if p == grace or recompute:
                    level_principal = div_half_up(balance, last - p + 1)
                principal_fen = min(level_principal, balance)
            else:  # equal installment
                if p == grace or rate != rates[p - 1] or recompute:
                    payment_fen = _annuity_payment_fen(balance, rate_to_units(rate), ppy, last - p + 1)
                nominal = quantize_fen(fen_to_yuan(balance) * rate / ppy)
                principal_fen = min(max(payment_fen - int(nominal * 100), 0), balance)
            if p >= grace:
                recompute = shorten = False
            balance -= principal_fen
            if closing_day is None and p >= last and pending:  # the last due date repaid the loan in full
                raise ValueError(f"an event on {pending[0][0]} comes after the loan was repaid in full")
            # the due date's own events come after its principal
            while closing_day is None and pending and pending[0][0] == end:
                day, amount, asks = pending.pop(0)
                balance = _after(balance, day, amount)
                recompute = recompute or asks
                shorten = shorten or not asks
                if amount < 0:
                    prepaid -= amount
                    if balance == 0:  # a prepayment of the whole balance closes the loan
                        closing_day = end
                else:
                    drawn += amount
            repaid = principal_fen + prepaid
            # repaid in full before the term: by a prepayment, or by its plan with nothing more to draw
            closes = closing_day is not None or (balance == 0 and p < n - 1 and has_events
                                                 and (not pending or p >= last))
            if closes and pending:
                raise ValueError(f"an event on {pending[0][0]} comes after the loan was repaid in full")
            settles = True
            if loan.interest_months:
                # a due date settles when it is a settlement date too; the loan's last day settles what is left
                settles = closes or p == n - 1 or bool(settlements and settlements[0] == end)
                if settlements and settlements[0] == end:
                    settlements.pop(0)
                row_start, row_days = accrue_from, days_actual(accrue_from, end)
                if settles:
                    # the due date itself, at its balance after its principal and events, at the rate of the
                    # period it opens
                    day_rate = rates[p + 1] if p + 1 < n else rate
                    unsettled += _daily_interest(balance, end, end + timedelta(days=1), [], day_rate, year_days)
                    interest = round_fen(unsettled)
                    unsettled = Fraction(0)
                    row_days += 1
                accrue_from = end + timedelta(days=1) if settles else end
            else:
                row_start, row_days = start, days_actual(start, end)
            rows.append(ScheduleRow(
                period=len(rows) + 1, start_date=row_start, end_date=end,
                days=row_days, annual_rate=rate,
                opening_balance=fen_to_yuan(opening), interest=interest, principal=fen_to_yuan(repaid),
                payment=interest + fen_to_yuan(repaid), closing_balance=fen_to_yuan(balance),
                drawn=fen_to_yuan(drawn), settles=settles,
            ))
            if closes:
                break
    return rows, projected


@dataclass(frozen=True)
class SubsidyRow:
    """One period of an interest subsidy, every amount exact to the fen."""

    period: int
    interest: Decimal
    gross: Decimal
    subsidy: Decimal
    cut_by_interest: Decimal
    cut_by_annual_cap: Decimal
    cut_by_lifetime_cap: Decimal


def reference_interest_subsidy(loan: Loan, rows: list[ScheduleRow], rule) -> list[SubsidyRow]:  # noqa: ANN001
    """The interest subsidy of each row, the plain way (rules: :mod:`subsidy_engine.measures.interest_subsidy`).

    ``rule`` is an :class:`~subsidy_engine.measures.interest_subsidy.InterestSubsidyRule`.
    """
    from subsidy_engine.core.vocabulary import SubsidyForm

    window_start = rule.start_date or loan.start_date
    window_end = (None if rule.max_years is None
                  else add_months(window_start.year, window_start.month, 12 * rule.max_years, window_start.day))
    due_day = loan.settlement_day if loan.settlement_day is not None else loan.start_date.day
    events = _events(loan)
    first_drawn = yuan_to_fen(loan.drawdowns[0].amount) if loan.drawdowns else loan.principal_fen
    out: list[SubsidyRow] = []
    paid_in_year: dict[int, Decimal] = {}
    paid_in_life = Decimal(0)
    year_days = 365 if loan.basis is InterestBasis.ACT_365 else 360
    unsettled = Fraction(0)  # a calendar loan's 貼息 since its last settlement, fen, exact
    settle_start = loan.start_date  # the first day of the settlement under way (each settles its own date too)
    prev_end = loan.start_date  # the previous row's date: the events after it are not in the row's opening balance
    with localcontext() as ctx:
        ctx.prec = 60
        for k, r in enumerate(rows):
            lo = max(r.start_date, window_start)
            hi = r.end_date if window_end is None else min(r.end_date, window_end)
            inside = Decimal(max((hi - lo).days, 0)) / Decimal(r.days) if r.days else Decimal(0)  # a 0-day row: none
            if loan.interest_months:
                # day by day, as its interest: each day's balance (or principal drawn) x the row's points or gap
                # / year_days, rounded once where interest is settled; a share of the settled interest for the
                # settlement's days inside the window
                changes = [(day, amount) for day, amount, _ in events if prev_end < day < r.end_date]

                def factor_at(rate: Decimal) -> Decimal:
                    if rule.form is SubsidyForm.RATE_GAP:
                        return max(rule.benchmark_rate - rate, Decimal(0))
                    return min(rule.points or Decimal(0), rate)

                def base_on(day: date, balance_fen: int) -> int:
                    if rule.form is SubsidyForm.POINTS_ON_PRINCIPAL:
                        return first_drawn + sum(a for d, a, _ in events if a > 0 and d <= day)
                    return balance_fen

                day = lo
                while day < hi and rule.form is not SubsidyForm.SHARE_OF_INTEREST:
                    balance_fen = int(r.opening_balance * 100) + sum(a for d, a in changes if d <= day)
                    unsettled += Fraction(base_on(day, balance_fen)) * Fraction(factor_at(r.annual_rate)) / year_days
                    day += timedelta(days=1)
                accrual = Decimal(0)
                if r.settles:
                    settled_to = r.end_date + timedelta(days=1)  # a settlement settles its own date too
                    if rule.form is SubsidyForm.SHARE_OF_INTEREST:
                        s_lo = max(settle_start, window_start)
                        s_hi = settled_to if window_end is None else min(settled_to, window_end)
                        unsettled = (Fraction(r.interest * 100) * Fraction(rule.share) * max((s_hi - s_lo).days, 0)
                                     / (settled_to - settle_start).days)
                    elif window_start <= r.end_date and (window_end is None or r.end_date < window_end):
                        # its date at the balance at the end of the day, at the rate of the row after it
                        day_rate = rows[k + 1].annual_rate if k + 1 < len(rows) else r.annual_rate
                        unsettled += (Fraction(base_on(r.end_date, int(r.closing_balance * 100)))
                                      * Fraction(factor_at(day_rate)) / year_days)
                    accrual = fen_to_yuan(div_half_up(unsettled.numerator, unsettled.denominator))
                    unsettled = Fraction(0)
                    settle_start = settled_to
                prev_end = r.end_date
            elif rule.form is SubsidyForm.SHARE_OF_INTEREST:
                accrual = r.interest * rule.share * inside
            else:
                # the balance (or the principal drawn) of each day, as the interest accrues: the amount at the
                # start over the whole period, each tranche or prepayment inside it from its day
                inside_events = [(day, amount) for day, amount, _ in events if r.start_date < day < r.end_date]
                drawn_before = first_drawn + sum(amount for day, amount, _ in events
                                                 if amount > 0 and day <= r.start_date)
                if rule.form is SubsidyForm.POINTS_ON_PRINCIPAL:
                    pieces = [(r.start_date, drawn_before)] + [(d, a) for d, a in inside_events if a > 0]
                else:
                    pieces = [(r.start_date, int(r.opening_balance * 100))] + inside_events
                if rule.form is SubsidyForm.RATE_GAP:
                    factor = max(rule.benchmark_rate - r.annual_rate, Decimal(0))
                else:
                    factor = min(rule.points, r.annual_rate)
                inside_days = max((hi - lo).days, 0)
                if inside_events and inside_days < r.days:
                    # the window cuts a period whose balance changes: each amount's days inside the window, at
                    # the period's share of a year a day
                    num, den = _fraction(loan.basis, r.start_date, r.end_date, due_day)
                    amount_days = sum(amount * max((hi - max(day, lo)).days, 0) for day, amount in pieces)
                    exact = Fraction(amount_days * num, den * r.days) * Fraction(factor)
                else:
                    summed = Fraction(0)  # fen x share of a year, exact: a half-fen tie stays a tie
                    for day, amount in pieces:
                        num, den = _fraction(loan.basis, day, r.end_date, due_day)
                        summed += Fraction(amount * num, den)
                    exact = summed * Fraction(factor) * inside_days / r.days
                accrual = fen_to_yuan(div_half_up(exact.numerator, exact.denominator))  # rounded once, below
            gross = quantize_fen(accrual)  # subsidy rounding
            del inside
            within_interest = min(gross, r.interest)
            after_annual = within_interest
            if rule.annual_cap is not None:
                year = r.end_date.year
                room = rule.annual_cap - paid_in_year.get(year, Decimal(0))
                after_annual = min(within_interest, room)
                paid_in_year[year] = paid_in_year.get(year, Decimal(0)) + after_annual
            paid = after_annual
            if rule.lifetime_cap is not None:
                paid = min(after_annual, rule.lifetime_cap - paid_in_life)
            paid_in_life += paid
            out.append(SubsidyRow(
                period=r.period, interest=r.interest, gross=gross, subsidy=paid,
                cut_by_interest=gross - within_interest, cut_by_annual_cap=within_interest - after_annual,
                cut_by_lifetime_cap=after_annual - paid))
    return out


def reference_premium_subsidy(policies, rule_for) -> list[dict[str, object]]:  # noqa: ANN001
    """Premium subsidy claims the plain way (rules: :mod:`subsidy_engine.measures.premium_subsidy`).

    ``policies`` are :class:`~subsidy_engine.measures.premium_subsidy.InsurancePolicy`;
    ``rule_for(policy)`` gives the :class:`~subsidy_engine.measures.premium_subsidy.PremiumSubsidyRule`
    in force on its start date.
    """
    rows: list[dict[str, object]] = []
    with localcontext() as ctx:
        ctx.prec = 60
        for policy in policies:
            rule = rule_for(policy)
            if policy.product_field not in rule.eligible_fields:
                continue
            years = policy.years if rule.max_years is None else min(policy.years, rule.max_years)
            start = policy.start_date
            for k in range(years):
                begins = add_months(start.year, start.month, 12 * k, start.day)
                recognised = policy.premium
                if rule.premium_rate_cap is not None:
                    recognised = min(recognised, rule.premium_rate_cap * policy.insured_amount)
                rows.append({"policy_id": policy.policy_id, "enterprise_id": policy.enterprise_id,
                             "policy_year": k + 1, "year": begins.year, "start_date": begins,
                             "gross": quantize_fen(rule.share * recognised),  # premium subsidy rounding
                             "cap": rule.annual_cap_per_enterprise})
    rows.sort(key=lambda r: (r["enterprise_id"], r["year"], r["start_date"], r["policy_id"],
                             r["policy_year"]))
    paid_so_far: dict[tuple[object, object], Decimal] = {}
    for r in rows:
        key = (r["enterprise_id"], r["year"])
        gross = r["gross"]
        assert isinstance(gross, Decimal)
        paid = gross
        if r["cap"] is not None:
            paid = max(min(gross, r["cap"] - paid_so_far.get(key, Decimal(0))), Decimal(0))  # type: ignore[operator]
        paid_so_far[key] = paid_so_far.get(key, Decimal(0)) + paid
        r["amount"] = paid
    return rows


def reference_event_grants(events, rules_for) -> tuple[dict[str, Decimal], dict[str, str]]:  # noqa: ANN001
    """Grants per event the plain way (rules: :mod:`subsidy_engine.measures.grants`).

    ``events`` are :class:`~subsidy_engine.measures.grants.Event`; ``rules_for(event)``
    gives the :class:`~subsidy_engine.measures.grants.GrantRules` in force on its date.
    Returns (grant by event_id, reason by event_id for events granted nothing).
    """
    grants: dict[str, Decimal] = {}
    reasons: dict[str, str] = {}
    granted_steps: set[tuple[str, str, str]] = set()
    paid_by_enterprise: dict[str, Decimal] = {}
    with localcontext() as ctx:
        ctx.prec = 60
        for event in sorted(events, key=lambda e: (e.date, e.event_id)):
            rules = rules_for(event)
            if event.kind == "reits_issuance":
                reits = rules.reits
                if reits.mode == "flat":
                    grants[event.event_id] = reits.flat_amount
                elif event.amount_raised is None:
                    reasons[event.event_id] = "share_of_raised mode needs amount_raised"
                else:  # grant rounding, then the cap
                    grants[event.event_id] = min(quantize_fen(reits.share_of_raised * event.amount_raised),
                                                 reits.share_cap)
                continue
            tranche = rules.listing.tranches.get(event.venue, {}).get(event.stage)
            step = (event.enterprise_id, event.venue, event.stage)
            if tranche is None:
                reasons[event.event_id] = "no tranche for this stage of this venue"
            elif step in granted_steps:
                reasons[event.event_id] = "this stage of this venue was already granted to the enterprise"
            else:
                granted_steps.add(step)
                paid = paid_by_enterprise.get(event.enterprise_id, Decimal(0))
                cap = rules.listing.lifetime_cap_per_enterprise
                grant = tranche if cap is None else max(min(tranche, cap - paid), Decimal(0))
                paid_by_enterprise[event.enterprise_id] = paid + grant
                grants[event.event_id] = grant
    return grants, reasons


def reference_investment_subsidy(projects, rule) -> tuple[dict[str, dict[str, Decimal]], set[str]]:  # noqa: ANN001
    """Investment subsidy the plain way (rules: :mod:`subsidy_engine.measures.investment`).

    Returns (amounts by project_id: gross, amount; project_ids paid nothing).
    """
    from decimal import ROUND_FLOOR

    from subsidy_engine.core.vocabulary import Domain, PlatformType

    paid: dict[str, dict[str, Decimal]] = {}
    unpaid: set[str] = set()
    with localcontext() as ctx:
        ctx.prec = 60
        for p in projects:
            if p.platform_type is PlatformType.QUASI_OPERATING:
                eligible = (p.free_service_obligation and p.expected_returns is not None
                            and p.expected_returns < p.total_investment)
            else:
                eligible = p.platform_type is PlatformType.NONE and p.domain is Domain.PUBLIC
            if not eligible:
                unpaid.add(p.project_id)
                continue
            gross = quantize_fen(rule.rate_by_stage[p.stage] * p.eligible_investment)
            amount = gross
            if rule.ceiling_share_of_total_investment is not None:  # rounded down: never passed
                ceiling = (rule.ceiling_share_of_total_investment * p.total_investment).quantize(
                    Decimal("0.01"), rounding=ROUND_FLOOR)
                amount = min(amount, ceiling)
            cap = (rule.per_project_cap_compute_or_network if p.category == "compute_or_network"
                   else rule.per_project_cap)
            if cap is not None:
                amount = min(amount, cap)
            paid[p.project_id] = {"gross": gross, "amount": amount}
    return paid, unpaid


def reference_evaluate(projects, loans, insurance, events, policy, years=None, rate_by_stage=None,  # noqa: ANN001
                       lpr=None, awards=()) -> dict[tuple[str, str, int], dict[str, object]]:  # noqa: ANN001
    """:func:`subsidy_engine.evaluate` the plain way, one item at a time, in Decimal.

    ``projects``: :class:`~subsidy_engine.measures.investment.Project`; ``loans``:
    triples ``(loan_id, project_id, Loan)``; ``insurance``: InsurancePolicy; ``events``:
    Event; ``policy``: a :class:`~subsidy_engine.params.policy.Policy`; ``awards``: dicts of the awards table's
    columns (``award_id, enterprise_id, project_id, kind, amount, decision_date``, and optionally ``measure,
    first_payment_year, payment_years``), each paid in equal yearly parts, the fen left over one each to the
    earliest years. Returns, per
    ``(instrument, item_id, year)``: project_id, enterprise_id, gross, each cut
    and amount (the rules: :mod:`subsidy_engine.pipeline.evaluate`). The cuts, in order:
    each instrument's own rules (``computed``); 從優不重複 on the whole-life
    totals after them; then, on what is kept, the caps in one pass, claim by
    claim in order of year, date, instrument, item id: each claim is paid the
    least of its amount and its room under each cap over it (貼息 per enterprise
    and year, 貼息 per project, the total cap as a share of the project's
    investment), a room being the cap less what its group was paid before. The
    cut is attributed to those caps in that order, each taking what its room
    takes off beyond the caps before it.
    """

    order = ("interest_subsidy", "premium_subsidy", "reits_grant", "listing_grant", "investment_subsidy", "reward",
             "research_funding", "other_award")
    by_project = {p.project_id: p for p in projects}
    # an item without a project is described by its enterprise's project with the smallest id
    first_project: dict[str, Any] = {}  # a Project (measures.investment, which the reference does not import)
    for p in sorted(projects, key=lambda p: p.project_id):
        first_project.setdefault(p.enterprise_id, p)
    claims: dict[tuple[str, str, int], dict[str, Any]] = {}  # a claim's columns, of several types

    def add(instrument, item_id, year, project_id, enterprise_id, day, gross, amount, set_id):  # noqa: ANN001
        claims[(instrument, item_id, year)] = {
            "project_id": project_id, "enterprise_id": enterprise_id, "day": day, "gross": gross,
            "computed": amount, "amount": amount, "parameter_set": set_id,
            "cut_by_most_favourable": Decimal(0), "cut_by_enterprise_cap": Decimal(0),
            "cut_by_project_cap": Decimal(0), "cut_by_total_cap": Decimal(0)}

    for loan_id, project_id, loan in loans:
        parameters = policy.at(loan.start_date)
        rows, _ = reference_schedule(loan, lpr)
        per_year: dict[int, list[Decimal]] = {}
        for r, s in zip(rows, reference_interest_subsidy(loan, rows, parameters.interest_subsidy_rule())):
            total = per_year.setdefault(r.end_date.year, [Decimal(0), Decimal(0)])
            total[0] += s.gross
            total[1] += s.subsidy
        for year, (gross, paid) in per_year.items():
            if gross > 0:
                add("interest_subsidy", loan_id, year, project_id, by_project[project_id].enterprise_id,
                    loan.start_date, gross, paid, parameters.id)
    premium_rows = reference_premium_subsidy(
        insurance, lambda p: policy.at(p.start_date).premium_subsidy_rule())
    insured = {p.policy_id: p for p in insurance}
    for row in premium_rows:
        p = insured[row["policy_id"]]
        add("premium_subsidy", row["policy_id"], row["year"], p.project_id, row["enterprise_id"],
            row["start_date"], row["gross"], row["amount"], policy.at(p.start_date).id)
    granted, _ = reference_event_grants(events, lambda e: policy.at(e.date).grant_rules())
    for e in events:
        if e.event_id not in granted:
            continue
        rules = policy.at(e.date).grant_rules()
        gross = granted[e.event_id] if e.kind == "reits_issuance" else rules.listing.tranches[e.venue][e.stage]
        add("reits_grant" if e.kind == "reits_issuance" else "listing_grant", e.event_id, e.date.year,
            e.project_id, e.enterprise_id, e.date, gross, granted[e.event_id], policy.at(e.date).id)
    if rate_by_stage is not None:
        for p in projects:
            rule = policy.at(p.start_date).investment_subsidy_rule(rate_by_stage)
            invested, _ = reference_investment_subsidy([p], rule)
            if p.project_id in invested:
                add("investment_subsidy", p.project_id, p.start_date.year, p.project_id, p.enterprise_id,
                    p.start_date, invested[p.project_id]["gross"], invested[p.project_id]["amount"],
                    policy.at(p.start_date).id)

    for a in awards:
        instrument = {"reward": "reward", "research_funding": "research_funding", "other": "other_award"}[a["kind"]]
        decided = a["decision_date"]
        parts = a.get("payment_years") or 1
        first = a.get("first_payment_year") or decided.year
        whole, left = divmod(int(a["amount"] * 100), parts)
        for k in range(parts):
            part = Decimal(whole + (1 if k < left else 0)) / 100
            add(instrument, a["award_id"], first + k, a.get("project_id"), a["enterprise_id"], decided, part, part,
                policy.at(decided).id)

    # 從優不重複 first, on each instrument's whole-life total after its own rules: what a project gives up
    # is cut before any cap, so it uses no room under one (a cap limits what is paid)
    own_total: dict[tuple[str, str], Decimal] = {}
    for (instrument, _, _), c in claims.items():
        if c["project_id"] is not None:
            own_total[(c["project_id"], instrument)] = own_total.get((c["project_id"], instrument), Decimal(0)) \
                + c["computed"]
    for (instrument, _, _), c in claims.items():
        if c["project_id"] is None:
            continue
        groups = policy.at(by_project[c["project_id"]].start_date).parameters.stacking.most_favourable_only.value
        mine = own_total.get((c["project_id"], instrument), Decimal(0))
        for group in groups:
            if instrument not in group or mine == 0:
                continue
            # the kept one: the largest total; of equal totals, the one named first in the group
            kept = group[0]
            for other in group[1:]:
                if own_total.get((c["project_id"], other), Decimal(0)) > own_total.get((c["project_id"], kept),
                                                                                      Decimal(0)):
                    kept = other
            if kept != instrument:
                c["cut_by_most_favourable"] = c["amount"]
                c["amount"] = Decimal(0)
                break  # given up once is given up (an instrument may be in several groups)
    # then the caps, on what is kept, in one pass: each claim is paid the least of its amount and its room
    # under each cap over it, a room being the cap less what its group has been *paid* so far
    def caps_over(key, c):  # noqa: ANN001
        """(group, cap or None, cut column) of each cap over claim ``key``, in the order cuts are attributed."""
        instrument, _, year = key
        over = []
        if instrument == "interest_subsidy":
            rule = policy.at(c["day"]).parameters.interest_subsidy
            over.append((("enterprise", c["enterprise_id"], year), rule.annual_cap_per_enterprise.value,
                         "cut_by_enterprise_cap"))
            if c["project_id"] is not None:
                over.append((("project", c["project_id"]), rule.total_cap_per_project.value, "cut_by_project_cap"))
        if c["project_id"] is not None:
            project = by_project[c["project_id"]]
            stacking = policy.at(project.start_date).parameters.stacking
            if instrument in stacking.total_cap_instruments.value:
                share = stacking.total_cap_share_of_investment.value
                with localcontext() as ctx:
                    ctx.prec = 60
                    cap = (None if share is None else
                           (share * project.total_investment).quantize(Decimal("0.01"), rounding="ROUND_FLOOR"))
                over.append((("total", c["project_id"]), cap, "cut_by_total_cap"))
        return over

    paid_so_far: dict[object, Decimal] = {}
    # one order for every cap: year, drawdown (or anchor) date, instrument, item id
    for key in sorted(claims, key=lambda k: (k[2], claims[k]["day"], order.index(k[0]), k[1])):
        c = claims[key]
        c["instrument"] = key[0]
        over = caps_over(key, c)
        paid = c["amount"]
        for group, cap, cut in over:
            if cap is not None:
                room = max(cap - paid_so_far.get(group, Decimal(0)), Decimal(0))
                c[cut] = max(paid - room, Decimal(0))  # this cap's cut: what its room takes off beyond the others
                paid = min(paid, room)
        c["amount"] = paid
        for group, _, _ in over:
            paid_so_far[group] = paid_so_far.get(group, Decimal(0)) + paid
    for c in claims.values():
        project = by_project.get(c["project_id"]) or first_project.get(c["enterprise_id"])
        if project is None:
            c["funding_sources"] = "gaojingjian_fund|sector_budget"
        else:
            municipal = ("gaojingjian_fund" if project.industry_or_software
                         else "sector_budget" + (f":{project.sector}" if project.sector is not None else ""))
            district = f"|district_matching:{project.district}" if project.district is not None else ""
            c["funding_sources"] = municipal + district
    return {k: v for k, v in claims.items() if years is None or k[2] in years}

"""The amortization kernel: every period of every loan, in int64 fen.

The annuity payment ``M = B i / (1 - (1+i)^-m)`` is irrational in general, so
the kernel computes it in float64 and reports the loan whenever the value is
within a proven error bound of a half fen. The caller settles those payments
with exact integers (:func:`subsidy_engine.loans.amortization.run`) and runs
the loan again with them forced.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from subsidy_engine.core.money import RATE_SCALE
from subsidy_engine.kernels.arithmetic import mul_div_floor_rem, mul_div_half_up, mul_div_half_up_f
from subsidy_engine.kernels.business_days import adjust_day
from subsidy_engine.kernels.calendar import (
    NO_CIVIL,
    civil_from_days,
    days_from_civil,
    days_in_month,
    due_month,
    month_day,
    period_accrual,
    period_numerator_civil,
    year_denominator,
)
from subsidy_engine.kernels.codes import (
    BASIS_MONTHLY,
    BUSINESS_DAY_NONE,
    METHOD_CUSTOM,
    METHOD_EQUAL_INSTALLMENT,
    METHOD_EQUAL_PRINCIPAL,
    METHOD_INTEREST_ONLY,
    RECOMPUTE_PAYMENT,
)
from subsidy_engine.kernels.threads import LOANS_A_CALL, by_size, inline_jit, jit


@jit
def annuity_payment(balance: int, rate_units: int, periods_per_year: int, m: int):
    """Payment rounding of ``B i (1+i)^m / ((1+i)^m - 1)``; returns (fen, ambiguous)."""
    if rate_units == 0:
        return (2 * balance + m) // (2 * m), False
    den = RATE_SCALE * periods_per_year
    if m == 1:
        # B (1 + i) = B + B i: exact, and round(B + y) = B + round(y) for integer B.
        return balance + mul_div_half_up(balance, rate_units, den), False
    i = rate_units / den
    x = balance * i / -math.expm1(-m * math.log1p(i))
    frac = x - math.floor(x)
    # Measured against the exact rational on random inputs, the float value is
    # within 1.6 ulp (3.5e-16 relative); 1e-14 is a margin of ~28x. Inside it
    # the exact path decides.
    ambiguous = abs(frac - 0.5) <= 1e-9 + x * 1e-14
    return np.int64(math.floor(x + 0.5)), ambiguous


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="never")
def _events_inside(end_day, balance, ev_day, ev_amount, ev_recompute, e, e_end):
    """Walk the events from ``e`` strictly before ``end_day``: returns ``(next event, balance after, prepaid,
    closes, a recompute asked, a term kept)``; the walk stops after a prepayment of the whole balance
    (``closes``). A prepayment above the balance returns that event and ``-(balance + 1)`` as the balance."""
    k = e
    after = balance
    prepaid = np.int64(0)
    asks = False
    keeps = False
    while k < e_end and ev_day[k] < end_day:
        if ev_amount[k] < 0 and -ev_amount[k] > after:
            return k, -after - 1, prepaid, False, asks, keeps
        after += ev_amount[k]
        if ev_amount[k] < 0:
            prepaid -= ev_amount[k]
        if ev_amount[k] > 0 or ev_recompute[k] == RECOMPUTE_PAYMENT:
            asks = True
        else:
            keeps = True
        k += 1
        if after == 0:
            return k, after, prepaid, True, asks, keeps
    return k, after, prepaid, False, asks, keeps


@jit
def later_drawdowns_fen(ev_ptr, ev_amount):
    """Per loan, the fen drawn after its first drawdown: its events' positive amounts (each loan's events
    ``ev_ptr[j]:ev_ptr[j + 1]``) summed in one pass. A loan's own sum is at most its principal, so it holds in
    int64 however large the book; in numpy the sum took five temporary arrays of the events' size, whose fresh
    pages cost a calendar run of 100k loans about 3 ms."""
    loans = ev_ptr.shape[0] - 1
    drawn = np.zeros(loans, np.int64)
    for j in range(loans):
        total = np.int64(0)
        for k in range(ev_ptr[j], ev_ptr[j + 1]):
            if ev_amount[k] > 0:
                total += ev_amount[k]
        drawn[j] = total
    return drawn


@jit
def periods_to_repay(balance, rate_units, periods_per_year, payment, most):
    """The fewest periods, at most ``most``, over which the annuity of ``balance`` is no more than
    ``payment`` (``most`` when none is): the term a prepayment that keeps the payment leaves."""
    if annuity_payment(balance, rate_units, periods_per_year, most)[0] > payment:
        return most
    lo = 1
    hi = most
    while lo < hi:
        mid = (lo + hi) // 2
        if annuity_payment(balance, rate_units, periods_per_year, mid)[0] <= payment:
            hi = mid
        else:
            lo = mid + 1
    return lo


@inline_jit
def follows_calendar(j, interest_months, business_day):
    """Whether loan ``j``'s dates follow a calendar (it settles interest on calendar dates, or a business-day rule
    moves its due dates): the calendar loop prices it, the other two loops leave it, each asking this."""
    return interest_months[j] > 0 or business_day[j] != BUSINESS_DAY_NONE


@jit
def _amortize_plain(lo, hi, loan, dates, rates, events, rows, years, outcome, general):
    """The lean loop: :func:`_amortize_one` for the loans ``lo`` to ``hi - 1`` drawn at once and repaid on their
    plan, off the calendar, unless ``general`` (the common case): the same rules without the events' bookkeeping,
    whose branches cost a third of the time of the tightest loop (a test runs every generated loan through both
    and compares them to the fen). Writes each loan's periods to ``written``. The period's due date and interest
    are written in both loops rather than in a shared function: as one, measured, they cost the loop another
    third.

    Each loop takes a range of loans (:data:`~subsidy_engine.kernels.threads.LOANS_A_CALL`), its arguments as the
    tuples :func:`_amortize_kernel_threads` builds once, and reads the arrays it needs from them. A call a loan
    passed 45 arrays each time: measured at 100k loans, the calendar loop ran 1.5x faster without it on one
    thread, the loop of tranche loans 1.2x; this loop ran as fast. The loops were first inlined into a range
    function instead: as fast, and the calendar loop took 1.8x as long to compile."""
    (opening_fen, periods, months_per_period, method, grace, basis, start_y, start_m, start_d, due_day,
     first_year, stop_period) = loan
    business_day, cal_first, cal_table, cal_weekends, interest_months, interest_day = dates
    seg_ptr, seg_period, seg_rate, plan_ptr, plan_fen, slot_ptr, forced_payment = rates
    ev_ptr, ev_day, ev_amount, ev_recompute = events
    want_rows, row_ptr, out_end, out_segment, out_interest, out_principal, out_settles = rows
    want_years, year0_ptr, year_interest, year_principal = years
    ambiguous, failure, written, years_written = outcome
    for loan_index in range(lo, hi):
        j = np.uint64(loan_index)  # unsigned: an index known not to be negative is not checked
        if follows_calendar(j, interest_months, business_day) or general or ev_ptr[j] < ev_ptr[j + 1]:
            continue  # another loop's
        row0 = row_ptr[j]
        n = periods[j]
        stop = min(max(stop_period[j], 1), n)  # the periods asked for: the rest of the term is not written
        mpp = months_per_period[j]
        ppy = 12 // mpp
        g = grace[j]
        meth = method[j]
        bas = basis[j]
        dd = due_day[j]

        den = RATE_SCALE * year_denominator(bas)
        first_is_stub = bas == BASIS_MONTHLY and start_d[j] != min(dd, days_in_month(start_y[j], start_m[j]))
        nominal_den = RATE_SCALE * ppy

        seg = seg_ptr[j]
        seg_end = seg_ptr[j + 1]
        rate = seg_rate[seg]
        rate_f = rate / den
        nominal_f = rate / nominal_den
        next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
        rate_changed = False
        slot = slot_ptr[j]

        balance = opening_fen[j]
        payment = np.int64(0)
        level_principal = np.int64(0)

        prev_y = start_y[j]
        prev_m = start_m[j]
        prev_d = start_d[j]
        prev_ord = days_from_civil(prev_y, prev_m, prev_d)
        need_days = bas != BASIS_MONTHLY or want_rows or first_is_stub

        # The due month, stepped forward instead of divided out every period, and the day number of its first day,
        # so a due date is month_first + d - 1 (cheaper here than _amortize_one's month index, measured: this loop's
        # loans mostly step one month at a time, and on the monthly basis read no date but the year)
        y = start_y[j]
        m = start_m[j]
        month_first = prev_ord - prev_d + 1

        current_year = first_year[j]
        acc_interest = np.int64(0)
        acc_principal = np.int64(0)
        year_base = year0_ptr[j] - current_year

        for p in range(stop):
            if p == next_change:
                seg += 1
                rate = seg_rate[seg]
                rate_f = rate / den
                nominal_f = rate / nominal_den
                next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
                rate_changed = True
            for _ in range(mpp):
                month_first += days_in_month(y, m)
                m += 1
                if m > 12:
                    m = 1
                    y += 1
            end_ord = 0
            stub = False
            if bas == BASIS_MONTHLY:
                if need_days:
                    end_ord = month_first + min(dd, days_in_month(y, m)) - 1
                if p == 0 and first_is_stub:
                    num = period_numerator_civil(bas, prev_ord, end_ord, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL,
                                                 NO_CIVIL, dd)
                    interest = mul_div_half_up_f(balance, rate * num, den, rate_f * num)
                    stub = True
                else:
                    interest = mul_div_half_up_f(balance, rate, nominal_den, nominal_f)  # 30 x mpp / 360 = 1 / ppy
            else:
                d = min(dd, days_in_month(y, m))
                end_ord = month_first + d - 1
                num = period_numerator_civil(bas, prev_ord, end_ord, prev_y, prev_m, prev_d, y, m, d, dd)
                interest = mul_div_half_up_f(balance, rate * num, den, rate_f * num)
                prev_d = d

            if p == n - 1:
                principal = balance
            elif meth == METHOD_CUSTOM:
                principal = plan_fen[plan_ptr[j] + p]
            elif p < g or meth == METHOD_INTEREST_ONLY:
                principal = np.int64(0)
            elif meth == METHOD_EQUAL_PRINCIPAL:
                if p == g:
                    level_principal = (2 * balance + (n - g)) // (2 * (n - g))
                principal = min(level_principal, balance)
            else:
                if p == g or rate_changed:
                    if slot < forced_payment.shape[0] and forced_payment[slot] >= 0:
                        payment = forced_payment[slot]  # settled exactly by the caller
                    else:
                        payment, amb = annuity_payment(balance, rate, ppy, n - p)
                        if amb and ambiguous[j, 0] < 0:
                            ambiguous[j, 0] = slot
                            ambiguous[j, 1] = seg
                            ambiguous[j, 2] = balance
                            ambiguous[j, 3] = n - p
                    slot += 1
                if bas == BASIS_MONTHLY and not stub:
                    nominal = interest
                else:
                    nominal = mul_div_half_up_f(balance, rate, nominal_den, nominal_f)
                principal = payment - nominal
                # A branch, not min/max: almost never taken, so the CPU speculates
                # past it instead of waiting on the comparison.
                if principal < 0 or principal > balance:
                    principal = min(max(principal, 0), balance)
            rate_changed = False

            if want_rows:
                r = row0 + p
                out_end[r] = end_ord
                out_segment[r] = seg
                out_interest[r] = interest
                out_principal[r] = principal
            if want_years:
                if y != current_year:
                    year_interest[year_base + current_year] = acc_interest
                    year_principal[year_base + current_year] = acc_principal
                    acc_interest = 0
                    acc_principal = 0
                    current_year = y
                acc_interest += interest
                acc_principal += principal

            balance -= principal
            prev_y = y
            prev_m = m
            prev_ord = end_ord
        if want_years:
            year_interest[year_base + current_year] = acc_interest
            year_principal[year_base + current_year] = acc_principal
            if stop < n:  # its years up to its last row's (the caller gives the span of a loan run to its term)
                years_written[j] = current_year - first_year[j] + 1
        written[j] = stop


@jit
def first_settlement(start_day, start_y, start_m, months, day, rule, cal_first, cal_table, cal_weekends):
    """The first calendar settlement of a loan drawn on the day number ``start_day`` (its date is
    start_y-start_m): every month (``months`` 1) or the last month of each quarter (3), on ``day``, the first
    whose unmoved date is after the start, moved by the business-day ``rule``; one moved back onto the start
    settles nothing, so the next one is the first. Returns :func:`next_settlement`'s ``(the settlement month's
    index, the settlement's day number)``."""
    month_index = start_y * 12 + start_m - 1
    if months == 3:
        month_index = month_index // 3 * 3 + 2  # the quarter's last month
    if month_day(month_index, day)[3] <= start_day:
        month_index += months
    settles_on = _settlement_on(month_index, day, rule, cal_first, cal_table, cal_weekends)
    if settles_on <= start_day:
        return next_settlement(month_index, months, day, rule, cal_first, cal_table, cal_weekends)
    return month_index, settles_on


@jit
def _first_years_of_loans(loans_from, loans_to, start_y, start_m, start_d, interest_months, interest_day, rule,
                          cal_first, cal_table, cal_weekends, ev_ptr, ev_day, ev_amount, first):
    """Loans ``loans_from`` to ``loans_to - 1`` of :func:`_first_years_threads`, a range a call
    (:data:`~subsidy_engine.kernels.threads.LOANS_A_CALL` says why)."""
    for loan in range(loans_from, loans_to):
        j = np.uint64(loan)  # unsigned, as prange gives it: an index not checked for a negative value
        year = first[j]
        if interest_months[j] > 0:
            start_day = days_from_civil(start_y[j], start_m[j], start_d[j])
            month_index, settles_on = first_settlement(start_day, start_y[j], start_m[j], interest_months[j],
                                                       interest_day[j], rule[j], cal_first, cal_table, cal_weekends)
            # the settlement month's year, unless a business day moved the date (perhaps into January)
            year = min(year, month_index // 12 if rule[j] == BUSINESS_DAY_NONE else civil_from_days(settles_on)[0])
        for e in range(ev_ptr[j], ev_ptr[j + 1]):
            if ev_amount[e] < 0:  # a loan's events are sorted by day: its first prepayment is its earliest
                year = min(year, civil_from_days(ev_day[e])[0])
                break
        first[j] = year


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _first_years_threads(start_y, start_m, start_d, interest_months, interest_day, rule, cal_first, cal_table,
                         cal_weekends, ev_ptr, ev_day, ev_amount, first):
    """The first calendar year of each loan's rows, from ``first[j]``, its first due date's year (moved by its
    business-day ``rule``), in place: the year of its first calendar settlement (``interest_months[j] > 0``,
    :func:`first_settlement`) or of its first prepayment (``ev_amount < 0``: a prepayment of the whole balance
    ends the loan, and its last period, on its day) when earlier."""
    n = first.shape[0]
    for c in nb.prange((n + LOANS_A_CALL - 1) // LOANS_A_CALL):
        lo = np.int64(c) * LOANS_A_CALL
        _first_years_of_loans(lo, min(lo + LOANS_A_CALL, n), start_y, start_m, start_d, interest_months,
                              interest_day, rule, cal_first, cal_table, cal_weekends, ev_ptr, ev_day, ev_amount,
                              first)


first_years = by_size(_first_years_threads, "loans")


@jit
def plain_layout(start_y, start_m, months_per_period, periods):
    """``(first_year, row_ptr, year_ptr)`` of loans priced to their term (no ``stop_period``) that move no due date,
    settle interest on their due dates and have no events (a single drawdown, no prepayment): each loan's rows are
    its periods, its years run from its first due date's to its last's
    (:func:`~subsidy_engine.kernels.calendar.due_month`). One pass, where the general layout
    (``loans.amortization``: first_year, row_capacity, year_counts) takes a dozen numpy calls."""
    n = periods.shape[0]
    first_year = np.empty(n, np.int64)
    row_ptr, year_ptr = np.empty(n + 1, np.int64), np.empty(n + 1, np.int64)
    row_ptr[0] = year_ptr[0] = 0
    for j in range(n):
        first_year[j] = due_month(start_y[j], start_m[j], months_per_period[j]) // 12
        last_year = due_month(start_y[j], start_m[j], periods[j] * months_per_period[j]) // 12
        row_ptr[j + 1] = row_ptr[j] + periods[j]
        year_ptr[j + 1] = year_ptr[j] + last_year - first_year[j] + 1
    return first_year, row_ptr, year_ptr


@inline_jit
def settle_accrual(settled_fen, settled_rem, balance_days, rate, den, rate_over_den):
    """The interest of a calendar settlement, rounded once: ``round((settled_fen x den + settled_rem + rate x
    balance_days) / den)``, where ``settled_fen, settled_rem`` hold the exact quotient and remainder of the
    parts accrued at earlier rates of the period (none, the common case, is one product's rounding) and
    ``balance_days`` the fen-days at ``rate`` (``rate_over_den`` its float guess)."""
    if settled_fen == 0 and settled_rem == 0:
        return mul_div_half_up_f(balance_days, rate, den, rate_over_den)
    q, rem = mul_div_floor_rem(balance_days, rate, den)
    return settled_fen + q + (2 * (settled_rem + rem) + den) // (2 * den)


@inline_jit
def fold_accrual(settled_fen, settled_rem, amount, factor, den):
    """``(settled_fen, settled_rem)`` with ``amount x factor / den`` added as its exact quotient and remainder: a
    part accrued at a rate the settlement's later days do not share, rounded once by :func:`settle_accrual`."""
    q, rem = mul_div_floor_rem(amount, factor, den)
    return settled_fen + q, settled_rem + rem


@inline_jit
def _settlement_on(month_index, day, rule, cal_first, cal_table, cal_weekends):
    """The day number of the settlement in the month ``month_index`` (:func:`month_day`) on ``day``, clamped to the
    month's end and moved by the business-day ``rule``."""
    nominal = month_day(month_index, day)[3]
    if rule != BUSINESS_DAY_NONE:
        nominal = adjust_day(nominal, rule, cal_first, cal_table, cal_weekends)[0]
    return nominal


@inline_jit
def next_settlement(month_index, months, day, rule, cal_first, cal_table, cal_weekends):
    """The calendar settlement ``months`` after the one in the month ``month_index``: ``(its month's index, the
    settlement's day number moved by rule)``."""
    month_index += months
    return month_index, _settlement_on(month_index, day, rule, cal_first, cal_table, cal_weekends)


@jit
def _add_to_years(row_year, interest, principal, current_year, acc_interest, acc_principal, year_base,
                  year_interest, year_principal):
    """Add a row to the running year's totals, storing them when the row opens a later year (a year with no
    row in between is stored as zero); returns the running year and its totals."""
    if row_year != current_year:
        year_interest[year_base + current_year] = acc_interest
        year_principal[year_base + current_year] = acc_principal
        for skipped in range(current_year + 1, row_year):  # a year with no row (after a drawdown)
            year_interest[year_base + skipped] = 0
            year_principal[year_base + skipped] = 0
        acc_interest = 0
        acc_principal = 0
        current_year = row_year
    return current_year, acc_interest + interest, acc_principal + principal


@jit
def _amortize_one(lo, hi, loan, dates, rates, events, rows, years, outcome, general):
    """Amortize the loans ``lo`` to ``hi - 1`` off the calendar that have drawdowns after the first or prepayments
    (every loan off the calendar with ``general``): ``written[j]`` is the number of periods loan ``j`` wrote (fewer
    than its term when prepayments close it early), ``years_written[j]`` its years (:func:`_amortize_kernel_threads`).

    ``ambiguous[j]`` is set to ``(slot, rate segment, balance, periods left)`` of its first annuity payment
    that was ambiguous (within float error of a half fen), for the caller to settle exactly into
    ``forced_payment[slot]``; the slots of loan ``j`` are ``slot_ptr[j]:slot_ptr[j + 1]``, one per payment
    computation in order. ``failure[j]`` is set to ``(event, balance)`` when an event cannot happen (a
    prepayment above the balance, an event after the loan was repaid in full).

    Rows record the due date, the rate segment, interest and principal (scheduled and prepaid); the
    opening balance (what was drawn less what was repaid before) and the rate are derived from them when
    the table is built, which keeps the bytes written per period, and so the page faults of a fresh table,
    to 24.
    """
    (opening_fen, periods, months_per_period, method, grace, basis, start_y, start_m, start_d, due_day,
     first_year, stop_period) = loan
    business_day, cal_first, cal_table, cal_weekends, interest_months, interest_day = dates
    seg_ptr, seg_period, seg_rate, plan_ptr, plan_fen, slot_ptr, forced_payment = rates
    ev_ptr, ev_day, ev_amount, ev_recompute = events
    want_rows, row_ptr, out_end, out_segment, out_interest, out_principal, out_settles = rows
    want_years, year0_ptr, year_interest, year_principal = years
    ambiguous, failure, written, years_written = outcome
    for loan_index in range(lo, hi):
        j = np.uint64(loan_index)  # unsigned: an index known not to be negative is not checked
        if follows_calendar(j, interest_months, business_day) or not (general or ev_ptr[j] < ev_ptr[j + 1]):
            continue  # another loop's
        row0 = row_ptr[j]
        failed = False  # an event that cannot happen: the loan stops there
        n = periods[j]
        mpp = months_per_period[j]
        ppy = 12 // mpp
        g = grace[j]
        meth = method[j]
        bas = basis[j]
        dd = due_day[j]

        # Interest of a period: round(balance * rate * num / den), num/den the period's share of a year on the
        # loan's basis (kernels.calendar); den is fixed per loan. On the monthly basis a period from a due day to
        # the next is mpp whole months (30 * mpp / 360); only the first period can be a stub, when the loan is
        # drawn on another day than its due day, and it is charged for its length (months and odd days).
        den = RATE_SCALE * year_denominator(bas)
        first_is_stub = bas == BASIS_MONTHLY and start_d[j] != min(dd, days_in_month(start_y[j], start_m[j]))
        nominal_den = RATE_SCALE * ppy

        seg = seg_ptr[j]
        seg_end = seg_ptr[j + 1]
        rate = seg_rate[seg]
        rate_f = rate / den
        nominal_f = rate / nominal_den
        next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
        rate_changed = False

        # Drawdowns after the first and prepayments (docs/conventions.md "Drawdowns and prepayments").
        e = ev_ptr[j]
        e_end = ev_ptr[j + 1]
        has_events = e < e_end
        recompute = False  # a drawdown or a prepayment asking for it came since the last due date
        shorten = False  # a prepayment keeping the payment came since the last due date
        last = n - 1  # the last period: earlier once such a prepayment shortens the term
        slot = slot_ptr[j]

        balance = opening_fen[j]
        payment = np.int64(0)
        level_principal = np.int64(0)

        prev_y = start_y[j]
        prev_m = start_m[j]
        prev_d = start_d[j]
        prev_ord = days_from_civil(prev_y, prev_m, prev_d)
        need_days = bas != BASIS_MONTHLY or want_rows or first_is_stub or has_events

        # The due month's index (months since January of the year 0), stepped forward a period at a time: its
        # year, month and due date read from it (kernels.calendar.month_day), no month length walked through.
        due_month = start_y[j] * 12 + start_m[j] - 1

        # Yearly totals accumulate in registers and are stored when the year changes; the loan's years start at
        # first_year[j] (its first due date's, or an earlier prepayment's that may close it).
        current_year = first_year[j]
        acc_interest = np.int64(0)
        acc_principal = np.int64(0)
        year_base = year0_ptr[j] - current_year
        periods_written = n

        for p in range(n):
            if p == next_change:
                seg += 1
                rate = seg_rate[seg]
                rate_f = rate / den
                nominal_f = rate / nominal_den
                next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
                rate_changed = True
            due_month += mpp
            y, m, d, due_ord = month_day(due_month, dd)
            end_ord = 0
            stub = False
            if bas == BASIS_MONTHLY:
                if need_days:
                    end_ord = due_ord
                if p == 0 and first_is_stub:
                    num = period_numerator_civil(bas, prev_ord, end_ord, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL,
                                                 NO_CIVIL, dd)
                    interest = mul_div_half_up_f(balance, rate * num, den, rate_f * num)
                    stub = True
                else:
                    interest = mul_div_half_up_f(balance, rate, nominal_den, nominal_f)  # 30 x mpp / 360 = 1 / ppy
            else:
                end_ord = due_ord
                num = period_numerator_civil(bas, prev_ord, end_ord, prev_y, prev_m, prev_d, y, m, d, dd)
                interest = mul_div_half_up_f(balance, rate * num, den, rate_f * num)
                prev_d = d

            prepaid = np.int64(0)
            closes = False
            row_year = y
            if has_events and e < e_end and ev_day[e] < end_ord:
                # The events inside the period change the balance it accrues on; a prepayment of the whole
                # balance closes the loan on its day, which ends the period there.
                k, after, prepaid, closes, asks, keeps = _events_inside(end_ord, balance, ev_day, ev_amount,
                                                                        ev_recompute, e, e_end)
                if after < 0:
                    failure[j, 0] = k
                    failure[j, 1] = -after - 1
                    failed = True
                    break
                if closes:
                    end_ord = ev_day[k - 1]
                    row_year = civil_from_days(end_ord)[0]
                recompute = recompute or asks
                shorten = shorten or keeps
                accrued, _ = period_accrual(bas, dd, prev_ord, end_ord, balance, 0, ev_day, ev_amount, e, k)
                interest = mul_div_half_up(accrued, rate, den)
                e = k
                balance = after
                stub = True  # the interest is not the nominal one

            if has_events and shorten and p > g and not recompute and not closes:
                # the term as the kept payment (or equal principal's share) repays the balance: later
                # recomputations (a rate change, a tranche) spread over what is left of it
                if meth == METHOD_EQUAL_PRINCIPAL and level_principal > 0:
                    last = min(p + (balance + level_principal - 1) // level_principal - 1, last)
                elif meth == METHOD_EQUAL_INSTALLMENT:
                    last = p + periods_to_repay(balance, rate, ppy, payment, last - p + 1) - 1
            if closes:
                principal = np.int64(0)
            elif p == last:
                principal = balance
            elif meth == METHOD_CUSTOM:
                principal = min(plan_fen[plan_ptr[j] + p], balance)
            elif p < g or meth == METHOD_INTEREST_ONLY:
                principal = np.int64(0)
            elif meth == METHOD_EQUAL_PRINCIPAL:
                if p == g or recompute:
                    left = last - p + 1
                    level_principal = (2 * balance + left) // (2 * left)
                principal = min(level_principal, balance)
            else:
                if p == g or rate_changed or recompute:
                    if slot < forced_payment.shape[0] and forced_payment[slot] >= 0:
                        payment = forced_payment[slot]  # settled exactly by the caller
                    else:
                        payment, amb = annuity_payment(balance, rate, ppy, last - p + 1)
                        if amb and ambiguous[j, 0] < 0:
                            ambiguous[j, 0] = slot
                            ambiguous[j, 1] = seg
                            ambiguous[j, 2] = balance
                            ambiguous[j, 3] = last - p + 1
                    slot += 1
                if bas == BASIS_MONTHLY and not stub:
                    nominal = interest
                else:
                    nominal = mul_div_half_up_f(balance, rate, nominal_den, nominal_f)
                principal = payment - nominal
                # A branch, not min/max: almost never taken, so the CPU speculates
                # past it instead of waiting on the comparison.
                if principal < 0 or principal > balance:
                    principal = min(max(principal, 0), balance)
            rate_changed = False
            if p >= g:
                recompute = False
                shorten = False
            balance -= principal

            if has_events:
                if not closes and p >= last and e < e_end:
                    # the last due date (of a shortened term) repaid the loan in full: an event on it or after it
                    # comes after the loan was repaid
                    failure[j, 0] = e
                    failure[j, 1] = 0
                    failed = True
                    break
                # Events on the due date come after its principal: they change the next period's balance.
                if not closes and e < e_end and ev_day[e] == end_ord:
                    k, after, day_prepaid, closes, asks, keeps = _events_inside(end_ord + 1, balance, ev_day, ev_amount,
                                                                                ev_recompute, e, e_end)
                    if after < 0:
                        failure[j, 0] = k
                        failure[j, 1] = -after - 1
                        failed = True
                        break
                    e = k
                    balance = after
                    prepaid += day_prepaid
                    recompute = recompute or asks
                    shorten = shorten or keeps
                if balance == 0 and p < n - 1 and (e == e_end or p >= last):
                    closes = True  # repaid in full before its term: nothing more to draw, or its shortened term ended
                if closes and e < e_end:
                    failure[j, 0] = e  # an event after the loan was repaid in full
                    failure[j, 1] = 0
                    failed = True
                    break

            if want_rows:
                r = row0 + p
                out_end[r] = end_ord
                out_segment[r] = seg
                out_interest[r] = interest
                out_principal[r] = principal + prepaid
            if want_years:
                if row_year != current_year:
                    year_interest[year_base + current_year] = acc_interest
                    year_principal[year_base + current_year] = acc_principal
                    for skipped in range(current_year + 1, row_year):  # a year with no due date (after a drawdown)
                        year_interest[year_base + skipped] = 0
                        year_principal[year_base + skipped] = 0
                    acc_interest = 0
                    acc_principal = 0
                    current_year = row_year
                acc_interest += interest
                acc_principal += principal + prepaid

            prev_y = y
            prev_m = m
            prev_ord = end_ord
            if closes:
                periods_written = p + 1
                break
        if failed:
            written[j] = p
            years_written[j] = 0
            continue
        years_of_loan = year0_ptr[j + 1] - year0_ptr[j]
        if want_years:
            year_interest[year_base + current_year] = acc_interest
            year_principal[year_base + current_year] = acc_principal
            years_of_loan = year_base + current_year + 1 - year0_ptr[j]  # fewer when repaid before its term
            for later in range(year_base + current_year + 1, year0_ptr[j + 1]):
                year_interest[later] = 0  # the years after a loan repaid early: written, and not shown
                year_principal[later] = 0
        written[j] = periods_written
        years_written[j] = years_of_loan


@jit
def _amortize_calendar(lo, hi, loan, dates, rates, events, rows, years, outcome, general):
    """:func:`_amortize_one` for the loans ``lo`` to ``hi - 1`` whose dates follow a calendar: due dates moved to
    business days (docs/conventions.md "Business days"), interest settled on calendar dates ("Calendar
    settlement"). The same
    rules of principal and events, and, when it settles on calendar dates, a row for each settlement and each
    due date (one for both on the same day; ``out_settles[r]`` says whether row ``r`` settles interest);
    ``written[j]`` is the rows loan ``j`` wrote. A loop of its own: in the loop of tranche loans this bookkeeping
    cost those loans a third more time, measured (and a tenth for the business days alone). Every loop equals the plain
    reference (the hypothesis tests), and a test proves this one equal to the loop of tranche loans on loans
    whose settlements fall on their due dates.

    ``ambiguous[j]`` is set to ``(slot, rate segment, balance, periods left)`` of its first annuity payment
    that was ambiguous (within float error of a half fen), for the caller to settle exactly into
    ``forced_payment[slot]``; the slots of loan ``j`` are ``slot_ptr[j]:slot_ptr[j + 1]``, one per payment
    computation in order. ``failure[j]`` is set to ``(event, balance)`` when an event cannot happen (a
    prepayment above the balance, an event after the loan was repaid in full).

    Rows record the due date, the rate segment, interest and principal (scheduled and prepaid); the
    opening balance (what was drawn less what was repaid before) and the rate are derived from them when
    the table is built, which keeps the bytes written per period, and so the page faults of a fresh table,
    to 24.
    """
    (opening_fen, periods, months_per_period, method, grace, basis, start_y, start_m, start_d, due_day,
     first_year, stop_period) = loan
    business_day, cal_first, cal_table, cal_weekends, interest_months, interest_day = dates
    seg_ptr, seg_period, seg_rate, plan_ptr, plan_fen, slot_ptr, forced_payment = rates
    ev_ptr, ev_day, ev_amount, ev_recompute = events
    want_rows, row_ptr, out_end, out_segment, out_interest, out_principal, out_settles = rows
    want_years, year0_ptr, year_interest, year_principal = years
    ambiguous, failure, written, years_written = outcome
    for loan_index in range(lo, hi):
        j = np.uint64(loan_index)  # unsigned: an index known not to be negative is not checked
        if not follows_calendar(j, interest_months, business_day):
            continue  # another loop's
        row0 = row_ptr[j]
        failed = False  # an event that cannot happen: the loan stops there
        n = periods[j]
        mpp = months_per_period[j]
        ppy = 12 // mpp
        g = grace[j]
        meth = method[j]
        bas = basis[j]
        dd = due_day[j]

        # Interest of a period: round(balance * rate * num / den), num/den the period's share of a year on the
        # loan's basis (kernels.calendar); den is fixed per loan. On the monthly basis a period from a due day to
        # the next is mpp whole months (30 * mpp / 360); a stub (the first period of a loan drawn on another day than
        # its due day, a period whose dates a business day moved) is charged for its length (months and odd days).
        den = RATE_SCALE * year_denominator(bas)
        first_is_stub = bas == BASIS_MONTHLY and start_d[j] != min(dd, days_in_month(start_y[j], start_m[j]))
        nominal_den = RATE_SCALE * ppy

        seg = seg_ptr[j]
        seg_end = seg_ptr[j + 1]
        rate = seg_rate[seg]
        rate_f = rate / den
        nominal_f = rate / nominal_den
        next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
        rate_changed = False

        # Drawdowns after the first and prepayments (docs/conventions.md "Drawdowns and prepayments").
        e = ev_ptr[j]
        e_end = ev_ptr[j + 1]
        has_events = e < e_end
        recompute = False  # a drawdown or a prepayment asking for it came since the last due date
        shorten = False  # a prepayment keeping the payment came since the last due date
        last = n - 1  # the last period: earlier once such a prepayment shortens the term
        slot = slot_ptr[j]

        balance = opening_fen[j]
        payment = np.int64(0)
        level_principal = np.int64(0)

        prev_y = start_y[j]
        prev_m = start_m[j]
        prev_d = start_d[j]
        prev_ord = days_from_civil(prev_y, prev_m, prev_d)
        rule = business_day[j]
        moves = rule != BUSINESS_DAY_NONE
        prev_moved = False
        prev_settled = False  # the last row settled interest, its own day included: the next accrues from the day after
        need_days = bas != BASIS_MONTHLY or want_rows or first_is_stub or has_events or moves

        # The due month's index (months since January of the year 0), stepped forward a period at a time: its
        # year, month and due date from the index (kernels.calendar.month_day), no month length walked through.
        due_month = start_y[j] * 12 + start_m[j] - 1

        # Yearly totals accumulate in registers and are stored when the year changes; the loan's years start at
        # first_year[j] (its first due date's, or an earlier prepayment's that may close it).
        current_year = first_year[j]
        acc_interest = np.int64(0)
        acc_principal = np.int64(0)
        year_base = year0_ptr[j] - current_year
        w = 0  # rows written

        # Calendar settlement (docs/conventions.md "Calendar settlement"): interest accrues on each day's balance
        # and is settled on the next settlement date (moved like a due date), apart from the principal's due dates.
        # The fen-days accrued at the current rate since the last settlement are balance_days; the parts accrued
        # at earlier rates are held as their exact quotient and remainder (settled_fen, settled_rem).
        settle_months = interest_months[j]
        on_calendar = settle_months > 0
        settle_month = np.int64(0)  # the next settlement's month index
        next_settle = np.int64(0)
        balance_days = np.int64(0)
        settled_fen = np.int64(0)
        settled_rem = np.int64(0)
        if on_calendar:
            settle_month, next_settle = first_settlement(
                prev_ord, prev_y, prev_m, settle_months, interest_day[j], rule, cal_first, cal_table, cal_weekends)

        for p in range(n):
            if p == next_change:
                if on_calendar and balance_days > 0:  # what accrued at the old rate, exactly
                    settled_fen, settled_rem = fold_accrual(settled_fen, settled_rem, balance_days, rate, den)
                    balance_days = 0
                seg += 1
                rate = seg_rate[seg]
                rate_f = rate / den
                nominal_f = rate / nominal_den
                next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
                rate_changed = True
            due_month += mpp
            end_ord = 0
            stub = False
            # The period ends on its due date, moved to a business day by the loan's rule (docs/conventions.md
            # "Business days"): the row's date and year, and the interest's days, are the moved date's.
            end_y, end_m, end_d, nominal_ord = month_day(due_month, dd)
            moved = False
            if need_days:
                end_ord = nominal_ord
                if moves:
                    adjusted, _ = adjust_day(end_ord, rule, cal_first, cal_table, cal_weekends)  # the caller checked
                    if adjusted != end_ord:  # the calendar's coverage of the last due date: no day here is beyond it
                        moved = True
                        end_ord = adjusted
                        end_y, end_m, end_d = civil_from_days(adjusted)
            interest = np.int64(0)  # a calendar settlement's is settled below
            if on_calendar:
                pass
            elif bas == BASIS_MONTHLY:
                if (p == 0 and first_is_stub) or moved or prev_moved:  # a stub: charged for its length
                    num = period_numerator_civil(bas, prev_ord, end_ord, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL, NO_CIVIL,
                                                 NO_CIVIL, dd)
                    interest = mul_div_half_up_f(balance, rate * num, den, rate_f * num)
                    stub = True
                else:
                    interest = mul_div_half_up_f(balance, rate, nominal_den, nominal_f)  # 30 x mpp / 360 = 1 / ppy
            else:
                num = period_numerator_civil(bas, prev_ord, end_ord, prev_y, prev_m, prev_d, end_y, end_m, end_d, dd)
                interest = mul_div_half_up_f(balance, rate * num, den, rate_f * num)
            prev_moved = moved

            closes = False
            accrual_start = prev_ord + 1 if prev_settled else prev_ord
            # The calendar settlements inside the period: each a row of its own, settling what accrued since the
            # last one; the day's prepayment and tranche come after it (as after a due date's principal).
            while on_calendar and next_settle < end_ord:
                settle_day = next_settle
                settle_prepaid = np.int64(0)
                if has_events and e < e_end and ev_day[e] < settle_day:
                    k, after, settle_prepaid, closes, asks, keeps = _events_inside(settle_day, balance, ev_day,
                                                                                   ev_amount, ev_recompute, e, e_end)
                    if after < 0:
                        failure[j, 0] = k
                        failure[j, 1] = -after - 1
                        failed = True
                        break
                    if closes:
                        settle_day = ev_day[k - 1]
                    recompute = recompute or asks
                    shorten = shorten or keeps
                    accrued, _ = period_accrual(bas, dd, accrual_start, settle_day, balance, 0, ev_day, ev_amount, e, k)
                    balance_days += accrued
                    e = k
                    balance = after
                else:
                    balance_days += balance * (settle_day - accrual_start)
                if has_events and not closes and e < e_end and ev_day[e] == settle_day:
                    k, after, day_prepaid, closes, asks, keeps = _events_inside(settle_day + 1, balance, ev_day,
                                                                                ev_amount, ev_recompute, e, e_end)
                    if after < 0:
                        failure[j, 0] = k
                        failure[j, 1] = -after - 1
                        failed = True
                        break
                    e = k
                    balance = after
                    settle_prepaid += day_prepaid
                    recompute = recompute or asks
                    shorten = shorten or keeps
                if closes and e < e_end:
                    failure[j, 0] = e  # an event after the loan was repaid in full
                    failure[j, 1] = 0
                    failed = True
                    break
                balance_days += balance  # the settlement day itself, at its balance at the end of the day
                settled = settle_accrual(settled_fen, settled_rem, balance_days, rate, den, rate_f)
                balance_days = 0
                settled_fen = 0
                settled_rem = 0
                if want_rows:
                    r = row0 + w
                    out_end[r] = settle_day
                    out_segment[r] = seg
                    out_interest[r] = settled
                    out_principal[r] = settle_prepaid
                    out_settles[r] = True
                w += 1
                if want_years:
                    # the settlement month's year, unless the date moved (or a prepayment closed the loan earlier)
                    settle_year = settle_month // 12 if not moves and settle_day == next_settle else \
                        civil_from_days(settle_day)[0]
                    if settle_year != current_year:
                        current_year, acc_interest, acc_principal = _add_to_years(
                            settle_year, 0, 0, current_year, acc_interest, acc_principal, year_base, year_interest,
                            year_principal)
                    acc_interest += settled
                    acc_principal += settle_prepaid
                accrual_start = settle_day + 1
                if closes:
                    break
                settle_month, next_settle = next_settlement(settle_month, settle_months, interest_day[j], rule,
                                                            cal_first, cal_table, cal_weekends)
            if closes or failed:
                break

            prepaid = np.int64(0)
            row_year = end_y
            if has_events and e < e_end and ev_day[e] < end_ord:
                # The events inside the period change the balance it accrues on; a prepayment of the whole
                # balance closes the loan on its day, which ends the period there.
                k, after, prepaid, closes, asks, keeps = _events_inside(end_ord, balance, ev_day, ev_amount,
                                                                        ev_recompute, e, e_end)
                if after < 0:
                    failure[j, 0] = k
                    failure[j, 1] = -after - 1
                    failed = True
                    break
                if closes:
                    end_ord = ev_day[k - 1]
                    row_year = civil_from_days(end_ord)[0]
                recompute = recompute or asks
                shorten = shorten or keeps
                accrued, _ = period_accrual(bas, dd, accrual_start, end_ord, balance, 0, ev_day, ev_amount, e, k)
                if on_calendar:
                    balance_days += accrued
                else:
                    interest = mul_div_half_up(accrued, rate, den)
                e = k
                balance = after
                stub = True  # the interest is not the nominal one
            elif on_calendar:
                balance_days += balance * (end_ord - accrual_start)

            if has_events and shorten and p > g and not recompute and not closes:
                # the term as the kept payment (or equal principal's share) repays the balance: later
                # recomputations (a rate change, a tranche) spread over what is left of it
                if meth == METHOD_EQUAL_PRINCIPAL and level_principal > 0:
                    last = min(p + (balance + level_principal - 1) // level_principal - 1, last)
                elif meth == METHOD_EQUAL_INSTALLMENT:
                    last = p + periods_to_repay(balance, rate, ppy, payment, last - p + 1) - 1
            if closes:
                principal = np.int64(0)
            elif p == last:
                principal = balance
            elif meth == METHOD_CUSTOM:
                principal = min(plan_fen[plan_ptr[j] + p], balance)
            elif p < g or meth == METHOD_INTEREST_ONLY:
                principal = np.int64(0)
            elif meth == METHOD_EQUAL_PRINCIPAL:
                if p == g or recompute:
                    left = last - p + 1
                    level_principal = (2 * balance + left) // (2 * left)
                principal = min(level_principal, balance)
            else:
                if p == g or rate_changed or recompute:
                    if slot < forced_payment.shape[0] and forced_payment[slot] >= 0:
                        payment = forced_payment[slot]  # settled exactly by the caller
                    else:
                        payment, amb = annuity_payment(balance, rate, ppy, last - p + 1)
                        if amb and ambiguous[j, 0] < 0:
                            ambiguous[j, 0] = slot
                            ambiguous[j, 1] = seg
                            ambiguous[j, 2] = balance
                            ambiguous[j, 3] = last - p + 1
                    slot += 1
                if bas == BASIS_MONTHLY and not stub:
                    nominal = interest
                else:
                    nominal = mul_div_half_up_f(balance, rate, nominal_den, nominal_f)
                principal = payment - nominal
                # A branch, not min/max: almost never taken, so the CPU speculates
                # past it instead of waiting on the comparison.
                if principal < 0 or principal > balance:
                    principal = min(max(principal, 0), balance)
            rate_changed = False
            if p >= g:
                recompute = False
                shorten = False
            balance -= principal

            if has_events:
                if not closes and p >= last and e < e_end:
                    # the last due date (moved back, or of a shortened term) repaid the loan in full: an event on it
                    # or after it comes after the loan was repaid
                    failure[j, 0] = e
                    failure[j, 1] = 0
                    failed = True
                    break
                # Events on the due date come after its principal: they change the next period's balance.
                if not closes and e < e_end and ev_day[e] == end_ord:
                    k, after, day_prepaid, closes, asks, keeps = _events_inside(end_ord + 1, balance, ev_day, ev_amount,
                                                                                ev_recompute, e, e_end)
                    if after < 0:
                        failure[j, 0] = k
                        failure[j, 1] = -after - 1
                        failed = True
                        break
                    e = k
                    balance = after
                    prepaid += day_prepaid
                    recompute = recompute or asks
                    shorten = shorten or keeps
                if balance == 0 and p < n - 1 and (e == e_end or p >= last):
                    closes = True  # repaid in full before its term: nothing more to draw, or its shortened term ended
                if closes and e < e_end:
                    failure[j, 0] = e  # an event after the loan was repaid in full
                    failure[j, 1] = 0
                    failed = True
                    break

            settles = True
            if on_calendar:
                # A due date settles interest when it is a settlement date too, and the loan's last day settles
                # what is left; otherwise the accrual runs on to the next settlement.
                settles = closes or p == n - 1 or end_ord == next_settle
                interest = 0
                if settles:
                    # the due date itself, at its balance after its principal and events, at the rate of the period
                    # it opens
                    day_rate = seg_rate[seg + 1] if p + 1 == next_change and p + 1 < n else rate
                    if day_rate != rate:  # the days before, at their rate, exactly
                        settled_fen, settled_rem = fold_accrual(settled_fen, settled_rem, balance_days, rate, den)
                        balance_days = 0
                    balance_days += balance
                    interest = settle_accrual(settled_fen, settled_rem, balance_days, day_rate, den, day_rate / den)
                    balance_days = 0
                    settled_fen = 0
                    settled_rem = 0
                if end_ord == next_settle:
                    settle_month, next_settle = next_settlement(settle_month, settle_months, interest_day[j], rule,
                                                                cal_first, cal_table, cal_weekends)
            if want_rows:
                r = row0 + w
                out_end[r] = end_ord
                out_segment[r] = seg
                out_interest[r] = interest
                out_principal[r] = principal + prepaid
                if on_calendar:
                    out_settles[r] = settles
            w += 1
            if want_years:
                if row_year != current_year:
                    current_year, acc_interest, acc_principal = _add_to_years(
                        row_year, 0, 0, current_year, acc_interest, acc_principal, year_base, year_interest,
                        year_principal)
                acc_interest += interest
                acc_principal += principal + prepaid

            prev_y = end_y
            prev_m = end_m
            prev_d = end_d
            prev_ord = end_ord
            prev_settled = on_calendar and settles
            if closes:
                break
        if failed:
            written[j] = w
            years_written[j] = 0
            continue
        years_of_loan = year0_ptr[j + 1] - year0_ptr[j]
        if want_years:
            year_interest[year_base + current_year] = acc_interest
            year_principal[year_base + current_year] = acc_principal
            years_of_loan = year_base + current_year + 1 - year0_ptr[j]  # fewer when repaid before its term
            for later in range(year_base + current_year + 1, year0_ptr[j + 1]):
                year_interest[later] = 0  # the years after a loan repaid early: written, and not shown
                year_principal[later] = 0
        written[j] = w
        years_written[j] = years_of_loan


def _loans_in(loan: tuple[np.ndarray, ...]) -> int:
    """The loans of a kernel call: its ``loan`` tuple's first array's length."""
    return int(loan[0].shape[0])


@nb.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _amortize_kernel_threads(loan, dates, rates, events, rows, years, outcome, general):
    """Amortize every loan (in parallel over loans for a portfolio: see :data:`FEW_ITEMS`).

    The arguments are tuples of arrays (one entry per loan unless said), in the order the loops unpack them: a
    call of a loop passes them as they are, not 45 arguments (:func:`_amortize_plain` says why):

    - ``loan``: ``(opening_fen, periods, months_per_period, method, grace, basis, start_y, start_m, start_d,
      due_day, first_year, stop_period)``: the lean loop writes a loan's first ``stop_period`` periods (its
      ``periods``: all), the other loops all;
    - ``dates``: ``(business_day, cal_first, cal_table, cal_weekends, interest_months, interest_day)``;
    - ``rates``: ``(seg_ptr, seg_period, seg_rate, plan_ptr, plan_fen, slot_ptr, forced_payment)``;
    - ``events``: ``(ev_ptr, ev_day, ev_amount, ev_recompute)``;
    - ``rows``: ``(want_rows, row_ptr, out_end, out_segment, out_interest, out_principal, out_settles)``;
    - ``years``: ``(want_years, year_ptr, year_interest, year_principal)``;
    - ``outcome``: ``(ambiguous, failure, written, years_written)``, which the kernel writes.

    ``row_ptr`` / ``year_ptr`` are CSR offsets into the row outputs and the
    per-loan calendar-year totals (the year of each row's date), each
    filled only when ``want_rows`` / ``want_years`` is set; a loan writes ``written[j]`` rows of its
    ``row_ptr`` span (its periods, fewer when repaid before its term, its periods and settlements when it
    settles interest on calendar dates, ``out_settles`` marking the rows that settle) and zeros in its
    years after the last row; the loops that may end a loan early set ``years_written[j]`` to the number of its
    years up to its last row's with ``want_years`` (fewer than its ``year_ptr`` span when it was repaid before its
    term), its span without, 0 when an event failed it; the caller fills it with the spans for the lean loop's
    loans, which run to their term unless stopped (then the lean loop sets it with ``want_years``).
    ``forced_payment[s] >= 0``
    is the annuity payment of payment slot ``s`` (each loan's computations of its payment in order,
    ``slot_ptr``) settled exactly by the caller; an empty ``forced_payment`` settles none (a first pass, which
    then writes no array of a payment slot's size). ``ambiguous[j]`` is ``(slot, segment, balance, periods
    left)`` of loan ``j``'s first payment that the float could not settle (slot -1: none), ``failure[j]``
    ``(event, balance)`` of an event that cannot happen (event -1: none). A loan whose dates follow a calendar
    (a business-day rule, calendar settlement) runs :func:`_amortize_calendar`; one without events the lean loop
    (:func:`_amortize_plain`) unless ``general`` asks for the loop of tranche loans (:func:`_amortize_one`; the
    tests prove the loops equal where their loans meet). ``business_day[j]`` is loan ``j``'s business-day rule code; the
    calendar is ``(cal_first, cal_table, cal_weekends)`` as :func:`subsidy_engine.kernels.business_days.adjust_day`
    reads it, and the caller has checked that it covers every loan's last due date, moved.
    ``interest_months[j]`` (1, 3; 0 when interest is settled on the due dates) and ``interest_day[j]`` are its
    calendar settlements.
    """
    n = loan[0].shape[0]
    for c in nb.prange((n + LOANS_A_CALL - 1) // LOANS_A_CALL):
        lo = np.int64(c) * LOANS_A_CALL
        hi = min(lo + LOANS_A_CALL, n)
        _amortize_calendar(lo, hi, loan, dates, rates, events, rows, years, outcome, general)
        _amortize_one(lo, hi, loan, dates, rates, events, rows, years, outcome, general)
        _amortize_plain(lo, hi, loan, dates, rates, events, rows, years, outcome, general)


amortize_kernel = by_size(_amortize_kernel_threads, "loans", _loans_in)


@nb.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _lean_kernel_threads(loan, dates, rates, events, rows, years, outcome, general):
    """:func:`_amortize_kernel_threads` for a batch whose loans all run the lean loop (:func:`_amortize_plain`: no
    calendar, no business-day rule, no drawdown after the first, no prepayment), the usual book. A kernel of its
    own so that such a book's first call compiles the lean loop alone (import and first call on an empty numba
    cache: 4.4 s, against 13.8 s when it compiled every loop). The caller gives it such a batch only, and
    ``general`` False: a loan of another loop would be left unpriced here."""
    n = loan[0].shape[0]
    for c in nb.prange((n + LOANS_A_CALL - 1) // LOANS_A_CALL):
        lo = np.int64(c) * LOANS_A_CALL
        hi = min(lo + LOANS_A_CALL, n)
        _amortize_plain(lo, hi, loan, dates, rates, events, rows, years, outcome, general)


lean_kernel = by_size(_lean_kernel_threads, "loans", _loans_in)

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
from subsidy_engine.kernels.arithmetic import mul_div_half_up, mul_div_half_up_f
from subsidy_engine.kernels.calendar import days_from_civil, days_in_month, period_numerator_civil, year_denominator
from subsidy_engine.kernels.codes import (
    BASIS_MONTHLY,
    METHOD_CUSTOM,
    METHOD_EQUAL_PRINCIPAL,
    METHOD_INTEREST_ONLY,
)
from subsidy_engine.kernels.threads import by_size, jit


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


@jit
def _amortize_one(j, principal_fen, periods, months_per_period, method, grace, basis,
                  start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
                  plan_ptr, plan_fen, forced_payment, want_rows, row0, out_end, out_segment,
                  out_interest, out_principal, want_years, year0_ptr, year_interest,
                  year_principal):
    """Amortize loan ``j``; returns ``(segment, balance, periods left)`` of its first annuity payment that
    was ambiguous (within float error of a half fen), or ``(-1, 0, 0)`` when none was.

    Rows record the due date, the rate segment, interest and principal; the
    opening balance (principal less what was repaid before) and the rate are
    derived from them when the table is built, which keeps the bytes written
    per period, and so the page faults of a fresh table, to 24.
    """
    n = periods[j]
    mpp = months_per_period[j]
    ppy = 12 // mpp
    g = grace[j]
    meth = method[j]
    bas = basis[j]
    dd = due_day[j]
    start_mi = start_y[j] * 12 + start_m[j] - 1
    first_due_year = (start_mi + mpp) // 12

    # Interest of a period: round(balance * rate * num / den), num/den the period's share of a year on the
    # loan's basis (kernels.calendar); den is fixed per loan. On the monthly basis a period from a due day to
    # the next is mpp whole months (30 * mpp / 360); only the first period can be a stub, when the loan is
    # drawn on another day than its due day, and it is charged for its length (months and odd days).
    den = RATE_SCALE * year_denominator(bas)
    whole_periods_num = 30 * mpp
    first_is_stub = bas == BASIS_MONTHLY and start_d[j] != min(dd, days_in_month(start_y[j], start_m[j]))
    nominal_den = RATE_SCALE * ppy

    seg = seg_ptr[j]
    seg_end = seg_ptr[j + 1]
    rate = seg_rate[seg]
    rate_f = rate / den
    nominal_f = rate / nominal_den
    next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
    rate_changed = False

    balance = principal_fen[j]
    payment = np.int64(0)
    level_principal = np.int64(0)
    ambiguous_segment = -1
    ambiguous_balance = np.int64(0)
    ambiguous_left = 0

    prev_y = start_y[j]
    prev_m = start_m[j]
    prev_d = start_d[j]
    prev_ord = days_from_civil(prev_y, prev_m, prev_d)
    need_days = bas != BASIS_MONTHLY or want_rows or first_is_stub

    # The due month, stepped forward instead of divided out every period, and
    # the day number of its first day, so a due date is month_first + d - 1.
    y = start_y[j]
    m = start_m[j]
    month_first = prev_ord - prev_d + 1

    # Yearly totals accumulate in registers and are stored when the year changes.
    current_year = first_due_year
    acc_interest = np.int64(0)
    acc_principal = np.int64(0)
    year_base = year0_ptr[j] - first_due_year

    for p in range(n):
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
            num = whole_periods_num
            if need_days:
                end_ord = month_first + min(dd, days_in_month(y, m)) - 1
            if p == 0 and first_is_stub:
                num = period_numerator_civil(bas, prev_ord, end_ord, 0, 0, 0, 0, 0, 0, dd)
                stub = True
        else:
            d = min(dd, days_in_month(y, m))
            end_ord = month_first + d - 1
            num = period_numerator_civil(bas, prev_ord, end_ord, prev_y, prev_m, prev_d, y, m, d, dd)
            prev_d = d
        interest = mul_div_half_up_f(balance, rate * num, den, rate_f * num)

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
                if forced_payment[seg] >= 0:
                    payment = forced_payment[seg]  # settled exactly by the caller
                else:
                    payment, amb = annuity_payment(balance, rate, ppy, n - p)
                    if amb and ambiguous_segment < 0:
                        ambiguous_segment = seg
                        ambiguous_balance = balance
                        ambiguous_left = n - p
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
    return ambiguous_segment, ambiguous_balance, ambiguous_left


@nb.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _amortize_kernel_threads(principal_fen, periods, months_per_period, method, grace, basis,
                             start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
                             plan_ptr, plan_fen, forced_payment, want_rows, row_ptr, out_end, out_segment,
                             out_interest, out_principal, want_years, year_ptr,
                             year_interest, year_principal, ambiguous):
    """Amortize every loan (in parallel over loans for a portfolio: see :data:`FEW_ITEMS`).

    ``row_ptr`` / ``year_ptr`` are CSR offsets into the row outputs and the
    per-loan calendar-year totals (the year of each period's due date), each
    filled only when ``want_rows`` / ``want_years`` is set. ``forced_payment[s] >= 0`` is the annuity
    payment of rate segment ``s`` (computed where the segment starts, or at the end of the grace period)
    settled exactly by the caller. ``ambiguous[j]`` is ``(segment, balance, periods left)`` of loan
    ``j``'s first payment that the float could not settle (segment -1: none), for the caller to settle.
    """
    for j in nb.prange(principal_fen.shape[0]):
        ambiguous[j, 0], ambiguous[j, 1], ambiguous[j, 2] = _amortize_one(
            j, principal_fen, periods, months_per_period, method, grace, basis,
            start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
            plan_ptr, plan_fen, forced_payment, want_rows, row_ptr[j], out_end, out_segment,
            out_interest, out_principal, want_years, year_ptr,
            year_interest, year_principal)


amortize_kernel = by_size(_amortize_kernel_threads, "loans")

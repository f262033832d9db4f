"""Numba kernels over int64 fen: the fast path of the loan schedules.

Nothing here knows about pydantic, pandas or Decimal: inputs are flat arrays
prepared by :mod:`subsidy_engine.portfolio`, outputs are int64 fen. The rules
are those of :mod:`subsidy_engine.reference` (read its docstring first); the
tests prove the two equal to the fen.

Exact products without 128-bit integers
    An interest amount is ``round(B * k / den)`` with ``B`` the balance in fen,
    ``k = rate_units * days`` and ``den = 1e10 * 360`` (or 365, or periods per
    year). ``B * k`` can exceed 2**63, so the quotient is first estimated in
    float64 (relative error below 1e-15, so at most one fen off for balances
    up to 1e14 fen) and then corrected exactly: the remainder ``B*k - q*den``
    is small, so its value is fully determined by its low 64 bits, which
    wrapping uint64 multiplication gives exactly. No rounding depends on the
    float; it only picks the starting guess.

The annuity payment
    ``M = B i / (1 - (1+i)^-m)`` is irrational in general, so the kernel
    computes it in float64 and flags the loan whenever the value is within a
    proven error bound of a half fen. Flagged loans (very rare below 1e10
    yuan) are recomputed by the exact reference.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

RATE_SCALE = 10**10

METHOD_EQUAL_INSTALLMENT = 0
METHOD_EQUAL_PRINCIPAL = 1
METHOD_INTEREST_ONLY = 2
METHOD_CUSTOM = 3

BASIS_MONTHLY = 0
BASIS_ACT_360 = 1
BASIS_ACT_365 = 2
BASIS_30_360 = 3

_jit = nb.njit(cache=True, nogil=True, fastmath=False)


@_jit
def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@_jit
def days_in_month(y: int, m: int) -> int:
    if m == 2:
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        return 29 if leap else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


@_jit
def mul_div_half_up(a: int, k: int, den: int) -> int:
    """``round_half_up(a * k / den)`` for ``a, k >= 0`` and ``0 < den < 2**61``, exactly.

    The result must fit in int64; ``a * k`` need not.
    """
    q = np.int64(float(a) * float(k) / float(den))
    rem = np.int64(np.uint64(a) * np.uint64(k) - np.uint64(q) * np.uint64(den))
    while rem < 0:
        q -= 1
        rem += den
    while rem >= den:
        q += 1
        rem -= den
    if 2 * rem >= den:
        q += 1
    return q


@_jit
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
    # The float evaluation is within ~20 ulp of the exact value; 1e-12
    # relative is a wide margin. Inside it the exact path decides.
    ambiguous = abs(frac - 0.5) <= 1e-9 + x * 1e-12
    return np.int64(math.floor(x + 0.5)), ambiguous


@_jit
def _period_interest(balance, rate_units, basis, periods_per_year, days, d30):
    if basis == BASIS_MONTHLY:
        return mul_div_half_up(balance, rate_units, RATE_SCALE * periods_per_year)
    if basis == BASIS_ACT_360:
        return mul_div_half_up(balance, rate_units * days, RATE_SCALE * 360)
    if basis == BASIS_ACT_365:
        return mul_div_half_up(balance, rate_units * days, RATE_SCALE * 365)
    return mul_div_half_up(balance, rate_units * d30, RATE_SCALE * 360)


@_jit
def _amortize_one(j, principal_fen, periods, months_per_period, method, grace, basis,
                  start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
                  plan_ptr, plan_fen, want_rows, row0, out_end, out_rate, out_opening,
                  out_interest, out_principal, want_years, year0_ptr, year_interest,
                  year_principal):
    """Amortize loan ``j``; returns True when an annuity payment was ambiguous."""
    n = periods[j]
    mpp = months_per_period[j]
    ppy = 12 // mpp
    g = grace[j]
    meth = method[j]
    bas = basis[j]
    dd = due_day[j]
    start_mi = start_y[j] * 12 + start_m[j] - 1
    first_due_year = (start_mi + mpp) // 12

    seg = seg_ptr[j]
    seg_end = seg_ptr[j + 1]
    rate = seg_rate[seg]
    next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
    rate_changed = False

    balance = principal_fen[j]
    payment = np.int64(0)
    level_principal = np.int64(0)
    ambiguous = False

    prev_y = start_y[j]
    prev_m = start_m[j]
    prev_d = start_d[j]
    prev_ord = days_from_civil(prev_y, prev_m, prev_d)
    need_days = bas != BASIS_MONTHLY or want_rows

    for p in range(n):
        if p == next_change:
            seg += 1
            rate = seg_rate[seg]
            next_change = seg_period[seg + 1] if seg + 1 < seg_end else n
            rate_changed = True
        mi = start_mi + (p + 1) * mpp
        y = mi // 12
        m = mi - y * 12 + 1
        d = min(dd, days_in_month(y, m))
        days = 0
        d30 = 0
        end_ord = 0
        if need_days:
            end_ord = days_from_civil(y, m, d)
            days = end_ord - prev_ord
            if bas == BASIS_30_360:
                d1 = min(prev_d, 30)
                d2 = d
                if d2 == 31 and d1 == 30:
                    d2 = 30
                d30 = 360 * (y - prev_y) + 30 * (m - prev_m) + (d2 - d1)

        interest = _period_interest(balance, rate, bas, ppy, days, d30)

        if p == n - 1:
            principal = balance
        elif meth == METHOD_CUSTOM:
            principal = plan_fen[plan_ptr[j] + p]
        elif p < g or meth == METHOD_INTEREST_ONLY:
            principal = 0
        elif meth == METHOD_EQUAL_PRINCIPAL:
            if p == g:
                level_principal = (2 * balance + (n - g)) // (2 * (n - g))
            principal = min(level_principal, balance)
        else:
            if p == g or rate_changed:
                payment, amb = annuity_payment(balance, rate, ppy, n - p)
                ambiguous = ambiguous or amb
            if bas == BASIS_MONTHLY:
                nominal = interest
            else:
                nominal = mul_div_half_up(balance, rate, RATE_SCALE * ppy)
            principal = min(max(payment - nominal, 0), balance)
        rate_changed = False

        if want_rows:
            r = row0 + p
            out_end[r] = end_ord
            out_rate[r] = rate
            out_opening[r] = balance
            out_interest[r] = interest
            out_principal[r] = principal
        if want_years:
            k = year0_ptr[j] + y - first_due_year
            year_interest[k] += interest
            year_principal[k] += principal

        balance -= principal
        prev_y = y
        prev_m = m
        prev_d = d
        prev_ord = end_ord
    return ambiguous


@nb.njit(cache=True, nogil=True, parallel=True)
def amortize_kernel(principal_fen, periods, months_per_period, method, grace, basis,
                    start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
                    plan_ptr, plan_fen, want_rows, row_ptr, out_end, out_rate,
                    out_opening, out_interest, out_principal, want_years, year_ptr,
                    year_interest, year_principal, ambiguous):
    """Amortize every loan, in parallel over loans.

    ``row_ptr`` / ``year_ptr`` are CSR offsets into the row outputs and the
    per-loan calendar-year totals (the year of each period's due date), each
    filled only when ``want_rows`` / ``want_years`` is set. ``ambiguous[j]``
    is set when loan ``j`` must be recomputed exactly.
    """
    for j in nb.prange(principal_fen.shape[0]):
        ambiguous[j] = _amortize_one(
            j, principal_fen, periods, months_per_period, method, grace, basis,
            start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
            plan_ptr, plan_fen, want_rows, row_ptr[j], out_end, out_rate,
            out_opening, out_interest, out_principal, want_years, year_ptr,
            year_interest, year_principal)

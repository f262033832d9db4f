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

import functools
import math
import types
from collections.abc import Callable
from typing import Any

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

# error_model="numpy": no Python zero-division checks in the hot loop (every
# divisor here is a positive constant or checked by validation).
_jit = nb.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400  # floor division already: no C-style adjustment
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
    return mul_div_half_up_f(a, k, den, k / den)


# "contract" lets LLVM fuse the seed's multiply and add into one FMA, a shorter
# step on the loop-carried chain; the seed's last bit does not matter, the
# integer check below decides every result.
@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def mul_div_half_up_f(a: int, k: int, den: int, k_over_den: float) -> int:
    """:func:`mul_div_half_up` with ``k / den`` precomputed as a float.

    The float gives a candidate ``trunc(a * k/den + 0.5)``; the exact integer
    remainder then checks it: the candidate is the half-up quotient exactly
    when ``-den <= 2 * (a*k - q*den) < den``. The check is a branch that is
    almost never taken, so the CPU runs ahead on the candidate and the
    loop-carried chain balance -> interest -> principal -> balance does not
    wait for the integer multiplications. When the float lands on the wrong
    side of a half fen (an exact tie, or float error), the branch corrects it.
    """
    q = np.int64(float(a) * k_over_den + 0.5)
    rem2 = 2 * np.int64(np.uint64(a) * np.uint64(k) - np.uint64(q) * np.uint64(den))
    if rem2 >= den or rem2 < -den:
        q = _fix_quotient(a, k, den, q)
    return q


@_jit
def _floor_from_guess(a, k, den, q):
    """``(floor(a*k/den), remainder)`` from a guess ``q`` off by a few units.

    ``a*k - q*den`` is small, so its low 64 bits (wrapping uint64 products)
    are its exact value.
    """
    rem = np.int64(np.uint64(a) * np.uint64(k) - np.uint64(q) * np.uint64(den))
    while rem < 0:
        q -= 1
        rem += den
    while rem >= den:
        q += 1
        rem -= den
    return q, rem


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="never")
def _fix_quotient(a, k, den, q):
    """The exact half-up quotient from a guess that is off by a few units."""
    q, rem = _floor_from_guess(a, k, den, q)
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
    # Measured against the exact rational on random inputs, the float value is
    # within 1.6 ulp (3.5e-16 relative); 1e-14 is a margin of ~28x. Inside it
    # the exact path decides.
    ambiguous = abs(frac - 0.5) <= 1e-9 + x * 1e-14
    return np.int64(math.floor(x + 0.5)), ambiguous


@_jit
def _amortize_one(j, principal_fen, periods, months_per_period, method, grace, basis,
                  start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
                  plan_ptr, plan_fen, forced_payment, want_rows, row0, out_end, out_segment,
                  out_interest, out_principal, want_years, year0_ptr, year_interest,
                  year_principal):
    """Amortize loan ``j``; returns True when an annuity payment was ambiguous.

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

    # Interest of a period: round(balance * rate * num / den), num being 1
    # (monthly basis) or the period's days; den is fixed per loan.
    if bas == BASIS_MONTHLY:
        den = RATE_SCALE * ppy
    elif bas == BASIS_ACT_365:
        den = RATE_SCALE * 365
    else:
        den = RATE_SCALE * 360
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
    ambiguous = False

    prev_y = start_y[j]
    prev_m = start_m[j]
    prev_d = start_d[j]
    prev_ord = days_from_civil(prev_y, prev_m, prev_d)
    need_days = bas != BASIS_MONTHLY or want_rows

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
        if bas == BASIS_MONTHLY:
            interest = mul_div_half_up_f(balance, rate, den, rate_f)
            if need_days:
                end_ord = month_first + min(dd, days_in_month(y, m)) - 1
        else:
            d = min(dd, days_in_month(y, m))
            end_ord = month_first + d - 1
            if bas == BASIS_30_360:
                d1 = min(prev_d, 30)
                d2 = d
                if d2 == 31 and d1 == 30:
                    d2 = 30
                days = 360 * (y - prev_y) + 30 * (m - prev_m) + (d2 - d1)
            else:
                days = end_ord - prev_ord
            interest = mul_div_half_up_f(balance, rate * days, den, rate_f * days)
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
            if p == g and forced_payment[j] >= 0:
                payment = forced_payment[j]  # settled exactly by the caller
            elif p == g or rate_changed:
                payment, amb = annuity_payment(balance, rate, ppy, n - p)
                ambiguous = ambiguous or amb
            if bas == BASIS_MONTHLY:
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
    return ambiguous


@nb.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _amortize_kernel_threads(principal_fen, periods, months_per_period, method, grace, basis,
                             start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
                             plan_ptr, plan_fen, forced_payment, want_rows, row_ptr, out_end, out_segment,
                             out_interest, out_principal, want_years, year_ptr,
                             year_interest, year_principal, ambiguous):
    """Amortize every loan (in parallel over loans for a portfolio: see :data:`FEW_ITEMS`).

    ``row_ptr`` / ``year_ptr`` are CSR offsets into the row outputs and the
    per-loan calendar-year totals (the year of each period's due date), each
    filled only when ``want_rows`` / ``want_years`` is set. ``ambiguous[j]``
    is set when loan ``j`` must be recomputed exactly; ``forced_payment[j] >= 0``
    gives the first annuity payment of loan ``j`` settled exactly by the caller.
    """
    for j in nb.prange(principal_fen.shape[0]):
        ambiguous[j] = _amortize_one(
            j, principal_fen, periods, months_per_period, method, grace, basis,
            start_y, start_m, start_d, due_day, seg_ptr, seg_period, seg_rate,
            plan_ptr, plan_fen, forced_payment, want_rows, row_ptr[j], out_end, out_segment,
            out_interest, out_principal, want_years, year_ptr,
            year_interest, year_principal)


SEGMENT_OK = 0
SEGMENT_BEFORE_FIRST_FIXING = 1
SEGMENT_BEYOND_COVERAGE = 2
SEGMENT_NEGATIVE_RATE = 3


@_jit
def _lpr_on(day, tenor_5y, fixing_day, lpr_1y, lpr_5y):
    k = max(np.searchsorted(fixing_day, day, side="right") - 1, 0)
    return lpr_5y[k] if tenor_5y else lpr_1y[k]


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _floating_segments_threads(start_y, start_m, start_d, due_day, periods, months_per_period, anniversary,
                               tenor_5y, spread_units, fixing_day, lpr_1y, lpr_5y, first_fixing_day,
                               coverage_end_day, history_end_day, fill, seg_ptr, counts, status,
                               projected_from, seg_period, seg_rate):
    """Rate segments of floating loans (see :mod:`subsidy_engine.repricing`).

    Called twice: with ``fill`` False it sets ``counts``, ``status`` and
    ``projected_from`` per loan; with ``fill`` True it writes each loan's
    segments (first period, rate) from ``seg_ptr[i]`` on. A reset whose rate
    equals the previous one adds no segment.
    """
    for i in nb.prange(start_y.shape[0]):
        sy, sm, sd, mpp, n = start_y[i], start_m[i], start_d[i], months_per_period[i], periods[i]
        start_mi = sy * 12 + sm - 1
        day = days_from_civil(sy, sm, sd)
        state = SEGMENT_OK
        if day < first_fixing_day:
            state = SEGMENT_BEFORE_FIRST_FIXING
        elif day > coverage_end_day:
            state = SEGMENT_BEYOND_COVERAGE
        rate = _lpr_on(day, tenor_5y[i], fixing_day, lpr_1y, lpr_5y) + spread_units[i]
        if rate < 0 and state == SEGMENT_OK:
            state = SEGMENT_NEGATIVE_RATE
        first_projected = day if day > history_end_day else -1
        count = 1
        if fill:
            seg_period[seg_ptr[i]] = 0
            seg_rate[seg_ptr[i]] = rate
        k = 1
        while True:
            if anniversary[i]:
                # the drawdown day (clamped) 12k months on; the first period
                # starting on or after it is 12k/mpp, or the next one when the
                # due day falls earlier in that month
                mi = start_mi + 12 * k
                y = mi // 12
                m = mi - 12 * y + 1
                dim = days_in_month(y, m)
                reset_d = min(sd, dim)
                p = 12 * k // mpp + (1 if min(due_day[i], dim) < reset_d else 0)
                reset_day = days_from_civil(y, m, reset_d)
            else:
                # 1 January of year start + k: the first period whose due
                # month (its start) is that January or later
                p = -((start_mi - (sy + k) * 12) // mpp)
                reset_day = days_from_civil(sy + k, 1, 1)
            if p > n - 1:
                break
            if reset_day > coverage_end_day and state == SEGMENT_OK:
                state = SEGMENT_BEYOND_COVERAGE
            if reset_day > history_end_day and first_projected < 0:
                first_projected = reset_day
            new_rate = _lpr_on(reset_day, tenor_5y[i], fixing_day, lpr_1y, lpr_5y) + spread_units[i]
            if new_rate < 0 and state == SEGMENT_OK:
                state = SEGMENT_NEGATIVE_RATE
            if new_rate != rate:
                if fill:
                    seg_period[seg_ptr[i] + count] = p
                    seg_rate[seg_ptr[i] + count] = new_rate
                count += 1
                rate = new_rate
            k += 1
        counts[i] = count
        status[i] = state
        projected_from[i] = first_projected


@nb.njit(cache=True, nogil=True, error_model="numpy")
def subsidy_accrual(base_fen, factor_units, num, den, inside_days, period_days, out):
    """``out[p] = round(base * factor * num * inside / (1e10 * den * days))``, exactly.

    One formula for every subsidy form (:mod:`subsidy_engine.interest_subsidy`):
    a base (balance, principal or the interest itself), a rate factor in 1e-10
    units, the period's share of a year ``num/den`` on the loan's basis, and
    the share of the period's days inside the subsidy window.
    """
    for p in range(base_fen.shape[0]):
        if inside_days[p] <= 0 or factor_units[p] <= 0 or base_fen[p] <= 0:
            out[p] = 0
        else:
            out[p] = mul_div_half_up(base_fen[p], factor_units[p] * num[p] * inside_days[p],
                                     RATE_SCALE * den[p] * period_days[p])


@_jit
def mul_div_floor_rem(a: int, k: int, den: int):
    """``(floor(a * k / den), remainder)`` for ``a, k >= 0`` and ``0 < den < 2**61``, exactly.

    The float only guesses the quotient; the exact integer remainder corrects it.
    """
    return _floor_from_guess(a, k, den, np.int64(float(a) * float(k) / float(den)))


@_jit
def mul_div_floor(a: int, k: int, den: int) -> int:
    """``floor(a * k / den)`` for ``a, k >= 0`` and ``0 < den < 2**61``, exactly."""
    return mul_div_floor_rem(a, k, den)[0]


MICRO = 10**6  # shares and premium-rate caps of measure 7 are exact to 1e-6


@nb.njit(cache=True, nogil=True, error_model="numpy")
def premium_subsidy_gross(premium_fen, insured_fen, share_micro, cap_micro, has_cap, out):
    """``out[i] = round(share * min(premium, cap * insured))``, exactly, per policy-year.

    The cap binds when ``premium * 1e6 > cap * insured``, i.e. when the premium
    exceeds ``floor(cap * insured / 1e6)``; then the recognised premium is
    ``cap * insured`` (unrounded) and one rounding makes the subsidy.
    """
    for i in range(premium_fen.shape[0]):
        capped = has_cap[i] and premium_fen[i] > mul_div_floor(insured_fen[i], cap_micro[i], MICRO)
        if capped:
            out[i] = mul_div_half_up(insured_fen[i], share_micro[i] * cap_micro[i], MICRO * MICRO)
        else:
            out[i] = mul_div_half_up(premium_fen[i], share_micro[i], MICRO)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def pay_under_group_caps(amounts, caps, group_start, out):
    """Pay ``amounts`` in order; within a group (``group_start`` marks its first
    row) the running total may not pass each row's cap (``cap < 0``: no cap)."""
    paid_in_group = 0
    for i in range(amounts.shape[0]):
        if group_start[i]:
            paid_in_group = 0
        pay = amounts[i]
        if caps[i] >= 0:
            pay = max(min(pay, caps[i] - paid_in_group), 0)
        out[i] = pay
        paid_in_group += pay


@nb.njit(cache=True, nogil=True, error_model="numpy")
def pay_under_shared_caps(amounts, groups, caps, n_groups, after):
    """Pay rows in one pass under several caps at once, each cap's room used only by what is paid.

    Parameters
    ----------
    amounts : ndarray of int64, shape (n,)
        The amount each row asks, in fen, the rows in the order they are paid.
    groups : ndarray of int64, shape (n, k)
        ``groups[i, c]``: the group of row ``i`` under cap ``c`` (one code space shared
        by all the caps, ``0 <= code < n_groups``), or -1 when cap ``c`` does not apply
        to the row.
    caps : ndarray of int64, shape (n, k)
        ``caps[i, c]``: the cap of that group as row ``i`` sees it, in fen; ``NO_CAP``
        (-1): none (the row's payment still counts in its group).
    n_groups : int
        The number of group codes.
    after : ndarray of int64, shape (n, k)
        Written: ``after[i, c]``, what row ``i`` would be paid under caps ``0`` to ``c``
        only; ``after[i, k - 1]`` is what it is paid.

    Notes
    -----
    The rule: rows are taken in order; the room of a group is its cap less what
    the rows of the group before have been *paid* (never below 0), and row
    ``i`` is paid ``min(amounts[i], room under each cap that applies to it)``;
    that payment, and nothing more, is added to each of the row's groups. So an
    amount that one cap cuts uses no room under another cap. The cut of a row
    is attributed to the caps in their order: ``amounts[i] - after[i, 0]`` to
    cap 0, ``after[i, c - 1] - after[i, c]`` to cap ``c`` (the further cut by
    its room), so the cuts add up to ``amounts[i] - after[i, k - 1]``.

    Examples
    --------
    Cap 0 is 10 over both rows; cap 1 is 3, over the first row only. The first
    row is paid 3 (cut 5 by cap 1), so it uses 3 of cap 0's 10, not 8; the
    second row is paid the 7 left under cap 0:

    >>> import numpy as np
    >>> after = np.empty((2, 2), np.int64)
    >>> pay_under_shared_caps(np.array([8, 9]), np.array([[0, 1], [0, -1]]),
    ...                       np.array([[10, 3], [10, -1]]), 2, after)
    >>> after.tolist()
    [[8, 3], [7, 7]]
    """
    n, k = groups.shape
    used = np.zeros(n_groups, np.int64)
    for i in range(n):
        pay = amounts[i]
        for c in range(k):
            g = groups[i, c]
            if g >= 0 and caps[i, c] >= 0:
                pay = min(pay, max(caps[i, c] - used[g], 0))
            after[i, c] = pay
        for c in range(k):
            g = groups[i, c]
            if g >= 0:
                used[g] += pay


@nb.njit(cache=True, nogil=True, error_model="numpy")
def share_of_amounts(amount_fen, share_units, round_half_up, out):
    """``out[i] = amount * share`` (share in 1e-10 units), rounded half-up or down, exactly."""
    for i in range(amount_fen.shape[0]):
        if round_half_up:
            out[i] = mul_div_half_up(amount_fen[i], share_units[i], RATE_SCALE)
        else:
            out[i] = mul_div_floor(amount_fen[i], share_units[i], RATE_SCALE)


@_jit
def civil_from_days(day: int):
    """(year, month, day) of a day since 1970-01-01 (H. Hinnant's civil_from_days)."""
    z = day + 719468
    era = z // 146097  # floor division already: no C-style adjustment
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _calendar_year_threads(epoch_day, out):
    """The proleptic Gregorian year of each day since 1970-01-01 (H. Hinnant's civil_from_days)."""
    for i in nb.prange(epoch_day.shape[0]):
        out[i] = civil_from_days(epoch_day[i])[0]


@_jit
def add_years_kernel(epoch_day, years, out):
    """The same day ``years[i]`` years after ``epoch_day[i]``, clamped to the month's end (29 Feb -> 28 Feb)."""
    for i in range(epoch_day.shape[0]):
        y, m, d = civil_from_days(epoch_day[i])
        y += years[i]
        out[i] = days_from_civil(y, m, min(d, days_in_month(y, m)))


FORM_POINTS_ON_BALANCE = 0
FORM_POINTS_ON_PRINCIPAL = 1
FORM_SHARE_OF_INTEREST = 2
FORM_RATE_GAP = 3


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _portfolio_subsidy_threads(row_ptr, end_day, loan_start_day, interest, principal, segment, segment_rate,
                               loan_principal, loan_basis, loan_mpp, form, points, share, benchmark, window_start,
                               window_end, annual_cap, lifetime_cap, year_ptr, out_year, out_interest, out_gross,
                               out_paid, out_cut_interest, out_cut_annual, out_cut_lifetime):
    """貼息 of every period of every loan, summed per loan and calendar year, in one pass.

    The rules of :mod:`subsidy_engine.interest_subsidy`, per loan ``j`` (its
    rule's parameters are per-loan arrays; caps < 0 mean none). Output row
    ``year_ptr[j] + k`` is the k-th calendar year of loan j's due dates.
    """
    for j in nb.prange(row_ptr.shape[0] - 1):
        balance = loan_principal[j]
        prev = loan_start_day[j]
        ppy = 12 // loan_mpp[j]
        k = year_ptr[j] - 1
        current_year = -1
        paid_in_year = 0
        paid_in_life = 0
        for r in range(row_ptr[j], row_ptr[j + 1]):
            end = end_day[r]
            days = end - prev
            rate = segment_rate[segment[r]]
            inside = min(end, window_end[j]) - max(prev, window_start[j])
            gross = 0
            if inside > 0:
                if form[j] == FORM_SHARE_OF_INTEREST:
                    base, factor, num, den = interest[r], share[j], 1, 1
                else:
                    if loan_basis[j] == BASIS_MONTHLY:
                        num, den = 1, ppy
                    elif loan_basis[j] == BASIS_30_360:
                        y1, m1, d1 = civil_from_days(prev)
                        y2, m2, d2 = civil_from_days(end)
                        d1 = min(d1, 30)
                        if d2 == 31 and d1 == 30:
                            d2 = 30
                        num, den = 360 * (y2 - y1) + 30 * (m2 - m1) + (d2 - d1), 360
                    else:
                        num, den = days, 365 if loan_basis[j] == BASIS_ACT_365 else 360
                    if form[j] == FORM_RATE_GAP:
                        base, factor = balance, max(benchmark[j] - rate, 0)
                    else:
                        base = balance if form[j] == FORM_POINTS_ON_BALANCE else loan_principal[j]
                        factor = min(points[j], rate)
                if base > 0 and factor > 0:
                    gross = mul_div_half_up(base, factor * num * inside, RATE_SCALE * den * days)
            within_interest = min(gross, interest[r])
            y, _, _ = civil_from_days(end)
            if y != current_year:
                k += 1
                current_year = y
                paid_in_year = 0
                out_year[k] = y
                out_interest[k] = 0
                out_gross[k] = 0
                out_paid[k] = 0
                out_cut_interest[k] = 0
                out_cut_annual[k] = 0
                out_cut_lifetime[k] = 0
            after_annual = within_interest
            if annual_cap[j] >= 0:
                after_annual = max(min(within_interest, annual_cap[j] - paid_in_year), 0)
            paid_in_year += after_annual
            paid = after_annual
            if lifetime_cap[j] >= 0:
                paid = max(min(after_annual, lifetime_cap[j] - paid_in_life), 0)
            paid_in_life += paid
            out_interest[k] += interest[r]
            out_gross[k] += gross
            out_paid[k] += paid
            out_cut_interest[k] += gross - within_interest
            out_cut_annual[k] += within_interest - after_annual
            out_cut_lifetime[k] += after_annual - paid
            balance -= principal[r]
            prev = end


# ---------------------------------------------------------------------------
# Threads for a portfolio, none for a few items
# ---------------------------------------------------------------------------
#: Below this many items (loans; days for ``calendar_year``) a kernel runs on the calling thread.
#: Both are above what a quote can hold (100 loans of at most 600 periods, quote.MAX_ITEMS), so a quote
#: never starts the thread pool: for a few loans the pool saves microseconds and costs its tail (a
#: parallel region waits for a worker that another process holds off its core; after each region the
#: OpenMP workers spin on the other cores), and the service's threads never run parallel regions at
#: once (numba's workqueue layer, its fallback without OpenMP or TBB, aborts on that).
FEW_ITEMS = {"loans": 128, "days": 65_536}


def _on_the_calling_thread(kernel: Any) -> Any:
    """``kernel``'s own source compiled without threads (``nb.prange`` is then ``range``).

    The copy is named ``<name>_serial``: numba's disk cache files a compiled function under its
    qualified name and does not key it by the ``parallel`` option, so the two compilations must
    not share a name or one would be loaded for the other.
    """
    source = kernel.py_func
    if not source.__name__.endswith("_threads"):
        raise ValueError(f"{source.__name__}: a threaded kernel's name ends in _threads (its twin's in _serial)")
    name = source.__name__.removesuffix("_threads") + "_serial"
    twin = types.FunctionType(source.__code__.replace(co_name=name), source.__globals__, name,
                              source.__defaults__, source.__closure__)
    twin.__qualname__ = name
    twin.__kwdefaults__ = source.__kwdefaults__
    return nb.njit(cache=True, nogil=True, error_model="numpy")(twin)


def _length(first: np.ndarray) -> int:
    return first.shape[0]


def _by_size(kernel: Any, kind: str, items: Callable[[np.ndarray], int] = _length) -> Callable[..., Any]:
    """``kernel`` over the thread pool, or its serial twin when ``items(first argument)`` is below
    ``FEW_ITEMS[kind]``: the same source either way (a hypothesis test checks the two agree)."""
    serial = _on_the_calling_thread(kernel)

    def run(*args: Any) -> Any:
        return (serial if items(args[0]) < FEW_ITEMS[kind] else kernel)(*args)

    functools.update_wrapper(run, kernel.py_func)  # its signature and docstring
    run.__name__ = run.__qualname__ = kernel.py_func.__name__.removeprefix("_").removesuffix("_threads")
    run.threaded, run.serial = kernel, serial  # type: ignore[attr-defined]  # for the tests
    return run


amortize_kernel = _by_size(_amortize_kernel_threads, "loans")
floating_segments = _by_size(_floating_segments_threads, "loans")
calendar_year = _by_size(_calendar_year_threads, "days")
portfolio_subsidy = _by_size(_portfolio_subsidy_threads, "loans", lambda row_ptr: row_ptr.shape[0] - 1)

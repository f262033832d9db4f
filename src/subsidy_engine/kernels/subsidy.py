"""Subsidies per period and per item: 貼息 (measures 1 and 15) and the premium subsidy (measure 7)."""

from __future__ import annotations

import numba as nb
import numpy as np

from subsidy_engine.core.money import RATE_SCALE
from subsidy_engine.kernels.amortize import fold_accrual
from subsidy_engine.kernels.arithmetic import mul_div_floor, mul_div_half_up
from subsidy_engine.kernels.calendar import (
    civil_from_days,
    days_from_civil,
    period_accrual,
    period_numerator,
    window_balance_days,
    year_denominator,
)
from subsidy_engine.kernels.caps import within_cap
from subsidy_engine.kernels.codes import (
    FORM_POINTS_ON_BALANCE,
    FORM_POINTS_ON_PRINCIPAL,
    FORM_RATE_GAP,
    FORM_SHARE_OF_INTEREST,
)
from subsidy_engine.kernels.threads import LOANS_A_CALL, by_size, jit

MICRO = 10**6  # shares and premium-rate caps of measure 7 are exact to 1e-6


@nb.njit(cache=True, nogil=True, error_model="numpy")
def premium_subsidy_gross(premium_fen, insured_fen, share_micro, cap_micro, has_cap, out):
    """``out[i] = round(share * min(premium, cap * insured))``, exactly, per policy-year.

    The cap binds when ``premium * 1e6 > cap * insured``, i.e. when the premium
    exceeds ``floor(cap * insured / 1e6)``; then the recognised premium is
    ``cap * insured`` (unrounded) and one rounding makes the subsidy.
    """
    for i in range(premium_fen.shape[0]):
        capped = has_cap[i] and premium_fen[i] > mul_div_floor(insured_fen[i], cap_micro[i], np.int64(MICRO))
        if capped:
            out[i] = mul_div_half_up(insured_fen[i], share_micro[i] * cap_micro[i], MICRO * MICRO)
        else:
            out[i] = mul_div_half_up(premium_fen[i], share_micro[i], np.int64(MICRO))


@jit
def _subsidy_of_loans(loans_from, loans_to, row_ptr, end_day, loan_start_day, interest, principal, segment,
                      segment_rate, end_segment, loan_opening, loan_basis, loan_due_day, loan_interest_months,
                      settles, event_ptr, event_day, event_amount, form, points, share, benchmark, window_start,
                      window_end, annual_cap, lifetime_cap, year_ptr, per_period, out_year, out_interest,
                      out_gross, out_paid, out_cut_interest, out_cut_annual, out_cut_lifetime, out_terms):
    """Loans ``loans_from`` to ``loans_to - 1`` of :func:`_portfolio_subsidy_threads`, a range a call
    (:data:`~subsidy_engine.kernels.threads.LOANS_A_CALL` says why)."""
    # a caller that wants only what is paid per period (a bank's ledger) passes no rows for out_year and the other
    # amounts, all of them: six arrays of int64 a period not written (their fresh pages cost more than the sums)
    details = out_year.shape[0] > 0
    for loan in range(loans_from, loans_to):
        j = np.uint64(loan)  # unsigned, as prange gives it: an index not checked for a negative value
        balance = loan_opening[j]  # the first tranche; later ones are events
        drawn = loan_opening[j]
        e = event_ptr[j]
        e_end = event_ptr[j + 1]
        prev = loan_start_day[j]
        k = year_ptr[j] - 1
        current_year = -1
        paid_in_year = np.int64(0)  # int64 zeros, not literal ones: within_cap compiled once (calendar.NO_CIVIL)
        paid_in_life = np.int64(0)
        on_calendar = loan_interest_months[j] > 0
        settled_fen = 0  # a calendar loan's 貼息 accrued since its last settlement: exact quotient and remainder
        settled_rem = 0
        settle_start = prev
        loan_den = RATE_SCALE * year_denominator(loan_basis[j])
        prev_settled = False  # a calendar settlement settles its own date: the next row accrues from the day after
        # the calendar year of the row's date, found again only when the date leaves the year of the row before:
        # civil_from_days' divisions once a year of a loan, not once a row (a fifth of the loop's time)
        year_of_day, year_first_day, year_end_day = np.int64(0), np.int64(1), np.int64(0)
        for r in range(row_ptr[j], row_ptr[j + 1]):
            end = np.int64(end_day[r])  # int64, as the amortization's days: its helpers compiled once
            if prev_settled:
                prev += 1
            days = end - prev
            rate = segment_rate[segment[r]]
            inside = max(min(end, window_end[j]) - max(prev, window_start[j]), 0)
            inside_end = e  # the drawdowns and prepayments strictly inside the period change its balance
            while inside_end < e_end and event_day[inside_end] < end:
                inside_end += 1
            day_end = inside_end  # and those on its last day, after its principal
            while day_end < e_end and event_day[day_end] == end:
                day_end += 1
            # the principal drawn and the balance as the row's date ends: its tranches in (the row's principal
            # holds its prepayments), its principal out
            drawn_after = drawn
            for q in range(e, day_end):
                if event_amount[q] > 0:
                    drawn_after += event_amount[q]
            balance_after = balance + drawn_after - drawn - principal[r]
            base, factor, num, den = 0, 0, 0, 1
            window_inside = inside  # the days of the period inside the window, or 1 when base holds them
            gross = 0
            if inside > 0 or per_period:  # per period, the terms of a period outside the window are shown too
                if form[j] == FORM_SHARE_OF_INTEREST:
                    base, factor, num, den = interest[r], share[j], 1, 1
                else:  # the period's share of a year on the loan's basis, as its interest accrues
                    den = year_denominator(loan_basis[j])
                    if inside_end > e and inside < days:
                        # cut by the window: the balance of each day inside it, at the period's share a day
                        on_balance, on_principal = window_balance_days(prev, end, window_start[j], window_end[j],
                                                                       balance, drawn, event_day, event_amount, e,
                                                                       inside_end)
                        num = period_numerator(loan_basis[j], prev, end, loan_due_day[j])
                        window_inside = 1
                    elif inside_end > e:  # the balance's (or the drawn principal's) sum over the period, num folded in
                        on_balance, on_principal = period_accrual(loan_basis[j], loan_due_day[j], prev, end, balance,
                                                                  drawn, event_day, event_amount, e, inside_end)
                        num = 1
                    else:
                        num = period_numerator(loan_basis[j], prev, end, loan_due_day[j])
                        on_balance = balance
                        on_principal = drawn
                    if form[j] == FORM_RATE_GAP:
                        base, factor = on_balance, max(benchmark[j] - rate, 0)
                    else:
                        base = on_balance if form[j] == FORM_POINTS_ON_BALANCE else on_principal
                        factor = min(points[j], rate)
                if on_calendar:
                    if form[j] != FORM_SHARE_OF_INTEREST and inside > 0 and base > 0 and factor > 0:
                        # on a day-count basis num x inside / days is a whole number: these days' exact part
                        settled_fen, settled_rem = fold_accrual(settled_fen, settled_rem, base,
                                                                factor * (num * window_inside // days), loan_den)
                elif inside > 0 and base > 0 and factor > 0:
                    gross = mul_div_half_up(base, factor * num * window_inside, RATE_SCALE * den * days)
            day_base, day_factor = 0, 0
            if on_calendar:
                if form[j] == FORM_SHARE_OF_INTEREST:
                    base, factor, num, den, window_inside = 0, 0, 0, 1, 0
                if settles[r]:
                    if form[j] == FORM_SHARE_OF_INTEREST:  # the settled interest, for its days inside the window
                        settle_inside = max(min(end + 1, window_end[j]) - max(settle_start, window_start[j]), 0)
                        base, factor, num, den = interest[r], share[j], 1, 1
                        window_inside, days = settle_inside, end + 1 - settle_start
                        if settle_inside > 0 and interest[r] > 0 and share[j] > 0:
                            gross = mul_div_half_up(interest[r], share[j] * settle_inside, RATE_SCALE * days)
                    else:
                        if window_start[j] <= end < window_end[j]:
                            # the settlement's own date, at its balance at the end of the day (its tranches in,
                            # the row's principal out) and the rate it ends with (``end_segment``)
                            day_rate = segment_rate[end_segment[r]]
                            day_base = drawn_after if form[j] == FORM_POINTS_ON_PRINCIPAL else balance_after
                            if form[j] == FORM_RATE_GAP:
                                day_factor = max(benchmark[j] - day_rate, 0)
                            else:
                                day_factor = min(points[j], day_rate)
                            if day_base > 0 and day_factor > 0:
                                settled_fen, settled_rem = fold_accrual(settled_fen, settled_rem, day_base,
                                                                        day_factor, loan_den)
                        gross = settled_fen + (2 * settled_rem + loan_den) // (2 * loan_den)
                    settled_fen = 0
                    settled_rem = 0
                    settle_start = end + 1
            within_interest = min(gross, interest[r])
            if not year_first_day <= end < year_end_day:
                year_of_day = civil_from_days(end)[0]
                year_first_day = days_from_civil(year_of_day, 1, 1)
                year_end_day = days_from_civil(year_of_day + 1, 1, 1)
            y = year_of_day
            new_year = y != current_year
            if new_year:
                k += 1
                current_year = y
                paid_in_year = np.int64(0)
            o = r if per_period else k
            if per_period or new_year:
                out_paid[o] = 0
                if details:
                    out_year[o] = y
                    out_interest[o] = 0
                    out_gross[o] = 0
                    out_cut_interest[o] = 0
                    out_cut_annual[o] = 0
                    out_cut_lifetime[o] = 0
            if per_period and out_terms.shape[0]:  # a caller that wants only the amounts passes no rows
                out_terms[r, 0] = base
                out_terms[r, 1] = factor
                out_terms[r, 2] = num
                out_terms[r, 3] = den
                out_terms[r, 4] = window_inside
                out_terms[r, 5] = days
                out_terms[r, 6] = day_base
                out_terms[r, 7] = day_factor
            after_annual = within_cap(within_interest, annual_cap[j], paid_in_year)
            paid_in_year += after_annual
            paid = within_cap(after_annual, lifetime_cap[j], paid_in_life)
            paid_in_life += paid
            out_paid[o] += paid
            if details:
                out_interest[o] += interest[r]
                out_gross[o] += gross
                out_cut_interest[o] += gross - within_interest
                out_cut_annual[o] += within_interest - after_annual
                out_cut_lifetime[o] += after_annual - paid
            e = day_end
            balance = balance_after
            drawn = drawn_after
            prev = end
            prev_settled = on_calendar and settles[r]


@jit
def loan_year_layout(periods, end_day):
    """Where :func:`portfolio_subsidy` reads each loan's rows and writes its years: ``(row_ptr, first_year,
    year_ptr)``. Loan ``j``'s rows are ``row_ptr[j]:row_ptr[j + 1]`` (its ``periods[j]``, in date order, ``end_day``
    days since 1970-01-01); its years run from its first row's calendar year (``first_year[j]``) to its last row's,
    every year in between, at ``year_ptr[j]:year_ptr[j + 1]``; a loan without rows has none. One pass, where
    numpy took ten calls (a quote's one loan paid for each)."""
    n = periods.shape[0]
    row_ptr, year_ptr = np.empty(n + 1, np.int64), np.empty(n + 1, np.int64)
    first_year = np.zeros(n, np.int64)
    row_ptr[0] = year_ptr[0] = 0
    for j in range(n):
        row_ptr[j + 1] = row_ptr[j] + periods[j]
    if row_ptr[n] > end_day.shape[0]:  # read out of the rows' bounds otherwise (numpy's indexing raised)
        raise ValueError("loan_year_layout: the loans' periods are more than the rows")
    for j in range(n):
        years = 0
        if periods[j] > 0:
            first_year[j] = civil_from_days(np.int64(end_day[row_ptr[j]]))[0]
            years = civil_from_days(np.int64(end_day[row_ptr[j + 1] - 1]))[0] - first_year[j] + 1
        year_ptr[j + 1] = year_ptr[j] + years
    return row_ptr, first_year, year_ptr


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _portfolio_subsidy_threads(row_ptr, end_day, loan_start_day, interest, principal, segment, segment_rate,
                               end_segment, loan_opening, loan_basis, loan_due_day, loan_interest_months, settles, event_ptr,
                               event_day, event_amount, form, points, share, benchmark, window_start,
                               window_end, annual_cap, lifetime_cap, year_ptr, per_period, out_year, out_interest,
                               out_gross, out_paid, out_cut_interest, out_cut_annual, out_cut_lifetime, out_terms):
    """貼息 of every period of every loan, in one pass: the production's one implementation of the rules.

    The rules of :mod:`subsidy_engine.measures.interest_subsidy`, per loan ``j`` (its
    rule's parameters are per-loan arrays; caps < 0 mean none). ``end_segment[r]``: the rate segment in force
    as row ``r``'s date ends (the next row's of the loan; a bank's ledger says it when its last day changes it),
    read for the loans that settle interest on calendar days only: empty when there are none.

    A caller that wants only what is paid per period passes empty arrays for ``out_year`` and the five other
    amounts (all of them: an empty ``out_year`` is what tells the kernel) and for ``out_terms``; only ``out_paid`` is
    then written. Per loan and calendar year (``per_period`` false): output row ``year_ptr[j] + k`` is the k-th calendar
    year of loan j's due dates, the periods due in it summed. Per period (``per_period`` true): output row
    ``r`` is schedule row ``r``, and ``out_terms[r]`` holds the accrual's exact terms ``(base, factor, num,
    den, inside, days, day_base, day_factor)``: ``gross = round(base x factor x num x inside / (1e10 x den x
    days))`` (``day_base x day_factor / (1e10 x den)`` more on a calendar settlement: its own date). A period with
    tranches or prepayments inside it has its balance's sum over the period in ``base`` (num 1), or, when the
    window cuts it, its balance-days inside the window (inside 1).

    A loan settling interest on calendar dates (``loan_interest_months[j] > 0``, on a day-count basis) accrues
    its 貼息 row by row like its interest, and pays it on the rows that settle (``settles[r]``), rounded once:
    the exact parts of the rows since the last settlement are summed as quotients and remainders. Its terms
    are each row's own part (a settlement's accrual is the sum of its rows'), a settlement's own date included
    (docs/conventions.md "Calendar settlement": the row after it starts the day after); of
    ``share_of_interest``, on a settling row the settled interest for the settlement's days inside the window,
    zero on the others.
    """
    n = row_ptr.shape[0] - 1
    for c in nb.prange((n + LOANS_A_CALL - 1) // LOANS_A_CALL):
        lo = np.int64(c) * LOANS_A_CALL
        _subsidy_of_loans(lo, min(lo + LOANS_A_CALL, n), row_ptr, end_day, loan_start_day, interest, principal,
                          segment, segment_rate, end_segment, loan_opening, loan_basis, loan_due_day,
                          loan_interest_months, settles, event_ptr, event_day, event_amount, form, points,
                          share, benchmark, window_start, window_end, annual_cap, lifetime_cap, year_ptr,
                          per_period, out_year, out_interest, out_gross, out_paid, out_cut_interest,
                          out_cut_annual, out_cut_lifetime, out_terms)


portfolio_subsidy = by_size(_portfolio_subsidy_threads, "loans", lambda row_ptr: row_ptr.shape[0] - 1)

"""A bank's ledger as the balance and rate of every day, and the interest of each settlement (issue 18, point 3).

Each loan's events are sorted by day and, on one day, in the order of
:class:`~subsidy_engine.core.vocabulary.LedgerKind`. The rows are the days a settlement or a rate change falls on
after the first drawdown: the rate is constant over a row, the balance changes inside it with the drawdowns and
repayments. A day accrues at the balance and rate it ends with, and a settlement settles its own day too
(docs/conventions.md "A bank's ledger"): the row after it starts the day after.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from subsidy_engine.core.money import RATE_SCALE
from subsidy_engine.kernels.amortize import fold_accrual, settle_accrual
from subsidy_engine.kernels.calendar import year_denominator
from subsidy_engine.kernels.codes import (
    LEDGER_DRAWDOWN,
    LEDGER_INTEREST_SETTLED,
    LEDGER_RATE_CHANGE,
    LEDGER_REPAYMENT,
)
from subsidy_engine.kernels.threads import LOANS_A_CALL, by_size, jit


@jit
def _ledger_of_loans(loans_from, loans_to, ev_ptr, ev_day, ev_kind, ev_fen, ev_rate, basis, row_ptr, row_day,
                     out_start, out_rate, out_end_rate, out_interest, out_principal, out_settles, out_bank,
                     out_opening, failure):
    """Loans ``loans_from`` to ``loans_to - 1`` of :func:`_ledger_threads`, a range a call
    (:data:`~subsidy_engine.kernels.threads.LOANS_A_CALL` says why)."""
    for loan in range(loans_from, loans_to):
        j = np.uint64(loan)  # unsigned, as prange gives it: an index not checked for a negative value
        e = ev_ptr[j]
        e_end = ev_ptr[j + 1]
        den = RATE_SCALE * year_denominator(basis[j])
        balance = ev_fen[e]
        rate = ev_rate[e]
        prev = ev_day[e]
        e += 1
        while e < e_end and ev_day[e] == prev:  # the start day's own later events: a drawdown, a new rate
            if ev_kind[e] == LEDGER_DRAWDOWN:
                balance += ev_fen[e]
            elif ev_kind[e] == LEDGER_RATE_CHANGE:
                rate = ev_rate[e]
            else:  # a repayment on the day it is drawn (sorted before the drawdown: refused with it)
                failure[j] = e
                break
            e += 1
        if failure[j] >= 0:
            continue
        out_opening[j] = balance
        balance_days = 0
        settled_fen = 0
        settled_rem = 0
        settle_start = prev  # the first day the next settlement settles
        for r in range(row_ptr[j], row_ptr[j + 1]):
            end = row_day[r]
            out_start[r] = settle_start
            t = prev
            principal = 0
            while e < e_end and ev_day[e] < end:  # only drawdowns and repayments fall inside a row
                balance_days += balance * (ev_day[e] - t)
                t = ev_day[e]
                if ev_kind[e] == LEDGER_REPAYMENT:
                    if ev_fen[e] > balance:
                        failure[j] = e
                        break
                    balance -= ev_fen[e]
                    principal += ev_fen[e]
                else:
                    balance += ev_fen[e]
                e += 1
            if failure[j] >= 0:
                break
            balance_days += balance * (end - t)
            settles = False
            bank = -1
            new_rate = rate
            while e < e_end and ev_day[e] == end:  # the end day: its settlement first, then its changes
                kind = ev_kind[e]
                if kind == LEDGER_INTEREST_SETTLED:
                    settles = True
                    bank = ev_fen[e]
                elif kind == LEDGER_REPAYMENT:
                    if ev_fen[e] > balance:
                        failure[j] = e
                        break
                    balance -= ev_fen[e]
                    principal += ev_fen[e]
                elif kind == LEDGER_DRAWDOWN:
                    balance += ev_fen[e]
                else:
                    new_rate = ev_rate[e]
                e += 1
            if failure[j] >= 0:
                break
            out_rate[r] = rate
            out_end_rate[r] = new_rate
            out_principal[r] = principal
            out_settles[r] = settles
            out_bank[r] = bank
            if settles:
                # the settlement day itself, at the balance and rate it ends with (its changes take effect that
                # day), then the days since the last settlement rounded once
                if new_rate != rate:
                    settled_fen, settled_rem = fold_accrual(settled_fen, settled_rem, balance_days, rate, den)
                    balance_days = 0
                balance_days += balance
                out_interest[r] = settle_accrual(settled_fen, settled_rem, balance_days, new_rate, den,
                                                 new_rate / den)
                settled_fen = 0
                settled_rem = 0
                prev = end + 1
                settle_start = prev
            else:  # what accrued at this row's rate, exactly: the next row's rate may differ
                settled_fen, settled_rem = fold_accrual(settled_fen, settled_rem, balance_days, rate, den)
                out_interest[r] = 0
                prev = end
            balance_days = 0
            rate = new_rate
        while failure[j] < 0 and e < e_end:  # after the last settlement or rate change: the balances still hold
            if ev_kind[e] == LEDGER_REPAYMENT:
                if ev_fen[e] > balance:
                    failure[j] = e
                balance -= ev_fen[e]
            elif ev_kind[e] == LEDGER_DRAWDOWN:
                balance += ev_fen[e]
            e += 1


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ledger_threads(ev_ptr, ev_day, ev_kind, ev_fen, ev_rate, basis, row_ptr, row_day, out_start, out_rate,
                    out_end_rate, out_interest, out_principal, out_settles, out_bank, out_opening, failure):
    """Per loan ``j`` (events ``ev_ptr[j]:ev_ptr[j + 1]``, the first its first drawdown; rows
    ``row_ptr[j]:row_ptr[j + 1]`` on the days ``row_day``, :func:`ledger_layout`): each row's first day of the
    settlement it belongs to (the day after the loan's previous settlement, or its first drawdown's), its rate, the
    rate its day ends with, the interest it settles (0 on a row that settles nothing: it accrues on to the next),
    the principal repaid in it (after its start, up to its end), whether it settles, and the bank's settled amount
    (-1 when it does not settle); per loan, its opening balance (its first drawdown day's drawdowns).

    Interest accrues on each day's balance at the day's rate, ``rate x balance / year_denominator(basis)`` a
    day, and a settlement rounds the sum of its days once (the parts at earlier rates as exact quotients and
    remainders, :func:`subsidy_engine.kernels.amortize.settle_accrual`). ``failure[j]`` is the event that
    repays more than the balance (-1: none).
    """
    n = ev_ptr.shape[0] - 1
    for c in nb.prange((n + LOANS_A_CALL - 1) // LOANS_A_CALL):
        lo = np.int64(c) * LOANS_A_CALL
        _ledger_of_loans(lo, min(lo + LOANS_A_CALL, n), ev_ptr, ev_day, ev_kind, ev_fen, ev_rate, basis,
                         row_ptr, row_day, out_start, out_rate, out_end_rate, out_interest, out_principal,
                         out_settles, out_bank, out_opening, failure)


ledger_kernel = by_size(_ledger_threads, "loans", lambda ev_ptr: ev_ptr.shape[0] - 1)


@jit
def _layout_of_loans(loans_from, loans_to, ev_ptr, ev_day, ev_kind, ev_fen, fill, row_count, move_count,
                     settle_count, row_ptr, row_day, move_ptr, move_day, move_amount):
    """Loans ``loans_from`` to ``loans_to - 1`` of :func:`_ledger_layout_threads`, a range a call
    (:data:`~subsidy_engine.kernels.threads.LOANS_A_CALL` says why)."""
    for loan in range(loans_from, loans_to):
        j = np.uint64(loan)  # unsigned, as prange gives it: an index not checked for a negative value
        lo = ev_ptr[j]
        hi = ev_ptr[j + 1]
        start = ev_day[lo]
        rows = 0
        moves = 0
        settlements = 0
        last_row_day = start  # a row is a day after the start: the start's own settlements make none
        for e in range(lo, hi):
            kind = ev_kind[e]
            day = ev_day[e]
            if kind == LEDGER_INTEREST_SETTLED or kind == LEDGER_RATE_CHANGE:
                settlements += kind == LEDGER_INTEREST_SETTLED
                if day > last_row_day:
                    if fill:
                        row_day[row_ptr[j] + rows] = day
                    rows += 1
                    last_row_day = day
            elif kind == LEDGER_REPAYMENT or day != start:  # a drawdown on the start day is the opening
                if fill:
                    move_day[move_ptr[j] + moves] = day
                    move_amount[move_ptr[j] + moves] = -ev_fen[e] if kind == LEDGER_REPAYMENT else ev_fen[e]
                moves += 1
        if not fill:
            row_count[j] = rows
            move_count[j] = moves
            settle_count[j] = settlements


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ledger_layout_threads(ev_ptr, ev_day, ev_kind, ev_fen, fill, row_count, move_count, settle_count, row_ptr,
                           row_day, move_ptr, move_day, move_amount):
    """Where each loan's rows and balance changes go, in one pass over its sorted events (``ev_ptr`` as
    :func:`_ledger_threads` reads them).

    Counting (``fill`` false), per loan ``j``: ``row_count[j]`` its rows (the distinct days after its first
    drawdown's with a settlement or a rate change), ``move_count[j]`` its balance changes after the opening (the
    drawdowns after its first drawdown's day, every repayment) and ``settle_count[j]`` its settlements. Filling
    (``fill`` true, once ``row_ptr`` and ``move_ptr`` are the pointers of those counts): ``row_day`` the rows' days, ``move_day`` and ``move_amount`` (+ drawn, - repaid) the changes, as
    :func:`subsidy_engine.kernels.subsidy.portfolio_subsidy` reads them.
    """
    n = ev_ptr.shape[0] - 1
    for c in nb.prange((n + LOANS_A_CALL - 1) // LOANS_A_CALL):
        lo = np.int64(c) * LOANS_A_CALL
        _layout_of_loans(lo, min(lo + LOANS_A_CALL, n), ev_ptr, ev_day, ev_kind, ev_fen, fill, row_count,
                         move_count, settle_count, row_ptr, row_day, move_ptr, move_day, move_amount)


ledger_layout = by_size(_ledger_layout_threads, "loans", lambda ev_ptr: ev_ptr.shape[0] - 1)


# The problems :func:`ledger_checks` finds on a loan's sorted rows, one bit each (the reader words them).
CHECK_NO_DRAWDOWN = 1  # the first row of a loan that has no drawdown
CHECK_BEFORE_START = 2  # a row dated before the loan's first drawdown
CHECK_SETTLED_ON_START = 4  # a settlement on the first drawdown's day (sorted before it)
CHECK_REPAID_ON_START = 8  # a repayment on the first drawdown's day (sorted before it)
CHECK_NO_FIRST_RATE = 16  # the first drawdown states no rate
CHECK_RATE_NOT_IN_FORCE = 32  # a rate stated on another row that is neither the day's rate before nor after
CHECK_SECOND_SETTLEMENT = 64  # a loan's second interest_settled row on one day
CHECK_SECOND_RATE_CHANGE = 128  # a loan's second rate_change row on one day


@jit
def _checks_of_loans(loans_from, loans_to, ev_ptr, ev_day, ev_kind, ev_rate, no_rate, bits, rate_before):
    """Loans ``loans_from`` to ``loans_to - 1`` of :func:`_ledger_checks_threads`, a range a call
    (:data:`~subsidy_engine.kernels.threads.LOANS_A_CALL` says why)."""
    for loan in range(loans_from, loans_to):
        j = np.uint64(loan)  # unsigned, as prange gives it: an index not checked for a negative value
        lo = ev_ptr[j]
        hi = ev_ptr[j + 1]
        first = -1
        for k in range(lo, hi):
            bits[k] = 0
            rate_before[k] = -1
            if first < 0 and ev_kind[k] == LEDGER_DRAWDOWN:
                first = k
        for k in range(lo + 1, hi):
            if ev_day[k] == ev_day[k - 1] and ev_kind[k] == ev_kind[k - 1]:
                if ev_kind[k] == LEDGER_INTEREST_SETTLED:
                    bits[k] |= CHECK_SECOND_SETTLEMENT
                elif ev_kind[k] == LEDGER_RATE_CHANGE:
                    bits[k] |= CHECK_SECOND_RATE_CHANGE
        if first < 0:
            if hi > lo:
                bits[lo] |= CHECK_NO_DRAWDOWN
            continue
        start = ev_day[first]
        for k in range(lo, first):
            if ev_day[k] < start:
                bits[k] |= CHECK_BEFORE_START
            elif ev_kind[k] == LEDGER_INTEREST_SETTLED:
                bits[k] |= CHECK_SETTLED_ON_START
            elif ev_kind[k] == LEDGER_REPAYMENT:
                bits[k] |= CHECK_REPAID_ON_START
        if no_rate[first]:
            bits[first] |= CHECK_NO_FIRST_RATE
        # the rate in force through each day: at its start (after the day before) and at its end
        in_force = -1  # none before the loan's first setter
        k = lo
        while k < hi:
            day_end = k
            while day_end + 1 < hi and ev_day[day_end + 1] == ev_day[k]:
                day_end += 1
            at_start = in_force
            for i in range(k, day_end + 1):
                if i == first or ev_kind[i] == LEDGER_RATE_CHANGE:
                    if at_start < 0:  # none in force before the day (a loan's first): its first setter's rate
                        at_start = ev_rate[i]
                    in_force = ev_rate[i]
            at_end = in_force
            for i in range(max(k, first + 1), day_end + 1):
                if ev_kind[i] != LEDGER_RATE_CHANGE and not no_rate[i] and ev_rate[i] != at_start \
                        and ev_rate[i] != at_end:
                    bits[i] |= CHECK_RATE_NOT_IN_FORCE
                    rate_before[i] = at_start if at_start >= 0 else at_end
            k = day_end + 1


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ledger_checks_threads(ev_ptr, ev_day, ev_kind, ev_rate, no_rate, bits, rate_before):
    """The problems of each loan's sorted rows (``ev_ptr`` as :func:`_ledger_threads` reads them) as ``bits[k]``
    (the ``CHECK_*`` flags, 0 for a good row), in one pass instead of a dozen over the whole table.

    The first drawdown (the first in the sorted order) starts the loan: a row before it is dated earlier, or
    on its day sorted before it (a settlement, a repayment), and is refused. The first drawdown and each
    rate_change set the rate in force; a rate stated on another row after the first drawdown must be the rate
    in force when its day begins or when it ends (a bank's export repeats it), and ``rate_before[k]`` is the
    rate it is shown against (the day's first, or its last when none was in force before it). A row before
    the first drawdown has no rate in force and is not compared.
    """
    n = ev_ptr.shape[0] - 1
    for c in nb.prange((n + LOANS_A_CALL - 1) // LOANS_A_CALL):
        lo = np.int64(c) * LOANS_A_CALL
        _checks_of_loans(lo, min(lo + LOANS_A_CALL, n), ev_ptr, ev_day, ev_kind, ev_rate, no_rate, bits,
                         rate_before)


ledger_checks = by_size(_ledger_checks_threads, "loans", lambda ev_ptr: ev_ptr.shape[0] - 1)

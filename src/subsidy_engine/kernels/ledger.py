"""A bank's ledger as the balance and rate of every day, and the interest of each settlement (issue 18, point 3).

Each loan's events are sorted by day and, on one day, in the order of
:class:`~subsidy_engine.core.vocabulary.LedgerKind`. The rows are the days a settlement or a rate change falls on
after the first drawdown: the rate is constant over a row, the balance changes inside it with the drawdowns and
repayments. A day accrues at the balance and rate it ends with, and a settlement settles its own day too
(docs/conventions.md "A bank's ledger"): the row after it starts the day after.
"""

from __future__ import annotations

import numba as nb

from subsidy_engine.core.money import RATE_SCALE
from subsidy_engine.kernels.amortize import fold_accrual, settle_accrual
from subsidy_engine.kernels.calendar import year_denominator
from subsidy_engine.kernels.codes import (
    LEDGER_DRAWDOWN,
    LEDGER_INTEREST_SETTLED,
    LEDGER_RATE_CHANGE,
    LEDGER_REPAYMENT,
)
from subsidy_engine.kernels.threads import by_size


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _ledger_threads(ev_ptr, ev_day, ev_kind, ev_fen, ev_rate, basis, row_ptr, row_day, out_rate, out_end_rate,
                    out_interest, out_principal, out_settles, out_bank, failure):
    """Per loan ``j`` (events ``ev_ptr[j]:ev_ptr[j + 1]``, the first its first drawdown; rows
    ``row_ptr[j]:row_ptr[j + 1]`` on the days ``row_day``): each row's rate, the rate its day ends with, the
    interest it settles (0 on a row
    that settles nothing: it accrues on to the next), the principal repaid in it (after its start, up to its
    end), whether it settles, and the bank's settled amount (-1 when it does not settle).

    Interest accrues on each day's balance at the day's rate, ``rate x balance / year_denominator(basis)`` a
    day, and a settlement rounds the sum of its days once (the parts at earlier rates as exact quotients and
    remainders, :func:`subsidy_engine.kernels.amortize.settle_accrual`). ``failure[j]`` is the event that
    repays more than the balance (-1: none).
    """
    for j in nb.prange(ev_ptr.shape[0] - 1):
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
        balance_days = 0
        settled_fen = 0
        settled_rem = 0
        for r in range(row_ptr[j], row_ptr[j + 1]):
            end = row_day[r]
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


ledger_kernel = by_size(_ledger_threads, "loans", lambda ev_ptr: ev_ptr.shape[0] - 1)

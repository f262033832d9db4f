"""Rate segments: which rate each period of each loan accrues at (measure 15).

A fixed loan has one segment. A floating loan (LPR + spread) starts at the
most recent fixing on or before drawdown and reprices on every 1 January or
drawdown anniversary; the new rate applies from the first period that starts
on or after the reset date (see :mod:`subsidy_engine.reference`). Segments
are built for all loans at once with numpy and passed to the kernel as CSR
arrays; consecutive resets that leave the rate unchanged are merged, so an
equal-installment loan recomputes its payment only when its rate changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batch import LoanArrays, civil_to_epoch_days, days_in_month
from .rates import LprCurve, epoch_days


@dataclass
class Segments:
    """CSR rate segments plus what went wrong or was projected, per loan."""

    ptr: np.ndarray  # int64[L + 1]
    first_period: np.ndarray  # 0-based period from which the rate applies
    rate_units: np.ndarray  # 1e-10 units
    error: np.ndarray  # object[L]: None or the reason the loan cannot be priced
    beyond_coverage: np.ndarray  # bool[L]: the reason is the rate data's coverage
    projected_from: np.ndarray  # int64[L]: epoch day of the first projected fixing, or -1


FLOATING_BLOCK = 16_384  # floating loans per block: bounds the (loans x resets) matrices


def rate_segments(loans: LoanArrays, curve: LprCurve | None) -> Segments:
    """Build the rate segments of every loan (vectorized over loans and resets)."""
    count = len(loans)
    counts = np.ones(count, dtype=np.int64)
    error = np.full(count, None, dtype=object)
    beyond_coverage = np.zeros(count, dtype=bool)
    projected_from = np.full(count, -1, dtype=np.int64)
    floating = np.flatnonzero(loans.is_floating)
    if floating.size and curve is None:
        error[floating] = "floating: no LPR curve was given"
        floating = floating[:0]
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for lo in range(0, floating.size, FLOATING_BLOCK):
        assert curve is not None
        block = floating[lo:lo + FLOATING_BLOCK]
        kept.append(_floating_block(loans, block, curve, counts, error, beyond_coverage,
                                    projected_from))

    ptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    first_period = np.zeros(int(ptr[-1]), dtype=np.int64)
    rate_units = np.zeros(int(ptr[-1]), dtype=np.int64)
    fixed = np.flatnonzero(~loans.is_floating)
    rate_units[ptr[fixed]] = loans.fixed_units[fixed]
    for owner, rank, periods_at, rates in kept:
        slot = ptr[owner] + rank
        first_period[slot] = periods_at
        rate_units[slot] = rates
    return Segments(ptr, first_period, rate_units, error, beyond_coverage, projected_from)


def _floating_block(loans: LoanArrays, block: np.ndarray, curve: LprCurve, counts: np.ndarray,
                    error: np.ndarray, beyond_coverage: np.ndarray, projected_from: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments of the floating loans ``block``: (owner, rank, first period, rate) per segment."""
    sy, sm, sd = loans.start_y[block], loans.start_m[block], loans.start_d[block]
    n, mpp, due = loans.periods[block], loans.months_per_period[block], loans.due_day[block]
    start_mi = sy * 12 + sm - 1
    start_day = civil_to_epoch_days(sy, sm, sd)
    resets = int(((n * mpp) // 12).max()) + 1
    k = np.arange(1, resets + 1, dtype=np.int64)[None, :]

    # Anniversary k: the drawdown day (clamped) 12k months on; the first period
    # starting on or after it is 12k/mpp, or the next one when the due day
    # falls earlier in that month.
    ann_mi = start_mi[:, None] + 12 * k
    month_days = days_in_month(ann_mi)
    ann_day = np.minimum(sd[:, None], month_days)
    ann_p = 12 * k // mpp[:, None] + (np.minimum(due[:, None], month_days) < ann_day)
    ann_date = civil_to_epoch_days(ann_mi // 12, ann_mi % 12 + 1, ann_day)
    # 1 January of year start + k: the first period whose due month (its start)
    # is January of that year or later.
    jan_mi = (sy[:, None] + k) * 12
    jan_p = -((start_mi[:, None] - jan_mi) // mpp[:, None])
    jan_date = civil_to_epoch_days(sy[:, None] + k, 1, 1)
    anniversary = loans.reset_anniversary[block][:, None]
    reset_p = np.where(anniversary, ann_p, jan_p)
    reset_date = np.where(anniversary, ann_date, jan_date)

    fix_date = np.concatenate([start_day[:, None], reset_date], axis=1)
    periods_at = np.concatenate([np.zeros((block.size, 1), dtype=np.int64), reset_p], axis=1)
    valid = periods_at <= (n - 1)[:, None]
    valid[:, 0] = True

    before = start_day < epoch_days(curve.first_date)
    beyond = (valid & (fix_date > epoch_days(curve.coverage_end))).any(axis=1)
    tenor_5y = np.broadcast_to(loans.tenor_5y[block][:, None], fix_date.shape)
    rates = curve.units_on(tenor_5y, fix_date) + loans.spread_units[block][:, None]
    negative = (valid & (rates < 0)).any(axis=1)
    for mask, reason in (
        (before, f"floating: drawdown is before the first LPR fixing {curve.first_date}"),
        (beyond, f"floating: a rate reset falls beyond the LPR coverage horizon "
                 f"{curve.coverage_end}; extend the curve with an explicit projection"),
        (negative, "floating: LPR plus spread is negative on a reset date"),
    ):
        error[block[mask & np.equal(error[block], None)]] = reason
    beyond_coverage[block] = before | beyond
    projected = valid & (fix_date > epoch_days(curve.history_end))
    first_projected = np.where(projected, fix_date, np.iinfo(np.int64).max).min(axis=1)
    projected_from[block] = np.where(projected.any(axis=1), first_projected, -1)

    keep = valid.copy()
    keep[:, 1:] &= rates[:, 1:] != rates[:, :-1]
    counts[block] = keep.sum(axis=1)
    owner = np.broadcast_to(block[:, None], keep.shape)[keep]
    rank = (np.cumsum(keep, axis=1) - 1)[keep]
    return owner, rank, periods_at[keep], rates[keep]

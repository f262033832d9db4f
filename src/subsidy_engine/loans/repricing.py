"""Rate segments: which rate each period of each loan accrues at (measure 15).

A fixed loan has one segment. A floating loan (LPR + spread) starts at the
most recent fixing on or before drawdown and reprices on every 1 January or
drawdown anniversary; the new rate applies from the first period that starts
on or after the reset date (see :mod:`subsidy_engine.reference.calculators`). Segments
are passed to the amortization kernel as CSR arrays; consecutive resets that leave the rate unchanged are merged, so an
equal-installment loan recomputes its payment only when its rate changes.
The per-loan walk over reset dates is a numba kernel
(:func:`subsidy_engine.kernels.segments.floating_segments`): constant memory per loan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subsidy_engine.core.dates import epoch_days
from subsidy_engine.kernels.codes import SEGMENT_BEFORE_FIRST_FIXING, SEGMENT_BEYOND_COVERAGE, SEGMENT_NEGATIVE_RATE
from subsidy_engine.kernels.segments import floating_segments
from subsidy_engine.loans.arrays import LoanArrays
from subsidy_engine.params.lpr import LprCurve, LprPaths


@dataclass
class Segments:
    """CSR rate segments plus what went wrong or was projected, per loan."""

    ptr: np.ndarray  # int64[L + 1]
    first_period: np.ndarray  # 0-based period from which the rate applies
    rate_units: np.ndarray  # 1e-10 units
    error: np.ndarray  # object[L]: None or the reason the loan cannot be priced
    beyond_coverage: np.ndarray  # bool[L]: the reason is the rate data's coverage
    projected_from: np.ndarray  # int64[L]: epoch day of the first projected fixing, or -1


_REASONS = {
    SEGMENT_BEFORE_FIRST_FIXING: "floating: drawdown is before the first LPR fixing {first}",
    SEGMENT_BEYOND_COVERAGE: "floating: a rate reset falls beyond the LPR coverage horizon "
                                     "{horizon}; extend the curve with an explicit projection",
    SEGMENT_NEGATIVE_RATE: "floating: LPR plus spread is negative on a reset date",
}


def rate_segments(loans: LoanArrays, curve: LprCurve | LprPaths | None) -> Segments:
    """Build the rate segments of every loan (a numba pass over floating loans): on ``curve``, or on the path of
    ``curve``'s batch that each loan's ``lpr_path`` names."""
    count = len(loans)
    error = np.full(count, None, dtype=object)
    beyond_coverage = np.zeros(count, dtype=bool)
    projected_from = np.full(count, -1, dtype=np.int64)
    if not loans.is_floating.any():  # fixed loans only (a quote's, often): one segment each, its rate the loan's
        return Segments(np.arange(count + 1, dtype=np.int64), np.zeros(count, dtype=np.int64),
                        np.array(loans.fixed_units, dtype=np.int64), error, beyond_coverage, projected_from)
    counts = np.ones(count, dtype=np.int64)
    floating = np.flatnonzero(loans.is_floating)
    if floating.size and curve is None:
        error[floating] = "floating: no LPR curve was given"
        floating = floating[:0]

    if floating.size:
        assert curve is not None
        fixing_day, lpr_1y, lpr_5y = curve.fixing_arrays()
        lpr_1y, lpr_5y = np.atleast_2d(lpr_1y), np.atleast_2d(lpr_5y)  # one curve: a batch of one path
        sub = loans.take(floating)
        if sub.lpr_path is None and lpr_1y.shape[0] > 1:
            raise ValueError(f"a batch of {lpr_1y.shape[0]} LPR paths prices each loan on the path its lpr_path names; "
                             "these loans name none")
        path = np.zeros(floating.size, np.int64) if sub.lpr_path is None else np.asarray(sub.lpr_path, np.int64)
        if path.size and (path.min() < 0 or path.max() >= lpr_1y.shape[0]):
            wrong = int(path.max()) if path.max() >= lpr_1y.shape[0] else int(path.min())
            raise ValueError(f"a loan is priced on LPR path {wrong} of a batch of {lpr_1y.shape[0]}")
        f_counts = np.empty(floating.size, dtype=np.int64)
        f_status = np.empty(floating.size, dtype=np.int64)
        f_projected = np.empty(floating.size, dtype=np.int64)
        args = (sub.start_y, sub.start_m, sub.start_d, sub.due_day, sub.periods, sub.months_per_period,
                sub.reset_anniversary, sub.tenor_5y, sub.spread_units, path, fixing_day, lpr_1y, lpr_5y,
                epoch_days(curve.first_date), epoch_days(curve.coverage_end),
                epoch_days(curve.history_end))
        empty = np.zeros(0, dtype=np.int64)
        floating_segments(*args, False, empty, f_counts, f_status, f_projected, empty, empty)
        counts[floating] = f_counts
        projected_from[floating] = f_projected
        for state, reason in _REASONS.items():
            hit = floating[f_status == state]
            error[hit] = reason.format(first=curve.first_date, horizon=curve.coverage_end)
        beyond_coverage[floating] = np.isin(f_status, (SEGMENT_BEFORE_FIRST_FIXING,
                                                       SEGMENT_BEYOND_COVERAGE))

    ptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    first_period = np.zeros(int(ptr[-1]), dtype=np.int64)
    rate_units = np.zeros(int(ptr[-1]), dtype=np.int64)
    fixed = np.flatnonzero(~loans.is_floating)
    rate_units[ptr[fixed]] = loans.fixed_units[fixed]
    if floating.size:
        floating_segments(*args, True, ptr[floating], f_counts, f_status, f_projected,
                                  first_period, rate_units)
    return Segments(ptr, first_period, rate_units, error, beyond_coverage, projected_from)

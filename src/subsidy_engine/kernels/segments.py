"""Rate segments of LPR-linked loans: the rate of every period from the LPR fixings."""

from __future__ import annotations

import numba as nb
import numpy as np

from subsidy_engine.kernels.calendar import days_from_civil, days_in_month
from subsidy_engine.kernels.codes import (
    SEGMENT_BEFORE_FIRST_FIXING,
    SEGMENT_BEYOND_COVERAGE,
    SEGMENT_NEGATIVE_RATE,
    SEGMENT_OK,
)
from subsidy_engine.kernels.threads import by_size, jit


@jit
def _lpr_on(day, tenor_5y, fixing_day, lpr_1y, lpr_5y):
    k = max(np.searchsorted(fixing_day, day, side="right") - 1, 0)
    return lpr_5y[k] if tenor_5y else lpr_1y[k]


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _floating_segments_threads(start_y, start_m, start_d, due_day, periods, months_per_period, anniversary,
                               tenor_5y, spread_units, lpr_path, fixing_day, lpr_1y_paths, lpr_5y_paths,
                               first_fixing_day,
                               coverage_end_day, history_end_day, fill, seg_ptr, counts, status,
                               projected_from, seg_period, seg_rate):
    """Rate segments of floating loans (see :mod:`subsidy_engine.loans.repricing`).

    Called twice: with ``fill`` False it sets ``counts``, ``status`` and
    ``projected_from`` per loan; with ``fill`` True it writes each loan's
    segments (first period, rate) from ``seg_ptr[i]`` on. A reset whose rate
    equals the previous one adds no segment. ``lpr_1y_paths`` and ``lpr_5y_paths`` hold one row of rates a
    path (paths x fixings, one row for one curve), and loan ``i`` reads row ``lpr_path[i]``.
    """
    for i in nb.prange(start_y.shape[0]):
        sy, sm, sd, mpp, n = start_y[i], start_m[i], start_d[i], months_per_period[i], periods[i]
        lpr_1y, lpr_5y = lpr_1y_paths[lpr_path[i]], lpr_5y_paths[lpr_path[i]]
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
                reset_day = days_from_civil(sy + k, np.int64(1), np.int64(1))
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
floating_segments = by_size(_floating_segments_threads, "loans")

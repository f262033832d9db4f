"""Runs the amortization kernel over a batch of loans, exactly.

Glue between :mod:`subsidy_engine.loans.arrays` (loans as arrays),
:mod:`subsidy_engine.loans.repricing` (rate segments) and the kernel
(:mod:`subsidy_engine.kernels.amortize`). The rare annuity payment within float
error of a half fen is settled here with exact integers
(:func:`annuity_payment_fen`) and the loan run again with it forced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subsidy_engine.core.money import RATE_SCALE, div_half_up
from subsidy_engine.kernels.amortize import amortize_kernel
from subsidy_engine.loans.arrays import LoanArrays
from subsidy_engine.loans.repricing import rate_segments
from subsidy_engine.params.lpr import LprCurve


@dataclass
class Outputs:
    """Output arrays for one batch, allocated here or views into a caller's arrays."""

    end_day: np.ndarray  # int32 days since 1970-01-01, per row
    segment: np.ndarray  # int32 index into the batch's rate segments, per row
    interest: np.ndarray  # int64 fen per row
    principal: np.ndarray  # int64 fen per row
    year_interest: np.ndarray  # int64 fen per loan-year
    year_principal: np.ndarray

    @classmethod
    def allocate(cls, rows: int, years: int) -> Outputs:
        # np.empty, not np.zeros: the kernel writes every slot (due dates are at
        # most three months apart, so no calendar year of a loan is skipped),
        # and lazily mapped zero pages fault slowly when chunks fill them.
        return cls(np.empty(rows, np.int32), np.empty(rows, np.int32), np.empty(rows, np.int64),
                   np.empty(rows, np.int64), np.empty(years, np.int64), np.empty(years, np.int64))


@dataclass
class KernelResult:
    """Kernel outputs for a batch. Every loan has its rows and years; those of
    loans that could not be priced (``failed``) are meaningless and dropped."""

    failed: np.ndarray  # bool per loan
    errors: dict[int, str]  # batch position -> reason, for loans that could not be priced
    coverage_errors: set[int]  # the positions in ``errors`` that are beyond the rate data
    projected_from: np.ndarray  # per loan: epoch day of the first projected fixing, or -1
    row_ptr: np.ndarray
    year_ptr: np.ndarray
    first_year: np.ndarray
    segment_rate: np.ndarray  # 1e-10 units per rate segment
    loan_principal_fen: np.ndarray
    out: Outputs
    want_rows: bool
    want_years: bool
    exact_fallbacks: int = 0

    @property
    def computed(self) -> np.ndarray:
        return np.flatnonzero(~self.failed)

    def rate_units(self) -> np.ndarray:
        """The annual rate of every row (1e-10 units)."""
        return self.segment_rate[self.out.segment]

    def opening_fen(self) -> np.ndarray:
        """Opening balance of every row: the loan less the principal repaid before."""
        return opening_balances(self.loan_principal_fen, self.row_ptr, self.out.principal)


def opening_balances(loan_principal: np.ndarray, row_ptr: np.ndarray, principal: np.ndarray) -> np.ndarray:
    """Per-row opening balances from per-row principal repayments (rows grouped by loan)."""
    periods = np.diff(row_ptr)
    repaid_through = np.concatenate([[0], np.cumsum(principal)])  # repaid before row r: [r]
    repaid_before_row = repaid_through[:-1] - np.repeat(repaid_through[row_ptr[:-1]], periods)
    return np.repeat(loan_principal, periods) - repaid_before_row


def first_due_year(loans: LoanArrays) -> np.ndarray:
    return (loans.start_y * 12 + loans.start_m - 1 + loans.months_per_period) // 12


def year_counts(loans: LoanArrays) -> np.ndarray:
    """Calendar years from the first to the last due date, per loan."""
    start_mi = loans.start_y * 12 + loans.start_m - 1
    last_year = (start_mi + loans.periods * loans.months_per_period) // 12
    return last_year - first_due_year(loans) + 1


def schedule_arrays(loans: LoanArrays, out: Outputs, segment_rate: np.ndarray) -> dict[str, np.ndarray]:
    """The per-period schedule of ``loans`` with the loan attributes the 貼息 kernel reads, in fen."""
    return {"end_day": out.end_day, "segment": out.segment, "interest": out.interest, "principal": out.principal,
            "loan_principal": loans.principal_fen, "loan_basis": loans.basis,
            "loan_due_day": loans.due_day,
            "loan_start_day": loans.start_days().astype(np.int32), "segment_rate": segment_rate}


def pointers(counts: np.ndarray) -> np.ndarray:
    """CSR offsets from counts."""
    ptr = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def run(loans: LoanArrays, curve: LprCurve | None, *, rows: bool, years: bool,
        out: Outputs | None = None) -> KernelResult:
    """Price and amortize ``loans``.

    Loans that cannot be priced (rate data missing or negative) are reported in
    ``errors`` and run at a zero rate so that every loan keeps its place in the
    outputs; callers drop them. ``out`` lets a caller have the kernel write
    straight into its own arrays (every slot is written).
    """
    segments = rate_segments(loans, curve)
    failed = np.not_equal(segments.error, None)  # type: ignore[call-overload]  # numpy stubs: a ufunc refuses None (an object scalar)
    errors = {int(k): str(segments.error[k]) for k in np.flatnonzero(failed)}
    coverage_errors = {k for k in errors if segments.beyond_coverage[k]}
    if errors:
        segments.rate_units[np.repeat(failed, np.diff(segments.ptr))] = 0
    count = len(loans)
    row_ptr = pointers(loans.periods)
    year_ptr = pointers(year_counts(loans))
    if out is None:
        out = Outputs.allocate(int(row_ptr[-1]) if rows else 0, int(year_ptr[-1]) if years else 0)
    end_day, segment, interest, principal = out.end_day, out.segment, out.interest, out.principal
    year_interest, year_principal = out.year_interest, out.year_principal
    # per loan: the rate segment, balance and periods left of its first payment the float could not settle
    ambiguous = np.full((count, 3), -1, dtype=np.int64)
    plan_ptr, plan_fen = loans.plan_csr()
    forced = np.full(segments.rate_units.shape[0], -1, dtype=np.int64)

    if count:
        amortize_kernel(
            loans.principal_fen, loans.periods, loans.months_per_period, loans.method,
            loans.grace, loans.basis, loans.start_y, loans.start_m, loans.start_d,
            loans.due_day, segments.ptr, segments.first_period, segments.rate_units,
            plan_ptr, plan_fen, forced, rows, row_ptr, end_day,
            segment, interest, principal, years, year_ptr, year_interest, year_principal,
            ambiguous)
    ambiguous[failed, 0] = -1

    first_year = first_due_year(loans)
    # A payment within float error of a half fen is settled with exact integers and the loan runs again
    # with it forced; a later payment of the loan (after a rate reset) may need the same, so repeat until
    # every payment of every flagged loan is settled (each round settles at least one more segment).
    pending = np.flatnonzero(ambiguous[:, 0] >= 0)
    exact_fallbacks = int(pending.size)
    while pending.size:
        for j in pending:
            seg, balance, left = (int(v) for v in ambiguous[j])
            forced[seg] = annuity_payment_fen(balance, int(segments.rate_units[seg]),
                                              12 // int(loans.months_per_period[j]), left)
        again = _rerun(loans, segments, plan_ptr, plan_fen, forced, pending, rows, years, row_ptr, year_ptr,
                       end_day, segment, interest, principal, year_interest, year_principal)
        ambiguous[pending] = again
        pending = pending[again[:, 0] >= 0]

    return KernelResult(
        failed=failed, errors=errors, coverage_errors=coverage_errors,
        projected_from=segments.projected_from, row_ptr=row_ptr, year_ptr=year_ptr,
        first_year=first_year, segment_rate=segments.rate_units,
        loan_principal_fen=loans.principal_fen, out=out, want_rows=rows, want_years=years,
        exact_fallbacks=exact_fallbacks,
    )


__all__ = ["KernelResult", "annuity_payment_fen", "run", "schedule_arrays", "year_counts"]


def _rerun(loans: LoanArrays, segments, plan_ptr, plan_fen, forced, index, rows, years, row_ptr,
           year_ptr, end_day, segment, interest, principal, year_interest, year_principal) -> np.ndarray:
    """Run the kernel again for the loans at ``index`` with the payments ``forced`` (per rate segment) and
    copy their results back; returns each one's next unsettled payment as the kernel reports it, with the
    segment numbered in the whole batch."""
    sub = loans.take(index)
    sub_seg_ptr = np.zeros(index.size + 1, dtype=np.int64)
    np.cumsum(segments.ptr[index + 1] - segments.ptr[index], out=sub_seg_ptr[1:])
    seg_index = np.concatenate([np.arange(segments.ptr[j], segments.ptr[j + 1]) for j in index])
    sub_plan_ptr, sub_plan_fen = sub.plan_csr()
    sub_rows = np.zeros(index.size + 1, dtype=np.int64)
    np.cumsum(sub.periods, out=sub_rows[1:])
    sub_years = np.zeros(index.size + 1, dtype=np.int64)
    np.cumsum(year_ptr[index + 1] - year_ptr[index], out=sub_years[1:])
    n_rows = int(sub_rows[-1]) if rows else 0
    n_years = int(sub_years[-1]) if years else 0
    out = (np.empty(n_rows, np.int32), np.empty(n_rows, np.int32), np.empty(n_rows, np.int64),
           np.empty(n_rows, np.int64))
    y_out = (np.zeros(n_years, np.int64), np.zeros(n_years, np.int64))
    again = np.full((index.size, 3), -1, dtype=np.int64)
    amortize_kernel(
        sub.principal_fen, sub.periods, sub.months_per_period, sub.method, sub.grace, sub.basis,
        sub.start_y, sub.start_m, sub.start_d, sub.due_day, sub_seg_ptr,
        segments.first_period[seg_index], segments.rate_units[seg_index], sub_plan_ptr,
        sub_plan_fen, forced[seg_index], rows, sub_rows, *out, years, sub_years, *y_out, again)
    for k, j in enumerate(index):
        if rows:
            lo, hi, s_lo = row_ptr[j], row_ptr[j + 1], sub_rows[k]
            interest[lo:hi] = out[2][s_lo:s_lo + hi - lo]
            principal[lo:hi] = out[3][s_lo:s_lo + hi - lo]
        if years:
            lo, hi, s_lo = year_ptr[j], year_ptr[j + 1], sub_years[k]
            year_interest[lo:hi] = y_out[0][s_lo:s_lo + hi - lo]
            year_principal[lo:hi] = y_out[1][s_lo:s_lo + hi - lo]
    flagged = again[:, 0] >= 0
    again[flagged, 0] = seg_index[again[flagged, 0]]
    return again


def annuity_payment_fen(balance_fen: int, rate_units: int, periods_per_year: int, periods: int) -> int:
    """The level payment that repays ``balance_fen`` over ``periods``, rounded half-up to the fen, exactly.

    Parameters
    ----------
    balance_fen : int
        The balance to repay, in fen.
    rate_units : int
        The annual rate in units of 1e-10 (0.0435 is 435,000,000).
    periods_per_year : int
        12 (monthly) or 4 (quarterly).
    periods : int
        The periods left, at least 1.

    Returns
    -------
    int
        The payment in fen (*payment rounding*, half-up).

    Notes
    -----
    With the periodic rate ``i = r / D`` (``D = 1e10 x periods per year``) the payment is
    ``M = B i (1+i)^m / ((1+i)^m - 1)``, which is the rational number
    ``B r (D+r)^m / (D ((D+r)^m - D^m))``: integers hold it exactly, so a half-fen tie is told
    as it is (a float, or a Decimal of any fixed precision, may not). At a zero rate the
    payment is ``B / m``, rounded the same way. The kernel computes the payment in float64
    and calls this only for the rare payment within float error of a half fen.

    Examples
    --------
    1,000,000.00 yuan at 4.35% over 120 months:

    >>> annuity_payment_fen(100_000_000, 435_000_000, 12, 120)
    1029169
    >>> annuity_payment_fen(10_001, 0, 12, 3)
    3334
    """
    if rate_units == 0:
        return div_half_up(balance_fen, periods)
    scale = RATE_SCALE * periods_per_year
    grown = (scale + rate_units) ** periods
    return div_half_up(balance_fen * rate_units * grown, scale * (grown - scale**periods))

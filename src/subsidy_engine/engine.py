"""Runs the amortization kernel over a batch of loans, exactly.

Glue between :mod:`batch` (arrays), :mod:`repricing` (rate segments),
:mod:`kernels` (numba) and :mod:`reference` (the exact fallback for the rare
annuity payment within float error of a half fen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from .batch import LoanArrays
from .enums import Frequency, InterestBasis, Method, PlanUnit, Reset, Tenor
from .kernels import amortize_kernel
from .loans import FloatingRate, Loan
from .money import fen_to_yuan, units_to_rate
from .rates import LprCurve
from .reference import _annuity_payment_fen, reference_schedule
from .repricing import rate_segments


@dataclass
class KernelResult:
    """Kernel outputs for the loans that computed (``computed`` indexes the batch)."""

    computed: np.ndarray  # positions in the batch
    errors: dict[int, str]  # batch position -> reason, for loans that could not be priced
    coverage_errors: set[int]  # the positions in ``errors`` that are beyond the rate data
    projected_from: np.ndarray  # per computed loan: epoch day or -1
    row_ptr: np.ndarray | None = None
    end_day: np.ndarray | None = None  # int32 days since 1970-01-01
    segment: np.ndarray | None = None  # int32 index into segment_rate
    segment_rate: np.ndarray | None = None  # 1e-10 units per rate segment
    loan_principal_fen: np.ndarray | None = None  # per computed loan
    interest_fen: np.ndarray | None = None
    principal_fen: np.ndarray | None = None
    year_ptr: np.ndarray | None = None
    first_year: np.ndarray | None = None
    year_interest_fen: np.ndarray | None = None
    year_principal_fen: np.ndarray | None = None
    exact_fallbacks: int = 0

    def rate_units(self) -> np.ndarray:
        """The annual rate of every row (1e-10 units)."""
        assert self.segment_rate is not None and self.segment is not None
        return self.segment_rate[self.segment]

    def opening_fen(self) -> np.ndarray:
        """Opening balance of every row: the loan less the principal repaid before."""
        assert self.row_ptr is not None and self.principal_fen is not None
        assert self.loan_principal_fen is not None
        return opening_balances(self.loan_principal_fen, self.row_ptr, self.principal_fen)


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


def loan_from_arrays(loans: LoanArrays, j: int) -> Loan:
    """Rebuild the validated ``Loan`` of batch position ``j`` (for the exact path)."""
    floating = None
    if loans.is_floating[j]:
        floating = FloatingRate(
            tenor=Tenor.FIVE_YEAR if loans.tenor_5y[j] else Tenor.ONE_YEAR,
            spread_bp=units_to_rate(int(loans.spread_units[j])) * 10000,
            reset=Reset.ANNIVERSARY if loans.reset_anniversary[j] else Reset.JANUARY,
        )
    frequency = Frequency.QUARTERLY if loans.months_per_period[j] == 3 else Frequency.MONTHLY
    start = date(int(loans.start_y[j]), int(loans.start_m[j]), int(loans.start_d[j]))
    plan = loans.plans.get(j)
    return Loan(
        principal=fen_to_yuan(int(loans.principal_fen[j])),
        annual_rate=None if floating else units_to_rate(int(loans.fixed_units[j])),
        floating=floating,
        term_months=int(loans.periods[j] * loans.months_per_period[j]),
        frequency=frequency,
        method=list(Method)[int(loans.method[j])],
        grace_months=int(loans.grace[j] * loans.months_per_period[j]),
        interest_basis=list(InterestBasis)[int(loans.basis[j])],
        start_date=start,
        settlement_day=int(loans.due_day[j]),
        principal_plan=None if plan is None else tuple(fen_to_yuan(v) for v in plan),
        principal_plan_unit=PlanUnit.AMOUNT,
    )


def run(loans: LoanArrays, curve: LprCurve | None, *, rows: bool, years: bool) -> KernelResult:
    """Price and amortize ``loans``; loans that cannot be priced are reported, not computed."""
    segments = rate_segments(loans, curve)
    failed = np.flatnonzero(np.not_equal(segments.error, None))
    errors = {int(k): str(segments.error[k]) for k in failed}
    coverage_errors = {int(k) for k in failed if segments.beyond_coverage[k]}
    computed = np.arange(len(loans), dtype=np.int64)
    if failed.size:
        computed = np.flatnonzero(np.equal(segments.error, None))
        loans = loans.take(computed)
        segments = rate_segments(loans, curve)
    count = len(loans)

    row_ptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(loans.periods, out=row_ptr[1:])
    total_rows = int(row_ptr[-1]) if rows else 0
    year_ptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(year_counts(loans), out=year_ptr[1:])
    total_years = int(year_ptr[-1]) if years else 0

    end_day = np.empty(total_rows, dtype=np.int32)
    segment = np.empty(total_rows, dtype=np.int32)
    interest = np.empty(total_rows, dtype=np.int64)
    principal = np.empty(total_rows, dtype=np.int64)
    year_interest = np.zeros(total_years, dtype=np.int64)
    year_principal = np.zeros(total_years, dtype=np.int64)
    ambiguous = np.zeros(count, dtype=np.bool_)
    plan_ptr, plan_fen = loans.plan_csr()

    if count:
        amortize_kernel(
            loans.principal_fen, loans.periods, loans.months_per_period, loans.method,
            loans.grace, loans.basis, loans.start_y, loans.start_m, loans.start_d,
            loans.due_day, segments.ptr, segments.first_period, segments.rate_units,
            plan_ptr, plan_fen, np.full(count, -1, dtype=np.int64), rows, row_ptr, end_day,
            segment, interest, principal, years, year_ptr, year_interest, year_principal,
            ambiguous)

    first_year = first_due_year(loans)
    flagged = np.flatnonzero(ambiguous)
    fixed_rate = np.diff(segments.ptr) == 1
    # A fixed-rate loan computes one annuity payment: settle it with exact
    # integers and run the kernel again for those loans only, with it forced.
    settle = flagged[fixed_rate[flagged] & (loans.method[flagged] == 0)]
    if settle.size:
        forced = np.full(count, -1, dtype=np.int64)
        for j in settle:
            rate = int(segments.rate_units[segments.ptr[j]])
            forced[j] = _annuity_payment_fen(int(loans.principal_fen[j]), rate,
                                             12 // int(loans.months_per_period[j]),
                                             int(loans.periods[j] - loans.grace[j]))
        _rerun(loans, segments, plan_ptr, plan_fen, forced, settle, rows, years, row_ptr, year_ptr,
               end_day, segment, interest, principal, year_interest, year_principal)
        ambiguous[settle] = False
    flagged = np.flatnonzero(ambiguous)
    for j in flagged:
        # The exact path: same rules, exact rational annuity payments.
        ref_rows, _ = reference_schedule(loan_from_arrays(loans, int(j)), curve)
        fen = lambda v: int(v * 100)  # noqa: E731 - exact: two-place Decimals
        if rows:
            lo = row_ptr[j]
            for p, r in enumerate(ref_rows):
                interest[lo + p] = fen(r.interest)
                principal[lo + p] = fen(r.principal)
        if years:
            lo = year_ptr[j]
            year_interest[lo:year_ptr[j + 1]] = 0
            year_principal[lo:year_ptr[j + 1]] = 0
            for r in ref_rows:
                year_interest[lo + r.end_date.year - first_year[j]] += fen(r.interest)
                year_principal[lo + r.end_date.year - first_year[j]] += fen(r.principal)

    return KernelResult(
        computed=computed, errors=errors, coverage_errors=coverage_errors,
        projected_from=segments.projected_from,
        row_ptr=row_ptr if rows else None, end_day=end_day if rows else None,
        segment=segment if rows else None, segment_rate=segments.rate_units,
        loan_principal_fen=loans.principal_fen,
        interest_fen=interest if rows else None, principal_fen=principal if rows else None,
        year_ptr=year_ptr if years else None, first_year=first_year if years else None,
        year_interest_fen=year_interest if years else None,
        year_principal_fen=year_principal if years else None,
        exact_fallbacks=int(settle.size + flagged.size) if count else 0,
    )


__all__ = ["KernelResult", "loan_from_arrays", "run", "year_counts"]


def _rerun(loans: LoanArrays, segments, plan_ptr, plan_fen, forced, index, rows, years, row_ptr,
           year_ptr, end_day, segment, interest, principal, year_interest, year_principal) -> None:
    """Run the kernel again for the loans at ``index`` and copy their results back."""
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
    amortize_kernel(
        sub.principal_fen, sub.periods, sub.months_per_period, sub.method, sub.grace, sub.basis,
        sub.start_y, sub.start_m, sub.start_d, sub.due_day, sub_seg_ptr,
        segments.first_period[seg_index], segments.rate_units[seg_index], sub_plan_ptr,
        sub_plan_fen, forced[index], rows, sub_rows, *out, years, sub_years, *y_out,
        np.zeros(index.size, dtype=np.bool_))
    for k, j in enumerate(index):
        if rows:
            lo, hi, s_lo = row_ptr[j], row_ptr[j + 1], sub_rows[k]
            interest[lo:hi] = out[2][s_lo:s_lo + hi - lo]
            principal[lo:hi] = out[3][s_lo:s_lo + hi - lo]
        if years:
            lo, hi, s_lo = year_ptr[j], year_ptr[j + 1], sub_years[k]
            year_interest[lo:hi] = y_out[0][s_lo:s_lo + hi - lo]
            year_principal[lo:hi] = y_out[1][s_lo:s_lo + hi - lo]

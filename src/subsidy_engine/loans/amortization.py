"""Runs the amortization kernel over a batch of loans, exactly.

Glue between :mod:`batch` (arrays), :mod:`repricing` (rate segments),
:mod:`kernels` (numba) and :mod:`reference` (the exact fallback for the rare
annuity payment within float error of a half fen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from subsidy_engine.core.money import fen_to_yuan, units_to_rate
from subsidy_engine.core.vocabulary import Frequency, InterestBasis, Method, PlanUnit, Reset, Tenor
from subsidy_engine.kernels.amortize import amortize_kernel
from subsidy_engine.loans.arrays import LoanArrays
from subsidy_engine.loans.contract import FloatingRate, Loan
from subsidy_engine.loans.repricing import rate_segments
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.reference.calculators import _annuity_payment_fen, reference_schedule


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


def schedule_arrays(loans: LoanArrays, out: Outputs, segment_rate: np.ndarray) -> dict[str, np.ndarray]:
    """The per-period schedule of ``loans`` with the loan attributes the 貼息 kernel reads, in fen."""
    return {"end_day": out.end_day, "segment": out.segment, "interest": out.interest, "principal": out.principal,
            "loan_principal": loans.principal_fen, "loan_basis": loans.basis,
            "loan_months_per_period": loans.months_per_period,
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
    failed = np.not_equal(segments.error, None)
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
    ambiguous &= ~failed

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
        failed=failed, errors=errors, coverage_errors=coverage_errors,
        projected_from=segments.projected_from, row_ptr=row_ptr, year_ptr=year_ptr,
        first_year=first_year, segment_rate=segments.rate_units,
        loan_principal_fen=loans.principal_fen, out=out, want_rows=rows, want_years=years,
        exact_fallbacks=int(settle.size + flagged.size),
    )


__all__ = ["KernelResult", "loan_from_arrays", "run", "schedule_arrays", "year_counts"]


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

"""reconcile() of a bank's claims (issue 6, point 1), against a plain loop over the same rows.

The bank's file: one row per loan for 1,000 loans of a seeded 5,000-project
portfolio (a period or a calendar year each, about one in four planted
wrong, so the alternatives run). The plain loop in the same run computes each
row's loan with the Decimal reference (schedule, then 貼息) and compares, with
no search for a cause: what a bank's own script would do at the least.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pandas as pd

from subsidy_engine import load_lpr, load_policy
from subsidy_engine.reference.calculators import reference_interest_subsidy, reference_schedule
from subsidy_engine.service.bank_file import bank_claims
from subsidy_engine.service.reconcile import ALTERNATIVES, loan_cases, reconcile
from subsidy_engine.simulation.synthetic import portfolio

LPR = load_lpr().hold_flat(until=date(2060, 12, 31))
SAMPLE = 50


def test_reconcile_a_bank_file(benchmark, report) -> None:  # noqa: ANN001
    tables = portfolio(5000, seed=5)
    bank = bank_claims(tables, LPR, n_loans=1000, seed=3)
    result = benchmark.pedantic(reconcile, args=(bank, tables), kwargs={"lpr": LPR}, rounds=2, iterations=1)
    assert len(result) == len(bank) and (result.status == "match").mean() > 0.6
    seconds = benchmark.stats.stats.median

    cases = loan_cases(tables, load_policy(), LPR)
    matches = 0
    started = time.perf_counter()
    for row in bank.head(SAMPLE).itertuples():
        case = cases[row.loan_id]
        rows, _ = reference_schedule(case.loan, LPR)
        paid = reference_interest_subsidy(case.loan, rows, case.rule)
        by_period = not pd.isna(row.period)
        chosen = [s for r, s in zip(rows, paid) if (r.period == row.period if by_period
                  else row.from_date <= r.end_date <= row.to_date)]
        assert chosen, f"no period of {row.loan_id} is asked for"
        matches += sum((s.subsidy for s in chosen), Decimal(0)) == Decimal(row.subsidy_claimed)
    plain = (time.perf_counter() - started) / SAMPLE * len(bank)
    assert matches == int((result.head(SAMPLE).subsidy_claimed == result.head(SAMPLE).subsidy_computed).sum())
    mismatches = int((result.status == "mismatch").sum())
    report("reconcile, 1,000 bank rows", f"{seconds:.2f} s ({len(bank) / seconds:,.0f} rows/s; {mismatches} mismatches "
           f"searched through {len(ALTERNATIVES)} alternatives); plain reference loop, no causes: "
           f"{plain:.2f} s -> {plain / seconds:.1f}x")

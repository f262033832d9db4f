"""Interest subsidy benchmark: one loan's schedule and 貼息, as the portal quotes it."""

from __future__ import annotations

import time

from subsidy_engine import InterestSubsidyRule, Loan, amortize, interest_subsidy
from subsidy_engine.reference.calculators import reference_interest_subsidy, reference_schedule

from portfolios import loan_from_arrays

LOAN = Loan(principal="500000000", annual_rate="0.03", term_months=360, grace_months=24,
            start_date="2024-04-19")
RULE = InterestSubsidyRule(form="points_on_balance", points="0.025", max_years=2, annual_cap="20000000")


def test_quote_one_loan(benchmark, report):
    def quote():
        return interest_subsidy(amortize(LOAN), RULE).total
    total = benchmark.pedantic(quote, rounds=50, warmup_rounds=3)
    started = time.perf_counter()
    rows, _ = reference_schedule(LOAN)
    reference_total = sum(r.subsidy for r in reference_interest_subsidy(LOAN, rows, RULE))
    loop = time.perf_counter() - started
    assert total == reference_total
    seconds = benchmark.stats.stats.min
    report("quote: 360-period loan + subsidy", f"{seconds * 1e3:.2f} ms; plain loop {loop * 1e3:.1f} ms "
           f"-> {loop / seconds:.0f}x")


def test_portfolio_subsidy(benchmark, report):
    """貼息 for 100k loans, per loan and year, against one-loan-at-a-time calls on a sample."""
    from subsidy_engine import interest_subsidy_portfolio

    from portfolios import annuity_arrays, annuity_table

    arrays = annuity_arrays(100_000)
    table = annuity_table(arrays)
    rule = InterestSubsidyRule(form="points_on_balance", points="0.025", max_years=2, annual_cap="5000000")
    interest_subsidy_portfolio(table.head(10), rule)
    benchmark.pedantic(interest_subsidy_portfolio, args=(table, rule), rounds=3, warmup_rounds=1)
    sample = [loan_from_arrays(arrays, j) for j in range(300)]
    started = time.perf_counter()
    for loan in sample:
        interest_subsidy(amortize(loan), rule)
    scalar = (time.perf_counter() - started) / len(sample)
    seconds = benchmark.stats.stats.min
    report("貼息 portfolio, 100k loans", f"{seconds * 1e3:.0f} ms ({len(table) / seconds:.3g} loans/s, "
           f"{int(arrays.periods.sum()):,} periods, validation included); one loan at a time "
           f"{1 / scalar:.3g} loans/s -> {scalar * len(table) / seconds:.0f}x")

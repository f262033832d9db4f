"""evaluate() on a seeded 100,000-project portfolio over 5 years, against the plain reference (issue 3, point 7)."""

from __future__ import annotations

import time
from datetime import date

import pandas as pd

from subsidy_engine import Event, FloatingRate, InsurancePolicy, Loan, Project, evaluate, load_lpr, load_policy
from subsidy_engine.reference.calculators import reference_evaluate
from subsidy_engine.simulation.synthetic import portfolio

PROJECTS = 100_000
SAMPLE = 1_000   # the plain loop runs on a portfolio of this size (same generator), per project
YEARS = range(2026, 2031)
RATES = {"pilot": "0.30", "demonstration": "0.20", "promotion": "0.10"}
POLICY = load_policy()
LPR = load_lpr().hold_flat(until=date(2040, 12, 31))   # resets after the data's horizon: reported projection


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if v is not None and v == v}
            for row in frame.astype(object).to_dict("records")]


def models(tables) -> tuple[list, list, list, list]:  # noqa: ANN001
    """Row models of each table, as a plain program would validate them one by one."""
    projects = [Project(**r) for r in records(tables.projects)]
    loans = []
    for r in records(tables.loans):
        loan_id, project_id = r.pop("loan_id"), r.pop("project_id")
        tenor, spread = r.pop("floating_tenor", None), r.pop("floating_spread_bp", None)
        if tenor is not None:
            r["floating"] = FloatingRate(tenor=tenor, spread_bp=spread)
        loans.append((loan_id, project_id, Loan(**r)))
    return projects, loans, [InsurancePolicy(**r) for r in records(tables.insurance)], \
        [Event(**r) for r in records(tables.events)]


def test_evaluate_100k_projects_5_years(benchmark, report) -> None:
    tables = portfolio(PROJECTS, seed=78)
    evaluate(portfolio(200, seed=1), POLICY, YEARS, rate_by_stage=RATES, lpr=LPR)   # compile or load the cache
    claims = benchmark.pedantic(evaluate, args=(tables, POLICY, YEARS),
                                kwargs={"rate_by_stage": RATES, "lpr": LPR}, rounds=5, warmup_rounds=1)
    assert claims.rejections.empty and len(claims.table) > PROJECTS

    small = portfolio(SAMPLE, seed=78)
    started = time.perf_counter()
    plain = reference_evaluate(*models(small), POLICY, tuple(YEARS), RATES, LPR, awards=records(small.awards))
    per_project = (time.perf_counter() - started) / SAMPLE
    fast = evaluate(small, POLICY, YEARS, rate_by_stage=RATES, lpr=LPR).table
    assert len(plain) == len(fast) and sum(c["amount"] for c in plain.values()) == fast.amount.sum()

    seconds = benchmark.stats.stats.min
    sizes = f"{len(tables.loans):,} loans, {len(tables.insurance):,} policies, {len(tables.events):,} events"
    report("evaluate, 100k projects x 5 years",
           f"{seconds:.2f} s warm ({sizes}; {len(claims.table):,} claims); plain reference "
           f"{per_project * 1e3:.1f} ms/project -> {per_project * PROJECTS / seconds:.0f}x")

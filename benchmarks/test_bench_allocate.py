"""allocate() on 100,000 claims, 20 sources, 5 years, against the plain loop (issue 4, point 6).

The claims are seeded and synthetic: items of 1 to 3 years (a third multi-year)
over 2026-2030, 9 sectors, 10 districts, 60% industry or software, 35% in the
library, merit scores 60-100. The budget has the 高精尖 fund (carry-over,
per-project cap), 9 sector budgets and 10 district matching funds (1:1 or
0.5), with caps at about 70% of what is claimed, so that most sources bind.
"""

from __future__ import annotations

import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from subsidy_engine import Budget, allocate
from subsidy_engine.core.columns import money_series
from subsidy_engine.reference.allocation import reference_allocate

CLAIMS = 100_000
MILLION = 1_000_000
SAMPLE = 10_000  # the plain loop runs on the first claims of the same table, per claim
YEARS = tuple(range(2026, 2031))
SECTORS = tuple(f"sector_{k}" for k in range(9))
DISTRICTS = tuple(f"district_{k}" for k in range(10))


def claims_table(n: int, seed: int = 4) -> pd.DataFrame:
    """Typed as evaluate's claims are (Arrow strings, exact decimal money)."""
    rng = np.random.default_rng(seed)
    items = int(n / 1.6)
    span = np.minimum(rng.choice([1, 1, 2, 3], items), len(YEARS))
    first = rng.integers(YEARS[0], YEARS[-1] + 1, items)
    span = np.minimum(span, YEARS[-1] - first + 1)
    item = np.repeat(np.arange(items), span)[:n]
    year = (first[item] + np.arange(item.shape[0]) - np.repeat(np.cumsum(span) - span, span)[:n])
    project = rng.integers(0, items // 2, items)
    amount_fen = (np.exp(rng.uniform(np.log(1e5), np.log(5e9), item.shape[0]))).astype(np.int64)
    frame = pd.DataFrame({
        "claim_id": [f"interest_subsidy:L{i}:{y}" for i, y in zip(item, year)],
        "instrument": "interest_subsidy", "item_id": [f"L{i}" for i in item],
        "project_id": [f"P{p}" for p in project[item]], "enterprise_id": [f"E{p // 3}" for p in project[item]],
        "measure": 15, "year": year,
        "sector": np.array(SECTORS)[project[item] % 9], "district": np.array(DISTRICTS)[project[item] % 10],
        "industry_or_software": (project[item] % 5) < 3, "in_library": (project[item] % 20) < 7,
        "merit_score": money_series(rng.integers(6000, 10001, item.shape[0])),
    })
    frame["amount"] = money_series(amount_fen)
    for name in ("claim_id", "instrument", "item_id", "project_id", "enterprise_id", "sector", "district"):
        frame[name] = frame[name].astype(pd.ArrowDtype(pa.string()))
    return frame


def budget_for(table: pd.DataFrame) -> Budget:
    by_year = table.groupby("year")["amount"].sum()
    per_year = {int(y): int(v * 100) for y, v in by_year.items()}

    def caps(share: float) -> dict[int, str]:
        return {y: str(Decimal(int(per_year.get(y, 0) * share)) / 100) for y in YEARS}
    sources = [{"id": "gaojingjian_fund", "level": "municipal", "eligible": {"industry_or_software": True},
                "caps": caps(0.6 * 0.5), "carry_over": True, "per_project_cap": "30000000"}]
    sources += [{"id": f"sector_budget:{s}", "level": "municipal",
                 "eligible": {"industry_or_software": False, "sectors": [s]}, "caps": caps(0.4 * 0.5 / 9 * 0.7)}
                for s in SECTORS]
    sources += [{"id": f"district_matching:{d}", "level": "district", "eligible": {"districts": [d]},
                 "matching_share": "1" if k < 3 else "0.5", "caps": caps(0.5 / 10 * 0.7)}
                for k, d in enumerate(DISTRICTS)]
    return Budget.of({"id": "bench", "status": "inferred", "basis": "benchmark", "years": [YEARS[0], YEARS[-1]],
                      "priority_tiers": [{"in_library": True}], "sources": sources})


def records(table: pd.DataFrame) -> list[dict]:
    out = table.to_dict("records")
    for row in out:
        row["item"] = f"{row['instrument']}:{row['item_id']}"
    return out


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, Budget]:
    table = claims_table(CLAIMS)
    return table, budget_for(table)


@pytest.mark.parametrize("mode", ["waterfall", "merit"])
def test_allocate_100k_claims(benchmark, report, inputs, mode: str) -> None:
    table, budget = inputs
    allocate(table.head(100), budget, mode)  # compile or load the cache
    result = benchmark.pedantic(allocate, args=(table, budget, mode), rounds=5, warmup_rounds=1)
    assert len(result.by_source) == 20 * len(YEARS) and (result.by_source.remaining >= 0).all()
    bound = (result.by_source.remaining == 0).sum()

    sample = table.head(SAMPLE)
    started = time.perf_counter()
    plain, _ = reference_allocate(records(sample), budget, mode)
    per_claim = (time.perf_counter() - started) / SAMPLE
    fast = allocate(sample, budget, mode).awards
    assert sum(plain.values()) == int(fast.awarded.sum() * 100)

    seconds = benchmark.stats.stats.min
    report(f"allocate {mode}, 100k claims", f"{seconds:.3f} s warm (20 sources x 5 years, {bound} source-years "
           f"spent; {result.total_awarded:,.2f} of {table.amount.sum():,.2f} awarded); plain loop "
           f"{per_claim * 1e6:.0f} us/claim -> {per_claim * CLAIMS / seconds:.0f}x")


@pytest.fixture(scope="module")
def million() -> tuple[pd.DataFrame, Budget]:
    table = claims_table(MILLION)
    return table, budget_for(table)


@pytest.mark.parametrize("mode", ["waterfall", "merit"])
def test_allocate_1m_claims(benchmark, report, million, mode: str) -> None:
    """Issue 20's target: waterfall and merit on 1M claims within 2 s (the best of 3 runs after a first one,
    which loads the kernels and touches the memory a run uses; the median is reported too)."""
    table, budget = million
    result = benchmark.pedantic(allocate, args=(table, budget, mode), rounds=3, warmup_rounds=1)
    assert len(result.awards) >= MILLION and (result.by_source.remaining >= 0).all()
    assert result.total_awarded == result.awards.awarded.sum() == result.by_source.awarded.sum()

    sample = table.head(SAMPLE)
    started = time.perf_counter()
    reference_allocate(records(sample), budget, mode)
    per_claim = (time.perf_counter() - started) / SAMPLE
    best, median = benchmark.stats.stats.min, benchmark.stats.stats.median
    verdict = "met" if best <= 2 else "NOT met"
    report(f"allocate {mode}, 1M claims", f"{best:.2f} s best, {median:.2f} s median of 3 (target 2 s: {verdict}); "
           f"plain loop {per_claim * 1e6:.0f} us/claim -> {per_claim * MILLION / best:.0f}x")


def test_allocate_100k_claims_optimal(benchmark, report, inputs) -> None:
    table, budget = inputs
    result = benchmark.pedantic(allocate, args=(table, budget, "optimal"), rounds=2, warmup_rounds=0)
    waterfall = allocate(table, budget, "waterfall")
    assert (result.by_source.remaining >= 0).all()
    seconds = benchmark.stats.stats.min
    started = time.perf_counter()
    reference_allocate(records(table.head(SAMPLE)), budget, "waterfall")
    per_claim = (time.perf_counter() - started) / SAMPLE
    report("allocate optimal, 100k claims", f"{seconds:.2f} s (HiGHS LP, 2 stages); funds "
           f"{result.total_awarded:,.2f} vs waterfall {waterfall.total_awarded:,.2f}; plain waterfall loop "
           f"{per_claim * CLAIMS:.1f} s -> {per_claim * CLAIMS / seconds:.1f}x")

"""The bureau's runs end to end (issue 5, point 5), against plain loops measured in the same run.

* ``simulate``: 100,000 projects, 2026-2030, baseline and the bundled scenario
  (``schedules/scenario-demo.yaml``, without its Monte Carlo part): both runs
  evaluated and allocated, compared, and every output written (summary.json,
  report.xlsx with the project detail, the chart). Target: under 5 s warm.
  Plain loop: the Decimal references (``reference_evaluate``, per project;
  ``reference_allocate``, per claim) on 1,000 projects, scaled to both runs.
* Monte Carlo: 1,000 LPR paths over 10,000 projects (the demo's Monte Carlo
  settings, baseline), priced in batches (issue 20, point 2). Target: 5 s on 2
  cores. Baselines: the same paths priced one at a time (a batch of one path,
  each allocation in turn) on 100 paths, the engine's own full pipeline
  (``simulate``, vectorized) run once per path, and the Decimal references per
  path, each scaled from its runs.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from subsidy_engine import evaluate, load_budget, load_lpr, load_policy
from subsidy_engine.params.lpr import schedules_dir
from subsidy_engine.reference.allocation import reference_allocate
from subsidy_engine.reference.calculators import reference_evaluate
from subsidy_engine.reports.simulation_report import write_outputs
from subsidy_engine.simulation import montecarlo
from subsidy_engine.simulation.montecarlo import monte_carlo
from subsidy_engine.simulation.scenario import load_scenario
from subsidy_engine.simulation.simulate import Comparison, simulate
from subsidy_engine.simulation.synthetic import portfolio
from test_bench_evaluate import models, records

YEARS = tuple(range(2026, 2031))
HOLD = date(2045, 12, 31)
SAMPLE = 1_000


def _plain_records(table: pd.DataFrame) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for row in table.astype(object).to_dict("records"):
        row = {k: (None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v) for k, v in row.items()}
        row["item"] = f"{row['instrument']}:{row['item_id']}"
        out.append(row)
    return out


def _plain_seconds_per_project(policy, budget, lpr) -> float:  # noqa: ANN001
    """The Decimal references: evaluate per project, allocate per claim, on SAMPLE projects."""
    small = portfolio(SAMPLE, seed=78)
    started = time.perf_counter()
    reference_evaluate(*models(small), policy, YEARS, None, lpr, awards=records(small.awards))
    evaluate_seconds = time.perf_counter() - started
    claims = evaluate(small, policy, YEARS, lpr=lpr)
    rows = _plain_records(pd.concat([claims.table, claims.attributes], axis=1))
    started = time.perf_counter()
    reference_allocate(rows, budget, "waterfall")
    return (evaluate_seconds + time.perf_counter() - started) / SAMPLE


def test_simulate_100k_projects_with_a_scenario(benchmark, report, tmp_path) -> None:  # noqa: ANN001
    tables, policy, budget, history = portfolio(100_000, seed=78), load_policy(), load_budget(), load_lpr()
    scenario = load_scenario(schedules_dir() / "scenario-demo.yaml")

    def end_to_end() -> list:  # type: ignore[type-arg]
        baseline = simulate(tables, YEARS, policy=policy, budget=budget, lpr=history.hold_flat(until=HOLD))
        other = simulate(scenario.portfolio(tables, YEARS), YEARS, policy=scenario.policy(policy),
                         budget=scenario.budget(budget), lpr=scenario.curve(history, HOLD), label=scenario.id)
        return write_outputs(baseline, tmp_path, comparison=Comparison(baseline, other), scenario=scenario)

    simulate(portfolio(200, seed=1), YEARS, lpr=history.hold_flat(until=HOLD))  # compile or load the cache
    paths = benchmark.pedantic(end_to_end, rounds=3, warmup_rounds=1)
    assert [p.name for p in paths] == ["summary.json", "report.xlsx", "outlay_by_year_source.png",
                                       "caps_by_source.png"]
    per_project = _plain_seconds_per_project(policy, budget, history.hold_flat(until=HOLD))
    seconds = benchmark.stats.stats.min
    plain = per_project * (100_000 + 104_000)  # both runs (the scenario adds 4 x 1,000 projects)
    size = paths[1].stat().st_size / 1e6
    report("simulate 100k projects + scenario", f"{seconds:.2f} s warm end to end (2 runs, deltas, "
           f"report.xlsx {size:.1f} MB, summary.json, 2 charts; target 5 s); plain reference "
           f"{per_project * 1e3:.2f} ms/project -> {plain / seconds:.0f}x")


def test_monte_carlo_1000_paths_10k_projects(benchmark, report) -> None:  # noqa: ANN001
    tables, policy, budget, history = portfolio(10_000, seed=78), load_policy(), load_budget(), load_lpr()
    settings = load_scenario(schedules_dir() / "scenario-demo.yaml").file.monte_carlo
    assert settings is not None and settings.paths == 1_000

    def run():  # noqa: ANN202
        return monte_carlo(tables, YEARS, policy=policy, budget=budget, history=history, changes=[],
                           settings=settings, hold_until=HOLD)

    result = benchmark.pedantic(run, rounds=1, warmup_rounds=1)
    assert result.awarded_fen.shape == (1_000, len(budget.sources), len(YEARS))
    seconds = benchmark.stats.stats.min
    # one path at a time: a batch of one path, the allocations in turn (no pool)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(montecarlo, "ROWS_A_BATCH", 1)
        patch.setattr(montecarlo.numba, "get_num_threads", lambda: 1)
        started = time.perf_counter()
        alone = monte_carlo(tables, YEARS, policy=policy, budget=budget, history=history, changes=[],
                            settings=settings.model_copy(update={"paths": 100}), hold_until=HOLD)
        per_path = (time.perf_counter() - started) / 100
    assert np.array_equal(alone.awarded_fen, result.awarded_fen[:100])  # the same paths, to the fen
    started = time.perf_counter()
    simulate(tables, YEARS, policy=policy, budget=budget, lpr=history.hold_flat(until=HOLD))
    full = time.perf_counter() - started
    per_project = _plain_seconds_per_project(policy, budget, history.hold_flat(until=HOLD))
    band = result.outlay_by_year()
    spread = "; ".join(f"{r.year}: {r.p5 / 10**8:,.2f}-{r.p95 / 10**8:,.2f}亿" for r in band.itertuples())
    report("Monte Carlo 1,000 paths x 10k proj.",
           f"{seconds:.2f} s ({seconds / 1000 * 1e3:.1f} ms/path, {result.loans_repriced:,} loans repriced per "
           f"path; target 5 s); one path at a time {per_path * 1e3:.1f} ms/path -> {per_path * 1000 / seconds:.1f}x; "
           f"full simulate per path {full:.2f} s -> {full * 1000 / seconds:.0f}x; plain "
           f"reference per path -> {per_project * 10_000 * 1000 / seconds:.0f}x; outlay 5-95%: {spread}")

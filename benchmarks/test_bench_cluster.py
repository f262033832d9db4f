"""Monte Carlo paths and a sweep's scenarios on Dask LocalCluster(2) against one process (issue 20, point 5).

* Monte Carlo: 200 LPR paths over 10,000 projects (the demo's settings), in this process and on a LocalCluster of
  2 worker processes of one thread each (started before the clock; sending the inputs to the workers is timed).
  The figures must be the same to the fen.
* A sweep: the bundled ``sweep-demo.yaml`` (24 scenarios, 8 evaluations) over 5,000 projects, the same two ways.
* How much two processes get done against one on this machine (a virtual machine's two cores may share one
  physical core): the most the cluster of 2 can gain, measured in the same run.
* A projection of 10,000 paths x 1M projects on 32 workers from the per-path time measured here: a path's work
  (repricing the floating loans, the stacking, the allocation's plan and kernel) grows with the loans and claims,
  so a path of 1M projects takes 100x one of 10k; the projection says so and adds the one-off evaluation.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pytest

from subsidy_engine import load_budget, load_lpr, load_policy
from subsidy_engine.params.lpr import schedules_dir
from subsidy_engine.simulation.montecarlo import monte_carlo
from subsidy_engine.simulation.scenario import load_scenario
from subsidy_engine.simulation.sweep import SweepInputs, load_sweep, sweep
from subsidy_engine.simulation.synthetic import portfolio

pytest.importorskip("distributed")
from subsidy_engine.simulation.cluster import connect  # noqa: E402

YEARS = tuple(range(2026, 2031))
HOLD = date(2045, 12, 31)
PATHS = 200


def _busy(seconds: float) -> int:
    """Work for the processor alone (no memory traffic to speak of) for about ``seconds``; how much was done."""
    done, until = 0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        done += sum(k * k for k in range(1_000))
    return done


def machine_parallelism() -> float:
    """How much more two processes get done than one in the same time on this machine (2.0 on two free cores;
    a virtual machine whose two cores share a physical one gets less): what a cluster of 2 can gain at most."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_busy, [0.05, 0.05]))  # the processes started
        one = pool.submit(_busy, 1.0).result()
        both = sum(pool.map(_busy, [1.0, 1.0]))
    return both / one


def _timed(run):  # noqa: ANN001, ANN202
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def test_monte_carlo_and_a_sweep_on_local_cluster_of_2(benchmark, report) -> None:  # noqa: ANN001
    tables, policy, budget, history = portfolio(10_000, seed=78), load_policy(), load_budget(), load_lpr()
    settings = load_scenario(schedules_dir() / "scenario-demo.yaml").file.monte_carlo
    assert settings is not None
    settings = settings.with_paths(PATHS)

    def paths(client=None):  # noqa: ANN001, ANN202
        return monte_carlo(tables, YEARS, policy=policy, budget=budget, history=history, changes=[],
                           settings=settings, hold_until=HOLD, client=client)

    paths_of_one = settings.with_paths(1)
    monte_carlo(portfolio(300, seed=1), YEARS, policy=policy, budget=budget, history=history, changes=[],
                settings=paths_of_one, hold_until=HOLD)  # compile or load the kernels
    spec = load_sweep(schedules_dir() / "sweep-demo.yaml")
    inputs = SweepInputs(portfolio(5_000, seed=78), YEARS, policy, budget, history, HOLD)
    alone, alone_seconds = _timed(paths)
    swept, swept_seconds = _timed(lambda: sweep(spec, inputs))
    with connect("local:2") as client:
        paths(client)  # the workers load the kernels from the disk cache once
        spread = benchmark.pedantic(paths, args=(client,), rounds=1, warmup_rounds=0)
        spread_seconds = benchmark.stats.stats.min
        swept_there, swept_there_seconds = _timed(lambda: sweep(spec, inputs, client=client))
    assert np.array_equal(alone.awarded_fen, spread.awarded_fen) and alone.provenance == spread.provenance
    assert swept.provenance == swept_there.provenance and swept.scenarios().equals(swept_there.scenarios())
    per_path = alone_seconds / PATHS
    parallel = machine_parallelism()
    report("this machine, 2 processes", f"{parallel:.2f}x the work of one in the same time (2.00x: two free "
           "cores): the most a LocalCluster(2) can gain here")
    report(f"Monte Carlo {PATHS} paths x 10k, Dask",
           f"one process {alone_seconds:.2f} s ({per_path * 1e3:.1f} ms/path); LocalCluster(2) "
           f"{spread_seconds:.2f} s -> {alone_seconds / spread_seconds:.2f}x of the machine's {parallel:.2f}x; "
           "identical to the fen")
    report("sweep-demo 24 scenarios x 5k, Dask",
           f"one process {swept_seconds:.2f} s; LocalCluster(2) {swept_there_seconds:.2f} s -> "
           f"{swept_seconds / swept_there_seconds:.2f}x; identical to the fen")
    # 10,000 paths x 1M projects on 32 workers: each worker prices 10,000 / 32 paths of 100x the work
    worker_path = spread_seconds * 2 / PATHS  # seconds a path takes one worker, measured on the cluster
    projected = 10_000 / 32 * worker_path * 100
    report("projection 10,000 paths x 1M, 32 w.",
           f"{worker_path * 1e3:.1f} ms a path a worker at 10k projects -> {projected / 60:.0f} min on 32 workers "
           f"(+ one evaluation of 1M, about 8 s, and sending it to the workers)")


def test_evaluate_in_partitions_on_local_cluster_of_2(report) -> None:  # noqa: ANN001
    """evaluate of 100,000 projects in one process and in partitions by enterprise on LocalCluster(2): the split
    and the merge on the client, the partitions on the workers (the portfolio sent to them is timed)."""
    from subsidy_engine import evaluate
    from subsidy_engine.simulation.partitions import _Task, assign, evaluate_on, merge, split

    tables, policy, history = portfolio(100_000, seed=78), load_policy(), load_lpr()
    lpr = history.hold_flat(until=HOLD)
    evaluate(portfolio(300, seed=1), policy, YEARS, lpr=lpr)
    alone, alone_seconds = _timed(lambda: evaluate(tables, policy, YEARS, lpr=lpr))
    pieces, split_seconds = _timed(lambda: split(tables, assign(tables, 4), 4))
    with connect("local:2") as client:
        evaluate_on(client, portfolio(300, seed=1), policy, YEARS, lpr=lpr)  # the workers load the kernels
        spread, spread_seconds = _timed(lambda: evaluate_on(client, tables, policy, YEARS, lpr=lpr))
    from subsidy_engine.simulation.partitions import evaluate_part

    parts = [evaluate_part(p, _Task(policy, YEARS, None, lpr, None)) for p, _ in pieces]
    _, merge_seconds = _timed(lambda: merge(tables, policy, YEARS, None, lpr, False, parts, [w for _, w in pieces]))
    assert spread.provenance == alone.provenance and spread.table.equals(alone.table)
    report("evaluate 100k, Dask partitions",
           f"one process {alone_seconds:.2f} s; LocalCluster(2), 4 partitions {spread_seconds:.2f} s -> "
           f"{alone_seconds / spread_seconds:.2f}x (of it on the client: split {split_seconds:.2f} s, merge "
           f"{merge_seconds:.2f} s); identical claims and hash")

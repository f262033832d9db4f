"""Monte Carlo paths and sweep scenarios on a Dask cluster (issue 20, points 3 and 4): the same figures and hashes
as in one process, also when a worker is killed in the middle of a run."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest

from subsidy_engine import load_budget, load_lpr, load_policy
from subsidy_engine.simulation.cluster import check_address, connect, pid_of_workers
from subsidy_engine.simulation.montecarlo import MonteCarlo, monte_carlo
from subsidy_engine.simulation.scenario import MonteCarloSettings
from subsidy_engine.simulation.sweep import SweepInputs, SweepSpec, sweep
from subsidy_engine.simulation.synthetic import portfolio

pytest.importorskip("distributed")
from distributed import Client  # noqa: E402

YEARS = (2026, 2027, 2028)
HOLD = date(2045, 12, 31)
RATE_SENSITIVE = {"interest_subsidy.form": "share_of_interest", "interest_subsidy.points": "0.5"}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with connect("local:2") as c:
        yield c


def _same(first: MonteCarlo, second: MonteCarlo) -> None:
    assert np.array_equal(first.awarded_fen, second.awarded_fen)
    assert np.array_equal(first.exceeded, second.exceeded)
    assert np.array_equal(first.lpr_5y_bp, second.lpr_5y_bp)
    assert first.provenance == second.provenance and first.loans_repriced == second.loans_repriced


def _paths(n_projects: int, paths: int, **kwargs: object) -> MonteCarlo:
    from subsidy_engine.simulation.scenario import Scenario

    policy = Scenario.of({"id": "r", "parameters": RATE_SENSITIVE}).policy(load_policy())
    budget = Scenario.of({"id": "b", "budget": {"scale": {"*": "0.02"}}}).budget(load_budget())
    return monte_carlo(portfolio(n_projects, seed=9), YEARS, policy=policy, budget=budget, history=load_lpr(),
                       changes=[], settings=MonteCarloSettings(paths=paths, seed=4, monthly_sigma_bp="30"),
                       hold_until=HOLD, **kwargs)  # type: ignore[arg-type]


def test_monte_carlo_on_a_cluster_equals_one_process(client: Client) -> None:
    alone = _paths(300, 13)
    done: list[int] = []
    spread = _paths(300, 13, client=client, progress=done.append)
    _same(alone, spread)
    assert alone.exceeded.any() and len({int(v) for v in alone.awarded_fen.sum(axis=(1, 2))}) > 1
    assert done[-1] == 13 and done == sorted(done)


def test_a_sweep_on_a_cluster_equals_one_process(client: Client) -> None:
    spec = SweepSpec.of({"id": "c", "lpr": {"from": "2027-01-20", "shift_bp": [-25, 0, 25]},
                         "budget": {"scale": ["0.3", "1"]}, "parameters": {"interest_subsidy.form": ["share_of_interest"]}})
    inputs = SweepInputs(portfolio(300, seed=2), YEARS, load_policy(), load_budget(), load_lpr(), HOLD)
    alone, spread = sweep(spec, inputs), sweep(spec, inputs, client=client)
    assert spread.provenance == alone.provenance
    assert spread.scenarios().equals(alone.scenarios()) and spread.by_year_source().equals(alone.by_year_source())
    assert [r.inputs_sha256 for r in spread.results] == [r.inputs_sha256 for r in alone.results]


def test_a_worker_killed_in_the_middle_changes_nothing(client: Client) -> None:
    """SIGKILL to a worker that is pricing paths: Dask runs its chunks again on a worker alive (the nanny starts a
    new one), and the figures are those of one process."""
    alone = _paths(1500, 48)
    killed: list[tuple[int, int]] = []

    def kill_once(done: int) -> None:
        if killed:
            return
        busy = [address for address, tasks in client.processing().items() if tasks]
        assert busy, "no worker was busy: the run ended before the kill"
        pid = pid_of_workers(client)[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append((done, pid))

    spread = _paths(1500, 48, client=client, progress=kill_once)
    assert killed and killed[0][0] < 48  # killed with paths still to price
    _same(alone, spread)
    client.wait_for_workers(2, timeout=60)  # the nanny has started a new worker
    assert killed[0][1] not in pid_of_workers(client).values()


@pytest.mark.parametrize("address", ["local:0", "local:x", "local", "http://h:1", "tcp://host", "tcp://h:1/x", "",
                                     "tcp://h:99999", "tcp://h:0", "local:513"])
def test_a_bad_cluster_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="write local:N"):
        check_address(address)
    assert check_address("local:2") == "local:2" and check_address("tcp://10.0.0.5:8786")


def test_simulate_on_a_local_cluster_writes_what_one_process_writes(tmp_path, capsys) -> None:  # noqa: ANN001
    import json

    from subsidy_engine.params.lpr import schedules_dir
    from subsidy_engine.service.cli import main

    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text("id: s\nbudget:\n  scale: [\"0.2\", \"1\"]\nmonte_carlo:\n  paths: 3\n", encoding="utf-8")
    common = ["simulate", "--projects", "200", "--years", "3", "--quiet"]
    for extra, out in (([], "alone"), (["--cluster", "local:2"], "spread")):
        assert main([*common, "--sweep", str(sweep_file), *extra, "--out", str(tmp_path / out)]) == 0
        assert main([*common, "--scenario", str(schedules_dir() / "scenario-demo.yaml"), "--paths", "5", *extra,
                     "--out", str(tmp_path / f"{out}-mc")]) == 0
    for name in ("", "-mc"):
        alone, spread = (json.loads((tmp_path / f"{run}{name}" / "summary.json").read_text(encoding="utf-8"))
                         for run in ("alone", "spread"))
        assert alone == spread  # every figure and every hash
    capsys.readouterr()
    for extra, out in (([], "alone-plain"), (["--cluster", "local:2", "--lang", "en"], "spread-plain")):
        assert main(["simulate", "--projects", "300", "--years", "3", "--rates", "pilot=0.3,demonstration=0.2,"
                     "promotion=0.1", *extra, "--out", str(tmp_path / out)]) == 0
    assert "Cluster local:2: 2 workers (evaluation in partitions by enterprise" in capsys.readouterr().out
    alone, spread = (json.loads((tmp_path / run / "summary.json").read_text(encoding="utf-8"))
                     for run in ("alone-plain", "spread-plain"))
    assert alone == spread
    assert main(["simulate", "--projects", "50", "--cluster", "local:0", "--out", str(tmp_path / "bad")]) == 2
    assert "--cluster 'local:0': write local:N" in capsys.readouterr().err


def _environment() -> tuple[str | None, str | None, int]:
    import numba

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS"), numba.get_num_threads()


def _in_a_task(_: int) -> tuple[str | None, str | None, int]:
    return _environment()


def test_a_local_worker_keeps_one_numba_thread_and_glibc_s_own_memory_rules_and_this_process_its_own() -> None:
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 made a worker price paths 1.7x slower, and numba on every core made two
    workers wait on each other. Dask writes a worker's environment into this process each time it starts one, also
    when it starts one again after a crash: this process's environment must stay its own (numba here refused to
    compile once NUMBA_NUM_THREADS had changed under it)."""
    from subsidy_engine.simulation.cluster import map_in_order

    def ours(*dasks: str) -> dict[str, str]:
        """This process's environment, without what the nanny keeps for itself while the cluster lives (its
        workers' hash seed and its own process id: no thread count, no memory setting)."""
        return {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", *dasks)}

    dasks = ("PYTHONHASHSEED", "__DASK_PARENT_PID")

    before = ours()
    with connect("local:1") as one:
        assert map_in_order(one, _in_a_task, [0]) == [(None, None, 1)]
        assert ours(*dasks) == {k: v for k, v in before.items() if k not in dasks}
        (old, pid), = pid_of_workers(one).items()
        os.kill(pid, signal.SIGKILL)
        import time

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(one.scheduler_info()["workers"]) in (set(), {old}):
            time.sleep(0.2)  # until the nanny's new worker has taken the dead one's place
        assert map_in_order(one, _in_a_task, [0]) == [(None, None, 1)]  # a worker started again: the same
        assert ours(*dasks) == {k: v for k, v in before.items() if k not in dasks}
    assert ours() == before


def test_evaluate_on_a_cluster_equals_one_process_and_explain_says_why_not(client: Client, tmp_path) -> None:  # noqa: ANN001
    import sys

    import pandas as pd

    from subsidy_engine import evaluate, explain
    from subsidy_engine.simulation.partitions import evaluate_on

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_partitions import RATES, _hostile, same

    tables = _hostile(tmp_path)
    lpr = load_lpr().hold_flat(until=HOLD)
    alone = evaluate(tables, load_policy(), range(2026, 2031), lpr=lpr, rate_by_stage=RATES)
    spread = evaluate_on(client, tables, load_policy(), range(2026, 2031), lpr=lpr, rate_by_stage=RATES)
    same(alone, spread)
    pd.testing.assert_frame_equal(evaluate_on(client, tables, load_policy(), range(2026, 2031), lpr=lpr,
                                              rate_by_stage=RATES, partitions=5).table, alone.table)
    with pytest.raises(ValueError, match="evaluated in partitions on a cluster"):
        explain(spread, str(alone.table.project_id.dropna().iloc[0]))


def test_evaluate_on_a_cluster_is_strict_as_one_process_and_reads_a_table_it_cannot_place_here(
        client: Client, tmp_path) -> None:  # noqa: ANN001
    import sys

    from subsidy_engine import EvaluationError, evaluate
    from subsidy_engine.pipeline.inputs import load_portfolio
    from subsidy_engine.simulation.partitions import evaluate_on

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_partitions import _hostile, same

    tables = _hostile(tmp_path)
    with pytest.raises(EvaluationError) as alone:
        evaluate(tables, load_policy(), range(2026, 2031), strict=True)
    with pytest.raises(EvaluationError) as spread:
        evaluate_on(client, tables, load_policy(), range(2026, 2031), strict=True)
    assert str(spread.value) == str(alone.value)
    # a table that cannot be read at all (a column missing): evaluated here, the same figures
    folder = tmp_path / "p"
    loans = __import__("pandas").read_csv(folder / "loans.csv").drop(columns=["principal"])
    loans.to_csv(folder / "loans.csv", index=False)
    broken = load_portfolio(folder)
    assert (broken.problems.field == "(table)").any()
    same(evaluate(broken, load_policy(), range(2026, 2031)),
         evaluate_on(client, broken, load_policy(), range(2026, 2031)))


def _die(_: int) -> int:
    os._exit(3)  # the worker process dies running the task


def test_a_worker_that_dies_too_often_and_an_unreachable_scheduler_are_one_clear_error() -> None:
    import dask

    from subsidy_engine.errors import ClusterError, SubsidyEngineError
    from subsidy_engine.simulation.cluster import map_in_order

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), connect("local:1") as one:
        with pytest.raises(ClusterError, match=r"a worker died running _die \(item 1 of 1\) more often than "
                                               r"Dask runs a task again"):
            map_in_order(one, _die, [0])
    with pytest.raises(ClusterError, match="cannot reach the scheduler at tcp://127.0.0.1:1"):
        with connect("tcp://127.0.0.1:1", timeout=1):
            pass
    assert issubclass(ClusterError, SubsidyEngineError)


def _shared_len(item: int, shared: str) -> int:
    return item + len(shared)


def test_maps_one_after_another_with_the_same_shared_value_are_independent(client: Client) -> None:
    """Found by the second review: equal shared values got the same key, and one map's cancel lost the next's."""
    from subsidy_engine.simulation.cluster import map_in_order

    for _ in range(6):
        assert map_in_order(client, _shared_len, [1, 2, 3], "x" * 10) == [11, 12, 13]


def test_connect_puts_back_only_what_dask_set_and_partitions_are_counted(tmp_path) -> None:  # noqa: ANN001
    import sys

    from subsidy_engine import evaluate
    from subsidy_engine.pipeline.inputs import load_portfolio
    from subsidy_engine.simulation.partitions import evaluate_on

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_partitions import same

    os.environ.pop("SUBSIDY_ENGINE_TEST_SETTING", None)
    with connect("local:1") as one:
        os.environ["SUBSIDY_ENGINE_TEST_SETTING"] = "kept"  # the caller's own setting, made inside the block
        # a problem of no row (an extra column set aside under strict): evaluated in one process, the same
        folder = tmp_path / "p"
        folder.mkdir()
        portfolio(40, seed=2).projects.assign(备注="x").to_csv(folder / "projects.csv", index=False)
        tables = load_portfolio(folder, strict=True)
        assert tables.problems.position.isna().any()
        same(evaluate(tables, load_policy(), YEARS), evaluate_on(one, tables, load_policy(), YEARS))
        with pytest.raises(ValueError, match="partitions must be at least 1, not 0"):
            evaluate_on(one, portfolio(10, seed=1), load_policy(), YEARS, partitions=0)
    assert os.environ.pop("SUBSIDY_ENGINE_TEST_SETTING") == "kept"


def test_a_scheduler_lost_in_the_middle_of_a_run_is_one_clear_error() -> None:
    """A scheduler of ``--cluster tcp://...`` that goes away mid-run: Dask cancels every future ("scheduler-connection-
    lost"); the run stops at once with a ClusterError (exit code 2), not Dask's own error."""
    import socket
    import subprocess
    import sys
    import time

    from subsidy_engine.errors import ClusterError
    from subsidy_engine.simulation.cluster import map_in_order

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--dashboard-address", ":0"], **quiet)
    worker = None
    try:
        with connect(address, timeout=30) as client:
            worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--no-dashboard"], **quiet)
            client.wait_for_workers(1, timeout=60)

            def lose_the_scheduler(done: int) -> None:
                if done == 2:
                    scheduler.kill()

            started = time.monotonic()
            # a function the scheduler and the worker import as this process does (they deserialize the tasks)
            with pytest.raises(ClusterError, match=rf"lost the scheduler at {address} in the middle of sleep "
                                                   r"\(2 of 30 done\)"):
                map_in_order(client, time.sleep, [0.3] * 30, progress=lose_the_scheduler)
            assert time.monotonic() - started < 30
    finally:
        for process in (scheduler, worker):
            if process is not None:
                process.kill()
                process.wait()

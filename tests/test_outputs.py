"""Outputs whole or absent, one run per folder, formula-safe CSV (issue 16, points 1 and 7)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from subsidy_engine.cli import main
from subsidy_engine.outputs import (
    MANIFEST_NAME,
    OutputBusyError,
    OutputFolder,
    csv_safe,
)

ROOT = Path(__file__).parents[1]


def _complete(folder: Path) -> list[str]:
    """The files of the folder's last run, each checked against its manifest; fails on any mix."""
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (folder / entry["file"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".partial-")]
    return sorted(e["file"] for e in manifest["files"])


def test_a_failed_run_leaves_the_last_complete_one(tmp_path) -> None:
    with OutputFolder(tmp_path) as run:
        run.path("a.txt").write_text("first")
        run.path("b.txt").write_text("first")
    with pytest.raises(RuntimeError), OutputFolder(tmp_path) as run:
        run.path("a.txt").write_text("second")
        raise RuntimeError("killed while writing b")
    assert (tmp_path / "a.txt").read_text() == "first" and _complete(tmp_path) == ["a.txt", "b.txt"]
    assert not (tmp_path / ".subsidy-engine.lock").exists()
    with OutputFolder(tmp_path) as run:  # a later run replaces the set, the old b included
        run.path("a.txt").write_text("third")
    assert _complete(tmp_path) == ["a.txt"] and not (tmp_path / "b.txt").exists()


def test_a_folder_in_use_by_a_live_run_is_refused_and_a_dead_run_s_lock_is_taken(tmp_path, capsys) -> None:
    holding = ("import fcntl, os, sys, time; h = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); "
               "fcntl.flock(h, fcntl.LOCK_EX); os.write(h, str(os.getpid()).encode()); print(flush=True); "
               "time.sleep(60)")
    writer = subprocess.Popen([sys.executable, "-c", holding, str(tmp_path / ".subsidy-engine.lock")],
                              stdout=subprocess.PIPE)
    try:
        writer.stdout.readline()  # it holds the lock
        assert main(["simulate", "--projects", "50", "--out", str(tmp_path), "--quiet"]) == 2
        assert f"another run is writing here (process {writer.pid})" in capsys.readouterr().err
    finally:
        writer.kill()
        writer.wait()
    assert (tmp_path / ".subsidy-engine.lock").exists()  # left behind by the killed run, holding nothing
    assert main(["simulate", "--projects", "50", "--out", str(tmp_path), "--quiet"]) == 0
    assert "summary.json" in _complete(tmp_path)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_run_killed_while_it_writes_leaves_the_last_complete_outputs(tmp_path, signum) -> None:
    """Killed at several moments of the writing, the folder always holds one complete run."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "subsidy_engine.cli", "simulate", "--projects", "300", "--out", str(out),
               "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, timeout=300)
    whole = time.perf_counter() - started
    first = _complete(out)
    for fraction in (0.6, 0.8, 0.9, 0.97):
        run = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        time.sleep(whole * fraction)
        run.send_signal(signum)
        _, err = run.communicate(timeout=300)
        assert b"Traceback" not in err, err
        assert _complete(out) == first
        assert not (out / ".subsidy-engine.lock").exists()


def test_every_csv_the_project_writes_is_formula_safe(tmp_path) -> None:
    loans = pd.DataFrame({"loan_id": ['=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "-2+3", "L4"],
                          "principal": ["1000000"] * 4, "annual_rate": ["0.04"] * 4, "term_months": ["12"] * 4,
                          "start_date": ["2026-01-15"] * 4})
    table = tmp_path / "loans.csv"
    loans.to_csv(table, index=False)
    assert main(["amortize", str(table), "--out-dir", str(tmp_path / "out"), "--output", "both"]) == 0
    for name in ("yearly.csv", "schedule.csv"):
        ids = pd.read_csv(tmp_path / "out" / name, dtype=str).loan_id
        assert set(ids) == {"'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(A1)", "'-2+3", "L4"}
        amounts = pd.read_csv(tmp_path / "out" / name, dtype=str).interest
        assert not amounts.str.startswith("'").any()  # numbers stay numbers
    frame = csv_safe(pd.DataFrame({"reason": ["\tx", "\rx", "+1", "ok"]}))
    assert frame.reason.tolist() == ["'\tx", "'\rx", "'+1", "ok"]



def _writer(folder: Path, log: Path, start: float) -> None:
    """One run writing a.txt and b.txt into ``folder`` (a forked process); exit 2 when refused."""
    while time.time() < start:  # every writer reaches the lock at the same moment
        pass
    try:
        with OutputFolder(folder) as run:
            with open(log, "a") as out:
                out.write(f"enter {os.getpid()}\n")
            for name in ("a.txt", "b.txt"):
                run.path(name).write_text(str(os.getpid()))
            time.sleep(0.02)
            with open(log, "a") as out:
                out.write(f"leave {os.getpid()}\n")
    except OutputBusyError:
        os._exit(2)
    os._exit(0)


def test_runs_started_together_into_one_folder_take_turns_or_are_refused(tmp_path) -> None:
    """Row 5: two simulate runs into one --out both exited 0 and report.xlsx had a bad CRC in 3 of 5 trials.
    Eight writers reach the lock at once, twenty times over: never two inside together, each refused one
    told so, and the folder always holds one writer's complete set."""
    fork = multiprocessing.get_context("fork")
    folder, log = tmp_path / "out", tmp_path / "log"
    for _ in range(20):
        start = time.time() + 0.3
        writers = [fork.Process(target=_writer, args=(folder, log, start)) for _ in range(8)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=60)
        codes = [w.exitcode for w in writers]
        assert set(codes) <= {0, 2} and 0 in codes, codes
        assert sorted(_complete(folder)) == ["a.txt", "b.txt"]
        assert (folder / "a.txt").read_text() == (folder / "b.txt").read_text()  # one writer's set
        assert not (folder / ".subsidy-engine.lock").exists()
    events = log.read_text().split("\n")[:-1]
    for enter, leave in zip(events[::2], events[1::2]):  # inside the lock one at a time
        assert enter.startswith("enter") and leave == enter.replace("enter", "leave"), events


def test_a_lock_is_the_kernel_s_not_a_process_id_s(tmp_path) -> None:
    """A writer between creating the lock and writing its id into it (an empty lock file) is live: its
    folder is refused, not taken over. A lock left by a run that died is taken, even if its process id
    has since been given to a live process (ids are reused)."""
    fork = multiprocessing.get_context("fork")
    ready, done = fork.Event(), fork.Event()

    def hold_an_empty_lock() -> None:
        handle = os.open(tmp_path / ".subsidy-engine.lock", os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(handle, fcntl.LOCK_EX)
        ready.set()
        done.wait(30)
        os._exit(0)

    holder = fork.Process(target=hold_an_empty_lock)
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(OutputBusyError, match="another run is writing here"), OutputFolder(tmp_path):
            pass
    finally:
        done.set()
        holder.join(30)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a dead run's lock naming a process that is alive now
        (tmp_path / ".subsidy-engine.lock").write_text(str(sleeper.pid))
        with OutputFolder(tmp_path) as run:
            run.path("x.txt").write_text("taken over")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (tmp_path / "x.txt").read_text() == "taken over"

"""Outputs whole or absent, one run per folder, formula-safe CSV (issue 16, points 1 and 7)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from subsidy_engine.cli import main
from subsidy_engine.outputs import MANIFEST_NAME, OutputFolder, csv_safe

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
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".subsidy-engine.lock").write_text(str(sleeper.pid))
        assert main(["simulate", "--projects", "50", "--out", str(tmp_path), "--quiet"]) == 2
        assert f"another run (process {sleeper.pid}) is writing here" in capsys.readouterr().err
    finally:
        sleeper.kill()
        sleeper.wait()
    assert main(["simulate", "--projects", "50", "--out", str(tmp_path), "--quiet"]) == 0  # its lock is stale
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

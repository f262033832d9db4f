"""The command line: the README's main job and the file-to-file command."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from subsidy_engine.cli import main
from subsidy_engine.io import demo_loans_path


def test_demo_prints_the_sample_loan_and_the_portfolio(capsys) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "monthly payment              5,307.27" in out
    assert "Loans: 240 in the table, 237 computed, 3 rejected" in out
    assert "BJ-0018   principal       1000000.005 has more than 2 decimal places" in out
    assert "priced partly from the projection 'flat'" in out
    assert "engine 0.1.0" in out
    assert "Claims of a synthetic portfolio (demo.portfolio(5000, seed=78): 5,000 projects" in out
    assert "Allocated to funding sources under the demo budget (budget-demo.yaml, 27 sources" in out
    assert "claims not paid in full" in out
    assert "measure 15" in out and "investment subsidy (measures 1, 2, 4) not evaluated" in out


def test_amortize_writes_exact_csv(tmp_path, capsys) -> None:
    code = main(["amortize", str(demo_loans_path()), "--out-dir", str(tmp_path), "--output", "both",
                 "--hold-lpr-until", "2045-12-31"])
    assert code == 0
    yearly = pd.read_csv(tmp_path / "yearly.csv", dtype=str)
    schedule = pd.read_csv(tmp_path / "schedule.csv", dtype=str)
    rejections = pd.read_csv(tmp_path / "rejections.csv")
    assert len(rejections) == 3
    # amounts are written as exact two-place decimals and add up across the files
    assert yearly.interest.str.fullmatch(r"\d+\.\d\d").all()
    assert sum(map(Decimal, yearly.interest)) == sum(map(Decimal, schedule.interest))
    first = schedule[schedule.loan_id == "BJ-0001"].iloc[0]
    assert Decimal(first.payment) == Decimal(first.interest) + Decimal(first.principal)


def test_without_a_projection_beyond_the_horizon_rows_are_rejected(capsys) -> None:
    assert main(["amortize", str(demo_loans_path())]) == 0
    out = capsys.readouterr().out
    assert "beyond the LPR coverage horizon 2026-06-19" in out


def test_strict_mode_fails_with_the_reason(capsys) -> None:
    assert main(["amortize", str(demo_loans_path()), "--strict", "--hold-lpr-until", "2045-12-31"]) == 2
    assert "row 17 (loan_id 'BJ-0018') principal" in capsys.readouterr().err


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`subsidy-engine demo | head -1`: the pipe closes under a buffered writer, the usual case."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    run = subprocess.Popen([sys.executable, "-c", "from subsidy_engine.cli import main; raise SystemExit(main())",
                            "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert run.stdout is not None and run.stderr is not None
    run.stdout.close()  # before the first line: whatever it writes meets a closed pipe
    error = run.stderr.read().decode()
    assert run.wait(timeout=120) == 141, error
    assert "Traceback" not in error and "Exception ignored" not in error, error

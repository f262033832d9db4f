"""The optimal mode always ends: HiGHS under a time limit, and what the allocation is when it is reached.

No test here depends on the machine's speed: the solver is made to report the limit (a fake in place
of scipy's ``linprog``, a fake clock), or the limit is over before the first solve can start.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy.optimize import OptimizeResult

from subsidy_engine import BudgetError, allocate, evaluate, load_budget
from subsidy_engine.budgeting import optimal
from subsidy_engine.service.cli import main
from subsidy_engine.simulation.synthetic import portfolio

from builders import check_invariants, claims
from strategies import budget_of

REAL_LINPROG = optimal.linprog
TIME_UP = OptimizeResult(status=1, x=None, message="Time limit reached. (HiGHS Status 13: model_status is Time "
                                                   "limit reached; primal_status is None)")


def amounts(result) -> dict:
    a = result.awards
    return {(c, lv, s): v for c, lv, s, v in zip(a.claim_id, a.level.astype(str), a.source_id.astype(str),
                                                  a.awarded)}


def test_a_time_limit_reached_before_the_largest_total_falls_back_to_the_waterfall() -> None:
    """issue 16, row 7: a time limit over before HiGHS could find the largest total still ends, with the
    waterfall's awards (every cap kept) and a note saying so."""
    claims_ = evaluate(portfolio(300, seed=3), years=range(2026, 2031))
    budget = load_budget()
    # a billionth of a second is over before the first block's solve starts (reading the claims takes longer)
    result = allocate(claims_, budget, "optimal", time_limit=1e-9)
    check_invariants(result, claims_.table.assign(amount=claims_.table.amount.astype(str)), budget)
    waterfall = allocate(claims_, budget, "waterfall")
    assert amounts(result) == amounts(waterfall)
    assert result.awards.reason.astype(str).tolist() == waterfall.awards.reason.astype(str).tolist()
    assert result.mode == "optimal"
    assert len(result.notes) == 1 and "time limit (1e-09 s)" in result.notes[0]
    assert "waterfall" in result.notes[0] and "\n" not in result.notes[0]
    assert allocate(claims_, budget, "optimal").notes == ()  # the default limit (60 s) is far from reached


def test_a_time_limit_reached_in_the_fairness_stage_keeps_the_largest_total(monkeypatch) -> None:
    """issue 16, row 7: when HiGHS stops at the limit in stage 2 (the fairness rule), the plan of stage 1
    stands: the largest total, every cap kept, and the note and the reasons say the fairness rule is not
    applied."""
    calls = []

    def stage_two_times_out(*args, **kwargs):
        calls.append(kwargs["options"]["time_limit"])
        return REAL_LINPROG(*args, **kwargs) if len(calls) == 1 else TIME_UP

    monkeypatch.setattr(optimal, "linprog", stage_two_times_out)
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "300.00"}], tiers=[])
    table = claims([("a", 15, 2026, "100.00", False, None), ("b", 15, 2026, "200.00", False, None),
                    ("c", 15, 2026, "300.00", False, None)])
    result = allocate(table, budget, "optimal", time_limit=30)
    assert len(calls) == 2 and all(0 < limit <= 30 for limit in calls)  # one source: one block, two stages
    check_invariants(result, table, budget)
    assert result.total_awarded == Decimal("300.00")
    assert len(result.notes) == 1 and "fairness" in result.notes[0] and "time limit (30 s)" in result.notes[0]
    assert not any("fairest" in r for r in result.awards.reason.astype(str))


def test_the_time_limit_is_over_the_whole_allocation(monkeypatch) -> None:
    """issue 16, row 7: blocks solved side by side share one time limit: each solve is given what remains
    of it, and once it is spent no solve starts; the allocation ends, whole, with a note."""
    lock = threading.Lock()
    clock = [time.perf_counter()]
    given = []

    def fake_clock() -> float:
        with lock:
            return clock[0]

    def slow_linprog(*args, **kwargs):
        limit = kwargs["options"]["time_limit"]
        with lock:
            given.append((clock[0], limit))
            clock[0] += min(limit, 25.0)  # each solve takes 25 s, or stops at its limit
        return REAL_LINPROG(*args, **kwargs) if limit >= 25.0 else TIME_UP

    budget = budget_of([{"id": f"fund{k}", "level": "municipal", "caps": "300.00",
                         "eligible": {"measures": [m]}} for k, m in enumerate((7, 14, 15))], tiers=[])
    table = claims([(f"{k}{m}", m, 2026, f"{100 * k}.00", False, None) for k in (1, 2, 3) for m in (7, 14, 15)])
    monkeypatch.setattr(optimal, "linprog", slow_linprog)
    monkeypatch.setattr(time, "perf_counter", fake_clock)
    result = allocate(table, budget, "optimal", time_limit=60)
    started = min(at for at, _ in given)
    assert all(at + limit <= started + 60 + 1e-6 for at, limit in given)  # never past the limit
    assert max(at for at, _ in given) < started + 60 and len(given) < 6  # no solve starts after it
    check_invariants(result, table, budget)
    assert len(result.notes) == 1 and "time limit (60 s)" in result.notes[0]


def test_rounding_a_stage_one_plan_never_breaks_a_cap(monkeypatch) -> None:
    """issue 16, row 7: stage 1's plans, kept at the limit, go through the same rounding: with per-project
    caps, carry-over and several sources, no cap is broken and every claim's parts add up."""
    def stage_two_times_out(c, *args, **kwargs):
        # stage 2's objective is -1 on each q's smallest share and 0 on the shares; stage 1's, minus the requests
        return TIME_UP if set(np.unique(c).tolist()) == {0.0, -1.0} else REAL_LINPROG(c, *args, **kwargs)

    monkeypatch.setattr(optimal, "linprog", stage_two_times_out)
    claims_ = evaluate(portfolio(300, seed=5), years=range(2026, 2031))
    budget = load_budget()
    result = allocate(claims_, budget, "optimal")
    check_invariants(result, claims_.table.assign(amount=claims_.table.amount.astype(str)), budget)
    assert any("fairness" in note for note in result.notes)


@pytest.mark.parametrize("limit", [0, -1, float("nan"), float("inf"), "60", True])
def test_a_time_limit_that_is_not_a_positive_number_of_seconds(limit: object) -> None:
    """issue 16, row 7: the limit is a positive, finite number of seconds."""
    table = claims([("a", 15, 2026, "1.00", False, None)])
    with pytest.raises(ValueError, match=r"^time_limit .* is not a positive number of seconds"):
        allocate(table, budget_of([{"id": "fund", "level": "municipal", "caps": "1"}]), "optimal",
                 time_limit=limit)  # type: ignore[arg-type]


def test_the_optimal_mode_reads_the_priority_tiers_columns() -> None:
    """issue 16, row 7: the optimal mode reads the columns of the budget's priority tiers (its fallback at
    the time limit is the waterfall over them): a table without them is refused, naming the column, not a
    KeyError."""
    table = pd.DataFrame({"claim_id": ["a"], "measure": [15], "year": [2026], "amount": ["1.00"]})
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "1"}])  # tiers: in_library first
    with pytest.raises(BudgetError, match=r"claims: missing columns \['in_library'\]"):
        allocate(table, budget, "optimal")


def test_the_simulate_command_says_when_the_time_limit_was_reached(tmp_path: Path, capsys) -> None:
    """issue 16, row 7: ``--time-limit`` reaches allocate; the note is printed and in summary.json."""
    assert main(["simulate", "--projects", "60", "--mode", "optimal", "--time-limit", "1e-9", "--lang", "en",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    note = next(line for line in out.splitlines() if "time limit" in line)
    assert note.startswith("Note: optimal mode: HiGHS reached the time limit (1e-09 s)")
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert note.removeprefix("Note: ") in summary["notes"]
    book = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)  # and in the report
    assert note.removeprefix("Note: ") in [row[-1] for row in book["notes"].iter_rows(min_row=2, values_only=True)]
    assert main(["simulate", "--projects", "60", "--mode", "optimal", "--out", str(tmp_path)]) == 0
    assert "time limit" not in capsys.readouterr().out
    assert main(["simulate", "--projects", "60", "--mode", "optimal", "--time-limit", "1e-9", "--out",
                 str(tmp_path)]) == 0  # in Chinese by default
    assert "说明：最优分配：HiGHS在求得最大安排总额之前达到时限（1e-09秒）" in capsys.readouterr().out
    # a scenario's run is allocated under the same limit, and says so apart
    scenario = Path(__file__).resolve().parents[2] / "schedules" / "scenario-demo.yaml"
    assert main(["simulate", "--projects", "60", "--mode", "optimal", "--time-limit", "1e-9", "--lang", "en", "--scenario",
                 str(scenario), "--paths", "0", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Note: scenario lpr-cut-2027: optimal mode: HiGHS reached the time limit (1e-09 s)" in out
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["scenario"]["notes"] == [note.removeprefix("Note: ")]


@pytest.mark.parametrize(("limit", "said"), [("0", "--time-limit 0.0 is not a positive number of seconds"),
                                             ("-5", "--time-limit -5.0 is not"), ("nan", "--time-limit nan is not"),
                                             ("soon", "argument --time-limit: invalid float value: 'soon'")])
def test_a_bad_time_limit_option_is_named(limit: str, said: str, tmp_path: Path, capsys) -> None:
    """issue 16, row 7: a limit that is not a positive number of seconds is one line naming the option,
    said before anything runs."""
    code: object
    try:
        code = main(["simulate", "--projects", "20", "--mode", "optimal", "--time-limit", limit,
                     "--out", str(tmp_path / "sim")])
    except SystemExit as exc:  # argparse's own refusal of a value that is no number
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert said in err[-1] and not (tmp_path / "sim").exists()


def test_waterfall_and_merit_ignore_the_time_limit() -> None:
    """issue 16, row 7: the kernels of the other modes are linear and need no limit; their result is the same."""
    claims_ = evaluate(portfolio(100, seed=3), years=range(2026, 2031))
    for mode in ("waterfall", "merit"):
        a, b = allocate(claims_, None, mode), allocate(claims_, None, mode, time_limit=1e-9)
        assert amounts(a) == amounts(b) and b.notes == ()

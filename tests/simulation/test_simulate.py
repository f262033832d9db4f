"""simulate(), its outputs, and the simulate / explain / validate commands (issue 5, first slice)."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from subsidy_engine import BudgetError, allocate, load_lpr
from subsidy_engine.core.language import in_language
from subsidy_engine.params.budget import Budget
from subsidy_engine.reports.simulation_report import write_outputs
from subsidy_engine.service.cli import main
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL
from subsidy_engine.simulation.simulate import Simulation, simulate
from subsidy_engine.simulation.synthetic import portfolio


def test_simulate_writes_summary_and_report(tmp_path: Path) -> None:
    run = simulate(portfolio(400, seed=3), range(2026, 2031))
    paths = write_outputs(run, tmp_path)
    summary = json.loads(paths[0].read_text(encoding="utf-8"))
    assert summary["engine_version"] and len(summary["inputs_sha256"]) == 64
    rows = pd.DataFrame(summary["by_year_source"])
    assert list(rows.columns) == ["year", "source_id", "claimed", "awarded", "cap"]
    assert len(rows) == 27 * 5
    awarded, cap = rows.awarded.map(Decimal), rows.cap.map(Decimal)
    assert (awarded <= cap).all()
    # what the sources awarded is what the claims got; claimed counts each part once
    assert awarded.sum() == run.allocation.total_awarded
    by_year = pd.DataFrame(summary["by_year"])
    assert by_year.claimed.map(Decimal).sum() == run.claims.total
    assert rows.claimed.map(Decimal).sum() <= run.claims.total
    book = openpyxl.load_workbook(paths[1], read_only=True)
    assert book.sheetnames == ["封面", "年度汇总", "说明", "按资金来源", "按措施", "按区", "项目明细", "未足额安排", "参数",
                               "被拒绝的行", "政府投资"]
    invested = pd.DataFrame(summary["government_investment"])  # apart from every subsidy figure above
    assert len(invested) and set(invested.source_id) == {"government_investment_budget"}  # 400 projects: it suffices
    notes = [row for row in book["说明"].iter_rows(min_row=2, values_only=True)]
    # the LPR projection, at least; in the report's words (summary.json keeps the English)
    assert [note for _, note in notes] == [in_language(n) for n in run.claims.notes + run.allocation.notes] and notes
    assert any("未测算投资补助（措施1、2、4）" in note for _, note in notes)
    assert any(note.startswith("investment subsidy (measures 1, 2, 4) not evaluated") for note in summary["notes"])
    first = next(book["年度汇总"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert Decimal(str(first[1])) == Decimal(summary["by_year"][0]["claimed"])


def test_a_horizon_beyond_the_budget_is_an_error() -> None:
    with pytest.raises(BudgetError, match=r"years \[2031\] are beyond budget demo-budget's years 2026-2030"):
        simulate(portfolio(50, seed=1), range(2026, 2032))


def test_simulate_command(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["simulate", "--projects", "300", "--out", str(tmp_path), "--mode", "merit", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "demo.portfolio(300, seed=78): 300 projects; 2026-2030" in out and "summary.json" in out
    assert (tmp_path / "report.xlsx").exists()
    assert main(["simulate", "--projects", "300", "--out", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["simulate", "--projects", "50", "--years", "6", "--out", str(tmp_path)]) == 2
    assert "beyond budget demo-budget's years" in capsys.readouterr().err


def test_explain_and_validate_commands(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["explain", "P46", "--projects", "300"]) == 0
    assert capsys.readouterr().out.startswith("项目P46，企业")  # Chinese by default
    assert main(["explain", "P46", "--projects", "300", "--lang", "en"]) == 0
    assert capsys.readouterr().out.startswith("Project P46 of enterprise")
    assert main(["explain", "NOPE", "--projects", "300"]) == 2
    assert "no project 'NOPE'" in capsys.readouterr().err
    tables = portfolio(30, seed=2)
    for name in ("projects", "loans", "insurance", "events"):
        getattr(tables, name).to_csv(tmp_path / f"{name}.csv", index=False)
    assert main(["validate", str(tmp_path), "--lang", "en"]) == 0
    assert "no problems found" in capsys.readouterr().out
    projects = pd.read_csv(tmp_path / "projects.csv", dtype=str)
    projects.loc[0, "stage"] = "someday"
    projects.loc[1, "total_investment"] = "-1"
    projects.to_csv(tmp_path / "projects.csv", index=False)
    assert main(["validate", str(tmp_path), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "30 projects, " in out and "; 4 problems" in out  # the third: P0's loan goes with its project
    assert "its project P0 is rejected (row 2, stage: 'someday'" in out
    assert "'someday' is not one of 'pilot', 'demonstration', 'promotion'" in out
    assert "total_investment" in out and "must not be negative" in out


@pytest.mark.parametrize("mode", ["waterfall", "merit", "optimal"])
def test_the_awards_attributes_and_each_parts_first_row_are_what_a_merge_and_duplicated_give(mode: str) -> None:
    """issue 20: a national simulate merged 2.8M awards with 1.4M claims on their ids (1.1 s) and found each claim
    part's first row by hashing (0.5 s, three times). The claims' district and sector are looked up by position
    (an award of no claim: blank), and a part's rows are one run in allocate's order (by claim, level, then
    source), so its first row is where the run starts: the same as the merge and ``duplicated`` give."""
    from subsidy_engine.simulation.simulate import _first_of_part

    run = simulate(portfolio(400, seed=21), range(2026, 2031), lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL),
                   mode=mode)
    awards = run.allocation.awards
    attributes = run.claims.attributes.assign(claim_id=run.claims.table.claim_id)[["claim_id", "district", "sector"]]
    pd.testing.assert_frame_equal(run.awards, awards.merge(attributes, on="claim_id", how="left"))
    assert np.array_equal(_first_of_part(awards), ~awards.duplicated(["claim_id", "level"]).to_numpy())
    # parts passed from one source to the next: runs longer than a row (the demo budget passes none on)
    two = Budget.of({"id": "b", "status": "inferred", "basis": "x", "years": [2026, 2027], "sources": [
        {"id": "short", "level": "municipal", "caps": "500"}, {"id": "ample", "level": "municipal", "caps": "1e5"},
        {"id": "district", "level": "district", "caps": "1e5", "matching_share": "0.5"}]})
    table = pd.DataFrame({"claim_id": [f"c{k}" for k in range(12)], "measure": [7, 13] * 6, "year": [2026, 2027] * 6,
                          "amount": ["300", "0", "250", "40"] * 3, "project_id": [f"P{k % 5}" for k in range(12)],
                          "in_library": [True, False, False] * 4, "merit_score": ["50", "80", "65"] * 4})
    for made in (allocate(table, two, mode).awards, awards):
        asked = made[made.source_id.notna()]
        for rows in (made, asked):
            assert np.array_equal(_first_of_part(rows), ~rows.duplicated(["claim_id", "level"]).to_numpy())
    assert (~_first_of_part(allocate(table, two, mode).awards)).any()
    # an award of a claim the claims do not hold (a hand-made allocation) is blank, as the merge made it
    awards = run.allocation.awards
    doctored = Simulation(run.claims, replace(run.allocation, awards=awards.assign(
        claim_id=awards.claim_id.where(awards.index % 7 != 0, "no-such-claim"))), run.years)
    pd.testing.assert_frame_equal(doctored.awards, doctored.allocation.awards.merge(attributes, on="claim_id",
                                                                                    how="left"))

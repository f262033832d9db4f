"""simulate(), its outputs, and the simulate / explain / validate commands (issue 5, first slice)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from subsidy_engine import BudgetError
from subsidy_engine.core.language import in_language
from subsidy_engine.reports.simulation_report import write_outputs
from subsidy_engine.service.cli import main
from subsidy_engine.simulation.simulate import simulate
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

"""A table too long for a sheet, or asked for apart, goes to its own file (issue 20, point 1): the per-project
detail to Parquet (CSV on request), the unfunded claims to Parquet, the rejected rows to their CSV; the workbook
says where each went, on its sheet and on the cover, and summary.json lists them. Read back to the fen."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from subsidy_engine.params.lpr import load_lpr
from subsidy_engine.reports import xlsx
from subsidy_engine.reports.simulation_report import write_outputs
from subsidy_engine.reports.workbook import project_detail, report_tables, unfunded
from subsidy_engine.service.cli import main
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL
from subsidy_engine.simulation.simulate import Simulation, simulate
from subsidy_engine.simulation.synthetic import portfolio


@pytest.fixture(scope="module")
def run() -> Simulation:
    return simulate(portfolio(3000, seed=5), range(2026, 2029), lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))


def _texts(path: Path, sheet: str) -> str:
    return " ".join(str(v) for row in openpyxl.load_workbook(path)[sheet].values for v in row if v is not None)


def test_the_detail_asked_as_parquet_is_the_detail_to_the_fen(run: Simulation, tmp_path: Path) -> None:
    write_outputs(run, tmp_path, charts=False, detail="parquet")
    written = pq.read_table(tmp_path / "project_detail.parquet").to_pandas()
    expected = project_detail(run, "zh")
    assert list(written.columns) == list(expected.columns) and len(written) == len(expected) > 0
    for column in ("gross", "claimed", "awarded", "unfunded"):
        assert written[column].tolist() == expected[column].tolist(), column  # exact decimals, not floats
    assert "project_detail.parquet" in _texts(tmp_path / "report.xlsx", "项目明细")
    assert "project_detail.parquet" in _texts(tmp_path / "report.xlsx", "封面")
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["tables_apart"] == {"project_detail": "project_detail.parquet"}


def test_a_table_longer_than_a_sheet_goes_apart_by_itself(run: Simulation, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Sheets are made to hold a few rows more than the short tables have: the detail and the unfunded claims
    no longer fit, and go to Parquet; the short sheets stay in the workbook."""
    lengths = {key: len(sheet.frame) for key, sheet in report_tables(run).items()}
    holds = max(n for key, n in lengths.items() if key not in ("project_detail", "unfunded")) + 2
    assert lengths["project_detail"] > holds and lengths["unfunded"] > holds, lengths
    monkeypatch.setattr(xlsx, "MAX_ROWS", holds + 1)
    write_outputs(run, tmp_path, charts=False)  # detail="auto"
    assert (tmp_path / "project_detail.parquet").exists() and (tmp_path / "unfunded.parquet").exists()
    back = pd.read_parquet(tmp_path / "unfunded.parquet")
    assert len(back) == len(unfunded(run, "zh"))
    said = _texts(tmp_path / "report.xlsx", "未足额安排")
    assert "unfunded.parquet" in said and f"{len(back):,}" in said
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["tables_apart"]) == {"project_detail", "unfunded"}


def test_a_detail_forced_into_a_sheet_it_cannot_fit_is_an_error_that_says_what_to_do(
        run: Simulation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", len(project_detail(run, "zh")))
    with pytest.raises(ValueError, match="more than a sheet holds"):
        write_outputs(run, tmp_path / "out", charts=False, detail="xlsx")
    assert not (tmp_path / "out" / "report.xlsx").exists()  # nothing half written


def test_simulate_writes_the_detail_as_csv_on_request(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["simulate", "--projects", "200", "--out", str(out), "--detail", "csv", "--quiet"]) == 0
    detail = pd.read_csv(out / "project_detail.csv", dtype=str)
    assert len(detail) > 0 and {"project_id", "awarded"} <= set(detail.columns)
    assert "project_detail.csv" in _texts(out / "report.xlsx", "项目明细")


def test_every_table_too_long_goes_apart_whatever_it_is(run: Simulation, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only the three long tables: any table longer than a sheet (here sheets hold 59 rows, the cover
    still fits) goes to a file of its own, and the workbook is written."""
    monkeypatch.setattr(xlsx, "MAX_ROWS", 60)
    long = {key for key, sheet in report_tables(run).items() if len(sheet.frame) > 59}
    assert {"project_detail", "unfunded", "by_source"} <= long, long
    write_outputs(run, tmp_path, charts=False)
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["tables_apart"]) == long
    for file in summary["tables_apart"].values():
        assert (tmp_path / file).exists(), file
    assert openpyxl.load_workbook(tmp_path / "report.xlsx").sheetnames[0] == "封面"


def test_a_table_written_apart_has_the_same_column_types_whatever_it_holds(tmp_path: Path) -> None:
    """Review of issue 20: a run with no claims wrote its name columns as numbers (all missing), where another
    run writes text: files of two runs could not be read together. Text is text, amounts decimals, always."""
    empty = simulate(portfolio(50, seed=5), range(2030, 2031), lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))
    full = simulate(portfolio(50, seed=5), range(2026, 2028), lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))
    schemas = []
    for k, run in enumerate((empty, full)):
        write_outputs(run, tmp_path / str(k), charts=False, detail="parquet")
        schemas.append(pq.read_schema(tmp_path / str(k) / "project_detail.parquet"))
    assert len(pq.read_table(tmp_path / "0" / "project_detail.parquet")) == 0
    assert {f.name: str(f.type) for f in schemas[0]} == {f.name: str(f.type) for f in schemas[1]}, schemas

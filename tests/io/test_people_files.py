"""Files made the way people make them (issue 15): each defect found by hand, and the round trip.

Every test here failed before the loader read cells as typed; each names its defect's number.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_engine import evaluate, explain, load_lpr, load_portfolio
from subsidy_engine.pipeline.inputs import TABLES
from subsidy_engine.service.bank_file import bank_claims
from subsidy_engine.service.cli import main
from subsidy_engine.service.reconcile import read_bank_claims, reconcile

from builders import stderr_lines
from strategies import examples
from workbooks import WorkbookStyle, people_portfolio, write_workbook

LPR = load_lpr().hold_flat(until=date(2045, 12, 31))
RATES = {"pilot": "0.3", "demonstration": "0.2", "promotion": "0.1"}


def _text_tables(n: int = 12, seed: int = 7) -> dict[str, pd.DataFrame]:
    return people_portfolio(n, seed)


def _csv_folder(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_1_date_cells_are_dates_for_validate_and_simulate(tmp_path, capsys) -> None:  # noqa: ANN001
    layout = write_workbook(tmp_path / "dates.xlsx", _text_tables(), style=WorkbookStyle(datetime_cells=True))
    assert main(["validate", str(layout["path"]), "--lang", "en"]) == 0
    assert "no problems found" in capsys.readouterr().out
    assert main(["simulate", "--portfolio", str(layout["path"]), "--out", str(tmp_path / "out"), "--quiet"]) == 0


def test_2_a_run_whose_every_row_is_rejected_says_so_first_and_exits_2(tmp_path, capsys) -> None:  # noqa: ANN001
    tables = _text_tables()
    tables = {name: frame.assign(start_date="2026-13-01") if "start_date" in frame else frame.assign(date="x")
              for name, frame in tables.items()}
    folder = _csv_folder(tmp_path / "bad", tables)
    code = main(["simulate", "--portfolio", str(folder), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2
    # first, after an empty numba cache's compile notices (reading the ids runs a kernel: their hashes)
    assert stderr_lines(err)[0].startswith("error: every row of the portfolio was rejected"), err
    assert "paid out before" not in out + err and "0.00" not in out
    assert (tmp_path / "out" / "rejected_rows.csv").exists()
    assert not (tmp_path / "out" / "summary.json").exists()


def test_2_some_rows_rejected_write_the_outputs_and_exit_1(tmp_path, capsys) -> None:  # noqa: ANN001
    tables = _text_tables()
    plain = int(np.flatnonzero(~tables["loans"].loan_id.isin(tables["drawdowns"].loan_id))[0])  # no tranches
    tables["loans"].loc[plain, "principal"] = "1000,50"
    folder = _csv_folder(tmp_path / "some", tables)
    assert main(["simulate", "--portfolio", str(folder), "--out", str(tmp_path / "out"), "--quiet", "--lang",
                 "en"]) == 1
    err = capsys.readouterr().err
    assert "1 of" in err and "loans 1 of" in err and "rejected_rows.csv" in err
    listed = pd.read_csv(tmp_path / "out" / "rejected_rows.csv")
    assert listed[["table", "row", "field"]].values.tolist() == [["loans", plain + 2, "principal"]]
    assert main(["simulate", "--portfolio", str(folder), "--out", str(tmp_path / "strict"), "--strict",
                 "--quiet"]) == 2
    assert not (tmp_path / "strict").exists()


def test_3_a_bank_file_with_date_cells_reconciles(tmp_path) -> None:
    tables = load_portfolio(_csv_folder(tmp_path / "p", _text_tables(40, 3)))
    bank = bank_claims(tables, LPR, n_loans=20, seed=1)
    ranged = bank[bank.from_date.notna()].drop(columns=["period", "bank_note"], errors="ignore")
    assert len(ranged)
    path = tmp_path / "bank.xlsx"
    write_workbook(path, {"claims": ranged})
    read = read_bank_claims(path)
    assert isinstance(read.from_date.iloc[0], date)
    report = reconcile(read, tables, lpr=LPR)
    assert not (report.status == "invalid").any(), report[report.status == "invalid"].detail.tolist()
    assert read.attrs["row_numbers"].tolist()[:2] == [2, 3]


def test_4_explain_uses_the_validated_amount_not_the_raw_text(tmp_path) -> None:
    tables = _text_tables()
    loans = tables["loans"]
    loans["principal"] = loans["principal"].map(lambda v: f"{Decimal(v):,.2f}")  # "1,000,000.00"
    loaded = load_portfolio(_csv_folder(tmp_path / "p", tables))
    assert loaded.problems.empty
    project = loans.project_id.iloc[0]
    text = explain(evaluate(loaded, years=range(2020, 2036), lpr=LPR), project, lang="en")
    assert f"principal {loans.principal.iloc[0]}" in text


def test_12_a_parquet_portfolio_read_back_is_typed_and_exact(tmp_path) -> None:
    tables = load_portfolio(_csv_folder(tmp_path / "csv", _text_tables()))
    folder = tmp_path / "parquet"
    folder.mkdir()
    for name in TABLES:
        getattr(tables, name).to_parquet(folder / f"{name}.parquet", index=False)
    back = load_portfolio(folder)
    assert back.loans.principal.dtype == pd.ArrowDtype(pa.decimal128(20, 2))
    assert pd.api.types.is_integer_dtype(back.loans.term_months.dtype)
    for name in TABLES:
        assert getattr(back, name).equals(getattr(tables, name)), name


@settings(max_examples=examples(6), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), n=st.integers(3, 25),
       style=st.builds(WorkbookStyle, title_rows=st.integers(0, 2), notes_column=st.booleans(),
                       extra_sheet=st.booleans(), formulas=st.booleans(), datetime_cells=st.booleans(),
                       text_dates=st.booleans(), bool_cells=st.booleans()))
def test_a_portfolio_gives_the_same_claims_from_xlsx_csv_and_parquet(tmp_path_factory, seed, n, style) -> None:  # noqa: ANN001
    """Point 9: the same portfolio as typed workbook cells, CSV text and Parquet gives identical claims."""
    tables = _text_tables(n, seed)
    base = tmp_path_factory.mktemp("trip")
    layout = write_workbook(base / "p.xlsx", tables, style=style)
    from_xlsx = load_portfolio(layout["path"])
    from_csv = load_portfolio(_csv_folder(base / "csv", tables))
    parquet = base / "parquet"
    parquet.mkdir()
    for name in TABLES:
        getattr(from_csv, name).to_parquet(parquet / f"{name}.parquet", index=False)
    from_parquet = load_portfolio(parquet)
    years = range(2020, 2036)
    claims = [evaluate(t, years=years, rate_by_stage=RATES, lpr=LPR) for t in (from_xlsx, from_csv, from_parquet)]
    assert all(t.problems.empty for t in (from_xlsx, from_csv, from_parquet)), from_xlsx.problems
    first = claims[0].table.astype(str).values.tolist()
    assert len(first)
    for other in claims[1:]:
        assert other.table.astype(str).values.tolist() == first


def test_explain_on_a_projects_table_without_its_id_column_is_one_line(tmp_path, capsys) -> None:  # noqa: ANN001
    tables = _text_tables()
    tables["projects"] = tables["projects"].drop(columns="project_id")
    folder = _csv_folder(tmp_path / "p", tables)
    assert main(["explain", "P1", "--portfolio", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "projects table cannot be read" in err[0] and "'project_id'" in err[0]


def test_explain_on_a_rejected_project_says_why(tmp_path, capsys) -> None:  # noqa: ANN001
    """Review: explain of a rejected project exited 0 with '0 claim(s), total 0'."""
    tables = _text_tables()
    tables["projects"].loc[0, "stage"] = "someday"
    project = tables["projects"].project_id.iloc[0]
    folder = _csv_folder(tmp_path / "p", tables)
    assert main(["explain", project, "--portfolio", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"project '{project}' is rejected (row 2): stage: 'someday'" in err


@pytest.mark.parametrize("command", [["explain", "P1"], ["reconcile"]])
def test_strict_refuses_a_portfolio_with_problems_in_every_command(command, tmp_path, capsys) -> None:  # noqa: ANN001
    """Review: explain --strict and reconcile --strict computed anyway."""
    tables = _text_tables()
    tables["projects"].loc[0, "stage"] = "someday"
    folder = _csv_folder(tmp_path / "p", tables)
    out = ["--out", str(tmp_path / "rec")] if command[0] == "reconcile" else []
    assert main([*command, "--portfolio", str(folder), "--strict", *out]) == 2
    assert "--strict: 5 problem(s)" in capsys.readouterr().err  # the project, its two loans, award and investment


def test_a_table_without_a_column_counts_its_rows_as_rejected(tmp_path, capsys) -> None:  # noqa: ANN001
    """Its rows were counted as none: '0 of 54 rows rejected ()'."""
    tables = _text_tables()
    tables["insurance"] = tables["insurance"].drop(columns="years")
    folder = _csv_folder(tmp_path / "p", tables)
    assert main(["simulate", "--portfolio", str(folder), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    n = len(tables["insurance"])
    assert f"（保险表{n}行中{n}行）" in capsys.readouterr().err  # the summary in Chinese by default

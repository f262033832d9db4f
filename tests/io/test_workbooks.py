"""The test helper workbooks.py writes cells typed, and its styles are in the file as said."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook

from subsidy_engine.pipeline.inputs import TABLES as ENGINE_TABLES

from workbooks import (
    CHINESE_DATE_FORMAT,
    MONEY_FORMAT,
    RATE_FORMAT,
    WorkbookStyle,
    coordinate,
    people_portfolio,
    write_workbook,
)

LOANS = pd.DataFrame({
    "loan_id": ["L1", "L2", "L3", "L4"], "project_id": ["007", "007", "12", None],
    "principal": [Decimal(100000000), "50000000.50", "12345.67", "0.1"],
    "annual_rate": ["0.0385", "0.03", None, "0.035"], "floating": [True, False, "false", None],
    "term_months": [60, "36", 84, 120], "grace_months": ["0", 22, 12, 6],
    "start_date": ["2024-03-01", date(2024, 2, 29), pd.Timestamp("2025-01-31"), "2023-12-31"],
})
PROJECTS = pd.DataFrame({"project_id": ["007", "12"], "merit_score": ["69.61", "80"],
                         "total_investment": ["300000000", "50000000.50"]})


@pytest.fixture(scope="module")
def people():
    return people_portfolio(12, seed=7)


def _cell(book, layout, table, i, column):
    return book[table][coordinate(layout, table, i, column)]


def test_cells_are_typed_and_formatted(tmp_path) -> None:
    layout = write_workbook(tmp_path / "b.xlsx", {"projects": PROJECTS, "loans": LOANS})
    assert layout["header_row"] == {"projects": 1, "loans": 1}
    assert layout["rows"] == {"projects": [2, 3], "loans": [2, 3, 4, 5]}
    book = load_workbook(layout["path"], data_only=True)
    assert [c.value for c in book["loans"][1]] == list(LOANS.columns)

    def cell(i, column):
        return _cell(book, layout, "loans", i, column)

    assert [cell(i, "project_id").value for i in range(3)] == ["007", "007", "12"]
    assert cell(0, "project_id").data_type == "s" and cell(3, "project_id").value is None
    assert [cell(i, "principal").value for i in range(4)] == [100000000, 50000000.5, 12345.67, 0.1]
    assert isinstance(cell(0, "principal").value, int)
    assert {cell(i, "principal").number_format for i in range(4)} == {MONEY_FORMAT}
    assert cell(0, "annual_rate").value == 0.0385 and cell(0, "annual_rate").number_format == RATE_FORMAT
    assert cell(2, "annual_rate").value is None
    assert [cell(i, "term_months").value for i in range(4)] == [60, 36, 84, 120]
    assert [cell(i, "grace_months").value for i in range(4)] == [0, 22, 12, 6]
    assert [cell(i, "floating").value for i in range(4)] == ["true", "false", "false", None]
    assert [cell(i, "start_date").value for i in range(4)] == [
        datetime(2024, 3, 1), datetime(2024, 2, 29), datetime(2025, 1, 31), datetime(2023, 12, 31)]
    assert cell(0, "start_date").is_date and cell(0, "start_date").number_format == "yyyy-mm-dd"
    projects = book["projects"]
    assert projects["B2"].value == 69.61 and projects["B2"].number_format == "0.00"
    assert projects["C3"].value == 50000000.5
    # every number reads back as the decimal written
    assert Decimal(repr(cell(1, "principal").value)) == Decimal("50000000.50")


def test_values_that_do_not_fit_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="not a whole number"):
        write_workbook(tmp_path / "x.xlsx", {"loans": LOANS.assign(term_months=["60.5"] * 4)})
    with pytest.raises(ValueError, match="not an ISO date"):
        write_workbook(tmp_path / "x.xlsx", {"loans": LOANS.assign(start_date=["1/3/2024"] * 4)})
    with pytest.raises(ValueError, match="does not survive a double"):
        write_workbook(tmp_path / "x.xlsx", {"loans": LOANS.assign(principal=["0.12345678901234567890"] * 4)})


def test_title_notes_and_extra_sheet(tmp_path) -> None:
    style = WorkbookStyle(title_rows=2, notes_column=True, extra_sheet=True, date_format=CHINESE_DATE_FORMAT,
                          bool_cells=True, datetime_cells=True)
    layout = write_workbook(tmp_path / "b.xlsx", {"projects": PROJECTS, "loans": LOANS}, style=style)
    assert layout["sheets"] == ["projects", "loans"] and layout["header_row"]["loans"] == 3
    assert layout["rows"]["loans"] == [4, 5, 6, 7]
    book = load_workbook(layout["path"], data_only=True)
    assert book.sheetnames == ["說明", "projects", "loans"]
    assert book["說明"]["A1"].value == "填表說明"
    loans = book["loans"]
    assert layout["titles"]["loans"] == ("A1:I1", "2026年新基建項目貸款明細")
    assert "A1:I1" in {str(r) for r in loans.merged_cells.ranges}
    assert loans["A1"].value == "2026年新基建項目貸款明細" and all(c.value is None for c in loans[2])
    assert [c.value for c in loans[3]] == [*LOANS.columns, "備註"]
    assert layout["columns"]["loans"]["備註"] == "I"
    assert [loans[f"I{r}"].value for r in layout["rows"]["loans"]] == ["已核實", None, None, "待補充材料"]
    assert layout["notes"]["loans"] == {0: "已核實", 3: "待補充材料"}
    date_cell = _cell(book, layout, "loans", 0, "start_date")
    assert date_cell.value == datetime(2024, 3, 1) and date_cell.number_format == CHINESE_DATE_FORMAT
    assert date_cell.is_date
    assert [_cell(book, layout, "loans", i, "floating").value for i in range(4)] == [True, False, False, None]


@pytest.mark.parametrize("cached", [True, False])
def test_formulas_with_and_without_cached_values(tmp_path, cached) -> None:
    style = WorkbookStyle(formulas=cached, formulas_without_cache=not cached)
    layout = write_workbook(tmp_path / "b.xlsx", {"loans": LOANS, "projects": PROJECTS}, style=style)
    assert layout["cached"] is cached
    # row 1 of each table: its int, money and date cells
    assert {k for k in layout["formulas"]} == {
        ("loans", 1, "principal"), ("loans", 1, "term_months"), ("loans", 1, "grace_months"),
        ("loans", 1, "start_date"), ("projects", 1, "total_investment")}
    assert layout["formulas"][("loans", 1, "principal")] == ("C3", "=5000000050/100", 50000000.5)
    assert layout["formulas"][("loans", 1, "term_months")] == ("F3", "=3*12", 36)
    assert layout["formulas"][("loans", 1, "grace_months")] == ("G3", "=22+0", 22)
    assert layout["formulas"][("loans", 1, "start_date")] == ("H3", "=DATE(2024,2,29)", date(2024, 2, 29))
    values = load_workbook(layout["path"], data_only=True)
    texts = load_workbook(layout["path"])
    for (table, _, _), (ref, formula, value) in layout["formulas"].items():
        assert texts[table][ref].value == formula
        read = values[table][ref].value
        if not cached:
            assert read is None
        elif isinstance(value, date):
            assert read == datetime.combine(value, datetime.min.time()) and values[table][ref].is_date
        else:
            assert read == value and type(read) is type(value)
    # the other cells are plain values
    assert texts["loans"]["C2"].value == 100000000 and values["loans"]["C2"].value == 100000000


def test_merged_text_dates_and_bad_cells(tmp_path) -> None:
    bad = {("loans", 0, "principal"): "1000,50", ("loans", 3, "start_date"): datetime(2024, 5, 6, 13, 30),
           ("loans", 1, "term_months"): "abc", ("loans", 2, "loan_id"): "=1+1"}
    style = WorkbookStyle(merged_data_cells=True, text_dates=True, bad_cells=bad)
    layout = write_workbook(tmp_path / "b.xlsx", {"loans": LOANS}, style=style)
    assert layout["merged"]["loans"] == ["B2:B3"]  # rows 0 and 1 share project 007
    assert layout["text_dates"] == [("loans", 2, "start_date")]
    assert layout["bad_cells"] == {("loans", 0, "principal"): "C2", ("loans", 3, "start_date"): "H5",
                                   ("loans", 1, "term_months"): "F3", ("loans", 2, "loan_id"): "A4"}
    book = load_workbook(layout["path"], data_only=True)
    loans = book["loans"]
    assert "B2:B3" in {str(r) for r in loans.merged_cells.ranges}
    assert loans["B2"].value == "007" and loans["B3"].value is None
    assert loans["H4"].value == "2025-01-31" and loans["H4"].data_type == "s"
    assert loans["C2"].value == "1000,50" and loans["F3"].value == "abc" and loans["A4"].value == "=1+1"
    assert loans["H5"].value == datetime(2024, 5, 6, 13, 30)
    assert load_workbook(layout["path"])["loans"]["A4"].data_type == "s"


def test_people_portfolio_is_plain_text_and_round_trips_typed(tmp_path, people) -> None:
    assert set(people) == set(ENGINE_TABLES) and all(len(t) for t in people.values())
    for frame in people.values():
        assert all(v is None or isinstance(v, str) for v in frame.to_numpy().ravel())
    projects = people["projects"]
    assert projects["start_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(projects["in_library"]) <= {"true", "false"}
    assert not projects["total_investment"].str.contains(r"\.0+$").any()  # shortest digits
    layout = write_workbook(tmp_path / "p.xlsx", people, style=WorkbookStyle(formulas=True))
    book = load_workbook(layout["path"], data_only=True)
    for name, frame in people.items():
        sheet, letters = book[name], layout["columns"][name]
        for i, row in enumerate(frame.itertuples(index=False)):
            for column, text in zip(frame.columns, row):
                value = sheet[f"{letters[column]}{layout['rows'][name][i]}"].value
                if text is None:
                    assert value is None
                elif isinstance(value, datetime):
                    assert value.date().isoformat() == text
                elif isinstance(value, (int, float)):
                    assert Decimal(repr(value)) == Decimal(text)
                else:
                    assert value == text


def test_numeric_ids_stay_text(tmp_path) -> None:
    tables = people_portfolio(6, seed=3, numeric_ids=True)
    assert tables["projects"]["project_id"].iloc[0] == "0000"
    assert all(v is None or isinstance(v, str) for v in tables["events"].to_numpy().ravel())
    layout = write_workbook(tmp_path / "p.xlsx", tables)
    sheet = load_workbook(layout["path"], data_only=True)["loans"]
    ids = [sheet[coordinate(layout, "loans", i, "project_id")].value for i in range(len(tables["loans"]))]
    assert ids == list(tables["loans"]["project_id"])

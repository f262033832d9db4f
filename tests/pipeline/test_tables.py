"""The four portfolio tables: CSV folder, Parquet folder and workbook load alike; problems say where."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine import PortfolioSchemaError, evaluate, load_policy, load_portfolio
from subsidy_engine.io.cells import read_csv_table
from subsidy_engine.pipeline.inputs import PROBLEM_COLUMNS, WHOLE_TABLE

from strategies import examples
from workbooks import WorkbookStyle, people_portfolio, write_tables, write_workbook

TABLES = {
    "projects": pd.DataFrame({
        "project_id": ["J1", "J2"], "enterprise_id": ["E1", "E2"], "name": ["算力中心", "車聯網平台"],
        "domain": ["public", "economic"], "stage": ["pilot", "demonstration"], "in_library": ["true", "false"],
        "industry_or_software": ["true", "false"], "total_investment": ["300000000", "50000000.50"],
        "eligible_investment": ["250000000", "40000000"], "start_date": ["2024-01-01", "2024-02-01"]}),
    "loans": pd.DataFrame({
        "loan_id": ["L1", "L2"], "project_id": ["J1", "J9"], "principal": ["100000000", "5000000"],
        "annual_rate": ["0.03", "0.035"], "term_months": ["60", "36"], "start_date": ["2024-03-01"] * 2}),
    "insurance": pd.DataFrame({
        "policy_id": ["P1"], "enterprise_id": ["E1"], "project_id": ["J1"], "product_field": ["ai"],
        "insured_amount": ["10000000"], "premium": ["400000"], "start_date": ["2024-03-01"], "years": ["3"]}),
    "events": pd.DataFrame({
        "event_id": ["V1", "V2"], "kind": ["listing", "listing"], "enterprise_id": ["E2", "E2"],
        "project_id": [None, None], "venue": ["a_share_ipo", "moon"], "stage": ["acceptance", "listing"],
        "date": ["2024-05-06", "2024-06-01"]}),
}
#: The tables as loaded: the validated values, typed.
TYPED = {
    "projects": [["J1", "E1", "算力中心", "public", "pilot", True, True, Decimal("300000000.00"),
                  Decimal("250000000.00"), date(2024, 1, 1)],
                 ["J2", "E2", "車聯網平台", "economic", "demonstration", False, False, Decimal("50000000.50"),
                  Decimal("40000000.00"), date(2024, 2, 1)]],
    "loans": [["L1", "J1", Decimal("100000000.00"), Decimal("0.0300000000"), 60, date(2024, 3, 1)],
              ["L2", "J9", Decimal("5000000.00"), Decimal("0.0350000000"), 36, date(2024, 3, 1)]],
    "insurance": [["P1", "E1", "J1", "ai", Decimal("10000000.00"), Decimal("400000.00"), date(2024, 3, 1), 3]],
    "events": [["V1", "listing", "E2", None, "a_share_ipo", "acceptance", date(2024, 5, 6)],
               ["V2", "listing", "E2", None, "moon", "listing", date(2024, 6, 1)]],
}


def write(tmp_path, form: str, tables=TABLES):  # noqa: ANN001, ANN201
    return write_tables(tmp_path, form, tables)


def cells(frame: pd.DataFrame) -> list[list[object]]:
    return frame.astype(object).where(frame.notna(), None).values.tolist()


@pytest.mark.parametrize("form", ["csv", "parquet", "xlsx"])
def test_every_form_loads_the_same_typed_tables_and_problems(tmp_path, form) -> None:
    portfolio = load_portfolio(write(tmp_path, form))
    for name, expected in TYPED.items():
        loaded = getattr(portfolio, name)
        assert cells(loaded) == expected, name
    assert pd.api.types.is_integer_dtype(portfolio.loans.term_months.dtype)
    assert portfolio.loans.principal.dtype == pd.ArrowDtype(pa.decimal128(20, 2))
    assert portfolio.loans.start_date.dtype == pd.ArrowDtype(pa.date32())
    # the row the user's tool shows: line 3 of the CSV, row 3 of the sheet, the Parquet file's second record
    row = 2 if form == "parquet" else 3
    problems = portfolio.problems
    assert list(problems.columns) == PROBLEM_COLUMNS
    assert problems.drop(columns="file").values.tolist() == [
        ["loans", row, "L2", "project_id", "is not a project of the projects table", 1],
        ["events", row, "V2", "venue", "'moon' is not one of 'a_share_ipo', 'neeq_select', 'overseas_direct'", 1],
    ]
    expected_files = ({"loans": str(tmp_path / f"loans.{form}"), "events": str(tmp_path / f"events.{form}")}
                      if form != "xlsx" else {"loans": str(tmp_path / "portfolio.xlsx")} | {
                          "events": str(tmp_path / "portfolio.xlsx")})
    assert dict(zip(problems.table, problems.file)) == expected_files
    assert len(portfolio.digest) == 64


def test_files_and_sheets_that_are_not_tables_are_set_aside_with_a_note(tmp_path) -> None:
    TABLES["loans"].to_csv(tmp_path / "loans.csv", index=False)
    with pytest.raises(PortfolioSchemaError, match="no projects table"):
        load_portfolio(tmp_path)
    TABLES["projects"].to_csv(tmp_path / "projects.csv", index=False)
    TABLES["projects"].to_csv(tmp_path / "projekts.csv", index=False)
    loaded = load_portfolio(tmp_path)
    assert any("projekts.csv: not a table" in note for note in loaded.notes)
    strict = load_portfolio(tmp_path, strict=True)
    assert strict.problems.reason.str.contains("projekts.csv").any()


def test_an_extra_column_and_an_extra_sheet_are_notes_not_refusals(tmp_path) -> None:
    """Defect 7: a 備註 column or a 說明 sheet refused the whole file."""
    tables = dict(TABLES, loans=TABLES["loans"].assign(備註=["已核實", None]))
    path = write(tmp_path, "xlsx", tables)
    with pd.ExcelWriter(path, mode="a", engine="openpyxl") as book:
        pd.DataFrame({"填表說明": ["金額單位為元"]}).to_excel(book, sheet_name="說明", index=False)
    loaded = load_portfolio(path)
    assert "備註" not in loaded.loans.columns and len(loaded.loans) == 2
    assert any("'備註'" in note and "set aside" in note for note in loaded.notes)
    assert any("sheet '說明' is not a table" in note for note in loaded.notes)
    assert loaded.problems.field.tolist() == ["project_id", "venue"]  # only the real problems
    strict = load_portfolio(path, strict=True)
    assert strict.problems.reason.str.contains("備註").any() and strict.problems.reason.str.contains("說明").any()


def test_every_problem_of_every_table_at_once(tmp_path) -> None:
    """Defect 8: a missing column stopped at the first schema error and listed nothing else."""
    tables = dict(TABLES, insurance=TABLES["insurance"].drop(columns="years"),
                  events=TABLES["events"].assign(extra_field=["x", "y"]))
    for name in ("projects", "loans", "insurance", "events"):
        tables[name].to_csv(tmp_path / f"{name}.csv", index=False)
    problems = load_portfolio(tmp_path).problems
    whole = problems[problems.field == WHOLE_TABLE]
    assert whole.table.tolist() == ["insurance"] and "missing column(s) 'years'" in whole.reason.iloc[0]
    assert pd.isna(whole.row.iloc[0]) and pd.isna(whole.position.iloc[0])
    assert ("loans", "project_id") in set(zip(problems.table, problems.field))
    assert ("events", "venue") in set(zip(problems.table, problems.field))  # the other tables' rows still checked


def test_a_rejected_project_takes_its_rows_with_it_and_says_why(tmp_path) -> None:
    """Defect 10: a loan of a rejected project said 'project_id: is missing' and its event was kept."""
    projects = TABLES["projects"].copy()
    projects.loc[0, "total_investment"] = "abc"
    events = pd.DataFrame({"event_id": ["R1"], "kind": ["reits_issuance"], "enterprise_id": ["E1"],
                           "project_id": ["J1"], "date": ["2024-05-06"], "amount_raised": ["500000000"]})
    for name, frame in dict(TABLES, projects=projects, events=events).items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    portfolio = load_portfolio(tmp_path)
    problems = portfolio.problems
    mine = problems[problems.table != "projects"]
    orphaned = mine[mine.reason.str.startswith("its project J1 is rejected")]
    assert set(orphaned.id) == {"L1", "P1", "R1"}
    assert "row 2, total_investment" in orphaned.reason.iloc[0] and "'abc'" in orphaned.reason.iloc[0]
    claims = evaluate(portfolio, years=range(2024, 2027))
    assert not claims.table.item_id.isin(["L1", "P1", "R1"]).any()
    assert {"L1", "P1", "R1"} <= set(claims.rejections.id)


def test_csv_rows_are_named_by_their_line(tmp_path) -> None:
    """Defect 9: the 0-based position was shown; a blank line or a cell over two lines moves the line."""
    path = tmp_path / "loans.csv"
    path.write_text('loan_id,principal,note\nL1,1,"two\nlines"\n\nL2,abc,x\n', encoding="utf-8")
    table = read_csv_table(path)
    assert table.rows.tolist() == [2, 5] and table.frame.loan_id.tolist() == ["L1", "L2"]


def test_a_gbk_csv_is_read_with_a_note(tmp_path) -> None:
    path = tmp_path / "projects.csv"
    path.write_bytes("project_id,name\nJ1,算力中心\n".encode("gbk"))
    table = read_csv_table(path)
    assert table.frame.name.tolist() == ["算力中心"] and "GB18030" in table.notes[0]


@pytest.mark.parametrize("bad", [b"", b"\x00\x01garbage", b"PK\x03\x04broken"])
def test_an_unreadable_file_is_one_error_naming_it(tmp_path, bad) -> None:
    if not bad.startswith(b"PK"):  # a broken zip is text as far as CSV goes (its header names no column)
        (tmp_path / "projects.csv").write_bytes(bad)
        with pytest.raises(PortfolioSchemaError, match="projects.csv"):
            load_portfolio(tmp_path)
    book = tmp_path / "broken.xlsx"
    book.write_bytes(bad)
    with pytest.raises(PortfolioSchemaError, match="broken.xlsx"):
        load_portfolio(book)


def test_a_hand_typed_workbook_simulates_with_no_rejection(tmp_path) -> None:
    """Done-when: dates as date cells, amounts as numbers, a notes column, a title above the header,
    a notes sheet, formulas with saved values: no rejection, the same claims as the text tables."""
    tables = people_portfolio(12, 7)
    style = WorkbookStyle(title_rows=2, notes_column=True, extra_sheet=True, formulas=True, datetime_cells=True)
    layout = write_workbook(tmp_path / "hand.xlsx", tables, style=style)
    typed = load_portfolio(layout["path"])
    assert typed.problems.empty, typed.problems
    for name, frame in tables.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    text = load_portfolio(tmp_path)
    assert text.problems.empty
    years = range(2024, 2031)
    rates = {"pilot": "0.3", "demonstration": "0.2", "promotion": "0.1"}
    a = evaluate(typed, years=years, rate_by_stage=rates).table
    b = evaluate(text, years=years, rate_by_stage=rates).table
    assert len(a) and a.drop(columns=[]).astype(str).values.tolist() == b.astype(str).values.tolist()
    header = layout["header_row"]["loans"]
    assert any(f"above the header (row {header})" in note for note in typed.notes)


def test_workbook_cells_the_engine_cannot_use_are_named_where_they_are(tmp_path) -> None:
    """Date cells with a time, text amounts with a bad comma, merged and uncached cells: each a problem
    naming its Excel row and field; nothing read as a blank or a zero."""
    tables = people_portfolio(12, 7)
    style = WorkbookStyle(merged_data_cells=True, formulas=True, formulas_without_cache=True,
                          bad_cells={("loans", 2, "start_date"): datetime(2024, 3, 1, 10, 30),
                                     ("loans", 3, "principal"): "1000,50"})
    layout = write_workbook(tmp_path / "bad.xlsx", tables, style=style)
    problems = load_portfolio(layout["path"]).problems
    loans = problems[problems.table == "loans"]
    rows = layout["rows"]["loans"]
    found = set(zip(loans.row.astype(int), loans.field))
    assert (rows[2], "start_date") in found and (rows[3], "principal") in found
    assert loans.reason.str.contains("merged cell").any()
    assert problems.reason.str.contains("no saved value").any()


# ---------------------------------------------------------------------------
# From the review of the change: each a case that went wrong
# ---------------------------------------------------------------------------
def _book(path, sheets: dict[str, list[list[object]]]):  # noqa: ANN001, ANN202
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


PROJECT_HEAD = ["project_id", "enterprise_id", "domain", "stage", "total_investment", "eligible_investment",
                "start_date"]
LOAN_HEAD = ["loan_id", "project_id", "principal", "annual_rate", "term_months", "start_date", "grace_months"]


def test_a_table_is_found_whatever_the_case_of_its_name(tmp_path) -> None:
    """A 'Loans' sheet or a 'loans.CSV' file was set aside (or ignored) and its loans silently lost."""
    book = _book(tmp_path / "case.xlsx", {
        "Projects": [PROJECT_HEAD, ["J1", "E1", "public", "pilot", 100, 50, date(2024, 1, 1)]],
        "Loans": [LOAN_HEAD, ["L1", "J1", 1000, Decimal("0.04"), 12, date(2024, 2, 1), 0]]})
    assert len(load_portfolio(book).loans) == 1
    folder = tmp_path / "csv"
    folder.mkdir()
    TABLES["projects"].to_csv(folder / "projects.csv", index=False)
    TABLES["loans"].to_csv(folder / "loans.CSV", index=False)
    assert len(load_portfolio(folder).loans) == 2


def test_error_cells_formula_results_and_merges_across_columns(tmp_path) -> None:
    """#N/A read as a blank (a silent zero grace); =1234.56+789.12 (stored 2023.6799999999998) refused;
    a formula whose result is empty text called uncalculated; a merge across columns read as a blank."""
    import zipfile

    path = _book(tmp_path / "cells.xlsx", {
        "projects": [PROJECT_HEAD, ["J1", "E1", "public", "pilot", 1234.56 + 789.12, 1000, date(2024, 1, 1)]],
        "loans": [LOAN_HEAD + ["floating_tenor"],
                  ["L1", "J1", 1000, Decimal("0.04"), 12, date(2024, 2, 1), 0, None],
                  ["L2", "J1", 1000, Decimal("0.04"), 12, date(2024, 2, 1), 6, None],
                  ["L3", "J1", 1000, Decimal("0.04"), 12, date(2024, 2, 1), 0, None]]})
    # what Excel writes: an error cell, a formula with an empty text result, a merge F4:G4
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    sheet = "xl/worksheets/sheet2.xml"
    xml = members[sheet].decode()
    xml = xml.replace('<c r="G2" t="n"><v>0</v></c>', '<c r="G2" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
    xml = xml.replace('<c r="G3" t="n"><v>6</v></c>',
                      '<c r="G3" t="n"><v>6</v></c><c r="H3" t="str"><f>IF(1,"","x")</f><v></v></c>')
    xml = xml.replace("</sheetData>", '</sheetData><mergeCells count="1"><mergeCell ref="F4:G4"/></mergeCells>')
    members[sheet] = xml.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = load_portfolio(path)
    assert loaded.projects.total_investment.tolist() == [Decimal("2023.68")]
    problems = {(r.id, r.field): r.reason for r in loaded.problems.itertuples()}
    assert "#DIV/0!" in problems[("L1", "grace_months")]
    assert ("L2", "floating_tenor") not in problems  # an empty result is a value, not a missing one
    assert "merged cell F4:G4" in problems[("L3", "grace_months")]


def test_ids_typed_as_numbers_or_with_spaces_are_the_ids_they_show(tmp_path) -> None:
    """Project 7 (a number) and loan's '7' (text) did not match; '8 ' in Parquet was no project."""
    path = _book(tmp_path / "ids.xlsx", {
        "projects": [PROJECT_HEAD, [7, "E1", "public", "pilot", 100, 50, date(2024, 1, 1)],
                     ["7", "E1", "public", "pilot", 100, 50, date(2024, 1, 1)]],
        "loans": [LOAN_HEAD, ["L1", "7", 1000, Decimal("0.04"), 12, date(2024, 2, 1), 0]]})
    problems = load_portfolio(path).problems
    assert problems[["table", "row", "field"]].values.tolist() == [["projects", 3, "project_id"]]  # a duplicate
    folder = tmp_path / "parquet"
    folder.mkdir()
    TABLES["projects"].to_parquet(folder / "projects.parquet")
    TABLES["loans"].assign(project_id=["J1 ", "J2"]).to_parquet(folder / "loans.parquet")
    assert load_portfolio(folder).problems.empty


def test_a_loan_without_a_project_is_found_by_validate(tmp_path) -> None:
    """A blank project_id passed validate and was rejected only when simulate evaluated."""
    for name, frame in dict(TABLES, loans=TABLES["loans"].assign(project_id=["J1", None])).items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    problems = load_portfolio(tmp_path).problems
    assert ["L2", "project_id"] in problems[["id", "field"]].values.tolist()
    assert problems.reason.str.startswith("is missing: a loan's enterprise").any()


def test_two_notes_columns_are_set_aside_and_strict_lists_each_thing_once(tmp_path) -> None:
    """Two 備註 columns refused the whole table; --strict reported a column twice and filed every note
    as a problem of the projects table (then 'every row is rejected')."""
    path = _book(tmp_path / "notes.xlsx", {
        "projects": [PROJECT_HEAD + ["備註", "備註"],
                     ["J1", "E1", "public", "pilot", 100, 50, date(2024, 1, 1), "a", "b"]],
        "說明": [["填表說明"]]})
    loaded = load_portfolio(path)
    assert loaded.problems.empty and len(loaded.projects) == 1
    strict = load_portfolio(path, strict=True).problems
    assert sorted(strict.reason.str.contains("備註")) == [False, True]
    assert strict.field.tolist() == ["(set aside)", "(set aside)"]
    assert strict.position.isna().all() and loaded.rejected_rows() == {}


def test_a_scenario_keeps_what_loading_found(tmp_path) -> None:
    """The scenario re-checked the loaded tables without their files: a CSV row with too many cells
    was accepted again, and other rows were named by the wrong line and reason."""
    from subsidy_engine.simulation.scenario import load_scenario

    path = tmp_path / "projects.csv"
    TABLES["projects"].to_csv(path, index=False)
    path.write_text(path.read_text().rstrip("\n") + ",extra\n")  # the last row: one cell too many
    TABLES["loans"].assign(project_id=["J1", "J1"]).to_csv(tmp_path / "loans.csv", index=False)
    base = load_portfolio(tmp_path)
    assert base.problems[["table", "id"]].values.tolist() == [["projects", "J2"]]
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text("id: grow\ngrowth: {projects_per_year: 3, from_year: 2026, seed: 1}\n")
    grown = load_scenario(scenario_file).portfolio(base, (2026,))
    kept = grown.problems[grown.problems.table == "projects"]
    assert kept[["id", "row", "file"]].values.tolist()[0] == ["J2", 3, str(path)]
    assert len(grown.projects) == 5


def _python_tables(**changes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """TABLES with every loan on project J1 and a known venue (so that only what a test changes is a problem)."""
    return {**TABLES, "loans": TABLES["loans"].assign(project_id=["J1", "J1"]),
            "events": TABLES["events"].assign(venue=["a_share_ipo"] * 2), **changes}


@pytest.mark.parametrize(("second", "reason"), [
    ("L1 ", "is a duplicate of an earlier row's loan_id"),
    ("\u3000L1", "is a duplicate of an earlier row's loan_id"),
    ("L1\x00", "contains a control character (U+0000)"),
    ("L1\u200b", "contains a control character (U+200B)"),
])
def test_a_loan_id_is_compared_as_normalised_and_a_control_character_is_refused(second: str, reason: str) -> None:
    """Issue 16, row 4: ids 'L1' and 'L1\\x00', or 'L1' and 'L1 ', passed the duplicate check: the same loan
    counted twice."""
    from subsidy_engine.pipeline.inputs import check_tables

    loans = _python_tables()["loans"].assign(loan_id=["L1", second])
    problems = check_tables(_python_tables(loans=loans))
    assert problems[["table", "row", "field", "reason"]].values.tolist() == [["loans", 3, "loan_id", reason]]


def test_project_ids_are_normalised_before_they_are_compared() -> None:
    """Issue 16, row 4: 'Café' typed composed and decomposed were two projects; a loan's 'J1 ' no project."""
    from subsidy_engine.pipeline.inputs import check_tables

    projects = TABLES["projects"].assign(project_id=["Caf\u00e9", "Cafe\u0301"])
    problems = check_tables(_python_tables(projects=projects, loans=TABLES["loans"].assign(
        project_id=["Caf\u00e9", "Cafe\u0301"])))
    duplicate = problems[problems.table == "projects"]
    assert duplicate[["row", "field"]].values.tolist() == [[3, "project_id"]]
    assert "duplicate" in duplicate.reason.iloc[0]
    spaced = check_tables(_python_tables(loans=TABLES["loans"].assign(project_id=[" J1", "J1\u3000"])))
    assert spaced.empty, spaced.to_dict("records")


def test_a_control_character_in_a_project_id_is_one_problem_naming_row_and_field() -> None:
    """Issue 16, row 4: a loan's project 'J1\\x00' (and a project 'J2\\t') are refused with one problem each."""
    from subsidy_engine.pipeline.inputs import check_tables

    projects = TABLES["projects"].assign(project_id=["J1", "J2\t"])
    loans = _python_tables()["loans"].assign(project_id=["J1", "J1\x00"])
    problems = check_tables(_python_tables(projects=projects, loans=loans))
    assert problems[["table", "row", "field", "reason"]].values.tolist() == [
        ["projects", 3, "project_id", "contains a control character (U+0009)"],
        ["loans", 3, "project_id", "contains a control character (U+0000)"]]


def test_a_parquet_portfolio_with_look_alike_ids_counts_each_loan_once(tmp_path) -> None:
    """Issue 16, row 4: in Parquet, 'L1' and 'L1\\x00' were two loans of 100,000,000: counted twice."""
    loans = TABLES["loans"].assign(loan_id=["L1", "L1\x00"], project_id=["J1", "J1"],
                                   principal=["100000000", "100000000"])
    for name, frame in _python_tables(loans=loans).items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    portfolio = load_portfolio(tmp_path)
    assert portfolio.problems[["table", "row", "field", "reason"]].values.tolist() == [
        ["loans", 2, "loan_id", "contains a control character (U+0000)"]]
    assert portfolio.problems.id.tolist() == ["L1\x00"]  # the id as given, beside the reason
    claims = evaluate(portfolio, years=range(2024, 2030))
    assert set(claims.table[claims.table.instrument == "interest_subsidy"].item_id) == {"L1"}
    composed = TABLES["projects"].assign(project_id=["Cafe\u0301", "J2"])
    for name, frame in _python_tables(projects=composed, loans=TABLES["loans"].assign(project_id=["Caf\u00e9", "J2"]),
                                      insurance=TABLES["insurance"].assign(project_id=["Caf\u00e9"])).items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    portfolio = load_portfolio(tmp_path)
    assert portfolio.problems.empty, portfolio.problems.to_dict("records")
    assert portfolio.projects.project_id.iloc[0] == "Caf\u00e9"  # one spelling downstream (NFC)


def test_tables_made_in_python_hold_the_ids_check_tables_compared() -> None:
    """Issue 16, row 4: check_tables reads a loan's project ' J1' as J1; evaluate must too (it stopped
    with 'a loan names no project of the portfolio')."""
    from subsidy_engine.pipeline.inputs import PortfolioTables, check_tables

    frames = _python_tables(loans=TABLES["loans"].assign(project_id=[" J1", "J1\u3000"]),
                            projects=TABLES["projects"].assign(project_id=["J1", "Cafe\u0301"]))
    tables = PortfolioTables(**frames, problems=check_tables(frames), source="python", digest="python")
    assert tables.problems.empty
    assert tables.loans.project_id.tolist() == ["J1", "J1"] and tables.projects.project_id.iloc[1] == "Caf\u00e9"
    claims = evaluate(tables, years=range(2024, 2030))
    assert claims.rejections.empty and set(claims.table.item_id) >= {"L1", "L2"}


@given(st.lists(st.one_of(st.none(), st.text(st.sampled_from(
    ["a", "L", "1", " ", "\u3000", "\u00a0", "e", "\u0301", "\u00e9", "\x00", "\t", "\u200b", "\u202e", "項", "\U00013439"]),
    max_size=6), st.text(max_size=6)), max_size=8))
def test_ids_are_read_by_normalise_id_whatever_the_fast_path(cells: list[str | None]) -> None:
    """Issue 16, row 4: the Arrow pre-filter only spares normalise_id the ids it would leave unchanged."""
    from subsidy_engine.core.ids import normalise_id
    from subsidy_engine.pipeline.inputs import _id_text

    got, refused = _id_text(pd.Series(cells, dtype=object))
    for k, cell in enumerate(cells):
        if cell is None:
            assert pd.isna(got.iloc[k])
            continue
        try:
            expected = normalise_id(cell)
        except ValueError as exc:
            if str(exc) == "is blank":
                assert pd.isna(got.iloc[k]) and k not in refused
            else:
                assert refused[k] == str(exc)
            continue
        assert got.iloc[k] == expected and k not in refused


# Regressions from the first review (each a real failure before its fix)
def test_each_table_reports_rejections_under_its_own_id() -> None:
    from subsidy_engine import event_grants, premium_subsidy

    events = pd.DataFrame({"event_id": ["V1"], "kind": ["ipo"], "enterprise_id": ["E"], "date": ["2024-01-01"]})
    assert list(event_grants(events, load_policy()).rejections.columns) == ["row", "event_id", "field", "reason"]
    insurance = pd.DataFrame({"policy_id": ["P1"], "enterprise_id": ["E"], "product_field": ["ai"],
                              "insured_amount": ["1"], "premium": ["1"], "start_date": ["2024-01-01"],
                              "years": ["0"]})
    report = premium_subsidy(insurance, load_policy()).rejections
    assert report[["policy_id", "field"]].values.tolist() == [["P1", "years"]]


def test_the_id_rule_is_judged_alike_on_plain_ascii_and_on_other_text() -> None:
    """Issue 20: a column of printable ASCII ids is judged without Arrow's Unicode tables (8x faster at a
    million rows); it must say what the general judgement says: spaces around and a blank change an id."""
    import pyarrow as pa

    from subsidy_engine.core.ids import normalise_id
    from subsidy_engine.pipeline.inputs import _unchanged_ids

    plain = ["P1", " P1", "P1 ", "", None, "a b", "7"]
    assert _unchanged_ids(pa.array(plain, pa.string())).tolist() == [True, False, False, False, True, True, True]
    mixed = [*plain, "é", "P\u200b1", "Ｐ1"]  # one non-ASCII cell: the general judgement, for every cell
    judged = _unchanged_ids(pa.array(mixed, pa.string())).tolist()
    assert judged[: len(plain)] == [True, False, False, False, True, True, True]
    for text, unchanged in zip(mixed, judged):
        if unchanged and text:  # what the Arrow judgement lets through, the id rule leaves as it is
            assert normalise_id(text) == text, text


CELLS = st.lists(st.one_of(st.none(), st.lists(st.sampled_from(
    ["P", "1", " ", "\t", "\n", "\x01", "\x7f", "\u3000", "\u00a0", "\u200b", "é", "e\u0301", "Ｐ", "项"]),
    max_size=5).map("".join)), max_size=25)


@settings(max_examples=examples(300), deadline=None)
@given(cells=CELLS)
def test_ids_judged_from_their_bytes_are_judged_as_by_unicode(cells) -> None:
    """The byte-wise judgement of printable ASCII cells says, for every cell, what Arrow's Unicode judgement
    of the whole column says: no control or format character, NFC, no space around, not empty (null: yes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from subsidy_engine.pipeline.inputs import _unchanged_ids

    text = pa.array(cells, pa.string())
    clean = pc.invert(pc.match_substring_regex(text, r"[\p{Cc}\p{Cf}]"))
    same = pc.and_(pc.equal(pc.utf8_normalize(text, form="NFC"), text), pc.equal(pc.utf8_trim_whitespace(text), text))
    expected = pc.and_(pc.and_(clean, same), pc.not_equal(text, "")).fill_null(True).to_pylist()
    assert _unchanged_ids(text).tolist() == expected


def test_the_project_that_describes_a_claim_without_one_is_its_enterprise_s_smallest_id() -> None:
    """Issue 20: only the projects of the enterprises asked about are sorted now; the answer is the one of the
    definition, checked against a plain loop on generated tables (an enterprise with no project: -1)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from subsidy_engine.pipeline.steps import describing_project_rows

    rng = np.random.default_rng(20)
    for n in (0, 1, 50, 2_000):
        projects = pd.DataFrame({"project_id": [f"P{k}" for k in rng.permutation(n)],
                                 "enterprise_id": [f"E{k}" for k in rng.integers(0, max(n // 3, 1), n)]})
        asked = pa.array([f"E{k}" for k in rng.integers(0, max(n // 3, 1) + 5, 40)] + [None], pa.string())
        found = describing_project_rows(projects, asked)
        for enterprise, row in zip(asked.to_pylist(), found.tolist()):
            mine = projects[projects.enterprise_id == enterprise]
            # Python compares text by code point, as the engine's order does
            expected = -1 if mine.empty else int(mine.index[mine.project_id == min(mine.project_id)][0])
            assert row == expected, (n, enterprise, row, expected)


def test_rows_naming_no_project_are_found_in_each_table_at_once() -> None:
    """Issue 20: the project ids of loans, insurance and events are looked up in one pass; each table's rows
    that name no project are still its own (row for row, not shifted into another table's)."""
    import pandas as pd

    from subsidy_engine.pipeline.inputs import check_tables

    projects = pd.DataFrame([{"project_id": p, "enterprise_id": "E1", "domain": "economic", "stage": "pilot",
                              "total_investment": "1e8", "eligible_investment": "1e8", "start_date": "2024-01-01"}
                             for p in ("P1", "P2")])
    loans = pd.DataFrame([{"loan_id": f"L{k}", "project_id": p, "principal": "1000000", "annual_rate": "0.0385",
                           "term_months": "36", "start_date": "2024-03-01"} for k, p in enumerate(["P1", "X", "P2"])])
    insurance = pd.DataFrame([{"policy_id": f"I{k}", "project_id": p, "enterprise_id": "E1",
                               "product_field": "computing_centre", "premium": "1000", "insured_amount": "100000",
                               "start_date": "2024-03-01",
                               "years": "1"} for k, p in enumerate(["Y", "P2", "Z", "P1"])])
    problems = check_tables({"projects": projects, "loans": loans, "insurance": insurance})
    stray = problems[problems.reason == "is not a project of the projects table"]
    assert sorted(zip(stray.table, stray.id)) == [("insurance", "I0"), ("insurance", "I2"), ("loans", "L1")], \
        problems[["table", "id", "field", "reason"]]


def test_a_parquet_table_of_no_rows_is_an_empty_table(tmp_path) -> None:  # noqa: ANN001
    """A zero-row events.parquet (its text columns have no chunk) loads as an empty table, not an error."""
    import pyarrow.parquet as pq

    tables = people_portfolio()
    folder = tmp_path / "portfolio"
    folder.mkdir()
    for name, frame in tables.items():
        rows = frame.iloc[:0] if name == "events" else frame
        pq.write_table(pa.Table.from_pydict({c: pa.array(rows[c].tolist(), pa.string()) for c in rows.columns}),
                       folder / f"{name}.parquet")
    loaded = load_portfolio(folder)
    assert len(loaded.events) == 0 and len(loaded.projects) == len(tables["projects"])
    assert loaded.problems.empty

"""The portfolio template (issue 19, point 3): four input sheets with bilingual headers, each column described, a
drop-down for every list column whose values the readers all accept, two example rows; it validates and simulates
as written, and a filled-in copy is never overwritten by accident."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from subsidy_engine import load_portfolio
from subsidy_engine.core.language import name
from subsidy_engine.pipeline.inputs import REQUIRED
from subsidy_engine.reports.template import CHOICES, COLUMNS, EXAMPLES, FIRST_DATA_ROW, OPEN_CHOICES, write_template
from subsidy_engine.service.cli import main


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_template(tmp_path_factory.mktemp("t") / "portfolio.xlsx")


def test_each_sheet_names_describes_and_heads_its_columns(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    assert book.sheetnames == ["填写说明", "projects", "loans", "insurance", "events", "awards", "government_investment"]
    assert "subsidy-engine validate" in book["填写说明"]["A3"].value
    for table, columns in COLUMNS.items():
        sheet = book[table]
        assert [c.value for c in sheet[3]] == list(columns)  # the header the engine reads
        for k, column in enumerate(columns, start=1):
            names = sheet.cell(1, k).value.split("\n")
            assert names == [name("input_columns", f"{table}.{column}", "zh"),
                             name("input_columns", f"{table}.{column}", "en")]
            assert sheet.cell(1, k).font.b
            described = sheet.cell(2, k).value
            assert described == name("input_notes", f"{table}.{column}", "zh")
            assert described.startswith("必填") == (column in REQUIRED[table]), (table, column)
        assert sheet.freeze_panes == f"B{FIRST_DATA_ROW}"
        assert sheet.max_row == FIRST_DATA_ROW + 1  # two example rows
    loans = book["loans"]
    principal = list(COLUMNS["loans"]).index("principal") + 1
    rate = list(COLUMNS["loans"]).index("annual_rate") + 1
    assert loans.cell(4, principal).number_format == "#,##0.00" and loans.cell(4, rate).number_format == "0.00%"


def test_every_list_column_has_a_drop_down_of_its_values(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    listed: dict[str, tuple[str, bool]] = {}
    for table, columns in COLUMNS.items():
        sheet = book[table]
        for rule in sheet.data_validations.dataValidation:
            assert rule.type == "list"
            for cells in rule.sqref.ranges:
                column = columns[cells.min_col - 1]
                assert cells.min_row == FIRST_DATA_ROW and cells.max_row >= 1000
                listed[f"{table}.{column}"] = (rule.formula1, bool(rule.showErrorMessage))
    assert set(listed) == set(CHOICES)
    for key, (formula, strict) in listed.items():
        assert formula == '"' + ",".join(CHOICES[key]) + '"' and len(formula) <= 257
        assert strict == (key not in OPEN_CHOICES)


def test_the_template_validates_and_simulates_as_written(template: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    tables = load_portfolio(template)
    assert len(tables.problems) == 0
    assert {t: len(getattr(tables, t)) for t in COLUMNS} == {t: 2 for t in COLUMNS}
    assert all("set aside" in note for note in tables.notes)  # the guide and the rows above each header
    assert main(["validate", str(template), "--lang", "en"]) == 0
    assert "no problems found" in capsys.readouterr().out
    assert main(["simulate", "--portfolio", str(template), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    book = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx", read_only=True)
    header, *detail = book["项目明细"].iter_rows(values_only=True)
    assert {r[1] for r in detail if r[0]} == {EXAMPLES["projects"][0]["name"], EXAMPLES["projects"][1]["name"]}
    awarded = header.index("安排金额（元）")
    assert sum(r[awarded] for r in detail) > 0  # something was awarded: the examples claim measures 7, 14 and 15
    case = header.index("应用示范案例")  # the first example is a published demonstration case, the second not
    assert {(r[1], r[case]) for r in detail if r[0]} == {(EXAMPLES["projects"][0]["name"], "是"),
                                                         (EXAMPLES["projects"][1]["name"], "否")}


def test_every_value_a_drop_down_offers_is_read_by_the_engine(template: Path, tmp_path: Path) -> None:
    """The lists come from the engine's vocabularies; this checks the readers accept each word as written."""
    book = openpyxl.load_workbook(template)
    tried = 0
    for table, columns in COLUMNS.items():
        sheet = book[table]
        row = FIRST_DATA_ROW + 2
        for key, values in CHOICES.items():
            if not key.startswith(f"{table}."):
                continue
            column = columns.index(key.split(".", 1)[1]) + 1
            for value in values:
                for k, cell in enumerate(sheet[FIRST_DATA_ROW], start=1):  # a copy of the first example
                    sheet.cell(row, k, cell.value)
                sheet.cell(row, 1, f"X{row}")  # its own id
                sheet.cell(row, column, value)
                row += 1
                tried += 1
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    tables = load_portfolio(filled)
    refused = tables.problems[tables.problems.reason.str.contains("is not one of|not a yes/no|must be one of",
                                                                   regex=True)]
    assert refused.empty, refused.to_string()
    assert tried == sum(len(v) for v in CHOICES.values())


def test_a_file_that_exists_is_kept_unless_forced_and_the_name_must_be_xlsx(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    filled = tmp_path / "mine.xlsx"
    filled.write_bytes(b"a filled-in portfolio")
    assert main(["template", str(filled)]) == 2
    assert "already exists" in capsys.readouterr().err and filled.read_bytes() == b"a filled-in portfolio"
    assert main(["template", str(filled), "--force", "--lang", "en"]) == 0
    assert "wrote the template" in capsys.readouterr().out
    book = openpyxl.load_workbook(filled)
    assert book.sheetnames[0] == "how to fill in" and book["projects"]["A2"].value == "required; text, unique"
    assert main(["template", str(tmp_path / "mine.csv")]) == 2
    assert "a name ending in .xlsx" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*partial*"))  # no temporary file left behind


def test_a_filled_template_may_say_yes_no_and_name_districts_and_sectors_in_chinese(template: Path,
                                                                                   tmp_path: Path) -> None:
    """Review of issue 19: 是/否 in a flag column was rejected ("is not true or false") although the template
    says 是/否; and 海淀区 typed for haidian was taken as an unknown district, so the district's matching money
    silently went elsewhere. A Chinese name of the vocabulary (or its Traditional form, or without 区) reads as
    its id."""
    book = openpyxl.load_workbook(template)
    sheet = book["projects"]
    columns = list(COLUMNS["projects"])
    edits = {"in_library": "是", "industry_or_software": "否", "free_service_obligation": "否",
             "district": "海淀区", "sector": "算力中心"}
    for column, value in edits.items():
        sheet.cell(FIRST_DATA_ROW, columns.index(column) + 1, value)
    sheet.cell(FIRST_DATA_ROW + 1, columns.index("district") + 1, "通州")  # without 区
    sheet.cell(FIRST_DATA_ROW + 1, columns.index("sector") + 1, "智慧城市")
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    tables = load_portfolio(filled)
    assert len(tables.problems) == 0, tables.problems.to_string()
    projects = tables.projects
    assert list(projects.district) == ["haidian", "tongzhou"] and list(projects.sector) == ["computing_centre",
                                                                                         "smart_city"]
    assert list(projects.in_library) == [True, False] and list(projects.industry_or_software) == [False, False]


def test_a_row_with_a_required_cell_left_blank_is_reported_in_chinese(template: Path, tmp_path: Path,
                                                                      capsys) -> None:  # noqa: ANN001
    book = openpyxl.load_workbook(template)
    sheet = book["loans"]
    sheet.cell(FIRST_DATA_ROW, list(COLUMNS["loans"]).index("term_months") + 1).value = None  # (a None value
    # passed to cell() leaves the cell as it was)
    filled = tmp_path / "blank.xlsx"
    book.save(filled)
    assert main(["validate", str(filled)]) == 1
    out = capsys.readouterr().out
    assert "term_months" in out and "缺失" in out and "原因" in out
    assert main(["validate", str(filled), "--lang", "en"]) == 1
    assert "is missing" in capsys.readouterr().out


def test_a_single_title_row_is_said_as_one_row_in_chinese(template: Path, tmp_path: Path) -> None:
    """Second review of issue 19: one title row read "第1-1行"."""
    from subsidy_engine.core.language import in_language

    book = openpyxl.load_workbook(template)
    for table in COLUMNS:
        book[table].delete_rows(1)  # keep the descriptions' row as the one title row
    book.save(tmp_path / "one.xlsx")
    notes = [in_language(n, "zh") for n in load_portfolio(tmp_path / "one.xlsx").notes]
    assert any("表头（第2行）以上的第1行已略过" in n for n in notes), notes
    assert not any("第1-1行" in n for n in notes)


def test_a_word_that_is_not_one_of_a_column_s_values_is_reported_in_chinese(template: Path, tmp_path: Path,
                                                                          capsys) -> None:  # noqa: ANN001
    """A pasted 等额本息 in loans.method, or 上市 in events.kind, is rejected with its allowed values, in the
    summary's language."""
    book = openpyxl.load_workbook(template)
    book["loans"].cell(FIRST_DATA_ROW, list(COLUMNS["loans"]).index("method") + 1).value = "等额本息"
    book["events"].cell(FIRST_DATA_ROW, list(COLUMNS["events"]).index("kind") + 1).value = "上市"
    book.save(tmp_path / "pasted.xlsx")
    assert main(["validate", str(tmp_path / "pasted.xlsx")]) == 1
    out = capsys.readouterr().out
    assert "“等额本息”不是可选值之一：'equal_installment'" in out and "不是可选值之一：'reits_issuance'" in out
    assert main(["validate", str(tmp_path / "pasted.xlsx"), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "'等额本息' is not one of 'equal_installment'" in out and "is not one of 'reits_issuance'" in out

"""Limits on every input, checked before the cost is paid (issue 16, row 8 and build point 2).

The tester's bombs: an 11.9 KB workbook with one cell at row 1,048,576 (``validate`` still
running after 300 s at 6.2 GB), and a 310 KB workbook holding one 300 MB string (1.39 GB
peak, accepted). Each hostile file here is generated from a real workbook by rewriting one
of its parts.
"""

from __future__ import annotations

import os
import random
import re
import string
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from subsidy_engine.errors import PortfolioSchemaError
from subsidy_engine.io.cells import DEFAULT_LIMITS, Limits, read_csv_table, read_parquet_table
from subsidy_engine.pipeline.inputs import load_portfolio
from subsidy_engine.service.cli import main

from workbooks import people_portfolio, write_workbook

PROJECTS_SHEET = "xl/worksheets/sheet1.xml"


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "portfolio.xlsx"
    write_workbook(path, people_portfolio(5))
    return path


def rewritten(source: Path, target: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """``source`` with each part passed through ``change`` (compressed as hard as zip can)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as new:
        for part in old.infolist():
            new.writestr(part.filename, change(part.filename, old.read(part.filename)))
    return target


def with_cell(reference: str, text: str, *, dimension: str | None = None) -> Callable[[str, bytes], bytes]:
    """A change adding one inline-text cell to the projects sheet (and, optionally, a lying ``<dimension>``)."""
    row = re.match(r"[A-Z]+([0-9]+)", reference).group(1)  # type: ignore[union-attr]

    def change(name: str, data: bytes) -> bytes:
        if name != PROJECTS_SHEET:
            return data
        if dimension is not None:
            data = re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{dimension}"/>'.encode(), data)
        cell = f'<row r="{row}"><c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c></row>'
        return data.replace(b"</sheetData>", cell.encode() + b"</sheetData>")
    return change


def peak_rss_mb(*args: str) -> tuple[int, float]:
    """Run ``subsidy-engine args`` in a child; its exit code and peak resident memory in MB."""
    probe = ("import resource, subprocess, sys; "
             "code = subprocess.run([sys.executable, '-m', 'subsidy_engine.service.cli', *sys.argv[1:]], "
             "capture_output=True).returncode; "
             "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True,
                         timeout=120).stdout.split()
    return int(out[0]), int(out[1]) / 1024


def test_a_value_at_the_last_row_of_a_sheet_is_refused_before_it_is_laid_out(workbook: Path, tmp_path: Path) -> None:
    """Row 8: one cell at row 1,048,576, the <dimension> left claiming the small table (it may say anything)."""
    far = rewritten(workbook, tmp_path / "far.xlsx", with_cell("A1048576", "x"))
    assert far.stat().st_size < 20_000
    with pytest.raises(PortfolioSchemaError, match=r"sheet 'projects': a value at row 1,048,576 lies far below"):
        load_portfolio(far)
    code, peak = peak_rss_mb("validate", str(far))
    assert code == 2
    assert peak < 500, f"{peak:.0f} MB to refuse a {far.stat().st_size:,}-byte file"


def test_a_value_at_the_far_corner_is_refused_whatever_the_dimension_says(workbook: Path, tmp_path: Path) -> None:
    """The last cell a sheet can have (XFD1048576: 17 billion cells to lay out), dimension claiming A1:A1."""
    corner = rewritten(workbook, tmp_path / "corner.xlsx", with_cell("XFD1048576", "x", dimension="A1:A1"))
    with pytest.raises(PortfolioSchemaError, match=r"reach row 1,048,576 and column XFD .* \(limit sheet_cells\)"):
        load_portfolio(corner)


def test_a_workbook_that_inflates_a_thousand_times_is_refused_before_it_is_inflated(workbook: Path,
                                                                                   tmp_path: Path) -> None:
    """Row 8: a few hundred KB holding a 300 MB string (here 60 MB, the same ratio)."""
    bomb = rewritten(workbook, tmp_path / "bomb.xlsx", with_cell("B900", "A" * 60_000_000))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(PortfolioSchemaError, match=r"part xl/worksheets/sheet1.xml inflates [0-9,]+ times .*"
                                                   r"\(limit inflate_ratio\)"):
        load_portfolio(bomb)
    code, peak = peak_rss_mb("validate", str(bomb))
    assert code == 2
    assert peak < 500


def test_a_cell_longer_than_excel_holds_is_a_problem_of_its_row_and_the_rest_is_read(workbook: Path,
                                                                                    tmp_path: Path) -> None:
    """40,000 random characters (they do not compress, so the file looks real): the row is rejected."""
    noise = "".join(random.Random(16).choices(string.ascii_letters, k=40_000))
    tables = load_portfolio(rewritten(workbook, tmp_path / "long.xlsx", with_cell("B7", noise)))
    long = tables.problems[tables.problems.reason.str.contains("characters")]
    assert long[["table", "row", "field"]].values.tolist() == [["projects", 7, "enterprise_id"]]
    assert "holds 40,000 characters, more than the 32,767 of a cell (limit cell_chars)" in long.reason.iloc[0]
    assert noise not in " ".join(tables.problems.reason)  # never quoted back
    assert len(tables.projects) == 6  # the five projects and the row with the long cell


def write_csv(path: Path, rows: int, columns: int = 3, cell: str = "x") -> Path:
    header = ",".join(["project_id", *(f"c{k}" for k in range(1, columns))])
    path.write_text(header + "\n" + "".join(f"P{r}," + ",".join([cell] * (columns - 1)) + "\n"
                                            for r in range(rows)), encoding="utf-8")
    return path


def test_csv_rows_columns_cells_and_size_are_bounded(tmp_path: Path) -> None:
    small = Limits(max_rows=10, max_columns=4, max_cell_chars=50, max_file_bytes=10_000)
    assert len(read_csv_table(write_csv(tmp_path / "ok.csv", 10, 4), limits=small).frame) == 10
    with pytest.raises(PortfolioSchemaError, match=r"rows.csv: more than 10 rows \(limit rows\)"):
        read_csv_table(write_csv(tmp_path / "rows.csv", 11), limits=small)
    with pytest.raises(PortfolioSchemaError, match=r"wide.csv: 5 columns, more than 4 \(limit columns\)"):
        read_csv_table(write_csv(tmp_path / "wide.csv", 1, 5), limits=small)
    with pytest.raises(PortfolioSchemaError, match=r"cell.csv: line 2: a cell longer than 50 characters"):
        read_csv_table(write_csv(tmp_path / "cell.csv", 1, 2, "y" * 51), limits=small)
    with pytest.raises(PortfolioSchemaError, match=r"big.csv: [0-9,]+ bytes, more than the 10,000 read"):
        read_csv_table(write_csv(tmp_path / "big.csv", 2_000), limits=small)
    import csv

    assert csv.field_size_limit() == 131_072  # the process-wide limit is put back


def test_parquet_rows_are_counted_from_its_footer_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "projects.parquet"
    pd.DataFrame({"project_id": [f"P{k}" for k in range(20)]}).to_parquet(path)
    assert len(read_parquet_table(path).frame) == 20
    with pytest.raises(PortfolioSchemaError, match=r"more than 19 rows \(limit rows\)"):
        read_parquet_table(path, limits=Limits(max_rows=19))


def test_limits_are_raised_on_the_command_line_and_a_bad_one_is_named(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "portfolio"
    folder.mkdir()
    write_csv(folder / "projects.csv", 3)
    assert main(["validate", str(folder), "--limit", "rows=2", "--lang", "en"]) == 2
    assert "projects.csv: more than 2 rows (limit rows)" in capsys.readouterr().err
    assert main(["validate", str(folder), "--limit", "rowz=2", "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "--limit rowz=2: unknown limit; one of file_bytes, rows, columns" in err
    assert "Traceback" not in err
    assert main(["validate", str(folder), "--limit", "rows=3", "--lang", "en"]) == 1  # read; its rows have problems


def test_no_limit_is_below_what_a_real_workbook_needs(tmp_path: Path) -> None:
    """A full-width people's workbook of 400 projects reads with the defaults, nothing refused."""
    path = tmp_path / "people.xlsx"
    write_workbook(path, people_portfolio(400))
    tables = load_portfolio(path)
    assert len(tables.projects) == 400
    assert not tables.problems.reason.str.contains("limit").any()
    assert os.path.getsize(path) < DEFAULT_LIMITS.max_file_bytes


# --- crafted workbooks (a review's attacks): a limit no spelling of the XML can get around ---------------------
_TYPES = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
          'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
          'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.spreadsheetml.worksheet+xml"/></Types>')
_ROOT_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
              '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
              '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HEADER = '<c r="A1" t="inlineStr"><is><t>project_id</t></is></c>'


def crafted(path: Path, rows: str, *, name: str = "projects", relation: str = 'r:id="rId1"',
            relation_ns: str = f'xmlns:r="{_REL_NS}"', target: str = "worksheets/sheet1.xml", prefix: str = "",
            shared: str | None = None) -> Path:
    """A one-sheet workbook written by hand, each part as given."""
    p = f"{prefix}:" if prefix else ""
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><{p}worksheet xmlns{":" + prefix if prefix else ""}="{_NS}">'
             f"<{p}sheetData>{rows}</{p}sheetData></{p}worksheet>")
    book = (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" {relation_ns}><sheets>'
            f'<sheet name="{name}" sheetId="1" {relation}/></sheets></workbook>')
    rels = (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/relationships"><Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="{target}"/>'
            "</Relationships>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", book)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared is not None:
            z.writestr("xl/sharedStrings.xml", shared)
    return path


FAR = 1_048_576
FAR_CELL = f'<c r="AD{FAR}"><v>1</v></c>'
#: spellings of "a value at AD1048576" that an r="..."-only reader does not see
FAR_SPELLINGS = {
    "rows_without_r": dict(rows=f"<row>{HEADER}</row><row>{FAR_CELL}</row>"),
    "single_quotes": dict(rows=f"<row r='1'>{HEADER}</row><row r='{FAR}'><c r='AD{FAR}'><v>1</v></c></row>"),
    "spaces_around_equals": dict(rows=f'<row r = "1">{HEADER}</row><row r = "{FAR}"><c r = "AD{FAR}"><v>1</v></c>'
                                      "</row>"),
    "namespace_prefix": dict(rows=f'<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>project_id</x:t></x:is></x:c>'
                                  f'</x:row><x:row r="{FAR}"><x:c r="AD{FAR}"><x:v>1</x:v></x:c></x:row>', prefix="x"),
    "rows_out_of_order": dict(rows=f'<row r="{FAR}">{FAR_CELL}</row><row r="1">{HEADER}</row>'),
    "lower_case_column": dict(rows=f'<row r="1">{HEADER}</row><row r="{FAR}"><c r="ad{FAR}"><v>1</v></c></row>'),
    "relation_prefix": dict(rows=f'<row r="1">{HEADER}</row><row r="{FAR}">{FAR_CELL}</row>',
                            relation='rel:id="rId1"', relation_ns=f'xmlns:rel="{_REL_NS}"'),
    "character_reference_in_name": dict(rows=f'<row r="1">{HEADER}</row><row r="{FAR}">{FAR_CELL}</row>',
                                        name="&#112;rojects"),
    "dotted_target": dict(rows=f'<row r="1">{HEADER}</row><row r="{FAR}">{FAR_CELL}</row>',
                          target="/xl/worksheets/../worksheets/sheet1.xml"),
    "far_corner_single_quotes": dict(rows=f"<row r='1'>{HEADER}</row><row r='{FAR}'><c r='XFD{FAR}'><v>1</v></c>"
                                          "</row>"),
}


@pytest.mark.parametrize("spelling", sorted(FAR_SPELLINGS))
def test_a_far_value_is_refused_however_the_xml_spells_it(spelling: str, tmp_path: Path) -> None:
    """Each spelling made python-calamine lay out 1.28 GB (the far corner: abort on a 512 GB allocation)."""
    path = crafted(tmp_path / f"{spelling}.xlsx", **FAR_SPELLINGS[spelling])  # type: ignore[arg-type]
    with pytest.raises(PortfolioSchemaError, match=r"(lies far below|limit sheet_cells)"):
        load_portfolio(path)
    code, peak = peak_rss_mb("validate", str(path))
    assert code == 2 and peak < 500, (code, peak)


def test_cells_that_are_never_closed_cost_one_look_each(tmp_path: Path) -> None:
    """100,000 unclosed <c> tags in a few KB: the formula scan was quadratic (20,000 took 30 s); the hang guard
    of the child process is generous, the point is that it ends and says the file is not a workbook."""
    rows = f'<row r="1">{HEADER}</row><row r="2">' + '<c r="B2"><f>1+1</f>' * 100_000 + "</row>"
    path = crafted(tmp_path / "unclosed.xlsx", rows)
    code = subprocess.run([sys.executable, "-m", "subsidy_engine.service.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert code.returncode == 2 and "Traceback" not in code.stderr, code.stderr


def test_a_damaged_sheet_is_one_line_naming_the_file(workbook: Path, tmp_path: Path) -> None:
    """Bytes flipped inside the sheet's compressed stream gave a zlib traceback and exit 1."""
    data = bytearray(workbook.read_bytes())
    with zipfile.ZipFile(workbook) as z:
        part = z.getinfo(PROJECTS_SHEET)
    start = part.header_offset + 30 + len(part.filename.encode()) + len(part.extra)
    for k in range(start + 40, start + 100):
        data[k] ^= 0x5A
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(bytes(data))
    with pytest.raises(PortfolioSchemaError, match=r"damaged.xlsx: cannot be read as an .xlsx workbook"):
        load_portfolio(damaged)
    assert main(["validate", str(damaged), "--lang", "en"]) == 2


def test_a_cell_of_many_rich_text_runs_is_measured_whole(tmp_path: Path) -> None:
    """Ten runs of 30,000 characters read as one 300,000-character cell with no problem."""
    runs = "".join(f"<r><t>{'x' * 30_000}</t></r>" for _ in range(10))
    rows = (f'<row r="1">{HEADER}<c r="B1" t="inlineStr"><is><t>enterprise_id</t></is></c></row>'
            f'<row r="2"><c r="A2" t="inlineStr"><is><t>P1</t></is></c><c r="B2" t="inlineStr"><is>{runs}</is></c>'
            "</row>")
    tables = load_portfolio(crafted(tmp_path / "rich.xlsx", rows))
    long = tables.problems[tables.problems.reason.str.contains("limit cell_chars")]
    assert long[["row", "field"]].values.tolist() == [[2, "enterprise_id"]]


def test_a_formula_without_a_value_is_seen_whatever_the_quotes(tmp_path: Path) -> None:
    """Row 1 again on a crafted file: <c r='B2'><f>11*2</f></c> read as blank, no problem."""
    rows = (f'<row r="1">{HEADER}<c r="B1" t="inlineStr"><is><t>total_investment</t></is></c></row>'
            "<row r='2'><c r='A2' t='inlineStr'><is><t>P1</t></is></c><c r='B2'><f>11*2</f></c></row>")
    tables = load_portfolio(crafted(tmp_path / "formula.xlsx", rows))
    found = tables.problems[tables.problems.reason.str.contains("formula =11\\*2 with no saved value")]
    assert found[["row", "field"]].values.tolist() == [[2, "total_investment"]]


def test_a_small_parquet_file_that_decodes_to_gigabytes_is_refused_as_it_is_read(tmp_path: Path) -> None:
    """A 318 KB dictionary-encoded file (200k rows x one 5,000-character text) peaked at 3.18 GB; the decoded
    size is counted batch by batch, and a text longer than a cell is a problem of its row."""
    path = tmp_path / "projects.parquet"
    pd.DataFrame({"project_id": [f"P{k}" for k in range(200_000)], "name": ["x" * 5_000] * 200_000}).to_parquet(path)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(PortfolioSchemaError, match=r"decode to more than 100,000,000 bytes \(limit table_bytes\)"):
        read_parquet_table(path, limits=Limits(max_table_bytes=100_000_000))
    table = read_parquet_table(path, limits=Limits(max_cell_chars=4_000, max_table_bytes=100 * 2**30))
    assert len(table.cell_problems) == 200_000 and table.cell_problems[-1].position == 199_999
    assert table.frame["name"].isna().all() and table.frame.project_id.iloc[-1] == "P199999"


def test_a_csv_line_of_millions_of_commas_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """A 30 MB projects.csv whose one data row has 30M commas peaked at 1.08 GB as a 'too wide' row problem."""
    path = tmp_path / "projects.csv"
    path.write_bytes(b"project_id,name\nP1,x\n" + b"P2" + b"," * 3_000_000 + b"\nP3,y\n")
    with pytest.raises(PortfolioSchemaError, match=r"line 3: 3,000,000 commas, more than a row of 500 columns"):
        read_csv_table(path)
    path.write_bytes(b"project_id,name\nP1,x\n" + b"P2" + b",z" * 600 + b"\n")  # 601 cells: parsed, then refused
    with pytest.raises(PortfolioSchemaError, match=r"projects.csv: line 3: 601 columns, more than 500"):
        read_csv_table(path)


def test_a_bank_s_claims_file_is_read_under_the_same_limits(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """reconcile's claims file is an input too: ``--limit`` reaches it as it reaches the portfolio."""
    claims = tmp_path / "claims.csv"
    claims.write_text("loan_id,period,subsidy_claimed\n" + "".join(f"L{k},1,1.00\n" for k in range(5)),
                      encoding="utf-8")
    assert main(["reconcile", str(claims), "--projects", "20", "--out", str(tmp_path / "rec"), "--quiet",
                 "--limit", "rows=4"]) == 2
    assert "claims.csv: more than 4 rows (limit rows)" in capsys.readouterr().err


def test_a_cell_is_measured_in_characters_not_bytes(tmp_path: Path) -> None:
    """40 Chinese characters are 120 bytes: within a 50-character cell; 51 of them are not."""
    path = tmp_path / "projects.parquet"
    pd.DataFrame({"project_id": ["P1", "P2", "P3"], "name": ["新" * 40, "基" * 51, None]}).to_parquet(path)
    table = read_parquet_table(path, limits=Limits(max_cell_chars=50))
    assert [(p.position, p.column) for p in table.cell_problems] == [(1, "name")]
    assert "holds 51 characters" in table.cell_problems[0].reason
    assert table.frame["name"].iloc[0] == "新" * 40 and pd.isna(table.frame["name"].iloc[1])

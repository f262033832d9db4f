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
from workbooks import people_portfolio, write_workbook

from subsidy_engine.batch import PortfolioSchemaError
from subsidy_engine.cells import (
    DEFAULT_LIMITS,
    Limits,
    read_csv_table,
    read_parquet_table,
)
from subsidy_engine.cli import main
from subsidy_engine.tables import load_portfolio

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
             "code = subprocess.run([sys.executable, '-m', 'subsidy_engine.cli', *sys.argv[1:]], "
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


def test_the_defaults_fit_a_national_portfolio() -> None:
    """1.2 million projects, a few million loans, in CSV or Parquet (a sheet holds 1,048,575 rows)."""
    assert DEFAULT_LIMITS.max_rows >= 5_000_000
    assert DEFAULT_LIMITS.max_file_bytes >= 2 * 2**30


def test_limits_are_raised_on_the_command_line_and_a_bad_one_is_named(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "portfolio"
    folder.mkdir()
    write_csv(folder / "projects.csv", 3)
    assert main(["validate", str(folder), "--limit", "rows=2"]) == 2
    assert "projects.csv: more than 2 rows (limit rows)" in capsys.readouterr().err
    assert main(["validate", str(folder), "--limit", "rowz=2"]) == 2
    err = capsys.readouterr().err
    assert "--limit rowz=2: unknown limit; one of file_bytes, rows, columns" in err
    assert "Traceback" not in err
    assert main(["validate", str(folder), "--limit", "rows=3"]) == 1  # read; its rows have problems


def test_no_limit_is_below_what_a_real_workbook_needs(tmp_path: Path) -> None:
    """A full-width people's workbook of 400 projects reads with the defaults, nothing refused."""
    path = tmp_path / "people.xlsx"
    write_workbook(path, people_portfolio(400))
    tables = load_portfolio(path)
    assert len(tables.projects) == 400
    assert not tables.problems.reason.str.contains("limit").any()
    assert os.path.getsize(path) < DEFAULT_LIMITS.max_file_bytes

"""load_portfolio() of a seeded 5,000-project portfolio (issue 15), against the pandas reading it replaced.

The demo portfolio (``subsidy_engine.demo.portfolio(5000, seed=78)``: its
projects, loans, insurance and events) is written twice, the way people make
such files:

* an ``.xlsx`` workbook with TYPED cells (``tests/workbooks.py``: date cells,
  amounts as numbers, rates as percent-formatted fractions, ids as text);
* a folder of CSV files (``projects.csv``...), the same text tables.

``load_portfolio`` reads the workbook with python-calamine and the CSV files
with the csv module (keeping each row's line number), checks every table and
returns exact typed Arrow columns. The baselines, timed in the same run on the
same files, are what loading did before: ``pd.read_excel(path, sheet_name=None,
dtype=str)`` (openpyxl) or ``pd.read_csv(file, dtype=str, keep_default_na=False,
na_values=[""])`` of each table, then ``check_tables`` of those text frames.
The old workbook reading turns every typed date cell into text such as
``'2022-04-30 00:00:00'``, which the checks refuse, so it rejects every row:
the report says so next to its time. For the choice of the workbook reader,
openpyxl in read-only mode reading every cell (``values_only``) and calamine
reading every cell are timed too, without any checking.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from subsidy_engine import load_portfolio
from subsidy_engine.pipeline.inputs import check_tables
from subsidy_engine.simulation.synthetic import portfolio

from portfolios import best_of

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from workbooks import people_portfolio, write_workbook

PROJECTS = 5_000
SEED = 78
NAMES = ("projects", "loans", "insurance", "events")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """The demo portfolio, and the same tables written as a typed workbook and as a CSV folder."""
    demo = portfolio(PROJECTS, seed=SEED)
    text = people_portfolio(PROJECTS, SEED)  # the same demo tables as text: shortest decimals, ISO dates
    assert {n: len(text[n]) for n in NAMES} == {n: len(getattr(demo, n)) for n in NAMES}
    folder = tmp_path_factory.mktemp("load")
    workbook = folder / "portfolio.xlsx"
    write_workbook(workbook, text)
    csv_folder = folder / "csv"
    csv_folder.mkdir()
    for name in NAMES:
        text[name].to_csv(csv_folder / f"{name}.csv", index=False)
    return {"demo": demo, "xlsx": workbook, "csv": csv_folder, "rows": sum(len(text[n]) for n in NAMES)}


def _same_as_demo(loaded, demo) -> None:
    assert loaded.problems.empty and not loaded.notes
    for name in NAMES:
        assert len(getattr(loaded, name)) == len(getattr(demo, name))
    assert loaded.loans.principal.sum() == demo.loans.principal.sum()
    assert loaded.projects.eligible_investment.sum() == demo.projects.eligible_investment.sum()
    assert (loaded.projects.start_date == demo.projects.start_date).all()


def _ratio(baseline: float, seconds: float) -> str:
    ratio = baseline / seconds
    return f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2f}x (slower)"


def test_load_typed_workbook(benchmark, report, files) -> None:
    from openpyxl import load_workbook
    from python_calamine import CalamineWorkbook

    path = files["xlsx"]
    loaded = benchmark.pedantic(load_portfolio, args=(path,), rounds=5, warmup_rounds=1)
    _same_as_demo(loaded, files["demo"])
    seconds = benchmark.stats.stats.min

    def old_read() -> dict[str, pd.DataFrame]:
        return pd.read_excel(path, sheet_name=None, dtype=str, engine="openpyxl")  # the default engine then

    def old_way() -> pd.DataFrame:
        return check_tables(old_read())

    old_problems = old_way()
    old_rejected = len(old_problems.drop_duplicates(["table", "position"]))
    old = best_of(old_way, rounds=2)
    old_read_only = best_of(old_read, rounds=2)

    def openpyxl_cells() -> int:
        book = load_workbook(path, read_only=True)
        cells = 0
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                cells += len(row)
        book.close()
        return cells

    def calamine_cells() -> int:
        book = CalamineWorkbook.from_path(str(path))
        cells = sum(len(row) for name in book.sheet_names
                    for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False))
        book.close()
        return cells

    cells = openpyxl_cells()
    assert calamine_cells() == cells
    openpyxl_seconds = best_of(openpyxl_cells, rounds=2)
    calamine_seconds = best_of(calamine_cells, rounds=3)

    benchmark.extra_info.update(
        rows=files["rows"], cells=cells, old_read_excel_check_s=old, old_read_excel_only_s=old_read_only,
        vs_old_read_excel_check=old / seconds, vs_old_read_excel_only=old_read_only / seconds,
        old_rejected_rows=old_rejected, openpyxl_read_only_cells_s=openpyxl_seconds,
        vs_openpyxl_read_only_cells=openpyxl_seconds / seconds, calamine_cells_s=calamine_seconds)
    report("load_portfolio, 5k projects .xlsx",
           f"{seconds:.2f} s ({files['rows']:,} rows, {cells:,} typed cells; 0 problems); "
           f"old pd.read_excel(dtype=str)+check_tables {old:.2f} s -> {_ratio(old, seconds)} "
           f"(read_excel alone {old_read_only:.2f} s -> {_ratio(old_read_only, seconds)}; it rejects "
           f"{old_rejected:,} of {files['rows']:,} rows: date cells read as "
           f"{old_problems.reason.iloc[0].split(' is ')[0]}); "
           f"cells alone: openpyxl read-only {openpyxl_seconds:.2f} s -> {_ratio(openpyxl_seconds, seconds)}, "
           f"calamine {calamine_seconds:.2f} s")


def test_load_csv_folder(benchmark, report, files) -> None:
    folder = files["csv"]
    loaded = benchmark.pedantic(load_portfolio, args=(folder,), rounds=7, warmup_rounds=1)
    _same_as_demo(loaded, files["demo"])
    seconds = benchmark.stats.stats.min

    def old_read() -> dict[str, pd.DataFrame]:
        return {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
                for name in NAMES}

    def old_way() -> pd.DataFrame:
        return check_tables(old_read())

    assert old_way().empty
    old = best_of(old_way, rounds=5)
    old_read_only = best_of(old_read, rounds=5)

    benchmark.extra_info.update(rows=files["rows"], old_read_csv_check_s=old, old_read_csv_only_s=old_read_only,
                                vs_old_read_csv_check=old / seconds, vs_old_read_csv_only=old_read_only / seconds)
    report("load_portfolio, 5k projects CSV",
           f"{seconds:.2f} s ({files['rows']:,} rows, line numbers kept, typed columns; 0 problems); "
           f"old pd.read_csv(dtype=str)+check_tables {old:.2f} s -> {_ratio(old, seconds)} "
           f"(read_csv alone {old_read_only:.3f} s)")

"""Unreadable files fail cleanly in every command (issue 16, row 6 and build point 5).

The tester's findings: ``validate`` and ``explain --portfolio`` on a GBK or UTF-16 CSV, a 0-byte
CSV, an unterminated quote, a corrupt xlsx or Parquet, a Parquet id column of binary type gave raw
tracebacks and exit 1 (the code of "problems found"); ``simulate`` did not name the file. Every
such file is generated here and given to every command that reads a portfolio: one line on stderr
naming the file and the cause, exit 2 (could not run), no traceback, and no output folder.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from subsidy_engine.service.cli import main

from workbooks import people_portfolio, write_workbook

TABLES = people_portfolio(5)
PROJECTS_CSV = TABLES["projects"].to_csv(index=False)


def folder(root: Path, projects: bytes, suffix: str = "csv") -> Path:
    """A portfolio folder whose projects file is ``projects`` (the other tables fine)."""
    root.mkdir()
    for name, frame in TABLES.items():
        if name != "projects":
            frame.to_csv(root / f"{name}.csv", index=False)
    (root / f"projects.{suffix}").write_bytes(projects)
    return root


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def workbook_bytes(tmp: Path) -> bytes:
    write_workbook(tmp / "whole.xlsx", TABLES)
    return (tmp / "whole.xlsx").read_bytes()


#: name -> (make the portfolio under a tmp folder, the cause the message must give)
UNREADABLE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "utf16_csv": (lambda t: folder(t / "p", PROJECTS_CSV.encode("utf-16")), "not UTF-8 text"),
    "empty_csv": (lambda t: folder(t / "p", b""), "is empty"),
    "unterminated_quote": (lambda t: folder(t / "p", (PROJECTS_CSV + 'P9,"E9\nP10,E10\n').encode()),
                           "line 7: a quoted cell is never closed"),
    "text_after_a_quote": (lambda t: folder(t / "p", (PROJECTS_CSV + 'P9,"E9"x\n').encode()), "line 7"),
    "nul_in_csv": (lambda t: folder(t / "p", PROJECTS_CSV.replace("P2", "P\x002").encode()), "NUL"),
    "truncated_parquet": (lambda t: folder(t / "p", parquet_bytes(pa.Table.from_pandas(TABLES["projects"]))[:300],
                                           "parquet"), "cannot be read as Parquet"),
    "truncated_xlsx": (lambda t: _write(t / "half.xlsx", workbook_bytes(t)[:3000]), "cannot be read as an .xlsx"),
    "random_xlsx": (lambda t: _write(t / "noise.xlsx", os.urandom(4000)), "cannot be read as an .xlsx"),
    "csv_named_xlsx": (lambda t: _write(t / "text.xlsx", PROJECTS_CSV.encode()), "cannot be read as an .xlsx"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def commands(portfolio: Path, out: Path) -> dict[str, list[str]]:
    return {"validate": ["validate", str(portfolio)],
            "explain": ["explain", "P1", "--portfolio", str(portfolio)],
            "simulate": ["simulate", "--portfolio", str(portfolio), "--out", str(out / "sim"), "--quiet"],
            "reconcile": ["reconcile", "--portfolio", str(portfolio), "--out", str(out / "rec"), "--quiet"]}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
@pytest.mark.parametrize("command", ["validate", "explain", "simulate", "reconcile"])
def test_an_unreadable_file_is_one_line_naming_it_and_exit_2(case: str, command: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    make, cause = UNREADABLE[case]
    portfolio = make(tmp_path)
    named = portfolio.name if portfolio.is_file() else next(p.name for p in portfolio.iterdir()
                                                             if p.stem == "projects")
    assert main(commands(portfolio, tmp_path)[command]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert named in err and cause in err, err
    assert "Traceback" not in err and "Error:" not in err  # no exception class, no dump
    assert not (tmp_path / "sim").exists() and not (tmp_path / "rec").exists()


def test_a_parquet_id_column_of_binary_type_is_read_as_text_and_a_bad_value_is_a_row_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Row 6: binary ids gave a traceback. UTF-8 bytes are the text they spell; others reject their row."""
    table = pa.Table.from_pandas(TABLES["projects"], preserve_index=False)
    ids = [s.encode() for s in TABLES["projects"].project_id]
    clean = folder(tmp_path / "clean", parquet_bytes(table.set_column(0, "project_id", pa.array(ids, pa.binary()))),
                   "parquet")
    assert main(["validate", str(clean), "--lang", "en"]) == 0
    capsys.readouterr()
    ids[1] = b"\xff\xfe" + ids[1]
    bad = folder(tmp_path / "bad", parquet_bytes(table.set_column(0, "project_id", pa.array(ids, pa.binary()))),
                 "parquet")
    assert main(["validate", str(bad), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "project_id is not UTF-8 text (byte 0 of the value)" in out
    assert main(["simulate", "--portfolio", str(bad), "--out", str(tmp_path / "sim"), "--quiet"]) == 1
    rejected = pd.read_csv(tmp_path / "sim" / "rejected_rows.csv", dtype=str)
    assert "not UTF-8 text" in " ".join(rejected.reason)


def test_a_gbk_csv_is_read_with_a_note_in_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Row 6 lists GBK among the crashes: what Excel writes on a Chinese Windows is read, with a note."""
    frame = TABLES["projects"].assign(name="算力中心")
    portfolio = folder(tmp_path / "p", frame.to_csv(index=False).encode("gbk"))
    assert main(["validate", str(portfolio), "--lang", "en"]) == 0
    assert "read as GB18030 (GBK) text" in capsys.readouterr().out

"""The portfolio's four related tables and how they load (issue 3, point 1).

``projects`` (measures 1, 2, 4), ``loans`` (measure 15; the ``Loan`` fields plus
``project_id``), ``insurance`` (measure 7) and ``events`` (measures 13, 14) load
from a folder of CSV files (``projects.csv``...), a folder of Parquet files, or
one ``.xlsx`` workbook with a sheet per table. A missing table is an empty one,
except ``projects``. Text files and sheets are read as text, so that amounts
stay the decimals written (an Excel cell holding a number is read as its
shortest text form). Loading checks every table with the calculators' own
readers, and that every ``project_id`` of the other tables is a project:
``problems`` lists each issue with its table, row, id, field and reason.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .batch import LOAN_COLUMNS, PortfolioSchemaError, arrays_from_frame, arrow_text, blank_cells
from .grants import EVENT_COLUMNS, read_events
from .insurance import INSURANCE_COLUMNS, read_insurance
from .investment import PROJECT_COLUMNS, read_projects

TABLES = {
    "projects": ("project_id", PROJECT_COLUMNS),
    "loans": ("loan_id", ("loan_id", "project_id", *LOAN_COLUMNS)),
    "insurance": ("policy_id", INSURANCE_COLUMNS),
    "events": ("event_id", EVENT_COLUMNS),
}
PROBLEM_COLUMNS = ["table", "row", "id", "field", "reason"]


@dataclass(frozen=True)
class PortfolioTables:
    """The four tables as loaded (text cells), the problems found, and where they came from."""

    projects: pd.DataFrame
    loans: pd.DataFrame
    insurance: pd.DataFrame
    events: pd.DataFrame
    problems: pd.DataFrame
    source: str
    digest: str


def _read_text(file: Path) -> pd.DataFrame:
    if file.suffix.lower() == ".parquet":
        return pd.read_parquet(file)
    return pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""])


def _load_frames(path: Path) -> tuple[dict[str, pd.DataFrame], bytes]:
    if path.is_file() and path.suffix.lower() == ".xlsx":
        raw = path.read_bytes()
        sheets = pd.read_excel(path, sheet_name=None, dtype=str)
        unknown = sorted(set(sheets) - set(TABLES))
        if unknown:
            raise PortfolioSchemaError(f"{path}: unknown sheets {unknown}; sheets are {sorted(TABLES)}")
        return {name: frame.where(frame.notna(), None) for name, frame in sheets.items()}, raw
    if not path.is_dir():
        raise PortfolioSchemaError(f"{path}: give a folder of CSV or Parquet files, or an .xlsx workbook")
    frames, raw = {}, b""
    for name in TABLES:
        found = [path / f"{name}{ext}" for ext in (".csv", ".parquet") if (path / f"{name}{ext}").exists()]
        if len(found) > 1:
            raise PortfolioSchemaError(f"{path}: both {found[0].name} and {found[1].name}; keep one")
        if found:
            frames[name] = _read_text(found[0])
            raw += found[0].read_bytes()
    unknown = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".csv", ".parquet")
                     and p.stem not in TABLES)
    if unknown:
        raise PortfolioSchemaError(f"{path}: unknown tables {unknown}; tables are {sorted(TABLES)}")
    return frames, raw


def check_tables(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every problem of the four tables: ``table, row, id, field, reason``."""
    readers = {
        "projects": read_projects,
        "loans": lambda t: arrays_from_frame(t, ignore_columns=["project_id"]),
        "insurance": read_insurance,
        "events": read_events,
    }
    parts = []
    for name, (id_column, _) in TABLES.items():
        table = tables[name]
        if table.empty:
            continue
        try:
            report = readers[name](table)[2]
        except PortfolioSchemaError as exc:
            raise PortfolioSchemaError(f"table {name!r}: {exc}") from None
        parts.append(report.rename(columns={id_column: "id"}).assign(table=name))
    known = pc.drop_null(arrow_text(tables["projects"]["project_id"])) if "project_id" in tables["projects"] \
        else pa.array([], pa.string())
    for name in ("loans", "insurance", "events"):
        table = tables[name].reset_index(drop=True)
        if "project_id" not in table.columns or table.empty:
            continue
        given = ~blank_cells(table["project_id"])
        found = pc.is_in(arrow_text(table["project_id"]), value_set=known)
        stray = given & ~np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
        rows = stray.nonzero()[0]
        parts.append(pd.DataFrame({"table": name, "row": rows,
                                   "id": table[TABLES[name][0]].iloc[rows].to_numpy(dtype=object),
                                   "field": "project_id", "reason": "is not a project of the projects table"}))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    problems = pd.concat(parts, ignore_index=True)[PROBLEM_COLUMNS]
    order = {name: k for k, name in enumerate(TABLES)}
    return problems.sort_values(["table", "row"], key=lambda s: s.map(order) if s.name == "table" else s,
                                kind="stable", ignore_index=True)


def load_portfolio(path: str | os.PathLike[str]) -> PortfolioTables:
    """Load the four tables from a folder (CSV or Parquet files) or an .xlsx workbook."""
    source = Path(path)
    frames, raw = _load_frames(source)
    if "projects" not in frames:
        raise PortfolioSchemaError(f"{source}: no projects table")
    tables = {name: frames.get(name, pd.DataFrame({c: pd.Series(dtype=object) for c in columns}))
              for name, (_, columns) in TABLES.items()}
    return PortfolioTables(**tables, problems=check_tables(tables), source=str(source),
                           digest=hashlib.sha256(raw).hexdigest())


__all__ = ["PortfolioTables", "check_tables", "load_portfolio"]

"""The portfolio's related tables and how they load (issue 3, point 1; issue 15; issue 18).

``projects`` (measures 1, 2, 4), ``loans`` (measure 15; the ``Loan`` fields plus
``project_id``), ``insurance`` (measure 7), ``events`` (measures 13, 14), the decided ``awards`` (measures 1
and 5, :mod:`subsidy_engine.measures.awards`), and a
loan's ``drawdowns`` (``loan_id, date, amount``: its tranches) and ``prepayments``
(``loan_id, date, amount, recompute``) load from a folder of CSV files
(``projects.csv``...), a folder of Parquet files, or one ``.xlsx`` workbook with a
sheet per table. A missing table is an empty one, except ``projects``.

A loan's tranches and prepayments are read with it and checked by its model (they
add up to its principal, the first is on its ``start_date``, each falls in its
life). A bad event row is a problem of its own table and of its loan (the loan's
problem names the event row); a loan whose events do not fit it is a problem of
the loans table; and each event row of a loan that is not evaluated says why. How each kind of file is read (typed workbook cells, CSV
text, Parquet types) and which row number a problem names is in
:mod:`subsidy_engine.io.cells`.

Loading checks every table at once with the calculators' own readers and lists
every problem in ``problems`` (:data:`PROBLEM_COLUMNS`):

* ``file`` and ``table`` (the sheet of a workbook): where to look;
* ``row``: the row number the user's tool shows (the Excel row, the CSV line,
  the Parquet record number from 1; for tables made in Python, the position
  plus 2, the row a sheet written with its header would show), blank for a
  problem of the whole table such as a missing column;
* ``id``, ``field``, ``reason``;
* ``position``: the 0-based position of the row in the table, for programs.

A row of another table whose ``project_id`` is a rejected project is rejected
with it, naming the project's own problem; one whose ``project_id`` is no
project at all is rejected as such.

Columns that are not fields (a notes column such as ``備註``), sheets and files
that are not tables, and title rows above a workbook's header are set aside with
a note in ``notes``; ``strict=True`` makes each of them a problem instead.

The tables returned hold the validated values in exact, typed columns, so that
nothing downstream parses a cell a second time: amounts as ``decimal128(20, 2)``,
annual rates as ``decimal128(16, 10)``, spreads as ``decimal128(16, 6)``, whole
numbers as ``int64``, dates as ``date32``, yes/no flags as ``bool`` and the
rest as text (all Arrow-backed, blank where missing or unreadable). A row with
a problem keeps its position (its unreadable cells blank); ``evaluate`` leaves
it out.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from subsidy_engine.core.columns import MONEY_TYPE, RATE_TYPE, date_series, decimal_array
from subsidy_engine.core.ids import compared_id, compared_ids, normalise_id
from subsidy_engine.core.language import Sentence, id_of_name
from subsidy_engine.core.money import BP_DECIMALS, RATE_DECIMALS
from subsidy_engine.errors import PortfolioSchemaError
from subsidy_engine.io import column_readers
from subsidy_engine.io.cells import (
    DEFAULT_LIMITS,
    Limits,
    SheetTable,
    read_csv_table,
    read_parquet_table,
    read_workbook,
    repeated_columns,
)
from subsidy_engine.io.column_readers import arrow_text, ascii_cell_kinds, blank_cells, text_index_in, valid_cells
from subsidy_engine.kernels.text import ASCII_PLAIN, OTHER_WITH_GRAPHIC
from subsidy_engine.loans.arrays import LOAN_COLUMNS, LOAN_REQUIRED, arrays_from_frame
from subsidy_engine.loans.event_tables import (
    DRAWDOWN_COLUMNS,
    EVENT_TABLE_REQUIRED,
    PREPAYMENT_COLUMNS,
    attach_read,
    read_drawdowns,
    read_prepayments,
)
from subsidy_engine.measures.awards import AWARD_COLUMNS, AWARD_REQUIRED, read_awards
from subsidy_engine.measures.government_investment import (
    GOVERNMENT_INVESTMENT_COLUMNS,
    GOVERNMENT_INVESTMENT_REQUIRED,
    read_government_investment,
)
from subsidy_engine.measures.grants import EVENT_COLUMNS, EVENT_REQUIRED, read_events
from subsidy_engine.measures.investment import (
    PROJECT_COLUMNS,
    PROJECT_FLAGS,
    PROJECT_REQUIRED,
    flag_column,
    read_projects,
)
from subsidy_engine.measures.premium_subsidy import INSURANCE_COLUMNS, INSURANCE_REQUIRED, read_insurance

TABLES = {
    "projects": ("project_id", PROJECT_COLUMNS),
    "loans": ("loan_id", ("loan_id", "project_id", *LOAN_COLUMNS)),
    "insurance": ("policy_id", INSURANCE_COLUMNS),
    "events": ("event_id", EVENT_COLUMNS),
    "awards": ("award_id", AWARD_COLUMNS),
    "government_investment": ("investment_id", GOVERNMENT_INVESTMENT_COLUMNS),
    # a loan's tranches and prepayments (issue 18): rows of no id of their own, named by their loan
    "drawdowns": ("loan_id", DRAWDOWN_COLUMNS),
    "prepayments": ("loan_id", PREPAYMENT_COLUMNS),
}
REQUIRED = {"projects": PROJECT_REQUIRED, "loans": LOAN_REQUIRED, "insurance": INSURANCE_REQUIRED,
            "events": EVENT_REQUIRED, "awards": AWARD_REQUIRED,
            "government_investment": GOVERNMENT_INVESTMENT_REQUIRED, "drawdowns": EVENT_TABLE_REQUIRED,
            "prepayments": EVENT_TABLE_REQUIRED}
#: The tables of a loan's events: read with the loans, each row given to the loan it names.
LOAN_EVENT_TABLES = ("drawdowns", "prepayments")
PROBLEM_COLUMNS = ["file", "table", "row", "id", "field", "reason", "position"]
#: ``field`` of a problem that concerns a whole table (a missing column), not one cell: none of its rows is read.
WHOLE_TABLE = "(table)"
#: ``field`` of a problem made of something set aside (a column, sheet or file) under ``strict``.
SET_ASIDE = "(set aside)"
#: Columns that name a row of a table: text, whatever the cell (a number 7 and the text "7" are one id).
ID_COLUMNS = frozenset({"project_id", "enterprise_id", "loan_id", "policy_id", "event_id", "award_id",
                        "investment_id"})

_READERS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "projects": read_projects,
    "loans": lambda t: arrays_from_frame(t, ignore_columns=["project_id"]),
    "insurance": read_insurance,
    "events": read_events,
    "awards": read_awards,
    "government_investment": read_government_investment,
    "drawdowns": read_drawdowns,
    "prepayments": read_prepayments,
}
# The type each field is held in once validated (the readers of each calculator decide what is valid).
_MONEY = frozenset({"amount", "principal", "total_investment", "eligible_investment", "expected_returns", "merit_score",
                    "insured_amount", "premium", "amount_raised"})
_DECIMALS = {"annual_rate": (RATE_DECIMALS, RATE_TYPE), "floating_spread_bp": (RATE_DECIMALS - BP_DECIMALS,
                                                                              pa.decimal128(16, 6))}
_WHOLE = frozenset({"term_months", "grace_months", "settlement_day", "years", "measure", "first_payment_year",
                    "payment_years", "year"})
_DATES = frozenset({"start_date", "date", "decision_date"})
_FLAGS = frozenset(PROJECT_FLAGS)
_AS_GIVEN = frozenset({"floating", "principal_plan"})
#: Text columns whose values may be written as the Chinese names of the vocabulary (core/names.yaml).
_NAMED = {"sector": "sectors", "district": "districts"}


@dataclass(frozen=True)
class PortfolioTables:
    """The tables, the problems found, what was set aside, and where they came from.

    Attributes
    ----------
    projects, loans, insurance, events, drawdowns, prepayments, awards, government_investment : DataFrame
        The tables (typed columns when loaded by :func:`load_portfolio`); a loan's tranches and
        prepayments, the decided awards and the government's investment are optional (empty by default).
    problems : DataFrame
        :data:`PROBLEM_COLUMNS`, every problem of every table.
    source : str
    digest : str
        sha256 of the files read (or of what made the tables).
    notes : tuple of str
        What was set aside and why (columns, sheets, files, title rows, the text encoding).
    row_numbers : mapping of table -> ndarray
        The row number the user sees for each row; a table not listed counts position + 2.
    files : mapping of table -> str
        The file each table came from.
    """

    projects: pd.DataFrame
    loans: pd.DataFrame
    insurance: pd.DataFrame
    events: pd.DataFrame
    problems: pd.DataFrame
    source: str
    digest: str
    notes: tuple[str, ...] = ()
    row_numbers: Mapping[str, np.ndarray] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    drawdowns: pd.DataFrame = field(default_factory=pd.DataFrame)
    prepayments: pd.DataFrame = field(default_factory=pd.DataFrame)
    awards: pd.DataFrame = field(default_factory=pd.DataFrame)
    government_investment: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: What each table's reader made of it when the tables were checked (:func:`load_portfolio`,
    #: :func:`checked_portfolio`): evaluation takes its arrays instead of reading the table again. Not a field
    #: of the constructor: tables built otherwise, or copied with ``dataclasses.replace``, are read anew.
    reads: Mapping[str, column_readers.Read] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Every table holds its ids as check_tables compared them, however it was made (tables built in
        # Python with check_tables, a scenario's added rows): one id is then one id downstream too.
        for name in TABLES:
            frame = getattr(self, name)
            changed = _ids_to_normalise(frame) if isinstance(frame, pd.DataFrame) else []
            if changed:
                object.__setattr__(self, name, _ids_as_text(frame, changed))

    def read_of(self, name: str, frame: pd.DataFrame, rows: np.ndarray) -> column_readers.Read:
        """What the reader of table ``name`` makes of ``frame``: its rows at ``rows`` of this table. The read
        made when the tables were checked when it holds every one of them, else ``frame`` read now."""
        known = self.reads.get(name)
        read = known.of_rows(rows, TABLES[name][0]) if known is not None else None
        if read is not None:
            return read
        read = read_table(name, frame)
        return self._with_events(frame, read) if name == "loans" else read

    def _with_events(self, loans: pd.DataFrame, read: column_readers.Read) -> column_readers.Read:
        """``read`` of the loan rows ``loans`` with their tranches and prepayments: the event rows that have no
        problem, given to the loans they name (rows of a loan not among ``loans`` stay with it)."""
        reads = {}
        for name in LOAN_EVENT_TABLES:
            mine = self.problems[self.problems.table == name]
            table = getattr(self, name).reset_index(drop=True)
            if not len(table) or (mine.field == WHOLE_TABLE).any():
                continue
            bad = mine.position.dropna().to_numpy(dtype=np.int64)
            reads[name] = read_table(name, table.drop(index=bad).reset_index(drop=True) if bad.shape[0] else table)
        if not reads:
            return read
        attached = attach_read(read.arrays, loans["loan_id"], read.positions, reads)
        unsaid = attached.rejections[attached.rejections.kind != "stray"]
        if attached.refused.shape[0] or len(unsaid):
            raise ValueError(f"a loan's drawdowns or prepayments have problems the portfolio's problems do not "
                             f"list ({unsaid.field.iloc[0]}: {unsaid.reason.iloc[0]}): build PortfolioTables "
                             "with check_tables (or load_portfolio)")
        return column_readers.Read(attached.arrays, read.positions, read.rejections)

    def problem_rows(self, table: str, positions: np.ndarray, ids: Any, field_name: Any, reason: Any
                     ) -> pd.DataFrame:
        """Problems of rows at ``positions`` of ``table``, in :data:`PROBLEM_COLUMNS` (for later checks)."""
        return _problem_frame(table, positions, ids, field_name, reason, self.row_numbers.get(table),
                              self.files.get(table, ""))

    def sizes(self) -> dict[str, int]:
        """The rows of each table as read (a table none of whose rows could be read is empty here, not there)."""
        return {name: len(self.row_numbers[name]) if name in self.row_numbers else len(getattr(self, name))
                for name in TABLES}

    def rejected_rows(self) -> dict[str, int]:
        """How many rows of each table are rejected (all of a table with a problem of the whole table)."""
        return rejected_counts(self.problems, self.sizes())


def rejected_counts(problems: pd.DataFrame, sizes: Mapping[str, int]) -> dict[str, int]:
    """Rejected rows per table of a problems report (a whole-table problem counts every row)."""
    counts = {}
    for name, size in sizes.items():
        mine = problems[problems.table == name]
        if not len(mine):
            continue
        if (mine.field == WHOLE_TABLE).any():
            counts[name] = max(size, int(mine.position.dropna().nunique()))
        else:
            counts[name] = int(mine.position.nunique())
    return {k: v for k, v in counts.items() if v}


def shown_rows(row_numbers: Mapping[str, np.ndarray], name: str, n: int) -> np.ndarray:
    """The row number the user sees for each of the ``n`` rows of table ``name``: as ``row_numbers`` gives them,
    else position + 2 (a header row, counted from 1)."""
    given = row_numbers.get(name)
    return np.asarray(given, np.int64) if given is not None else np.arange(n, dtype=np.int64) + 2


def empty_problems() -> pd.DataFrame:
    """A problems report with no row, typed as a full one."""
    return _problem_frame("projects", np.zeros(0, np.int64), [], [], [], None, "")


def _problem_frame(table: str, positions: np.ndarray, ids: Any, field_name: Any, reason: Any,
                   row_numbers: np.ndarray | None, file: str) -> pd.DataFrame:
    positions = np.asarray(positions, dtype=np.int64)
    rows = row_numbers[positions] if row_numbers is not None else positions + 2
    n = positions.shape[0]
    return pd.DataFrame({
        "file": pd.Series([file] * n, dtype=object), "table": pd.Series([table] * n, dtype=object),
        "row": pd.array(rows, dtype="Int64"), "id": pd.Series(np.asarray(ids, dtype=object).reshape(-1)[:n]
                                                            if n else [], dtype=object),
        "field": pd.Series(np.broadcast_to(np.asarray(field_name, dtype=object), (n,)), dtype=object),
        "reason": pd.Series(np.broadcast_to(np.asarray(reason, dtype=object), (n,)), dtype=object),
        "position": pd.array(positions, dtype="Int64")})


def _whole_table(table: str, file: str, reason: str, field_name: str = WHOLE_TABLE) -> pd.DataFrame:
    return pd.DataFrame({"file": [file], "table": [table], "row": pd.array([None], dtype="Int64"), "id": [None],
                         "field": [field_name], "reason": [reason], "position": pd.array([None], dtype="Int64")})


# ---------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------
def read_table(name: str, frame: pd.DataFrame) -> column_readers.Read:
    """Table ``name`` read by its reader: the arrays of the rows it accepts, their positions, the rejections."""
    return column_readers.Read(*_READERS[name](frame))


def check_tables(tables: Mapping[str, pd.DataFrame], *, row_numbers: Mapping[str, np.ndarray] | None = None,
                 files: Mapping[str, str] | None = None, cell_problems: Iterable[pd.DataFrame] = ()) -> pd.DataFrame:
    """Every problem of the tables, in :data:`PROBLEM_COLUMNS`, ordered by table and row (a table not given
    is empty).

    A table with a missing or unreadable column is one problem of the whole table (``row``
    blank); its rows are not evaluated. ``cell_problems``: problems the files showed while being
    read (merged cells, formulas without a value), reported with the others.
    """
    return _check_and_read(tables, row_numbers=row_numbers, files=files, cell_problems=cell_problems)[0]


def checked_portfolio(tables: Mapping[str, pd.DataFrame], *, source: str, digest: str) -> PortfolioTables:
    """The tables made in Python as a :class:`PortfolioTables`: checked (:func:`check_tables`), and read
    once, so that evaluating them takes what the check read.

    The tables held are shallow copies of the caller's (no data copied): pandas copies on write, so an edit of
    the caller's frames afterwards changes the caller's, not what was checked and is evaluated."""
    tables = {name: frame.copy(deep=False) for name, frame in tables.items()}
    problems, reads = _check_and_read(tables)
    return _with_reads(PortfolioTables(
        projects=named_places(_given(tables, "projects")), loans=_given(tables, "loans"), insurance=_given(tables, "insurance"),
        events=_given(tables, "events"), drawdowns=_given(tables, "drawdowns"),
        prepayments=_given(tables, "prepayments"), awards=_given(tables, "awards"),
        government_investment=_given(tables, "government_investment"), problems=problems, source=source,
        digest=digest), reads)


def named_places(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its ``sector`` and ``district`` values read as the ids their names stand for (海淀区 ->
    haidian), as a file's are: the funding rules compare ids. The same table when it has neither or names none."""
    out = None
    for column, section in _NAMED.items():
        if column in table.columns and len(table):
            mapped = _named_ids(_text(table[column]), section)
            if out is None:
                out = table.copy()
            out[column] = mapped
    return table if out is None else out


def _given(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """Table ``name`` of ``tables``; a table not given is empty (a portfolio without prepayments)."""
    return tables[name] if name in tables else pd.DataFrame()


def _with_reads(tables: PortfolioTables, reads: Mapping[str, column_readers.Read]) -> PortfolioTables:
    """``tables`` holding what the check read of each of them (the same rows, in the same order)."""
    object.__setattr__(tables, "reads", dict(reads))
    return tables


def _check_and_read(tables: Mapping[str, pd.DataFrame], *, row_numbers: Mapping[str, np.ndarray] | None = None,
                    files: Mapping[str, str] | None = None, cell_problems: Iterable[pd.DataFrame] = ()
                    ) -> tuple[pd.DataFrame, dict[str, column_readers.Read]]:
    """:func:`check_tables`, and what each table's reader made of it (the tables it could read)."""
    row_numbers, files = row_numbers or {}, files or {}
    cell_problems = [p for p in cell_problems if len(p)]
    tables = {name: _given(tables, name) for name in TABLES}
    tables, refused = _ids_compared(tables, row_numbers, files)
    cell_problems.extend(refused)  # like a cell that cannot be read: its "is missing" echo is dropped below
    parts = list(cell_problems)
    usable: dict[str, bool] = {}
    reads: dict[str, column_readers.Read] = {}
    for name, (id_column, columns) in TABLES.items():
        table = tables[name].reset_index(drop=True)
        file = files.get(name, "")
        if not len(table) and (len(table.columns) or name != "projects"):
            usable[name] = True  # no row to read, whatever the columns (a sheet with nothing on it)
            continue
        missing = [c for c in REQUIRED[name] if c not in table.columns]
        unknown = [str(c) for c in table.columns if c not in columns]
        twice = repeated_columns(table)
        whole = []
        if twice:
            whole.append(f"the column(s) {', '.join(map(repr, twice))} appear more than once")
        if not len(table.columns):
            whole.append("the sheet or file is empty (no header row)")
        elif missing:
            whole.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if unknown and not twice:
            whole.append(f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are {', '.join(columns)}")
        usable[name] = not whole
        if whole:
            parts.append(_whole_table(name, file, "; ".join(whole) + f": its {len(table):,} row(s) are not read"))
            continue
        if table.empty:
            continue
        try:
            reads[name] = read_table(name, table)
        except PortfolioSchemaError as exc:  # e.g. a column of binary floats given in Python
            usable[name] = False
            parts.append(_whole_table(name, file, f"{exc}: its {len(table):,} row(s) are not read"))
            continue
        report = reads[name].rejections
        parts.append(_problem_frame(name, report["row"].to_numpy(dtype=np.int64), report[id_column].to_numpy(
            dtype=object), report["field"].to_numpy(dtype=object), report["reason"].to_numpy(dtype=object),
            row_numbers.get(name), file))
    parts.extend(_project_links(tables, parts, usable, row_numbers, files))
    parts.extend(_loan_event_links(tables, parts, reads, row_numbers, files))
    if not parts:
        return empty_problems(), reads
    problems = pd.concat(parts, ignore_index=True)[PROBLEM_COLUMNS]
    cells = pd.concat(cell_problems or [empty_problems()], ignore_index=True)
    if len(cells):  # a merged or uncached cell, or a refused id, reads blank: its own reason says more
        said = set(zip(cells.table, cells.position, cells.field))
        echo = [(t, p, f) in said and r.startswith("is missing") for t, p, f, r in
                zip(problems.table, problems.position, problems.field, problems.reason)]
        problems = problems[~np.array(echo, dtype=bool)]
    order = {name: k for k, name in enumerate(TABLES)}
    ranked = problems.assign(_t=problems.table.map(order), _p=problems.position.fillna(-1))
    ranked = ranked.sort_values(["_t", "_p"], kind="stable", ignore_index=True)
    return ranked[PROBLEM_COLUMNS], reads


def _project_links(tables: Mapping[str, pd.DataFrame], found: list[pd.DataFrame], usable: Mapping[str, bool],
                   row_numbers: Mapping[str, np.ndarray], files: Mapping[str, str]) -> list[pd.DataFrame]:
    """Rows of loans, insurance and events whose project is rejected, or is no project at all."""
    projects = tables["projects"].reset_index(drop=True)
    unreadable = not usable.get("projects", True) or "project_id" not in projects
    ids = arrow_text(projects["project_id"]) if "project_id" in projects else pa.array([], pa.string())
    project_problems = [p for p in found if len(p) and (p.table == "projects").any()]
    why: dict[str, str] = {}
    if unreadable:
        ids = pa.array([], pa.string())
    elif project_problems:
        report = pd.concat(project_problems, ignore_index=True)
        report = report[report.table == "projects"]
        bad = np.zeros(len(projects), bool)
        bad[report.position.dropna().to_numpy(dtype=np.int64)] = True
        kept = set(pc.drop_null(ids.filter(pa.array(~bad))).to_pylist())
        for r in report.itertuples():
            position = cast("int | pd.api.typing.NAType", r.position)  # an Int64 column
            if pd.isna(position):
                continue
            pid = ids[int(position)].as_py()
            if pid is not None and pid not in kept and pid not in why:
                why[pid] = f"row {r.row}, {r.field}: {r.reason}"
    known = pc.drop_null(ids)
    linked = {}
    for name in ("loans", "insurance", "events", "awards", "government_investment"):
        table = tables[name].reset_index(drop=True)
        if table.empty or not usable.get(name, True):
            continue
        if "project_id" not in table.columns:
            table = table.assign(project_id=pd.Series([None] * len(table), dtype=object))
        linked[name] = table, arrow_text(table["project_id"])
    # one look-up of every table's project ids: the projects' ids are hashed once, not once a table
    everyone = [given for _, given in linked.values()]
    in_projects = text_index_in(pa.concat_arrays(everyone), known) >= 0 if everyone else np.zeros(0, bool)
    ends = np.cumsum([0, *(len(given) for given in everyone)])
    parts = []
    for k, (name, (table, given)) in enumerate(linked.items()):
        is_given = ~blank_cells(table["project_id"])
        found_mask = in_projects[ends[k]:ends[k + 1]]
        stray = np.flatnonzero(is_given & ~found_mask)
        id_column = TABLES[name][0]
        if unreadable:  # every project is rejected with its table: each row that names one goes with it
            parts.append(_problem_frame(name, stray, table[id_column].iloc[stray].to_numpy(dtype=object),
                                        "project_id", "its project is rejected: the projects table cannot be read",
                                        row_numbers.get(name), files.get(name, "")))
            stray = stray[:0]
        if name == "loans":  # a loan's enterprise comes from its project (insurance and events name their own)
            blank = np.flatnonzero(~is_given)
            parts.append(_problem_frame(name, blank, table[id_column].iloc[blank].to_numpy(dtype=object),
                                        "project_id", "is missing: a loan's enterprise comes from its project",
                                        row_numbers.get(name), files.get(name, "")))
        parts.append(_problem_frame(name, stray, table[id_column].iloc[stray].to_numpy(dtype=object), "project_id",
                                    "is not a project of the projects table", row_numbers.get(name),
                                    files.get(name, "")))
        if name == "awards" and "enterprise_id" in table.columns and "enterprise_id" in projects:
            # a decision about a project is its enterprise's: another enterprise would escape its caps
            at = text_index_in(given, ids)
            # an id of no project takes a null (masked): there may be no project to take at all
            owner = arrow_text(projects["enterprise_id"]).take(pa.array(np.maximum(at, 0), mask=at < 0))
            own = arrow_text(table["enterprise_id"])
            other = np.flatnonzero(is_given & (at >= 0) & ~blank_cells(table["enterprise_id"]) & ~np.asarray(
                pc.equal(own, owner).fill_null(True).to_numpy(zero_copy_only=False), dtype=bool))
            parts.append(_problem_frame(
                name, other, table[id_column].iloc[other].to_numpy(dtype=object), "enterprise_id",
                np.array([f"is not the enterprise of its project ({p} is {e}'s)" for p, e in zip(
                    given.take(pa.array(other)).to_pylist(), owner.take(pa.array(other)).to_pylist())], dtype=object),
                row_numbers.get(name), files.get(name, "")))
        if why:
            rejected = (text_index_in(given, pa.array(list(why), pa.string())) >= 0) & is_given
            rows = np.flatnonzero(rejected)
            texts = given.take(pa.array(rows)).to_pylist()
            parts.append(_problem_frame(
                name, rows, table[id_column].iloc[rows].to_numpy(dtype=object), "project_id",
                np.array([f"its project {t} is rejected ({why[t]})" for t in texts], dtype=object),
                row_numbers.get(name), files.get(name, "")))
    return parts


def _loan_event_links(tables: Mapping[str, pd.DataFrame], found: list[pd.DataFrame],
                      reads: dict[str, column_readers.Read], row_numbers: Mapping[str, np.ndarray],
                      files: Mapping[str, str]) -> list[pd.DataFrame]:
    """Each loan's tranches and prepayments given to the loans' read (``reads["loans"]`` is replaced), and the
    problems: a loan with a rejected event row, or whose events its model refuses, or named by an event table
    that cannot be read (problems of the loans table naming the event row or table), and each event row whose
    loan is not evaluated (:func:`event_rows_not_evaluated`)."""
    given = [name for name in LOAN_EVENT_TABLES if len(tables[name])]
    if not given:
        return []
    loans = tables["loans"].reset_index(drop=True)
    shown = {name: shown_rows(row_numbers, name, len(tables[name])) for name in given}
    event_reads = {name: reads[name] for name in given if name in reads}
    loan_read = reads.get("loans")
    parts = []
    if loan_read is not None and event_reads:
        attached = attach_read(loan_read.arrays, loans["loan_id"], loan_read.positions, event_reads, shown)
        reads["loans"] = column_readers.Read(attached.arrays, loan_read.positions, loan_read.rejections)
        said = attached.rejections[(attached.rejections.kind != "stray") & (attached.rejections.row >= 0)]
        parts.append(_problem_frame("loans", said.row.to_numpy(dtype=np.int64), said.loan_id.to_numpy(dtype=object),
                                    said.field.to_numpy(dtype=object), said.reason.to_numpy(dtype=object),
                                    row_numbers.get("loans"), files.get("loans", "")))
        for name, own in attached.row_problems.groupby("table", sort=False):  # an event row's own date
            parts.append(_problem_frame(str(name), own.position.to_numpy(dtype=np.int64),
                                        own.loan_id.to_numpy(dtype=object), own.field.to_numpy(dtype=object),
                                        own.reason.to_numpy(dtype=object), row_numbers.get(str(name)),
                                        files.get(str(name), "")))
    ids = compared_ids(loans["loan_id"].tolist()) if "loan_id" in _single_columns(loans) else []
    for name in (name for name in given if name not in event_reads):
        # a table that cannot be read: the loans it names cannot be priced as they are (their events unknown),
        # and when even its ids cannot be read, none can
        table = tables[name]
        if "loan_id" in _single_columns(table) and "loan_id" not in repeated_columns(table):
            named = set(compared_ids(table["loan_id"].tolist())) - {None}
            rows = np.array([k for k, loan_id in enumerate(ids) if loan_id in named], np.int64)
            reason = f"its {name} cannot be read: the {name} table has a problem of its whole (see it)"
        else:
            rows = np.arange(len(loans), dtype=np.int64)
            reason = f"the {name} table cannot be read, nor which loans it concerns: every loan is left out"
        parts.append(_problem_frame("loans", rows, loans["loan_id"].to_numpy(dtype=object)[rows]
                                    if "loan_id" in loans else np.full(rows.shape[0], None, dtype=object), name,
                                    reason, row_numbers.get("loans"), files.get("loans", "")))
    parts.extend(event_rows_not_evaluated(loans, {name: tables[name] for name in given}, [*found, *parts],
                                          row_numbers, files))
    return parts


def event_rows_not_evaluated(loans: pd.DataFrame, events: Mapping[str, pd.DataFrame],
                             problems: Iterable[pd.DataFrame], row_numbers: Mapping[str, np.ndarray],
                             files: Mapping[str, str]) -> list[pd.DataFrame]:
    """Problems of the event rows (``events``: the drawdowns and prepayments tables) that have none in
    ``problems`` and whose loan is not evaluated: the reason quotes the loan's first problem ("its loan L4 is
    rejected (loans row 5, ...)"), or says the id is no loan's. A loan is evaluated when a row of the loans
    table with its id has no problem (a duplicate row rejected leaves the first one's events with it)."""
    if not any(len(table) for table in events.values()):
        return []  # no event row to speak of (and a million loans' ids need not be compared for none)
    found = [p for p in problems if len(p)]
    report = pd.concat(found, ignore_index=True) if found else empty_problems()
    loans = loans.reset_index(drop=True)
    ids = compared_ids(loans["loan_id"].tolist()) if "loan_id" in _single_columns(loans) else []
    of_loans = report[report.table == "loans"]
    unreadable = bool((of_loans.field == WHOLE_TABLE).any()) or (len(loans) > 0 and not ids)
    bad = set(of_loans.position.dropna().astype(np.int64).tolist())
    evaluated = set() if unreadable else {loan_id for k, loan_id in enumerate(ids) if k not in bad} - {None}
    why: dict[str, str] = {}
    # the first problem of an id's first row (the row its events belong to; a later one is a duplicate)
    for r in of_loans.dropna(subset=["position"]).sort_values("position", kind="stable").itertuples():
        loan_id = ids[int(cast(int, r.position))] if ids else None
        if loan_id is not None and loan_id not in evaluated and loan_id not in why:
            why[loan_id] = f"loans row {r.row}, {r.field}: {r.reason}"
    out = []
    for name, table in events.items():
        table = table.reset_index(drop=True)
        theirs = report[report.table == name]
        if not len(table) or "loan_id" not in _single_columns(table) or (theirs.field == WHOLE_TABLE).any():
            continue
        said = set(theirs.position.dropna().astype(np.int64).tolist())
        positions, reasons = [], []
        for position, raw in enumerate(table["loan_id"].tolist()):
            loan_id = compared_id(raw)
            if position in said or loan_id is None or loan_id in evaluated:  # a blank id is its reader's problem
                continue
            positions.append(position)
            reasons.append("its loan is rejected: the loans table cannot be read" if unreadable
                           else f"its loan {loan_id} is rejected ({why[loan_id]})" if loan_id in why
                           else "is not a loan_id of the loans table")
        rows = np.array(positions, np.int64)
        out.append(_problem_frame(name, rows, table["loan_id"].to_numpy(dtype=object)[rows], "loan_id",
                                  np.array(reasons, dtype=object), row_numbers.get(name), files.get(name, "")))
    return out


# ---------------------------------------------------------------------------
# Typed columns
# ---------------------------------------------------------------------------
def typed_table(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """The validated values of a table in exact typed columns (see the module); unreadable cells blank."""
    table = table.reset_index(drop=True)
    n = len(table)
    out: dict[str, pd.Series] = {}
    scratch = column_readers.Rejections(n)  # the problems are reported by check_tables; here only the values matter
    for column in table.columns:
        series = table[column]
        if column in _MONEY or column in _DECIMALS:
            scale, arrow_type = _DECIMALS.get(column, (2, MONEY_TYPE))
            try:
                units, missing = column_readers.decimal_units(series, scale, column, scratch)
            except PortfolioSchemaError:
                units, missing = np.zeros(n, np.int64), np.ones(n, bool)
            values = decimal_array(np.where(missing, 0, units), arrow_type)
            out[column] = _with_nulls(values, missing)
        elif column in _WHOLE:
            number, missing = column_readers.int_column(series, column, scratch)
            out[column] = _with_nulls(pa.array(number, pa.int64()), missing)
        elif column in _DATES:
            days, missing = column_readers.date_column(series, column, scratch)
            out[column] = _with_nulls(date_series(np.where(missing, 0, days)).array._pa_array.combine_chunks(),
                                      missing)
        elif column in _FLAGS:
            given = ~blank_cells(series)
            flags = flag_column(series, column, scratch, n)
            out[column] = _with_nulls(pa.array(flags), ~given)
        elif column in _AS_GIVEN:
            out[column] = series
        elif column in _NAMED:  # 海淀区 written for haidian: the id its funding rules read
            out[column] = _named_ids(_text(series), _NAMED[column])
        elif column in ID_COLUMNS:
            out[column] = _id_text(series)[0]
        else:
            out[column] = _text(series)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _named_ids(text: pd.Series, section: str) -> pd.Series:
    """A sector or district column with each Chinese name of the vocabulary read as its id; the rest as given."""
    values = pa.array(text.array)
    encoded = pc.dictionary_encode(values)
    words = [id_of_name(v, section) if v is not None else None for v in encoded.dictionary.to_pylist()]
    return pd.Series(pc.take(pa.array(words, pa.string()), encoded.indices), dtype=pd.ArrowDtype(pa.string()),
                     index=text.index)


def _text(series: pd.Series) -> pd.Series:
    """A text column: each cell as text (a number 7 as '7'), spaces around removed, blank as missing."""
    text = pc.utf8_trim_whitespace(arrow_text(series))
    return pd.Series(pc.if_else(pc.equal(text, ""), pa.nulls(len(series), pa.string()), text),
                     dtype=pd.ArrowDtype(pa.string()), index=series.index)


def _ids_as_text(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The id columns (or ``columns``) as the engine compares them.

    The rule is :func:`~subsidy_engine.core.ids.normalise_id`: text (7 and '7' are one id), NFC, trimmed
    ('P1 ' and 'P1' are one id). An id the rule refuses is kept as given, trimmed: :func:`check_tables`
    reports it and its row is not evaluated.
    """
    ids = list(columns) if columns is not None else [c for c in _single_columns(frame) if c in ID_COLUMNS]
    return frame.assign(**{c: _id_text(frame[c])[0] for c in ids}) if ids else frame


def _ids_to_normalise(frame: pd.DataFrame) -> list[str]:
    """The id columns of ``frame`` holding text that the id rule would change (none, as loaded)."""
    if not len(frame):
        return []
    found = []
    for column in _single_columns(frame):
        if column in ID_COLUMNS:
            series = frame[column]
            if not (isinstance(series.dtype, pd.ArrowDtype) or pd.api.types.is_object_dtype(series.dtype)
                    or pd.api.types.is_string_dtype(series.dtype)):
                continue  # numbers: text of digits, nothing to normalise
            if not _unchanged_ids(arrow_text(series)).all():
                found.append(column)
    return found


def _unchanged_ids(text: pa.Array) -> np.ndarray:
    """Per cell, whether the id rule surely leaves it as it is (blank cells too).

    A cell with no control or format character that is already NFC and has no space around it is
    what :func:`~subsidy_engine.core.ids.normalise_id` returns; only the other cells are given to it, one
    by one. A cell of printable ASCII (NFC, no control character: spaces are its only question) is judged
    from its bytes (:func:`~subsidy_engine.io.column_readers.ascii_cell_kinds`); the others by Arrow's
    Unicode tables. (They may be newer than Python's: a character they call a format character and Python
    does not goes to ``normalise_id``, which decides.)
    """
    kinds = ascii_cell_kinds(text)
    unchanged = kinds == ASCII_PLAIN
    if text.null_count:
        unchanged |= ~valid_cells(text)
    undecided = np.flatnonzero(kinds >= OTHER_WITH_GRAPHIC)
    if undecided.size:
        cells = text.take(pa.array(undecided))
        clean = pc.invert(pc.match_substring_regex(cells, r"[\p{Cc}\p{Cf}]"))
        same = pc.and_(pc.equal(pc.utf8_normalize(cells, form="NFC"), cells),
                       pc.equal(pc.utf8_trim_whitespace(cells), cells))
        unchanged[undecided] = np.asarray(pc.and_(clean, same).to_numpy(zero_copy_only=False), bool)
    return unchanged


def _id_text(series: pd.Series) -> tuple[pd.Series, dict[int, str]]:
    """The column as ids compared (see :func:`_ids_as_text`), and the reason for each position refused."""
    text = arrow_text(series)
    plain = _unchanged_ids(text)
    values = text.to_pylist() if not plain.all() else None
    refused: dict[int, str] = {}
    if values is not None:
        for k in np.flatnonzero(~plain):
            try:
                values[k] = normalise_id(values[k])
            except ValueError as exc:
                if str(exc) == "is blank":
                    values[k] = None  # a blank id: the table's reader says it is missing
                else:
                    values[k] = values[k].strip()
                    refused[int(k)] = str(exc)
        text = pa.array(values, pa.string())
    return pd.Series(text, dtype=pd.ArrowDtype(pa.string()), index=series.index), refused


def _ids_compared(tables: Mapping[str, pd.DataFrame], row_numbers: Mapping[str, np.ndarray],
                  files: Mapping[str, str]) -> tuple[dict[str, pd.DataFrame], list[pd.DataFrame]]:
    """Each table with its ids as compared, a refused one blank; and a problem for each refused id."""
    out, problems = {}, []
    for name, table in tables.items():
        ids = [c for c in _single_columns(table) if c in ID_COLUMNS]
        if not ids or not len(table):
            out[name] = table
            continue
        table = table.reset_index(drop=True)
        own = TABLES[name][0] if name in TABLES else None
        shown = table[own] if own in ids else None
        columns = {}
        for column in ids:
            given = table[column]
            columns[column], refused = _id_text(given)
            if not refused:
                continue
            positions = np.array(sorted(refused), np.int64)
            columns[column] = columns[column].mask(pd.Series(np.isin(np.arange(len(table)), positions)))
            problems.append(_problem_frame(
                name, positions, (shown if shown is not None else given).to_numpy(dtype=object)[positions],
                column, np.array([refused[k] for k in positions.tolist()], dtype=object),
                row_numbers.get(name), files.get(name, "")))
        out[name] = table.assign(**columns)
    return out, problems


def _single_columns(frame: pd.DataFrame) -> list[Any]:
    """The columns that appear once (a repeated one is a problem of its whole table)."""
    counts = pd.Series(frame.columns).value_counts()
    return [c for c in frame.columns if counts[c] == 1]


def _with_nulls(values: pa.Array, missing: np.ndarray) -> pd.Series:
    if missing.any():
        values = pc.if_else(pa.array(~missing), values, pa.nulls(len(values), values.type))
    return pd.Series(values, dtype=pd.ArrowDtype(values.type))


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------
def _from_workbook(path: Path, notes: list[str], limits: Limits) -> dict[str, SheetTable]:
    sheets, book_notes = read_workbook(path, {name: id_column for name, (id_column, _) in TABLES.items()},
                                       limits=limits)
    notes.extend(book_notes)
    found: dict[str, SheetTable] = {}
    for sheet_name, sheet in sheets.items():
        name = sheet_name.strip().lower()  # 'Loans' is the loans sheet
        if name in TABLES and name not in found:
            found[name] = sheet
        else:
            notes.append(Sentence(f"{path}: sheet {sheet_name!r} is not a table ({', '.join(TABLES)}); set aside",
                                  "sheet_set_aside", file=path, sheet=sheet_name, tables=", ".join(TABLES)))
    return found


def _from_folder(path: Path, notes: list[str], limits: Limits) -> tuple[dict[str, SheetTable], str]:
    """The folder's tables, and the SHA-256 of each table's name, size and bytes in turn."""
    found: dict[str, SheetTable] = {}
    digest = hashlib.sha256()  # fed part by part: joining the files' bytes first copied them (0.12 s at 1.2M)
    entries = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".parquet", ".xlsx"))
    for name in TABLES:  # 'Loans.CSV' is the loans table
        files = [p for p in entries if p.stem.strip().lower() == name and p.suffix.lower() != ".xlsx"]
        if len(files) > 1:
            raise PortfolioSchemaError(f"{path}: both {files[0].name} and {files[1].name}; keep one")
        if files:
            file = files[0]
            read = read_parquet_table if file.suffix.lower() == ".parquet" else read_csv_table
            found[name] = read(file, limits=limits)
            data = file.read_bytes()
            digest.update(f"{name}:{len(data)}:".encode())  # the same bytes as another table: another portfolio
            digest.update(data)
    others = [p.name for p in entries if p.stem.strip().lower() not in TABLES or p.suffix.lower() == ".xlsx"]
    for other in others:
        notes.append(Sentence(f"{path / other}: not a table ({', '.join(TABLES)}); set aside", "file_set_aside",
                              file=path / other, tables=", ".join(TABLES)))
    return found, digest.hexdigest()


def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[name][1]})


def extend_portfolio(base: PortfolioTables, added: Mapping[str, pd.DataFrame], *, source: str,
                     digest: str) -> PortfolioTables:
    """``base`` with ``added`` rows appended to its tables (a scenario's new projects).

    The base keeps what its loading found (its problems, row numbers and files); only the added
    rows are checked (their projects are among themselves), their problems placed after the base's
    rows. The added rows' ``row`` is their position in the grown table plus 2, as for any table
    made in Python.
    """
    tables, rows = {}, {}
    added_problems = check_tables(added)
    parts = [base.problems]
    for name in TABLES:
        own = getattr(base, name)
        given = _given(added, name)
        more = typed_table(name, given) if len(given) else given
        tables[name] = concat_tables([own, more]) if len(more) else own
        own_rows = base.row_numbers.get(name, np.arange(len(own), dtype=np.int64) + 2)
        rows[name] = np.concatenate([own_rows, np.arange(len(own), len(own) + len(more), dtype=np.int64) + 2])
        mine = added_problems[added_problems.table == name]
        if len(mine):
            parts.append(mine.assign(position=mine.position + len(own), row=mine.position + len(own) + 2))
    problems = pd.concat([p for p in parts if len(p)] or [empty_problems()], ignore_index=True)[PROBLEM_COLUMNS]
    return PortfolioTables(**tables, problems=problems, source=source, digest=digest, notes=base.notes,
                           row_numbers=rows, files=dict(base.files))


def concat_tables(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of several tables; a column typed differently in two of them becomes plain Python values."""
    frames = [f for f in frames if len(f.columns)]
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    parts = []
    for f in frames:
        part = f.reindex(columns=columns)
        for c in columns:
            kinds = {str(g[c].dtype) for g in frames if c in g.columns}
            if len(kinds) > 1 or c not in f.columns:
                part[c] = part[c].astype(object).where(part[c].notna(), None)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


#: Threads that type the tables while :func:`load_portfolio` checks them (the engine's own target is 2 cores).
_LOAD_THREADS = 2


def load_portfolio(path: str | os.PathLike[str], *, strict: bool = False,
                   limits: Limits = DEFAULT_LIMITS) -> PortfolioTables:
    """Load the tables from a folder (CSV or Parquet files) or an .xlsx workbook.

    Every problem of every table is in ``problems``; what was set aside is in ``notes``
    (with ``strict=True``, each set-aside column, sheet or file is a problem instead).
    A path that is not there, a file that cannot be read at all, or no projects table
    raises :class:`~subsidy_engine.io.column_readers.PortfolioSchemaError` naming the file, as does a file
    past ``limits`` (:class:`~subsidy_engine.io.cells.Limits`: size, rows, columns, cells), checked
    before it is read.
    """
    source = Path(path)
    notes: list[str] = []
    if source.is_file() and source.suffix.lower() == ".xlsx":
        sheets = _from_workbook(source, notes, limits)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
    elif source.is_dir():
        sheets, digest = _from_folder(source, notes, limits)
    elif not source.exists():
        raise PortfolioSchemaError(f"{source}: no such file or folder")
    else:
        raise PortfolioSchemaError(f"{source}: give a folder of CSV or Parquet files, or an .xlsx workbook")
    if "projects" not in sheets:
        raise PortfolioSchemaError(f"{source}: no projects table (a 'projects' sheet, projects.csv or "
                                   "projects.parquet)")
    frames: dict[str, pd.DataFrame] = {}
    row_numbers: dict[str, np.ndarray] = {}
    files: dict[str, str] = {}
    cell_problems = []
    set_aside = []
    for name, (id_column, columns) in TABLES.items():
        sheet = sheets.get(name)
        if sheet is None:
            frames[name] = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
            row_numbers[name] = np.zeros(0, np.int64)
            continue
        frame = sheet.frame
        extra = [c for c in frame.columns if str(c).split("\u0000", 1)[0] not in columns]
        if extra:
            shown = sorted({str(c).split("\u0000", 1)[0] for c in extra})
            columns_shown = ", ".join(map(repr, shown))
            message = f"{sheet.where}: column(s) {columns_shown} are not fields of the {name} table"
            if strict:
                set_aside.append(_whole_table(name, sheet.file, message + " (--strict refuses them)", SET_ASIDE))
            else:
                notes.append(Sentence(f"{message}; set aside", "columns_set_aside", where=sheet.where,
                                      columns=columns_shown, table=name))
            frame = frame.drop(columns=extra)
        if strict:
            set_aside.extend(_whole_table(name, sheet.file, f"{note} (--strict refuses it)", SET_ASIDE)
                             for note in sheet.notes)
        else:
            notes.extend(sheet.notes)
        frame = _ids_as_text(frame)
        frames[name], row_numbers[name], files[name] = frame, sheet.rows, sheet.file
        if sheet.cell_problems:
            positions = np.array([p.position for p in sheet.cell_problems], np.int64)
            ids = (frame[id_column].to_numpy(dtype=object)[positions] if id_column in frame
                   else np.full(positions.shape[0], None, dtype=object))
            cell_problems.append(_problem_frame(name, positions, ids, [p.column for p in sheet.cell_problems],
                                                [p.reason for p in sheet.cell_problems], sheet.rows, sheet.file))
    if strict and notes:  # sheets and files that are not tables
        set_aside.extend(_whole_table("", str(source), f"{note} (--strict refuses it)", SET_ASIDE) for note in notes)
        notes = []
    # each table's typed columns are made on other threads while the checks run: most of either is Arrow and
    # numpy work that lets go of the interpreter, and neither writes into the frames both read
    with ThreadPoolExecutor(max_workers=_LOAD_THREADS) as pool:
        typing = {name: pool.submit(typed_table, name, frame) for name, frame in frames.items()}
        problems, reads = _check_and_read(frames, row_numbers=row_numbers, files=files,
                                          cell_problems=[*cell_problems, *set_aside])
    whole = set(problems.table[problems.field == WHOLE_TABLE]) if len(problems) else set()
    # a table none of whose rows can be read is given back empty (its problem says how many rows it had): what its
    # thread made of it (or the error it met) is not used
    typed = {name: typed_table(name, _empty(name)) if name in whole else typing[name].result() for name in frames}
    return _with_reads(PortfolioTables(**typed, problems=problems, source=str(source),
                                       digest=digest, notes=tuple(notes),
                                       row_numbers=row_numbers, files=files),
                       {name: read for name, read in reads.items() if name not in whole})


__all__ = ["PROBLEM_COLUMNS", "PortfolioTables", "check_tables", "checked_portfolio", "concat_tables",
           "extend_portfolio", "load_portfolio", "read_table", "typed_table"]

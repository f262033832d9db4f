"""Excel workbooks written the way people make them (issue 15, point 9): a test helper.

``write_workbook(path, tables, style=...)`` writes one sheet per table with
openpyxl, and writes the cells TYPED, as a person typing into Excel would get
them: ISO date text becomes a date cell, an amount a number formatted
``#,##0.00``, ``annual_rate`` a fraction shown as a percentage, a whole-number
column an integer, an id a text cell (``"007"`` stays ``"007"``). Which column
is which kind comes from its name (:data:`KINDS`). :class:`WorkbookStyle` adds
what real files carry: a merged title above the header, a notes column, an
instructions sheet, formulas (with or without cached values), merged data
cells, dates typed as text or as datetimes, and arbitrary bad cells.

The return value says where everything landed, so that tests can look cells
up (see :func:`write_workbook`). ``people_portfolio(n, seed)`` gives the
demo portfolio as plain text tables, ready for a round trip.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

DATE_FORMAT = "yyyy-mm-dd"
CHINESE_DATE_FORMAT = 'yyyy"年"m"月"d"日"'
MONEY_FORMAT = "#,##0.00"
RATE_FORMAT = "0.00%"
SCORE_FORMAT = "0.00"
TEXT_FORMAT = "@"
NOTES_COLUMN = "備註"
EXTRA_SHEET = "說明"

DATE_COLUMNS = frozenset({"start_date", "date", "from_date", "to_date"})
RATE_COLUMNS = frozenset({"annual_rate"})
INT_COLUMNS = frozenset({"term_months", "grace_months", "settlement_day", "years", "period"})
MONEY_COLUMNS = frozenset({"principal", "total_investment", "eligible_investment", "expected_returns",
                           "insured_amount", "premium", "amount_raised", "subsidy_claimed", "interest_charged"})
NUMBER_COLUMNS = frozenset({"merit_score", "floating_spread_bp"})
FLAG_COLUMNS = frozenset({"industry_or_software", "in_library", "free_service_obligation", "floating"})
KINDS: dict[str, str] = {
    **{c: "date" for c in DATE_COLUMNS}, **{c: "rate" for c in RATE_COLUMNS}, **{c: "int" for c in INT_COLUMNS},
    **{c: "money" for c in MONEY_COLUMNS}, **{c: "number" for c in NUMBER_COLUMNS},
    **{c: "flag" for c in FLAG_COLUMNS},
}
"""Column name -> kind (``date``, ``rate``, ``int``, ``money``, ``number``, ``flag``); any other column is text."""

TITLES = {"projects": "2026年新基建項目庫", "loans": "2026年新基建項目貸款明細",
          "insurance": "2026年新基建首版次保險明細", "events": "2026年新基建REITs及上市事件"}
NOTES = ("已核實", "待補充材料", "企業申報數，未經審核", "見附件3")
INSTRUCTIONS = ("填表說明", "1. 金額單位為元，保留兩位小數。", "2. 日期請按yyyy-mm-dd填寫。",
                "3. 年利率填小數，單元格顯示為百分比。", "4. 請勿修改表頭，勿合併單元格。", "5. 備註列僅供參考，不參與計算。")
_EXCEL_EPOCH = date(1899, 12, 30)


@dataclass(frozen=True)
class WorkbookStyle:
    """What real workbooks carry besides the table; every option is off by default.

    * ``title_rows``: 0 (header on row 1), 1 (a title merged across all columns on
      row 1, header on row 2) or 2 (title, a blank row, header on row 3);
      ``title`` overrides the per-table titles of :data:`TITLES`.
    * ``notes_column``: a last column ``備註`` with free text on rows 0, 3, 6...
    * ``extra_sheet``: a first sheet ``說明`` holding instructions in column A.
    * ``formulas``: on data rows 1, 4, 7... every int, money and date cell is a formula
      (``=5*12``, ``=1234567/100``, ``=DATE(2024,3,1)``) with its value cached in the
      file; ``formulas_without_cache`` writes the same formulas without cached values.
    * ``merged_data_cells``: in the loans sheet, the ``project_id`` cells of two
      consecutive rows are merged (the first such pair of the same project, else rows
      0 and 1); the lower cell is then empty in the file.
    * ``text_dates``: date cells of data rows 2, 5, 8... are ISO text (format ``@``).
    * ``datetime_cells``: date cells hold datetimes at midnight instead of dates.
    * ``date_format``: the date cells' number format (e.g. :data:`CHINESE_DATE_FORMAT`).
    * ``bool_cells``: flag columns as real booleans instead of text ``true``/``false``.
    * ``bad_cells``: ``{(table, row_index, column): value}`` written as given, last
      (a ``str`` is text even when it starts with ``=``; a datetime keeps its time).
    """

    title_rows: int = 0
    title: str | None = None
    notes_column: bool = False
    extra_sheet: bool = False
    formulas: bool = False
    formulas_without_cache: bool = False
    merged_data_cells: bool = False
    text_dates: bool = False
    datetime_cells: bool = False
    date_format: str = DATE_FORMAT
    bool_cells: bool = False
    bad_cells: Mapping[tuple[str, int, str], object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject a title_rows other than 0, 1 or 2."""
        if self.title_rows not in (0, 1, 2):
            raise ValueError(f"title_rows is 0, 1 or 2, not {self.title_rows!r}")


def _blank(value: object) -> bool:
    """True for None, NaN, NA, NaT and empty text: the cell is left out."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _decimal(value: object, where: str) -> Decimal:
    """The exact decimal of an amount given as Decimal, text, int or float."""
    if isinstance(value, bool):
        raise TypeError(f"{where}: {value!r} is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{where}: {value!r} is not a number") from None


def _number(value: object, where: str) -> int | float:
    """The cell value of a decimal: int when whole, else the float that reads back as the same digits."""
    d = _decimal(value, where)
    if d == d.to_integral_value():
        return int(d)
    f = float(d)
    if Decimal(repr(f)) != d:
        raise ValueError(f"{where}: {value!r} does not survive a double (reads back as {f!r})")
    return f


def _date(value: object, where: str) -> date:
    """The calendar date of ISO text, a date, a datetime or a Timestamp."""
    if isinstance(value, datetime):  # includes pd.Timestamp
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not an ISO date") from None


def _flag(value: object) -> bool | str:
    """A flag as bool when it is one (``true``/``false`` text included), else its text."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    text = str(value)
    return {"true": True, "false": False}.get(text.strip().lower(), text)


def _formula(kind: str, value: float | date) -> tuple[str, str]:
    """A formula a person would type for ``value``, and the cached ``<v>`` text Excel would store."""
    if kind == "date":
        assert isinstance(value, date)
        return f"=DATE({value.year},{value.month},{value.day})", str((value - _EXCEL_EPOCH).days)
    if isinstance(value, int):
        if kind == "money" and value and value % 10_000 == 0:
            return f"={value // 10_000}*10000", str(value)
        if kind == "int" and value and value % 12 == 0:
            return f"={value // 12}*12", str(value)
        return f"={value}+0", str(value)
    cents = Decimal(repr(value)) * 100
    if cents == cents.to_integral_value():  # a correctly rounded division gives float(d) exactly
        return f"={int(cents)}/100", repr(value)
    return f"={value!r}*1", repr(value)


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the worksheet XML's path in the package."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    book = ET.fromstring(archive.read("xl/workbook.xml"))
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", ns)}
    paths = {}
    for sheet in book.findall("m:sheets/m:sheet", ns):
        target = targets[sheet.get(f"{{{ns['r']}}}id")]
        paths[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return paths


def cache_formula_values(path: str | Path, values: Mapping[tuple[str, str], str]) -> None:
    """Write cached values into formula cells of a saved workbook, as Excel does on saving.

    ``values`` maps ``(sheet name, coordinate)`` to the ``<v>`` text (a number's
    repr). openpyxl writes ``<c r="C5"><f>5*12</f><v /></c>``; the sheet XML in
    the zip is rewritten to ``<c r="C5"><f>5*12</f><v>60</v></c>``.
    """
    path = Path(path)
    by_sheet: dict[str, dict[str, str]] = {}
    for (sheet, ref), text in values.items():
        by_sheet.setdefault(sheet, {})[ref] = text
    with zipfile.ZipFile(path) as archive:
        xml_of = _sheet_paths(archive)
        items = [(info, archive.read(info.filename)) for info in archive.infolist()]
    data = {info.filename: raw for info, raw in items}
    patched: dict[str, bytes] = {}
    for sheet, refs in by_sheet.items():
        name = xml_of[sheet]
        xml = data[name].decode("utf-8")
        done = set()

        def put(match: re.Match[str], refs: dict[str, str] = refs, done: set[str] = done) -> str:
            ref = match.group(2)
            if ref not in refs:
                return match.group(0)
            done.add(ref)
            return f"{match.group(1)}{match.group(3)}<v>{refs[ref]}</v></c>"

        xml = re.sub(r'(<c r="([A-Z]+[0-9]+)"[^>]*>)(<f>[^<]*</f>)(?:<v\s*/>|<v></v>)?</c>', put, xml)
        missing = set(refs) - done
        if missing:
            raise ValueError(f"{path}: no formula cells {sorted(missing)} in sheet {sheet!r}")
        patched[name] = xml.encode("utf-8")
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".xlsx", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as out:
            for info, data in items:
                out.writestr(info, patched.get(info.filename, data))
        shutil.move(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def coordinate(layout: Mapping[str, Any], table: str, row_index: int, column: str) -> str:
    """The cell (``"C5"``) of data row ``row_index`` and ``column`` of ``table`` in a written workbook."""
    return f"{layout['columns'][table][column]}{layout['rows'][table][row_index]}"


def write_workbook(path: str | Path, tables: Mapping[str, pd.DataFrame], *,
                   style: WorkbookStyle | None = None) -> dict[str, Any]:
    """Write ``tables`` as an .xlsx workbook, one sheet per table, cells typed; say where everything is.

    Cells by column kind (:data:`KINDS`): ``date`` -> a date cell (``style.date_format``);
    ``money`` -> int when whole, else float, format ``#,##0.00``; ``rate`` -> the fraction,
    format ``0.00%``; ``int`` -> int; ``number`` -> int or float (``merit_score`` as
    ``0.00``); ``flag`` -> text ``true``/``false`` (bools with ``style.bool_cells``);
    any other column -> text, formatted ``@`` (ids stay text). Blank values (None,
    NaN, NA, empty text) are left out. A value that does not fit its kind, or an
    amount a double cannot hold exactly, raises ValueError (use ``bad_cells``).

    Returns a dict:

    * ``path``: the Path written; ``sheets``: sheet names in workbook order;
    * ``header_row``: ``{table: Excel row of the header}``;
    * ``rows``: ``{table: [Excel row of data row 0, of data row 1, ...]}``;
    * ``columns``: ``{table: {column: letter}}`` (``備註`` included when written);
    * ``titles``: ``{table: (merged range such as "A1:Q1", title text)}``;
    * ``formulas``: ``{(table, row_index, column): (coordinate, formula, value)}``,
      ``value`` the Python value a cached read gives back (int, float or date);
    * ``cached``: whether formula values are cached in the file;
    * ``merged``: ``{table: [merged data ranges such as "B3:B4"]}``;
    * ``text_dates``: ``[(table, row_index, column)]`` of dates written as text;
    * ``notes``: ``{table: {row_index: note text}}``;
    * ``bad_cells``: ``{(table, row_index, column): coordinate}``.
    """
    style = style or WorkbookStyle()
    path = Path(path)
    book = Workbook()
    book.remove(book.active)
    layout: dict[str, Any] = {"path": path, "sheets": [], "header_row": {}, "rows": {}, "columns": {},
                              "titles": {}, "formulas": {}, "cached": not style.formulas_without_cache,
                              "merged": {}, "text_dates": [], "notes": {}, "bad_cells": {}}
    if style.extra_sheet:
        sheet = book.create_sheet(EXTRA_SHEET)
        for k, line in enumerate(INSTRUCTIONS, start=1):
            sheet.cell(k, 1, line)
        sheet["A1"].font = Font(bold=True)
        sheet.column_dimensions["A"].width = 48
    with_formulas = style.formulas or style.formulas_without_cache
    cache: dict[tuple[str, str], str] = {}
    for name, frame in tables.items():
        sheet = book.create_sheet(name)
        columns = [str(c) for c in frame.columns] + ([NOTES_COLUMN] if style.notes_column else [])
        letters = {c: get_column_letter(j) for j, c in enumerate(columns, start=1)}
        header = style.title_rows + 1
        if style.title_rows:
            title = style.title or TITLES.get(name, f"2026年{name}")
            span = f"A1:{get_column_letter(len(columns))}1"
            sheet["A1"] = title
            sheet["A1"].font = Font(bold=True, size=14)
            sheet["A1"].alignment = Alignment(horizontal="center")
            if len(columns) > 1:
                sheet.merge_cells(span)
            layout["titles"][name] = (span, title)
        for j, column in enumerate(columns, start=1):
            cell = sheet.cell(header, j, column)
            cell.font = Font(bold=True)
            sheet.column_dimensions[get_column_letter(j)].width = max(10, min(2 * len(column), 24))
        rows = list(range(header + 1, header + 1 + len(frame)))
        layout["sheets"].append(name)
        layout["header_row"][name], layout["rows"][name], layout["columns"][name] = header, rows, letters
        for i, (excel_row, values) in enumerate(zip(rows, frame.itertuples(index=False, name=None))):
            for j, (column, value) in enumerate(zip(columns, values), start=1):
                if _blank(value):
                    continue
                cell = sheet.cell(excel_row, j)
                kind, where = KINDS.get(column, "text"), f"{name} row {i} {column}"
                if kind == "date":
                    day = _date(value, where)
                    if style.text_dates and i % 3 == 2:
                        cell.value, cell.number_format = day.isoformat(), TEXT_FORMAT
                        layout["text_dates"].append((name, i, column))
                        continue
                    cell.value = datetime.combine(day, time()) if style.datetime_cells else day
                    cell.number_format = style.date_format
                    typed: int | float | date = day
                elif kind in ("money", "rate", "int", "number"):
                    typed = _number(value, where)
                    if kind == "int" and not isinstance(typed, int):
                        raise ValueError(f"{where}: {value!r} is not a whole number")
                    cell.value = typed
                    cell.number_format = {"money": MONEY_FORMAT, "rate": RATE_FORMAT}.get(
                        kind, SCORE_FORMAT if column == "merit_score" else "General")
                elif kind == "flag":
                    flag = _flag(value)
                    cell.value = flag if style.bool_cells else (
                        str(flag).lower() if isinstance(flag, bool) else flag)
                    continue
                else:
                    cell.value, cell.number_format = str(value), TEXT_FORMAT
                    cell.data_type = "s"  # text, even when it starts with "="
                    continue
                if with_formulas and i % 3 == 1 and kind in ("int", "money", "date"):
                    formula, cached = _formula(kind, typed)
                    cell.value = formula
                    layout["formulas"][(name, i, column)] = (cell.coordinate, formula, typed)
                    cache[(name, cell.coordinate)] = cached
        if style.notes_column:
            notes = {i: NOTES[(i // 3) % len(NOTES)] for i in range(0, len(rows), 3)}
            for i, note in notes.items():
                sheet.cell(rows[i], len(columns), note)
            layout["notes"][name] = notes
        layout["merged"][name] = []
    for (name, i, column), value in style.bad_cells.items():
        if name not in layout["rows"] or column not in layout["columns"][name]:
            raise KeyError(f"bad cell {(name, i, column)}: no such table or column")
        ref = coordinate(layout, name, i, column)
        cell = book[name][ref]
        cell.value = value
        if isinstance(value, str):
            cell.data_type = "s"
        layout["bad_cells"][(name, i, column)] = ref
        layout["formulas"].pop((name, i, column), None)
        cache.pop((name, ref), None)
        if (name, i, column) in layout["text_dates"]:
            layout["text_dates"].remove((name, i, column))
    if style.merged_data_cells and "loans" in tables and len(tables["loans"]) >= 2 \
            and "project_id" in layout["columns"]["loans"]:
        ids = list(tables["loans"]["project_id"])
        upper = next((k for k in range(len(ids) - 1) if not _blank(ids[k]) and ids[k] == ids[k + 1]), 0)
        letter, rows = layout["columns"]["loans"]["project_id"], layout["rows"]["loans"]
        span = f"{letter}{rows[upper]}:{letter}{rows[upper + 1]}"
        book["loans"].merge_cells(span)
        layout["merged"]["loans"].append(span)
    book.save(path)
    if cache and not style.formulas_without_cache:
        cache_formula_values(path, cache)
    return layout


def _plain(value: object) -> str | None:
    """A cell of a demo table as the text a person means: shortest decimal digits, ISO dates, true/false."""
    if _blank(value):
        return None
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value)


def _numeric_ids(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Ids such as ``P12`` as four zero-padded digits (``0012``), the same in every table."""
    id_columns = ("project_id", "enterprise_id", "loan_id", "policy_id", "event_id")
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for column in id_columns:
            if column in frame:
                frame[column] = pd.Series([None if v is None else f"{int(v[1:]):04d}" for v in frame[column]],
                                          index=frame.index, dtype=object)
        out[name] = frame
    return out


def people_portfolio(n_projects: int = 12, seed: int = 7, *, numeric_ids: bool = False) -> dict[str, pd.DataFrame]:
    """The demo portfolio (``subsidy_engine.demo.portfolio``) as plain text tables, every table of the engine.

    Every cell is ``str`` or None (object columns): amounts as their shortest
    decimal digits (``"6000000"``, ``"69.61"``, the text a numeric cell reads
    back as), dates ISO, flags ``true``/``false``, whole numbers as digits. When
    the demo drew no events or no insurance (small ``n_projects``), one REITs
    issuance and one listing acceptance, or one policy, are added so that every
    table has rows. The first of the longest loans is drawn in two tranches (half on its start date, the rest
    61 days later) and prepaid a tenth of its principal 400 days in (earlier for a loan shorter than 15 months),
    keeping the payment (``drawdowns``, ``prepayments``). ``numeric_ids`` turns every id into four zero-padded digits
    (``P7`` -> ``"0007"``), ids that look numeric but must stay text.
    """
    from subsidy_engine.pipeline.inputs import check_tables
    from subsidy_engine.simulation.synthetic import portfolio

    demo = portfolio(n_projects, seed)
    tables = {name: pd.DataFrame({c: pd.Series([_plain(v) for v in frame[c].astype(object)], dtype=object)
                                  for c in frame.columns})
              for name, frame in ((n, getattr(demo, n)) for n in ("projects", "loans", "insurance", "events", "awards",
                                                                    "government_investment"))}
    first = tables["projects"].iloc[0]
    if tables["insurance"].empty:
        tables["insurance"] = pd.DataFrame([{
            "policy_id": "I0", "enterprise_id": first["enterprise_id"], "project_id": first["project_id"],
            "product_field": "ai", "insured_amount": "20000000", "premium": "450000.5",
            "start_date": first["start_date"], "years": "3"}], dtype=object)
    if tables["events"].empty:
        tables["events"] = pd.DataFrame([
            {"event_id": "V0", "kind": "reits_issuance", "enterprise_id": first["enterprise_id"],
             "project_id": first["project_id"], "venue": None, "stage": None, "date": first["start_date"],
             "amount_raised": "800000000"},
            {"event_id": "V1", "kind": "listing", "enterprise_id": first["enterprise_id"], "project_id": None,
             "venue": "a_share_ipo", "stage": "acceptance", "date": first["start_date"], "amount_raised": None},
        ], dtype=object)
    if tables["awards"].empty:
        tables["awards"] = pd.DataFrame([
            {"award_id": "A0", "enterprise_id": first["enterprise_id"], "project_id": first["project_id"],
             "kind": "research_funding", "amount": "3000000", "decision_date": first["start_date"],
             "payment_years": "3"}], dtype=object)
    if tables["government_investment"].empty:
        tables["government_investment"] = pd.DataFrame([
            {"investment_id": "G0", "project_id": first["project_id"], "kind": "capital_injection", "measure": "1",
             "year": first["start_date"][:4], "amount": "50000000"}], dtype=object)
    loans = tables["loans"]
    longer = loans.iloc[int(np.argmax(loans["term_months"].astype(int).to_numpy()))]  # the first of the longest
    drawn, fen = date.fromisoformat(longer["start_date"]), int(Decimal(longer["principal"]) * 100)
    prepaid_on = drawn + timedelta(days=min(400, int(longer["term_months"]) * 28 - 40))  # within its term
    tables["drawdowns"] = pd.DataFrame({
        "loan_id": [longer["loan_id"]] * 2, "date": [drawn.isoformat(), (drawn + timedelta(days=61)).isoformat()],
        "amount": [_plain(Decimal(fen // 2) / 100), _plain(Decimal(fen - fen // 2) / 100)]}, dtype=object)
    tables["prepayments"] = pd.DataFrame({
        "loan_id": [longer["loan_id"]], "date": [prepaid_on.isoformat()],
        "amount": [_plain(Decimal(fen // 10) / 100)], "recompute": ["term"]}, dtype=object)
    if numeric_ids:
        tables = _numeric_ids(tables)
    problems = check_tables(tables)
    if not problems.empty:
        raise AssertionError(f"people_portfolio({n_projects}, {seed}) has problems:\n{problems}")
    return tables


def write_tables(folder: Path, form: str, tables: dict[str, pd.DataFrame]) -> Path:
    """``tables`` as a portfolio in ``folder``: a workbook ``portfolio.xlsx`` with a sheet per table (``form``
    ``xlsx``, the path returned), or a file per table (``csv``, ``parquet``; the folder returned)."""
    if form == "xlsx":
        path = folder / "portfolio.xlsx"
        with pd.ExcelWriter(path, engine="openpyxl") as book:
            for name, frame in tables.items():
                frame.to_excel(book, sheet_name=name, index=False)
        return path
    for name, frame in tables.items():
        if form == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


__all__ = ["CHINESE_DATE_FORMAT", "DATE_FORMAT", "KINDS", "MONEY_FORMAT", "RATE_FORMAT", "WorkbookStyle", "write_tables",
           "cache_formula_values", "coordinate", "people_portfolio", "write_workbook"]

"""Input files as tables of typed cells, each row with the number its user sees.

A portfolio's tables come from files people make: workbooks typed by hand,
CSV files saved by Excel, Parquet files written by programs. This module
reads them without losing what the cells are, and remembers where each row
came from, so that every problem can be reported where the user will look.

Workbooks (``.xlsx``, read with python-calamine)
    A cell is read as Excel stored it: a date cell (or a datetime at midnight)
    is a ``datetime.date``; a datetime with a time of day stays a
    ``datetime.datetime`` (the readers refuse it, naming the time); a whole
    number is an ``int``; any other number is the ``Decimal`` of the shortest
    decimal text that gives back the double Excel stored (``repr``), at most
    the 15 significant digits Excel keeps and shows (so a formula's result such
    as 2023.6799999999998 reads as the 2023.68 it shows), so a cell showing
    1,234.56 is ``Decimal('1234.56')`` and a percent-formatted cell showing
    3.85% is ``Decimal('0.0385')`` (Excel stores the fraction); an error cell
    (``#N/A``, ``#DIV/0!``) is a problem, never a blank; text is
    text with surrounding spaces removed; ``TRUE``/``FALSE`` cells are booleans.
    The header is the first row that names the table's id column; rows above
    it (titles, often merged) are set aside with a note. A row whose cells are
    all blank is not a row. A column with no header is set aside with a note
    when it holds anything. ``row`` is the Excel row number.
CSV files
    Every cell is text (``"0.049"`` stays the decimal written), surrounding
    spaces removed, blank cells missing. UTF-8 (with or without the byte-order
    mark Excel writes) is read as such; a file that is not UTF-8 but is valid
    GB18030 (GBK, what Excel writes on a Chinese Windows) is read as that, with
    a note. ``row`` is the line number of the row's first line, the header
    being line 1 (a quoted cell may span lines).
Parquet files
    Columns keep their types (exact decimals, dates, integers, text), as Arrow
    columns. ``row`` is the record number, counting from 1.

A file that cannot be read at all raises :class:`~subsidy_engine.io.column_readers.PortfolioSchemaError`
with one line naming the file and why.
"""

from __future__ import annotations

import csv
import html
import io
import os
import posixpath
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from subsidy_engine.core.language import Sentence
from subsidy_engine.core.money import whole_number
from subsidy_engine.errors import PortfolioSchemaError

#: Cells of a workbook's row above this many rows are not searched for the header.
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class Limits:
    """What a reader refuses, each checked before its cost is paid.

    The defaults fit a national portfolio (1.2 million projects, a few million loans in CSV or
    Parquet) with room to spare; give larger ones to read larger files
    (``load_portfolio(path, limits=Limits(max_rows=...))``, or ``--limit rows=...`` on the command line).

    Attributes
    ----------
    max_file_bytes : int
        Size of one input file on disk (default 2 GiB).
    max_rows : int
        Data rows of one table (default 5,000,000; a sheet of a workbook holds at most 1,048,575).
    max_columns : int
        Columns of one table (default 500).
    max_cell_chars : int
        Characters of one cell (default 32,767, what an Excel cell holds); a longer cell is a
        problem of its row, and a CSV field longer than this makes the file unreadable.
    max_sheet_cells : int
        The used area of a workbook's sheet, rows times columns from A1 to its farthest cell
        (default 30,000,000): the reader lays out every cell of it, empty or not.
    max_part_bytes : int
        One part of a workbook (a sheet, the shared strings) once uncompressed (default 2 GiB).
    max_inflate_ratio : int
        How many times larger than its compressed size a workbook's part may be once it is over
        10 MB (default 100; real sheets inflate 5 to 20 times): beyond it the file is a zip bomb.
    max_table_bytes : int
        A Parquet table once its columns are decoded (default 2 GiB), counted batch by batch as it
        is read: a repeated long text stored once in a small file decodes to every row.
    """

    max_file_bytes: int = 2 * 2**30
    max_rows: int = 5_000_000
    max_columns: int = 500
    max_cell_chars: int = 32_767
    max_sheet_cells: int = 30_000_000
    max_part_bytes: int = 2 * 2**30
    max_inflate_ratio: int = 100
    max_table_bytes: int = 2 * 2**30

    @classmethod
    def parse(cls, items: list[str] | None) -> Limits:
        """Limits from ``NAME=VALUE`` texts (``rows=8000000``, ``file_bytes=4000000000``).

        >>> Limits.parse(["rows=8_000_000"]).max_rows
        Traceback (most recent call last):
        ...
        ValueError: --limit rows=8_000_000: the value is not a whole number above 0
        >>> Limits.parse(["rows=8000000", "cell_chars=100"]).max_cell_chars
        100
        """
        names = [f.removeprefix("max_") for f in cls.__dataclass_fields__]
        values: dict[str, int] = {}
        for item in items or []:
            name, _, value = item.partition("=")
            if name.strip() not in names:
                raise ValueError(f"--limit {item}: unknown limit; one of {', '.join(names)}")
            number = whole_number(value)
            if number is None or number < 1:
                raise ValueError(f"--limit {item}: the value is not a whole number above 0")
            values[f"max_{name.strip()}"] = number
        return cls(**values)


DEFAULT_LIMITS = Limits()
#: A workbook part smaller than this is not judged by its compression ratio.
_RATIO_FROM_BYTES = 10 * 2**20


def _check_file_size(file: str, limits: Limits) -> None:
    try:
        size = os.stat(file).st_size
    except FileNotFoundError:
        raise PortfolioSchemaError(f"{file}: no such file") from None
    except OSError as exc:
        raise PortfolioSchemaError(f"{file}: cannot be read ({exc.strerror})") from None
    if size > limits.max_file_bytes:
        raise PortfolioSchemaError(f"{file}: {size:,} bytes, more than the {limits.max_file_bytes:,} read "
                                   "(limit file_bytes)")


def _check_rows_and_columns(where: str, rows: int, columns: int, limits: Limits) -> None:
    if rows > limits.max_rows:
        raise PortfolioSchemaError(f"{where}: more than {limits.max_rows:,} rows (limit rows)")
    if columns > limits.max_columns:
        raise PortfolioSchemaError(f"{where}: {columns:,} columns, more than {limits.max_columns:,} (limit columns)")


@dataclass(frozen=True)
class CellProblem:
    """A cell the file itself makes unusable (merged over rows, a formula without a value)."""

    position: int  # 0-based data row
    column: str
    reason: str


@dataclass
class SheetTable:
    """One table as read from a file.

    Attributes
    ----------
    frame : DataFrame
        One column per header cell, one row per data row; cells as typed (see the module).
    rows : ndarray of int64
        For each row of ``frame``, the row number the user's tool shows.
    file : str
        The file as given.
    sheet : str or None
        The workbook's sheet, None for CSV and Parquet files.
    notes : list of str
        What was set aside and why (title rows, columns without a header, the text encoding).
    cell_problems : list of CellProblem
        Cells that the file makes unusable, found while reading.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    file: str
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)
    cell_problems: list[CellProblem] = field(default_factory=list)

    @property
    def where(self) -> str:
        """``file`` or ``file, sheet <name>``, for messages."""
        return self.file if self.sheet is None else f"{self.file}, sheet {self.sheet!r}"


def column_letter(index: int) -> str:
    """Excel's letters of a 0-based column index.

    >>> column_letter(0), column_letter(25), column_letter(26), column_letter(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def workbook_cell(value: Any) -> Any:
    """A cell of a workbook as the engine reads it (see the module docstring).

    >>> workbook_cell(1234.56), workbook_cell(0.0385), workbook_cell(60.0), workbook_cell(" L1 ")
    (Decimal('1234.56'), Decimal('0.0385'), 60, 'L1')
    >>> workbook_cell(datetime(2026, 3, 1)), workbook_cell("")
    (datetime.date(2026, 3, 1), None)
    >>> workbook_cell(0.1 + 0.2), workbook_cell(1234.56 + 789.12)   # Excel's 15 significant digits
    (Decimal('0.3'), Decimal('2023.68'))
    """
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        # The shortest text that is this double, as typed; Excel keeps and shows 15 significant digits, so
        # a formula's result (=1234.56+789.12 is stored as 2023.6799999999998) reads as it shows: 2023.68.
        shortest = repr(value)
        exact = Decimal(shortest)
        if len(exact.as_tuple().digits) > 15:
            rounded = Decimal(f"{value:.15g}")
            if rounded == rounded.to_integral_value() and abs(rounded) < 2**53:
                return int(rounded)
            return rounded
        return exact
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0) else value
    return value  # int, date, time, timedelta


def _header_row(rows: list[list[Any]], id_column: str | None) -> int:
    """The index of the header row: the first that names ``id_column``, else the first non-blank row."""
    first = None
    for k, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [str(c).strip() for c in row if c not in (None, "")]
        if not cells:
            continue
        if first is None:
            first = k
        if id_column is None or id_column in cells:
            return k
    return first if first is not None else -1


def _frame_from_rows(header_cells: list[Any], body: list[list[Any]], numbers: list[int], where: str,
                     letters: bool) -> tuple[pd.DataFrame, np.ndarray, list[str], list[int]]:
    """Columns named by the header; columns without a name set aside (noted if they hold anything).

    Returns the frame, the row numbers, the notes, and for each kept column its index in the row.
    """
    names: list[str] = []
    keep: list[int] = []
    notes: list[str] = []
    width = max([len(header_cells)] + [len(r) for r in body])
    for k in range(width):
        name = header_cells[k] if k < len(header_cells) else None
        name = None if name is None else str(name).strip() or None
        if name is None:
            if any(k < len(r) and r[k] is not None for r in body):
                label = f"column {column_letter(k)}" if letters else f"column {k + 1}"
                notes.append(Sentence(f"{where}: {label} has values but no header; set aside", "column_set_aside",
                                      where=where, column=label))
            continue
        names.append(name)
        keep.append(k)
    columns = {}
    for name, k in zip(names, keep):
        if name in columns:  # a repeated header: keep both apart, the table check reports it
            name = f"{name}\u0000{k}"
        columns[name] = [r[k] if k < len(r) else None for r in body]
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()},
                         index=pd.RangeIndex(len(body)))
    return frame, np.asarray(numbers, dtype=np.int64), notes, keep


def repeated_columns(frame: pd.DataFrame) -> list[str]:
    """Header names that appear more than once: read apart from a file as ``name\\0index``, or twice in a
    table made in Python."""
    names = Counter(str(c).split("\u0000", 1)[0] for c in frame.columns)
    return sorted(name for name, count in names.items() if count > 1)


# ---------------------------------------------------------------------------
# Workbooks
# ---------------------------------------------------------------------------
def read_workbook(path: str | os.PathLike[str], id_columns: Mapping[str, str] | None = None,
                  default_id_column: str | None = None, *, limits: Limits = DEFAULT_LIMITS
                  ) -> tuple[dict[str, SheetTable], list[str]]:
    """Every sheet of a workbook as a table of typed cells.

    Parameters
    ----------
    path : path of an ``.xlsx`` file
    id_columns : mapping, optional
        For sheets named as a known table (keys in lower case: a sheet's name is
        matched trimmed and whatever its case), the id column that marks its header
        row (rows above it are titles). Other sheets take their first non-blank
        row as the header, or the row that names ``default_id_column`` when given.
    limits : Limits
        What is refused before it is read (file size, the size of each part once
        uncompressed, each sheet's used area, rows, columns, characters of a cell).

    Returns
    -------
    (dict of sheet name -> SheetTable, notes)
    """
    from python_calamine import CalamineWorkbook

    file = str(path)
    _check_file_size(file, limits)
    _check_parts(file, limits)  # before calamine, which reads the shared strings as it opens the file
    try:
        book = CalamineWorkbook.from_path(file)
    except FileNotFoundError:
        raise PortfolioSchemaError(f"{file}: no such file") from None
    except Exception as exc:  # calamine's own errors: a corrupt or foreign file
        raise PortfolioSchemaError(f"{file}: cannot be read as an .xlsx workbook ({_first_line(exc)})") from None
    sheets: dict[str, SheetTable] = {}
    notes: list[str] = []
    uncached, extent = _scan_sheets(file)
    try:
        for name in book.sheet_names:
            if extent and name not in extent:  # fail closed: a sheet whose size could not be found is not read
                raise PortfolioSchemaError(f"{file}, sheet {name!r}: its part could not be found to measure it; "
                                           "save the workbook again in Excel")
            _check_extent(f"{file}, sheet {name!r}", extent.get(name), limits)
            sheet = book.get_sheet_by_name(name)
            # a blank row is kept as [] (its number counts), so that empty formatted rows cost little
            raw = [r if any(c != "" for c in r) else [] for r in sheet.iter_rows()] if sheet.start is not None \
                else []
            if sheet.start is not None and sheet.start != (0, 0):  # iter_rows starts at the used area
                top, left = sheet.start
                raw = [[] for _ in range(top)] + [[""] * left + r if r else r for r in raw]
            merged = sheet.merged_cell_ranges or []
            sheets[name] = _sheet_table(file, name, raw, merged, uncached.get(name, []),
                                        (id_columns or {}).get(name.strip().lower(), default_id_column), limits)
    except PortfolioSchemaError:
        raise
    except Exception as exc:
        raise PortfolioSchemaError(f"{file}: cannot be read as an .xlsx workbook ({_first_line(exc)})") from None
    finally:
        book.close()
    return sheets, notes


def _check_parts(file: str, limits: Limits) -> None:
    """Refuse a workbook whose parts would be too large once uncompressed (a zip bomb: a 310 KB file
    holding one 300 MB string), from the sizes the zip's directory states, before any is inflated."""
    try:
        with zipfile.ZipFile(file) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: calamine says what the file is not
    for part in parts:
        inflated, packed = part.file_size, max(part.compress_size, 1)
        if inflated > limits.max_part_bytes:
            raise PortfolioSchemaError(f"{file}: its part {part.filename} is {inflated:,} bytes uncompressed, more "
                                       f"than the {limits.max_part_bytes:,} read (limit part_bytes)")
        if inflated > _RATIO_FROM_BYTES and inflated > limits.max_inflate_ratio * packed:
            raise PortfolioSchemaError(
                f"{file}: its part {part.filename} inflates {inflated // packed:,} times ({packed:,} to {inflated:,} "
                f"bytes), more than the {limits.max_inflate_ratio} times of a real workbook (limit inflate_ratio); "
                "a damaged or malicious file")


@dataclass(frozen=True)
class _Extent:
    """A sheet's used area as its cells state it (not as its ``<dimension>`` claims)."""

    rows: int  # the largest row number
    columns: int  # the largest column number (an upper bound: 26 when no cell is past column Z)
    xml_bytes: int


def _check_extent(where: str, extent: _Extent | None, limits: Limits) -> None:
    """Refuse a sheet whose used area costs more than it holds, before calamine lays out every empty cell."""
    if extent is None:
        return
    area = extent.rows * extent.columns
    if area > limits.max_sheet_cells:
        raise PortfolioSchemaError(
            f"{where}: its cells reach row {extent.rows:,} and column {column_letter(extent.columns - 1)} "
            f"({area:,} cells), more than the {limits.max_sheet_cells:,} read (limit sheet_cells); delete the rows "
            "and columns past the table (a stray value far below or to the right)")
    # A real sheet spends tens of bytes of XML on each cell of its area; a stray value far below a small
    # table spends a few bytes on millions of empty cells, which the reader would still lay out.
    if area > 1_000_000 and area > extent.xml_bytes:
        raise PortfolioSchemaError(
            f"{where}: a value at row {extent.rows:,} lies far below the rest of the sheet ({extent.xml_bytes:,} bytes "
            f"of cells spread over {area:,}); delete the rows past the table")
    if extent.rows > limits.max_rows + HEADER_SEARCH_ROWS:
        raise PortfolioSchemaError(f"{where}: {extent.rows:,} rows, more than {limits.max_rows:,} (limit rows)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# Attributes as XML allows them: either quote, spaces around "=" (a reader that expects r="A1" only is
# easy to blind). Element names may carry a namespace prefix (<x:c>).
_Q = rb'\s*=\s*["\']'
_SHEET = re.compile(rb'<(?:[\w.-]+:)?sheet\b([^>]*)>')
_RELATION = re.compile(rb'<(?:[\w.-]+:)?Relationship\b([^>]*)>')
# a cell and its body up to its end tag, the body never running past another cell's tag (so a cell that
# is never closed costs one look, not a scan to the end of the sheet for each)
_CELL = re.compile(rb'<(?:[\w.-]+:)?c\b([^>]*?)(?:/>|>([^<]*(?:<(?!/?(?:[\w.-]+:)?c\b)[^<]*)*)</(?:[\w.-]+:)?c>)')
_REFERENCE = re.compile(rb'(?:^|\s)r' + _Q + rb'\s*([A-Za-z]+)([0-9]+)')
_FORMULA = re.compile(rb'<(?:[\w.-]+:)?f\b[^>]*?(?:/>|>([^<]*)</(?:[\w.-]+:)?f>)')
_VALUE = re.compile(rb'<(?:[\w.-]+:)?v\b[^>]*>([^<]*)</(?:[\w.-]+:)?v>')
_TYPE = re.compile(rb'(?:^|\s)t' + _Q + rb'([a-zA-Z]+)')
_HAS_FORMULA_OR_ERROR = re.compile(rb'<(?:[\w.-]+:)?f\b|\st' + _Q + rb'e["\']')
# the r attributes of a sheet: a row's (digits only), a cell's row (after its letters), a cell past column Z
_ROW_REFERENCE = re.compile(rb'\sr' + _Q + rb'\s*([0-9]+)')
_CELL_ROW = re.compile(rb'\sr' + _Q + rb'\s*[A-Za-z]+([0-9]+)')
_WIDE_COLUMN = re.compile(rb'\sr' + _Q + rb'\s*([A-Za-z]{2,})[0-9]')
_ROW_TAG = re.compile(rb'<(?:[\w.-]+:)?row[\s/>]')
_CELL_TAG = re.compile(rb'<(?:[\w.-]+:)?c[\s/>]')


def _scan_sheets(file: str) -> tuple[dict[str, list[tuple[int, int, str]]], dict[str, _Extent]]:
    """Per sheet name, the cells a reader sees blank that are not: (0-based row, column, reason); and
    each sheet's used area as its rows and cells state it (a ``<dimension>`` may say anything).

    Error cells (``#N/A``, ``#DIV/0!``, which calamine reads as blank) and formulas with no saved value.

    A workbook written by a program that does not calculate (openpyxl, many exporters) stores
    formulas without their results; a reader then sees a blank. Such a cell is a problem to
    report, never a zero. Only sheets that hold a formula at all are scanned.
    """
    found: dict[str, list[tuple[int, int, str]]] = {}
    extent: dict[str, _Extent] = {}
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError):
        return {}, {}  # not a zip: calamine says what the file is not
    try:
        with archive:
            book = archive.read("xl/workbook.xml")
            relations = {_attribute(a, b"Id"): _attribute(a, b"Target")
                         for a in _RELATION.findall(archive.read("xl/_rels/workbook.xml.rels"))}
            for attributes in _SHEET.findall(book):
                name, rel = _attribute(attributes, b"name"), _relation_id(attributes)
                target = relations.get(rel, b"").decode()
                member = posixpath.normpath(target.lstrip("/") if target.startswith("/") else f"xl/{target}")
                try:
                    xml = archive.read(member)
                except KeyError:
                    continue
                extent[_xml_text(name)] = _sheet_extent(xml)
                if _HAS_FORMULA_OR_ERROR.search(xml) is None:
                    continue
                for attributes, body in _CELL.findall(xml):
                    formula = _FORMULA.search(body or b"")
                    kind = _TYPE.search(attributes)
                    is_error = kind is not None and kind.group(1) == b"e"
                    reference = _REFERENCE.search(attributes)
                    if (formula is None and not is_error) or reference is None:
                        continue
                    value = _VALUE.search(body or b"")
                    if is_error:
                        shown = value.group(1).decode("utf-8", "replace") if value else "#ERROR"
                        reason = (f"holds the Excel error {_xml_text(shown.encode())}"
                                  + (f" (the formula ={_xml_text(formula.group(1) or b'')})" if formula else "")
                                  + "; correct it or type the value")
                    elif value is not None and (value.group(1) or (kind is not None and kind.group(1) == b"str")):
                        continue  # a saved result (an empty one is a formula's empty text, t="str")
                    else:
                        assert formula is not None  # not an error cell: skipped above unless a formula
                        text = _xml_text(formula.group(1) or b"")
                        reason = (f"is the formula ={text} with no saved value (the file was written by a "
                                  "program that does not calculate); open and save it in Excel, or type the value")
                    letters, digits = reference.groups()
                    found.setdefault(_xml_text(name), []).append((int(digits) - 1, _column_index(letters.upper()),
                                                                  reason))
    except KeyError as exc:  # no workbook part: calamine says what is missing
        if "workbook" in str(exc):
            return {}, {}
        raise PortfolioSchemaError(f"{file}: cannot be read as an .xlsx workbook ({_first_line(exc)})") from None
    except Exception as exc:  # a damaged part (zlib.error, a bad CRC): one line, naming the file
        raise PortfolioSchemaError(f"{file}: cannot be read as an .xlsx workbook (a damaged part: "
                                   f"{_first_line(exc)})") from None
    return found, extent


def _relation_id(attributes: bytes) -> bytes:
    """A sheet's relationship id, whatever the prefix its namespace was given (``r:id``, ``rel:id``)."""
    found = re.search(rb'(?:^|\s)[\w.-]+:id' + _Q + rb'([^"\']*)', attributes)
    return found.group(1) if found else b""


def _sheet_extent(xml: bytes) -> _Extent:
    """The rows and columns python-calamine will lay out for a sheet, from every row's and cell's ``r``
    and, for rows and cells that state none (each then follows the one before), from their number.

    A few passes of the regular expression engine, in windows of 8 MB cut before a tag (so that no
    attribute is cut in two and no list of millions is built): the size of what the reader allocates
    must be known before it allocates it.
    """
    top_row, widest, rows_with_r, cells_with_r, start = 0, 1, 0, 0, 0
    while start < len(xml):
        end = xml.find(b"<", start + (8 << 20))
        end = len(xml) if end < 0 else end
        try:
            rows = list(map(int, _ROW_REFERENCE.findall(xml, start, end)))
            cells = list(map(int, _CELL_ROW.findall(xml, start, end)))
        except ValueError:  # a number of thousands of digits: beyond any limit
            return _Extent(10**12, 1, len(xml))
        top_row = max(top_row, max(rows, default=0), max(cells, default=0))
        rows_with_r, cells_with_r = rows_with_r + len(rows), cells_with_r + len(cells)
        wide = _WIDE_COLUMN.findall(xml, start, end)  # past column Z: rare, so few
        widest = max(widest, max((_column_index(c.upper()) + 1 for c in set(wide)), default=1))
        start = end
    # rows and cells that state no number follow the one before: count the tags (a prefixed tag, <x:row>,
    # only by the slower pattern)
    prefixed = b":row" in xml or b":c " in xml or b":c>" in xml
    row_tags = len(_ROW_TAG.findall(xml)) if prefixed else sum(map(xml.count, (b"<row ", b"<row>", b"<row/")))
    cell_tags = len(_CELL_TAG.findall(xml)) if prefixed else sum(map(xml.count, (b"<c ", b"<c>", b"<c/")))
    top_row += max(row_tags - rows_with_r, 0)
    columns = widest if widest > 1 else (26 if cells_with_r else 1)
    if cell_tags > cells_with_r:
        columns += _most_cells_in_a_row(xml)
    return _Extent(top_row, columns, len(xml))


def _most_cells_in_a_row(xml: bytes) -> int:
    """The largest number of cell tags between two row tags (for cells that state no reference)."""
    starts = [m.start() for m in _ROW_TAG.finditer(xml)] + [len(xml)]
    return max((len(_CELL_TAG.findall(xml, a, b)) for a, b in zip(starts, starts[1:])), default=0)


def _column_index(letters: bytes) -> int:
    column = 0
    for ch in letters.decode():
        column = column * 26 + ord(ch) - 64
    return column - 1


def _attribute(attributes: bytes, name: bytes) -> bytes:
    found = re.search(rb'(?:^|\s)' + re.escape(name) + rb'\s*=\s*(["\'])(.*?)\1', attributes, re.DOTALL)
    return found.group(2) if found else b""


def _xml_text(raw: bytes) -> str:
    """XML text as the reader sees it: entities and character references (``&#112;``) decoded."""
    return html.unescape(raw.decode("utf-8", "replace"))


def _sheet_table(file: str, sheet: str, raw: list[list[Any]], merged: list[tuple[tuple[int, int], tuple[int, int]]],
                 uncached: list[tuple[int, int, str]], id_column: str | None,
                 limits: Limits = DEFAULT_LIMITS) -> SheetTable:
    rows = [[workbook_cell(v) for v in r] for r in raw]
    where = f"{file}, sheet {sheet!r}"
    header = _header_row(rows, id_column)
    if header < 0:
        return SheetTable(pd.DataFrame(), np.zeros(0, np.int64), file, sheet)
    notes: list[str] = []
    if header > 0:
        notes.append(Sentence(f"{where}: rows 1-{header} above the header (row {header + 1}) set aside"
                              if header > 1 else f"{where}: row 1 above the header (row 2) set aside",
                              "rows_set_aside" if header > 1 else "row_set_aside", file=file, sheet=sheet,
                              last=header, header=header + 1))
    body, numbers = [], []
    for k in range(header + 1, len(rows)):
        if any(c is not None for c in rows[k]):
            body.append(rows[k])
            numbers.append(k + 1)  # Excel rows count from 1
    _check_rows_and_columns(where, len(body), len(rows[header]), limits)
    frame, row_numbers, column_notes, kept = _frame_from_rows(rows[header], body, numbers, where, letters=True)
    notes.extend(column_notes)
    # A cell merged over several data rows holds its value in the first row only: the others would
    # read as blank. Each row needs its own value, so every covered row is a problem, not a guess.
    problems: list[CellProblem] = []
    position_of_row = {n: p for p, n in enumerate(numbers)}
    name_of_index = dict(zip(kept, frame.columns))
    for (r0, c0), (r1, c1) in merged:
        if r1 <= header:
            continue  # titles above the header
        span = f"{column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1}"
        for r in range(max(r0, header + 1), r1 + 1):
            for c in range(c0, c1 + 1):
                if r + 1 in position_of_row and c in name_of_index and (r, c) != (r0, c0):
                    problems.append(CellProblem(position_of_row[r + 1], str(name_of_index[c]),
                                                f"is inside the merged cell {span}: each cell needs its own "
                                                "value; unmerge the cells"))
    for r, c, reason in uncached:
        if r + 1 in position_of_row and c in name_of_index:
            problems.append(CellProblem(position_of_row[r + 1], str(name_of_index[c]), reason))
    problems.extend(_long_cells(frame, limits))
    return SheetTable(frame, row_numbers, file, sheet, notes, problems)


def _long_cells(frame: pd.DataFrame, limits: Limits) -> list[CellProblem]:
    """A cell longer than ``limits.max_cell_chars`` is a problem of its row (and is not read further)."""
    problems = []
    for k, name in enumerate(frame.columns):
        lengths = frame[name].map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy()
        for position in np.flatnonzero(lengths > limits.max_cell_chars):
            frame.iat[int(position), k] = None
            problems.append(_long_cell(int(position), str(name), int(lengths[position]), limits))
    return problems


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------
def read_csv_table(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> SheetTable:
    """A CSV file as a table of text cells, with each row's line number (see the module)."""
    file = str(path)
    _check_file_size(file, limits)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise PortfolioSchemaError(f"{file}: no such file") from None
    except OSError as exc:
        raise PortfolioSchemaError(f"{file}: cannot be read ({exc.strerror})") from None
    notes: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise PortfolioSchemaError(
                f"{file}: not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8'") from None
        notes.append(Sentence(f"{file}: read as GB18030 (GBK) text, not UTF-8", "read_as_gb18030", file=file))
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise PortfolioSchemaError(f"{file}: line {line} holds a NUL character; this is not a CSV text file")
    commas, line = _most_commas_on_a_line(data)
    if commas > 20 * limits.max_columns:  # refused before the parser lays out a row of millions of cells
        raise PortfolioSchemaError(f"{file}: line {line}: {commas:,} commas, more than a row of "
                                   f"{limits.max_columns:,} columns holds (limit columns)")
    field_limit = csv.field_size_limit(limits.max_cell_chars)  # process-wide: put back below
    # strict: a quote left open (which would swallow every line after it into one cell) or text after a
    # closing quote is an error naming its line, not a guess; Excel writes neither
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[Any] | None = None
    body: list[list[Any]] = []
    numbers: list[int] = []
    too_wide: list[tuple[int, int]] = []
    last_line = 0
    try:
        for cells in reader:
            first_line = last_line + 1
            last_line = reader.line_num
            values = [c.strip() or None for c in cells]
            if not any(v is not None for v in values):
                continue  # a blank line is not a row
            if header is None:
                header = values
                _check_rows_and_columns(file, 0, len(header), limits)
                continue
            if len(values) > limits.max_columns:  # a row wider than the header: refused naming its line
                _check_rows_and_columns(f"{file}: line {first_line}", 0, len(values), limits)
            if len(body) == limits.max_rows:  # one row more than the limit: refused before it is kept
                _check_rows_and_columns(file, len(body) + 1, 0, limits)
            if len(values) > len(header) and any(v is not None for v in values[len(header):]):
                too_wide.append((len(body), len(values)))
            body.append(values)
            numbers.append(first_line)
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise PortfolioSchemaError(f"{file}: line {last_line + 1}: a quoted cell is never closed (the file ends "
                                       "inside it); close its quote") from None
        if "field limit" in str(exc):
            raise PortfolioSchemaError(f"{file}: line {reader.line_num}: a cell longer than "
                                       f"{limits.max_cell_chars:,} characters (limit cell_chars)") from None
        raise PortfolioSchemaError(f"{file}: line {reader.line_num}: {exc}") from None
    finally:
        csv.field_size_limit(field_limit)
    if header is None:
        raise PortfolioSchemaError(f"{file}: is empty (no header row)")
    frame, row_numbers, column_notes, _ = _frame_from_rows(header, [r[:len(header)] for r in body], numbers,
                                                           file, letters=False)
    notes.extend(column_notes)
    problems = [CellProblem(position, "(row)", f"has {count} cells; the header has {len(header)}")
                for position, count in too_wide]
    return SheetTable(frame, row_numbers, file, None, notes, problems)


# ---------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------
def read_parquet_table(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> SheetTable:
    """A Parquet file as Arrow-typed columns; ``rows`` are record numbers from 1."""
    import pyarrow.parquet as pq

    file = str(path)
    _check_file_size(file, limits)
    try:
        parquet = pq.ParquetFile(file)
        shape = parquet.metadata  # rows and columns as the footer states them, before any is read
        _check_rows_and_columns(file, shape.num_rows, shape.num_columns, limits)
        batches: list[pa.RecordBatch] = []
        problems: list[CellProblem] = []
        decoded = first = 0
        for batch in parquet.iter_batches(batch_size=65_536):
            decoded += batch.nbytes
            if decoded > limits.max_table_bytes:
                raise PortfolioSchemaError(f"{file}: its columns decode to more than {limits.max_table_bytes:,} "
                                           "bytes (limit table_bytes)")
            batch, long = _without_long_text(batch, first, limits)
            first += batch.num_rows
            batches.append(batch)
            problems.extend(long)
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
        frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    except FileNotFoundError:
        raise PortfolioSchemaError(f"{file}: no such file") from None
    except PortfolioSchemaError:
        raise
    except Exception as exc:  # pyarrow's errors for a corrupt or foreign file
        raise PortfolioSchemaError(f"{file}: cannot be read as Parquet ({_first_line(exc)})") from None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    problems.extend(_binary_as_text(frame))
    return SheetTable(frame, np.arange(1, len(frame) + 1, dtype=np.int64), file, cell_problems=problems)


def _long_cell(position: int, column: str, length: int, limits: Limits) -> CellProblem:
    """The problem of a cell longer than ``limits.max_cell_chars`` (its text is never quoted back)."""
    return CellProblem(position, column, f"holds {length:,} characters, more than the {limits.max_cell_chars:,} of a "
                                         "cell (limit cell_chars)")


def _without_long_text(batch: pa.RecordBatch, first: int, limits: Limits
                       ) -> tuple[pa.RecordBatch, list[CellProblem]]:
    """A batch with each text longer than ``limits.max_cell_chars`` made null, and a problem for each
    (``first``: the position of the batch's first row in the table)."""
    import pyarrow.compute as pc

    problems, columns = [], []
    for name, column in zip(batch.schema.names, batch.columns):
        kind = column.type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        if not (text or pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
            columns.append(column)
            continue
        most_bytes = pc.max(pc.binary_length(column)).as_py()  # from the offsets alone: 15 times cheaper
        if most_bytes is None or most_bytes <= limits.max_cell_chars:  # a character takes a byte or more
            columns.append(column)
            continue
        lengths = pc.utf8_length(column) if text else pc.binary_length(column)
        too_long = pc.fill_null(pc.greater(lengths, limits.max_cell_chars), False)
        for position in np.flatnonzero(too_long.to_numpy(zero_copy_only=False)):
            problems.append(_long_cell(first + int(position), str(name), lengths[position].as_py(), limits))
        columns.append(pc.if_else(too_long, pa.nulls(len(column), kind), column) if pc.any(too_long).as_py()
                       else column)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema), problems


def _most_commas_on_a_line(data: bytes) -> tuple[int, int]:
    """The most commas on one line of a CSV file's bytes, and that line's number, counted in blocks of
    16 MB (a comma and a newline are single bytes in UTF-8 and in GB18030)."""
    most, most_line, carry, lines_before = 0, 1, 0, 0
    view = memoryview(data)
    block = 1 << 24
    for start in range(0, len(data), block):
        part = np.frombuffer(view[start:start + block], np.uint8)
        commas, ends = np.flatnonzero(part == 44), np.flatnonzero(part == 10)
        per_line = np.diff(np.searchsorted(commas, ends), prepend=0)  # commas of each line ending here
        if per_line.shape[0]:
            per_line[0] += carry
            k = int(per_line.argmax())
            if per_line[k] > most:
                most, most_line = int(per_line[k]), lines_before + k + 1
            carry = commas.shape[0] - int(np.searchsorted(commas, ends[-1]))
        else:
            carry += commas.shape[0]
        lines_before += ends.shape[0]
        if carry > most:
            most, most_line = carry, lines_before + 1
    return most, most_line


def _binary_as_text(frame: pd.DataFrame) -> list[CellProblem]:
    """Binary columns (what some writers make of text) as UTF-8 text; a value that is not UTF-8 is a
    problem of its row, never a crash or a guessed character."""
    problems = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if not (isinstance(dtype, pd.ArrowDtype) and dtype.pyarrow_dtype in (pa.binary(), pa.large_binary())):
            continue
        texts: list[str | None] = []
        for position, value in enumerate(pa.array(frame[name].array).to_pylist()):
            try:
                texts.append(None if value is None else bytes(value).decode("utf-8"))
            except UnicodeDecodeError as exc:
                texts.append(None)
                problems.append(CellProblem(position, name, f"is not UTF-8 text (byte {exc.start} of the value); "
                                                            "write the column as text"))
        frame[name] = pd.Series(texts, dtype=pd.ArrowDtype(pa.string()), index=frame.index)
    return problems


def read_table_file(path: str | os.PathLike[str], id_column: str | None = None, *,
                    limits: Limits = DEFAULT_LIMITS, table: str | None = None) -> SheetTable:
    """One table from a CSV, Parquet or ``.xlsx`` file: of a workbook, the sheet named ``table`` when there is
    one, else its only sheet with an ``id_column`` (several are ambiguous: refused), else its first sheet
    that has a header."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        return read_parquet_table(file, limits=limits)
    if suffix == ".xlsx":
        sheets, notes = read_workbook(file, default_id_column=id_column, limits=limits)
        named = [t for name, t in sheets.items() if table is not None and name.strip().lower() == table]
        with_id = named or [t for t in sheets.values() if id_column is not None and id_column in t.frame.columns]
        if table is not None and len(with_id) > 1:
            raise PortfolioSchemaError(f"{file}: {len(with_id)} sheets have a {id_column!r} column and none is "
                                       f"named {table!r}; name the sheet of the {table} table so")
        for found in with_id or [t for t in sheets.values() if len(t.frame.columns)]:
            found.notes[:0] = notes
            return found
        raise PortfolioSchemaError(f"{file}: no sheet holds a table")
    if suffix == ".xls":
        raise PortfolioSchemaError(f"{file}: the old .xls format is not read; save it as .xlsx")
    return read_csv_table(file, limits=limits)


__all__ = ["DEFAULT_LIMITS", "CellProblem", "Limits", "SheetTable", "column_letter", "read_csv_table", "read_parquet_table",
           "read_table_file", "read_workbook", "repeated_columns", "workbook_cell"]

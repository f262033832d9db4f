"""A small, fast .xlsx writer for report tables: exact decimal digits, no float on the way.

openpyxl builds an object per cell and takes about 20 µs for each; a city's
project detail has a million cells. Reports need little of a spreadsheet's
machinery: one table per sheet, a header row, numbers, text and booleans. So
the sheets are written here as SpreadsheetML (ECMA-376) directly:

* a decimal column is written as its exact digits (Arrow's text of the value,
  or ``format(d, "f")`` for a column of mixed objects), so the cell holds
  exactly the amount computed; integers likewise; a float (only ratios
  such as probabilities, never money) as its shortest round-trip text;
* text is an inline string, XML-escaped (control characters other than tab,
  newline and carriage return, and U+FFFE/U+FFFF, which XML 1.0 cannot carry,
  are dropped);
* blank cells (None, NaN, ``pd.NA``) are left out.

Each table is written Excel-native (issue 19, point 2): a bold, shaded header row that is frozen and
filtered, columns as wide as their content (a Chinese character counts two), and a number format per column
kind: ``money`` ``#,##0.00``, ``share`` ``0.0%``, ``number`` ``0.00``, ``integer`` and ``year`` ``0``, ``date``
``yyyy-mm-dd`` (a date is written as Excel's day number, so it sorts and filters as a date), ``long_text``
wrapped. A :class:`Sheet` gives a table its headers, kinds and shaded rows; a bare DataFrame gets kinds from
its column types (decimal: money, integer, float: number, date, text).

The files open in Excel, LibreOffice and openpyxl (the tests read them back, and have LibreOffice convert one).
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from subsidy_engine.reports.outputs import signals_held

MAX_ROWS = 1_048_576  # rows of a sheet, header included
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# XML would read a bare carriage return as a line feed: it is written as a character reference
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's (and LibreOffice's) day numbers, past the 1900 leap bug

#: Column kinds, each with its number format (None: General). The order fixes the style numbers below.
KINDS: dict[str, str | None] = {"text": None, "money": "#,##0.00", "share": "0.0%", "number": "0.00",
                                "integer": "0", "year": "0", "date": "yyyy-mm-dd", "boolean": None,
                                "long_text": None}
_KIND_ORDER = tuple(KINDS)
# cellXfs: 0 the default, 1 a header, 2 a title, 3 a label; then each kind plain, then each kind shaded
_HEADER, _TITLE, _LABEL, _FIRST_KIND = 1, 2, 3, 4
_LONG_TEXT_WIDTH, _TEXT_WIDTH, _MIN_WIDTH = 60.0, 48.0, 6.0


def _style(kind: str, marked: bool = False) -> int:
    return _FIRST_KIND + _KIND_ORDER.index(kind) + (len(_KIND_ORDER) if marked else 0)


class _SharedStrings:
    """The workbook's table of repeated texts (``xl/sharedStrings.xml``): a column whose values repeat (names,
    reasons, statuses) is written as indexes into it, which keeps a city's report small and quick to write."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.references = 0  # cells that refer to the table (the count the part states, beside the unique count)

    def codes(self, texts: list[str | None]) -> pa.Array:
        """The index of each text (added when new)."""
        out: list[int | None] = []
        for value in texts:
            if value is None:
                out.append(None)
                continue
            found = self.index.get(value)
            if found is None:
                found = self.index[value] = len(self.index)
            out.append(found)
        return pa.array(out, pa.int64())

    def xml(self) -> list[bytes | memoryview]:
        items = _join('<si><t xml:space="preserve">', _escaped(pa.array(list(self.index), pa.large_string())),
                      "</t></si>")
        return [('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                 f'count="{self.references}" uniqueCount="{len(self.index)}">').encode(),
                _text_bytes(items) if len(self.index) else b"", b"</sst>"]


@dataclass(frozen=True)
class Sheet:
    """A table and how it is shown.

    ``headers``: the text of the header row (default: the column names). ``kinds``: each column's kind, a key
    of :data:`KINDS` (None or absent: from the column's type). ``marked``: rows to shade (a bool per row), such
    as the illustrative parameters. ``table``: False for a sheet of notes (no frozen, filtered header row; the
    first column bold); ``title``: a line above such a sheet's rows.
    """

    frame: pd.DataFrame
    headers: Sequence[str] | None = None
    kinds: Sequence[str | None] | None = None
    marked: np.ndarray | None = None
    table: bool = True
    title: str | None = None


def _column_letters(n: int) -> list[str]:
    letters = []
    for k in range(n):
        name, k = "", k + 1
        while k:
            k, r = divmod(k - 1, 26)
            name = chr(65 + r) + name
        letters.append(name)
    return letters


def _attributes(ref: str, style: int) -> str:
    return f'r="{ref}"' + (f' s="{style}"' if style else "")


def _cell(ref: str, value: object, style: int = 0, date_style: int = 0) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    at = _attributes(ref, style)
    if isinstance(value, (bool, np.bool_)):
        return f'<c {at} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, Decimal):
        if not value.is_finite():
            return ""
        return f'<c {at}><v>{format(value, "f")}</v></c>'
    if isinstance(value, (int, np.integer)):
        return f'<c {at}><v>{int(value)}</v></c>'
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) or math.isinf(value) else f'<c {at}><v>{float(value)!r}</v></c>'
    if isinstance(value, (datetime, pd.Timestamp)):
        value = value.isoformat()  # a time of day: as its text (reports hold dates)
    elif isinstance(value, date):  # Excel's day number, shown as a date
        return f'<c {_attributes(ref, date_style or style)}><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    text = escape(_CONTROL.sub("", str(value)), {"\r": "&#13;"})
    return f'<c {at} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _join(*parts: object) -> pa.Array:
    """Concatenate arrays and literal texts element-wise (all as large strings)."""
    return pc.binary_join_element_wise(*(pa.scalar(p, pa.large_string()) if isinstance(p, str)
                                         else pc.cast(p, pa.large_string()) for p in parts),
                                       pa.scalar("", pa.large_string()))


def _typed(series: pd.Series) -> pa.Array | None:
    """The column as one Arrow array, or None for Python objects Arrow cannot type."""
    try:
        values = pa.array(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    return pa.concat_arrays(values.chunks) if isinstance(values, pa.ChunkedArray) else values


def _arrow_cells(values: pa.Array, letter: str, rows: pa.Array, style: pa.Array | str,
                 shared: _SharedStrings) -> pa.Array | None:
    """The cells of a typed column as XML text, built by Arrow compute (None: not a typed column).

    ``style``: the text `` s="N"`` of every cell, or one per row (shaded rows). A text column whose values
    repeat (at most half of them distinct) goes to the ``shared`` strings."""
    kind = values.type
    start = _join('<c r="', letter, rows, style)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        encoded = pc.dictionary_encode(values)
        if 2 * len(encoded.dictionary) <= len(values):
            index = pc.take(shared.codes(encoded.dictionary.to_pylist()), encoded.indices)
            shared.references += len(values) - values.null_count
            return pc.cast(pc.fill_null(_join(start, '" t="s"><v>', pc.cast(index, pa.string()), "</v></c>"), ""),
                           pa.large_string())
    if pa.types.is_decimal(kind) or pa.types.is_integer(kind):
        cell = _join(start, '"><v>', pc.cast(values, pa.string()), "</v></c>")
    elif pa.types.is_boolean(kind):
        digit = pc.if_else(values, "1", "0")
        cell = _join(start, '" t="b"><v>', digit, "</v></c>")
    elif pa.types.is_date32(kind):
        day = pc.add(pc.cast(values, pa.int32()).cast(pa.int64()), (date(1970, 1, 1) - _EXCEL_EPOCH).days)
        cell = _join(start, '"><v>', pc.cast(day, pa.string()), "</v></c>")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        cell = _join(start, '" t="inlineStr"><is><t xml:space="preserve">', _escaped(values), "</t></is></c>")
    else:
        return None
    return pc.cast(pc.fill_null(cell, ""), pa.large_string())  # a blank cell is left out


def _escaped(values: pa.Array) -> pa.Array:
    """Texts as XML character data: the characters XML 1.0 cannot carry dropped, markup escaped."""
    text = pc.replace_substring_regex(values, r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]", "")
    for raw, entity in _ENTITIES:
        text = pc.replace_substring(text, raw, entity)
    return text


def _kind_of(values: pa.Array | None, series: pd.Series) -> str:
    """A column's kind from its type, when the sheet does not say."""
    if values is None:
        sample = next((v for v in series if v is not None and v is not pd.NA and not (
            isinstance(v, float) and math.isnan(v))), None)
        return ("money" if isinstance(sample, Decimal) else "date" if isinstance(sample, date)
                and not isinstance(sample, datetime) else "integer" if isinstance(sample, (int, np.integer))
                and not isinstance(sample, (bool, np.bool_)) else "text")
    kind = values.type
    return ("money" if pa.types.is_decimal(kind) else "integer" if pa.types.is_integer(kind)
            else "number" if pa.types.is_floating(kind) else "date" if pa.types.is_date(kind)
            else "boolean" if pa.types.is_boolean(kind) else "text")


def _display_width(text: str) -> float:
    """Columns a text takes in a spreadsheet: a wide (CJK) character two, any other one."""
    return float(sum(2 if ord(c) >= 0x1100 else 1 for c in text))


def _content_width(values: pa.Array | None, series: pd.Series, kind: str) -> float:
    """The width of a column's widest cell as shown (amounts with their thousands separators)."""
    if len(series) == 0:
        return 0.0
    if values is not None and (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        # bytes of UTF-8 and characters together: a CJK character is 3 bytes and 1 character, (3 + 1) / 2 = 2
        size = pc.add(pc.binary_length(values), pc.utf8_length(values))
        widest = pc.max(size).as_py()
        return 0.0 if widest is None else widest / 2
    if values is not None and (pa.types.is_decimal(values.type) or pa.types.is_integer(values.type)):
        low, high = pc.min_max(values).values()
        shown = [v.as_py() for v in (low, high) if v.as_py() is not None]
    else:
        shown = [v for v in series.astype(object) if v is not None and v is not pd.NA and not (
            isinstance(v, float) and math.isnan(v))]
    if not shown:
        return 0.0
    amounts = [v for v in shown if isinstance(v, (int, Decimal)) and not isinstance(v, bool)]
    if kind == "money" and amounts:  # as shown: thousands separated, two decimals
        return float(max(len(f"{Decimal(v):,.2f}") for v in amounts))
    if kind in ("share", "number", "date"):
        return 10.0
    return max(_display_width(str(v)) for v in shown)


def _sheet_xml(sheet: Sheet, shared: _SharedStrings) -> list[bytes | memoryview]:
    """The sheet's XML in pieces (its rows as one Arrow buffer: no Python string per row)."""
    frame = sheet.frame
    n, width = len(frame), len(frame.columns)
    letters = _column_letters(width)
    headers = [str(h) for h in (sheet.headers if sheet.headers is not None else frame.columns)]
    if len(headers) != width:
        raise ValueError(f"{width} columns but {len(headers)} headers")
    given = list(sheet.kinds) if sheet.kinds is not None else [None] * width
    marked = (np.asarray(sheet.marked, bool) if sheet.marked is not None and sheet.marked.any()
              else None)
    top = 1 if sheet.title else 0  # the row of the header (a title above it)
    header_row = top + 1
    rows = pa.array(np.arange(header_row + 1, n + header_row + 1).astype(str), pa.large_string())
    columns: list[pa.Array] = []
    widths: list[float] = []
    for k, (letter, name) in enumerate(zip(letters, frame.columns)):
        series = frame[name]
        values = _typed(series) if n else None
        kind = given[k] or _kind_of(values, series)
        if kind not in KINDS:
            raise ValueError(f"column {name!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
        plain = _style(kind)
        if not sheet.table and k == 0:
            plain = _LABEL
        shaded = _style(kind, marked=True)
        style: pa.Array | str = f'" s="{plain}'
        if marked is not None:
            style = pa.array(np.where(marked, f'" s="{shaded}', f'" s="{plain}'), pa.large_string())
        cells = _arrow_cells(values, letter, rows, style, shared) if values is not None else None
        if cells is None:  # Python objects (Decimal, text with blanks, dates...): one cell at a time
            styles = np.where(marked, shaded, plain) if marked is not None else np.full(n, plain)
            date_styles = np.where(marked, _style("date", True), _style("date")) if marked is not None else (
                np.full(n, _style("date")))
            cells = pa.array([_cell(f"{letter}{i}", v, int(s), int(d)) for i, v, s, d in
                              zip(range(header_row + 1, n + header_row + 1), series.astype(object).to_numpy(),
                                  styles, date_styles)], pa.large_string())
        columns.append(cells)
        content = _content_width(values, series, kind)
        limit = _LONG_TEXT_WIDTH if kind == "long_text" else _TEXT_WIDTH if kind == "text" else 30.0
        header = _display_width(headers[k]) if sheet.table else 0.0
        widths.append(max(_MIN_WIDTH, min(limit, max(content, header) + 2)))
    last = f"{letters[-1]}{n + header_row}" if width else "A1"
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">',
             f'<dimension ref="A1:{last}"/>']
    if sheet.table and width:  # the header row stays in view and filters
        parts.append(f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{header_row}" '
                     f'topLeftCell="A{header_row + 1}" activePane="bottomLeft" state="frozen"/>'
                     f'<selection pane="bottomLeft" activeCell="A{header_row + 1}" '
                     f'sqref="A{header_row + 1}"/></sheetView></sheetViews>')
    else:
        parts.append('<sheetViews><sheetView workbookViewId="0"/></sheetViews>')
    parts.append('<sheetFormatPr defaultRowHeight="15"/>')
    if width:
        parts.append("<cols>" + "".join(f'<col min="{k}" max="{k}" width="{w:.1f}" customWidth="1"/>'
                                        for k, w in enumerate(widths, start=1)) + "</cols>")
    parts.append("<sheetData>")
    if sheet.title:
        parts.append(f'<row r="1">{_cell("A1", sheet.title, _TITLE)}</row>')
    if sheet.table:
        parts.append(f'<row r="{header_row}">' + "".join(_cell(f"{c}{header_row}", h, _HEADER)
                                                         for c, h in zip(letters, headers)) + "</row>")
    if n:
        lines = _join('<row r="', rows, '">', *columns, "</row>")
        body: bytes | memoryview = _text_bytes(lines)
    else:
        body = b""
    tail = ["</sheetData>"]
    if sheet.table and width:
        tail.append(f'<autoFilter ref="A{header_row}:{last}"/>')
    tail.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
                "</worksheet>")
    return ["".join(parts).encode(), body, "".join(tail).encode()]


def _text_bytes(lines: pa.Array) -> bytes | memoryview:
    """The UTF-8 bytes of every text of ``lines`` one after another: the array's own data buffer."""
    lines = pc.cast(pc.fill_null(lines, ""), pa.large_string())
    if isinstance(lines, pa.ChunkedArray):
        lines = pa.concat_arrays(lines.chunks)
    offsets = np.frombuffer(lines.buffers()[1], np.int64)[lines.offset:lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return b""
    return memoryview(data)[int(offsets[0]):int(offsets[-1])]


def _styles_xml() -> str:
    """Number formats, fonts, fills and the cell styles the sheets name (``s="N"``)."""
    custom = {fmt: 164 + k for k, fmt in enumerate(sorted({f for f in KINDS.values() if f}))}
    xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
           '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" '
           'applyBorder="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>',
           '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">'
           '<alignment vertical="top"/></xf>']
    for fill in (0, 3):  # plain, then shaded
        for kind in _KIND_ORDER:
            fmt = KINDS[kind]
            number = custom[fmt] if fmt else 0
            align = ('<alignment vertical="top" wrapText="1"/>' if kind == "long_text" else "")
            xfs.append(f'<xf numFmtId="{number}" fontId="0" fillId="{fill}" borderId="0" xfId="0"'
                       + (' applyNumberFormat="1"' if number else "") + (' applyFill="1"' if fill else "")
                       + (' applyAlignment="1">' + align + "</xf>" if align else "/>"))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<numFmts count="{len(custom)}">'
            + "".join(f'<numFmt numFmtId="{k}" formatCode="{escape(f, {chr(34): "&quot;"})}"/>'
                      for f, k in custom.items()) + "</numFmts>"
            '<fonts count="3"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="4"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill>'
            '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill>'
            '<fill><patternFill patternType="solid"><fgColor rgb="FFFCE4D6"/><bgColor indexed="64"/></patternFill></fill>'
            '</fills>'
            '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">' + "".join(xfs) + "</cellXfs>"
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>")


def write_xlsx(path: str | Path, sheets: Mapping[str, pd.DataFrame | Sheet]) -> Path:
    """Write each table to a sheet of its name (at most 31 characters, unique) in ``path``.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> folder = tempfile.mkdtemp()
    >>> book = write_xlsx(f"{folder}/t.xlsx", {"amounts": pd.DataFrame({"id": ["a<b"], "yuan": [Decimal("0.10")]})})
    >>> sheet = openpyxl.load_workbook(book)["amounts"]
    >>> sheet["B2"].value, sheet["A2"].value, sheet["B2"].number_format, sheet.freeze_panes, sheet.auto_filter.ref
    (0.1, 'a<b', '#,##0.00', 'A2', 'A1:B2')
    """
    names: list[str] = []
    for name, frame in sheets.items():
        rows = len(frame.frame if isinstance(frame, Sheet) else frame)
        clean = _SHEET_NAME.sub("_", name)[:31] or "sheet"
        if clean.lower() in (n.lower() for n in names):  # Excel compares sheet names without case
            raise ValueError(f"two sheets would both be named {clean!r}")
        if rows > rows_a_sheet_holds(frame):
            raise ValueError(f"sheet {clean!r}: {rows:,} rows, more than a sheet holds ({rows_a_sheet_holds(frame):,} "
                             "below its header); write that table as CSV or Parquet instead")
        names.append(clean)
    n = len(names)
    content_types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                     'spreadsheetml.sheet.main+xml"/>'
                     '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                     'spreadsheetml.styles+xml"/>'
                     '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                     'officedocument.spreadsheetml.sharedStrings+xml"/>'
                     + "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="application/'
                               f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                               for k in range(1, n + 1)) + "</Types>")
    root_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 'officeDocument" Target="xl/workbook.xml"/></Relationships>')
    tables = [frame if isinstance(frame, Sheet) else Sheet(frame) for frame in sheets.values()]
    # Excel keeps a filtered range under a hidden name of its sheet; without it, it may ask to repair the file
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{k}" hidden="1">'
        f"{escape(_quoted(name))}!$A${_header_row(t)}:${_column_letters(len(t.frame.columns))[-1]}$"
        f"{len(t.frame) + _header_row(t)}</definedName>"
        for k, (name, t) in enumerate(zip(names, tables)) if t.table and len(t.frame.columns))
    workbook = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                '<bookViews><workbookView activeTab="0"/></bookViews><sheets>'
                + "".join(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{k}" r:id="rId{k}"/>'
                          for k, name in enumerate(names, start=1)) + "</sheets>"
                + (f"<definedNames>{filters}</definedNames>" if filters else "") + "</workbook>")
    workbook_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                     + "".join(f'<Relationship Id="rId{k}" Type="http://schemas.openxmlformats.org/officeDocument/'
                               f'2006/relationships/worksheet" Target="worksheets/sheet{k}.xml"/>'
                               for k in range(1, n + 1))
                     + f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/'
                       '2006/relationships/styles" Target="styles.xml"/>'
                     + f'<Relationship Id="rId{n + 2}" Type="http://schemas.openxmlformats.org/officeDocument/'
                       '2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    out = Path(path)
    book = _new_zip(out)
    try:
        book.writestr("[Content_Types].xml", content_types)
        book.writestr("_rels/.rels", root_rels)
        book.writestr("xl/workbook.xml", workbook)
        book.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        book.writestr("xl/styles.xml", _styles_xml())
        shared = _SharedStrings()
        for k, table in enumerate(tables, start=1):
            with book.open(f"xl/worksheets/sheet{k}.xml", "w", force_zip64=True) as member:
                for piece in _sheet_xml(table, shared):
                    member.write(piece)
        with book.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            for piece in shared.xml():
                member.write(piece)
    except BaseException:
        _let_go(book)
        raise
    book.close()
    return out


def _new_zip(out: Path) -> zipfile.ZipFile:
    """A new zip file at ``out``, made whole before a signal may end the run: a signal that lands inside
    ``ZipFile()`` leaves an object half made, whose ``__del__`` then prints "Exception ignored ... has no
    attribute '_writing'" after the run's clean "interrupted" message (:func:`~.outputs.signals_held`)."""
    with signals_held():
        return zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def _header_row(sheet: Sheet) -> int:
    return 2 if sheet.title else 1


def rows_a_sheet_holds(sheet: Sheet | pd.DataFrame) -> int:
    """How many rows of a table a sheet holds below its header (and title)."""
    return MAX_ROWS - (_header_row(sheet) if isinstance(sheet, Sheet) else 1)


def _quoted(sheet_name: str) -> str:
    """A sheet's name as a formula writes it: in single quotes, a quote in it doubled."""
    return "'" + sheet_name.replace("'", "''") + "'"


def _let_go(book: zipfile.ZipFile) -> None:
    """Close an unfinished workbook's file without finishing it: a signal (or an error) cut a write, perhaps
    while a member's stream was being closed, and zipfile then refuses to close the book ("an open writing
    handle") now and again when the book is collected, where it prints a traceback. The caller's error is the
    one that counts; the file is incomplete and its run discards it."""
    handle, book.fp = book.fp, None  # a book without a file has nothing left to close
    if handle is not None:
        handle.close()


__all__ = ["KINDS", "Sheet", "rows_a_sheet_holds", "write_xlsx"]

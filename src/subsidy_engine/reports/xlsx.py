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

The files open in Excel, LibreOffice and openpyxl (the tests read them back).
"""

from __future__ import annotations

import math
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_ROWS = 1_048_576  # rows of a sheet, header included
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# XML would read a bare carriage return as a line feed: it is written as a character reference
_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


def _column_letters(n: int) -> list[str]:
    letters = []
    for k in range(n):
        name, k = "", k + 1
        while k:
            k, r = divmod(k - 1, 26)
            name = chr(65 + r) + name
        letters.append(name)
    return letters


def _cell(ref: str, value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, Decimal):
        if not value.is_finite():
            return ""
        return f'<c r="{ref}"><v>{format(value, "f")}</v></c>'
    if isinstance(value, (int, np.integer)):
        return f'<c r="{ref}"><v>{int(value)}</v></c>'
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) or math.isinf(value) else f'<c r="{ref}"><v>{float(value)!r}</v></c>'
    if isinstance(value, (date, datetime, pd.Timestamp)):
        value = value.isoformat()
    text = escape(_CONTROL.sub("", str(value)), {"\r": "&#13;"})
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _join(*parts: object) -> pa.Array:
    """Concatenate arrays and literal texts element-wise (all as large strings)."""
    return pc.binary_join_element_wise(*(pa.scalar(p, pa.large_string()) if isinstance(p, str)
                                         else pc.cast(p, pa.large_string()) for p in parts),
                                       pa.scalar("", pa.large_string()))


def _arrow_cells(series: pd.Series, letter: str, rows: pa.Array) -> pa.Array | None:
    """The cells of a typed column as XML text, built by Arrow compute (None: not a typed column)."""
    try:
        values = pa.array(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if isinstance(values, pa.ChunkedArray):
        values = pa.concat_arrays(values.chunks)
    kind = values.type
    ref = _join(letter, rows)
    if pa.types.is_decimal(kind) or pa.types.is_integer(kind):
        body = _join('"><v>', pc.cast(values, pa.string()), "</v></c>")
        cell = _join('<c r="', ref, body)
    elif pa.types.is_boolean(kind):
        digit = pc.if_else(values, "1", "0")
        cell = _join('<c r="', ref, '" t="b"><v>', digit, "</v></c>")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.replace_substring_regex(values, r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{FFFE}\x{FFFF}]", "")
        for raw, entity in _ENTITIES:
            text = pc.replace_substring(text, raw, entity)
        cell = _join('<c r="', ref, '" t="inlineStr"><is><t xml:space="preserve">', text, "</t></is></c>")
    else:
        return None
    return pc.cast(pc.fill_null(cell, ""), pa.large_string())  # a blank cell is left out


def _sheet_xml(frame: pd.DataFrame) -> str:
    letters = _column_letters(len(frame.columns))
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>',
             '<row r="1">' + "".join(_cell(f"{c}1", str(name)) for c, name in zip(letters, frame.columns))
             + "</row>"]
    n = len(frame)
    rows = pa.array(np.arange(2, n + 2).astype(str), pa.large_string())
    columns: list[pa.Array] = []
    for letter, name in zip(letters, frame.columns):
        cells = _arrow_cells(frame[name], letter, rows) if n else None
        if cells is None:  # Python objects (Decimal, text with blanks, dates...): one cell at a time
            cells = pa.array([_cell(f"{letter}{i}", v) for i, v in
                              enumerate(frame[name].astype(object).to_numpy(), start=2)], pa.large_string())
        columns.append(cells)
    if n:
        lines = _join('<row r="', rows, '">', *columns, "</row>")
        parts.append("".join(lines.to_pylist()))
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def write_xlsx(path: str | Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """Write each table to a sheet of its name (at most 31 characters, unique) in ``path``.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> folder = tempfile.mkdtemp()
    >>> book = write_xlsx(f"{folder}/t.xlsx", {"amounts": pd.DataFrame({"id": ["a<b"], "yuan": [Decimal("0.10")]})})
    >>> openpyxl.load_workbook(book)["amounts"]["B2"].value, openpyxl.load_workbook(book)["amounts"]["A2"].value
    (0.1, 'a<b')
    """
    names: list[str] = []
    for name, frame in sheets.items():
        clean = _SHEET_NAME.sub("_", name)[:31] or "sheet"
        if clean.lower() in (n.lower() for n in names):  # Excel compares sheet names without case
            raise ValueError(f"two sheets would both be named {clean!r}")
        if len(frame) >= MAX_ROWS:
            raise ValueError(f"sheet {clean!r}: {len(frame):,} rows, more than a sheet holds ({MAX_ROWS - 1:,} "
                             "below its header); write that table as CSV or Parquet instead")
        names.append(clean)
    n = len(names)
    content_types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                     'spreadsheetml.sheet.main+xml"/>'
                     + "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="application/'
                               f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                               for k in range(1, n + 1)) + "</Types>")
    root_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 'officeDocument" Target="xl/workbook.xml"/></Relationships>')
    workbook = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                + "".join(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{k}" r:id="rId{k}"/>'
                          for k, name in enumerate(names, start=1)) + "</sheets></workbook>")
    workbook_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                     + "".join(f'<Relationship Id="rId{k}" Type="http://schemas.openxmlformats.org/officeDocument/'
                               f'2006/relationships/worksheet" Target="worksheets/sheet{k}.xml"/>'
                               for k in range(1, n + 1)) + "</Relationships>")
    out = Path(path)
    book = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    try:
        book.writestr("[Content_Types].xml", content_types)
        book.writestr("_rels/.rels", root_rels)
        book.writestr("xl/workbook.xml", workbook)
        book.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        for k, frame in enumerate(sheets.values(), start=1):
            book.writestr(f"xl/worksheets/sheet{k}.xml", _sheet_xml(frame))
    except BaseException:
        _let_go(book)
        raise
    book.close()
    return out


def _let_go(book: zipfile.ZipFile) -> None:
    """Close an unfinished workbook's file without finishing it: a signal (or an error) cut a write, perhaps
    while a member's stream was being closed, and zipfile then refuses to close the book ("an open writing
    handle") now and again when the book is collected, where it prints a traceback. The caller's error is the
    one that counts; the file is incomplete and its run discards it."""
    handle, book.fp = book.fp, None  # a book without a file has nothing left to close
    if handle is not None:
        handle.close()


__all__ = ["write_xlsx"]

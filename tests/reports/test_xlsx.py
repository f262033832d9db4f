"""The report writer: exact digits, escaped text, blanks, and files openpyxl reads back."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine.core.columns import money_series
from subsidy_engine.reports.xlsx import write_xlsx

from strategies import examples


def test_typed_and_object_columns_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "id": pd.Series(pa.array(["a<b&c>", None, "x\x01y"]), dtype=pd.ArrowDtype(pa.string())),
        "yuan": money_series(np.array([1, -250, 10**15])),
        "count": np.array([1, 2, 3], np.int32), "flag": [True, False, True],
        "mixed": [Decimal("1.10"), None, "t\uffff\r"], "ratio": [0.25, float("nan"), 1.0],
        "kind": pd.Categorical(["u", "v", "u"]), "big": [Decimal("12345678901234.56"), Decimal("1E+2"), Decimal("-0.01")]})
    book = write_xlsx(tmp_path / "t.xlsx", {"one": frame, "a/b:c": frame.iloc[:0]})
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == ["one", "a_b_c"]
    rows = [[c.value for c in r] for r in wb["one"].iter_rows()]
    assert rows[0] == list(frame.columns)
    assert rows[1] == ["a<b&c>", 0.01, 1, True, 1.1, 0.25, "u", 12345678901234.56]
    assert rows[2] == [None, -2.5, 2, False, None, None, "v", 100]
    assert rows[3] == ["xy", 10**13, 3, True, "t\r", 1.0, "u", -0.01]
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    # the digits are the amounts' own, not a float's
    assert "<v>10000000000000.00</v>" in xml and "<v>12345678901234.56</v>" in xml and "<v>-2.50</v>" in xml
    with pytest.raises(ValueError, match="two sheets would both be named 'a_b'"):
        write_xlsx(tmp_path / "u.xlsx", {"a/b": frame, "a:b": frame})


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.integers(-(10**17), 10**17), min_size=1, max_size=30),
       st.lists(st.text(max_size=12), min_size=1, max_size=30))
def test_any_amount_and_text_reads_back_exactly(tmp_path_factory, fen: list[int], texts: list[str]) -> None:  # noqa: ANN001
    n = min(len(fen), len(texts))
    frame = pd.DataFrame({"yuan": money_series(np.array(fen[:n], np.int64)),
                          "text": pd.Series(pa.array(texts[:n]), dtype=pd.ArrowDtype(pa.string()))})
    book = write_xlsx(tmp_path_factory.mktemp("x") / "h.xlsx", {"s": frame})
    xml = zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    for value in fen[:n]:
        assert f"<v>{Decimal(value) / 100:.2f}</v>" in xml
    cells = [r[1].value for r in openpyxl.load_workbook(book)["s"].iter_rows(min_row=2)]
    control = ({chr(c) for c in range(32)} - {"\t", "\n", "\r"}) | {"\ufffe", "\uffff"}
    expected = ["".join(ch for ch in t if ch not in control) for t in texts[:n]]
    assert [c or "" for c in cells] == expected


def test_a_workbook_a_signal_cuts_leaves_nothing_to_raise_when_it_is_collected(tmp_path, monkeypatch) -> None:
    """A defect the kill test of the outputs (tests/reports/test_outputs.py) met once in a loaded run: a signal
    landing while a sheet's compressed stream was being closed left zipfile's writing handle open, so the
    workbook's close raised "Can't close the ZIP file while there is an open writing handle" and, when the
    interpreter collected it, printed a traceback ("Exception ignored in"). The signal's own KeyboardInterrupt
    now reaches the caller and the unfinished file is let go (the run's staging folder discards it)."""
    import gc
    import sys

    real_close = zipfile._ZipWriteFile.close
    closes: list[int] = []

    def close_cut_by_a_signal(self) -> None:  # noqa: ANN001
        closes.append(1)
        if len(closes) == 3:
            raise KeyboardInterrupt("signal 2")
        real_close(self)

    monkeypatch.setattr(zipfile._ZipWriteFile, "close", close_cut_by_a_signal)
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(KeyboardInterrupt, match="signal 2"):
        write_xlsx(tmp_path / "cut.xlsx", {"amounts": pd.DataFrame({"id": ["a", "b"], "yuan": [1, 2]})})
    gc.collect()
    assert unraisable == []


def test_a_sheet_s_formats_shaded_rows_dates_title_and_repeated_texts(tmp_path: Path) -> None:
    """issue 19, point 2: the writer's Excel-native parts, read back with openpyxl."""
    from datetime import date, datetime

    from subsidy_engine.reports.xlsx import Sheet

    frame = pd.DataFrame({"who": ["甲", "乙", "甲", "甲"], "yuan": [Decimal("1234567.89"), Decimal("-0.01"), None,
                                                                  Decimal("0")],
                          "share": [0.945, 0.5, 0.0, 1.0], "day": [date(2026, 1, 2), None, date(1900, 3, 1),
                                                                   date(2030, 12, 31)]})
    book = write_xlsx(tmp_path / "s.xlsx", {
        "t": Sheet(frame, headers=["谁", "金额（元）", "比例", "日期"], kinds=[None, "money", "share", None],
                   marked=np.array([False, True, False, False])),
        "c": Sheet(frame[["who"]], table=False, title="标题")})
    loaded = openpyxl.load_workbook(book)
    sheet = loaded["t"]
    assert [c.value for c in sheet[1]] == ["谁", "金额（元）", "比例", "日期"]
    assert [sheet.cell(2, k).number_format for k in range(1, 5)] == ["General", "#,##0.00", "0.0%", "yyyy-mm-dd"]
    assert [sheet.cell(r, 4).value for r in range(2, 6)] == [datetime(2026, 1, 2), None, datetime(1900, 3, 1),
                                                             datetime(2030, 12, 31)]
    assert [sheet.cell(r, 1).value for r in range(2, 6)] == ["甲", "乙", "甲", "甲"]  # as shared strings
    assert [sheet.cell(r, 2).fill.fill_type for r in range(2, 6)] == [None, "solid", None, None]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:D5"
    assert sheet.column_dimensions["B"].width >= len("1,234,567.89")
    cover = loaded["c"]
    assert cover["A1"].value == "标题" and cover["A2"].value is None and cover["A3"].value == "甲"  # no header row
    assert cover.freeze_panes is None and cover["A3"].font.b
    with zipfile.ZipFile(book) as z:
        assert b"<si>" in z.read("xl/sharedStrings.xml") and b'<c r="A2" s="' in z.read("xl/worksheets/sheet1.xml")
        # the cells that refer to the table (4 on each sheet), then the texts it holds (2)
        assert b'count="8" uniqueCount="2"' in z.read("xl/sharedStrings.xml")


def test_a_signal_inside_the_zip_constructor_waits_until_the_zip_is_whole(tmp_path, monkeypatch) -> None:
    """Found by the kill test of the outputs (flaky in a fresh clone): a SIGTERM landing inside ``ZipFile()``
    left a half-made object whose ``__del__`` printed "Exception ignored ... no attribute '_writing'" after
    the run's clean message. The signal that ends a run (OutputFolder's) is held while the zip file is made,
    and raised once it is whole."""
    import gc
    import os
    import signal
    import sys
    import threading
    import zipfile

    import pandas as pd

    from subsidy_engine.reports.outputs import OutputFolder
    from subsidy_engine.reports.xlsx import write_xlsx

    real_lock, sent = threading.RLock, []

    def lock_then_signal():  # ZipFile() makes its lock after opening its file and before setting _writing
        lock = real_lock()
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs as soon as this returns: inside ZipFile()
        return lock

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(KeyboardInterrupt) as interrupted:
        with OutputFolder(tmp_path / "out") as output:
            monkeypatch.setattr(zipfile.threading, "RLock", lock_then_signal)
            write_xlsx(output.path("book.xlsx"), {"sheet": pd.DataFrame({"a": [1]})})
    del interrupted  # its traceback holds the frames, and so whatever ZipFile() made
    gc.collect()
    assert sent and not unraisable, [str(u.exc_value) for u in unraisable]
    assert not (tmp_path / "out" / "book.xlsx").exists()  # interrupted: nothing committed

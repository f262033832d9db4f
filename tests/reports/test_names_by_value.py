"""``with_names`` words each distinct value once, not each row (issue 20: a national project detail's million rows
took 2.7 s of simulate's 28 to name a few districts, sectors, stages and yes/no flags). Its columns must be what
naming each row gave, value for value and dtype for dtype, blanks of every kind included: the row-by-row naming
is kept here as the reference."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine.core.language import column_kind, name, names
from subsidy_engine.reports.workbook import NAMED_IDS, WORDS_IN_PLACE, _worded, with_names


def named_row_by_row(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The naming of ``with_names`` as it was: a look-up per row (no sources: their column is not asked here)."""
    out = frame.copy()
    for column, named, section in NAMED_IDS:
        if column in out.columns and named not in out.columns:
            values = out[column].astype(object)
            shown = {v: name(section, v, lang) for v in pd.unique(values) if v is not None and v is not pd.NA
                     and not (isinstance(v, float) and np.isnan(v))}
            out.insert(list(out.columns).index(column) + 1, named, values.map(shown))
    for column, section in WORDS_IN_PLACE:
        if column in out.columns:
            out[column] = out[column].astype(object).map(lambda v, s=section: name(s, v, lang)
                                                          if isinstance(v, str) else v)
    yes_no = names("booleans", lang)
    for column in out.columns:
        if column_kind(str(column)) == "boolean":
            out[column] = out[column].astype(object).map(lambda v: None if pd.isna(v) else
                                                          yes_no[str(bool(v)).lower()])
    return out


BLANKS = st.sampled_from([None, np.nan, pd.NA])
DISTRICTS = st.sampled_from(["haidian", "pinggu", "chaoyang", "nowhere-known"])
STAGES = st.sampled_from(["pilot", "demonstration", "promotion"])
LEVELS = st.sampled_from(["national", "municipal", "district", "unheard-of"])
FLAGS = st.sampled_from([True, False, np.True_, np.False_])


def _column(kind: str, values: list[Any]) -> pd.Series:
    if kind == "arrow":  # a loaded table's text: Arrow strings, blanks as null
        return pd.Series(pa.array([None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                                   else v for v in values], pa.string()), dtype=pd.ArrowDtype(pa.string()))
    if kind == "str":
        return pd.Series(values, dtype="str")
    if kind == "category":  # an allocation's reasons and sources: codes into a few texts
        texts = [v for v in values if isinstance(v, str)]
        return pd.Series(pd.Categorical([v if isinstance(v, str) else None for v in values],
                                        categories=sorted(set(texts)) + ["never used"]))
    return pd.Series(values, dtype=object)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.lists(st.one_of(DISTRICTS, BLANKS), min_size=n, max_size=n),
    st.lists(st.one_of(STAGES, BLANKS), min_size=n, max_size=n),
    st.lists(st.one_of(LEVELS, BLANKS), min_size=n, max_size=n),
    st.lists(st.one_of(FLAGS, BLANKS), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n))),
    st.sampled_from(["arrow", "str", "object", "category"]), st.sampled_from(["zh", "en"]))
def test_with_names_names_as_row_by_row_did(columns: tuple[list[Any], ...], text_kind: str, lang: str) -> None:
    districts, stages, levels, flags, plain_flags = columns
    frame = pd.DataFrame({
        "district": _column(text_kind, districts),
        "stage": _column("object", stages),
        "level": _column("object", levels),
        "in_library": pd.Series(flags, dtype=object),
        "solution_list": pd.Series(plain_flags, dtype=bool),
        "scenario_opened": pd.Series([None if f is None or f is pd.NA or (isinstance(f, float) and np.isnan(f))
                                      else bool(f) for f in flags], dtype="boolean"),
        "year": np.arange(len(districts), dtype=np.int32)}, index=np.arange(len(districts)) * 3 + 1)
    pd.testing.assert_frame_equal(with_names(frame, lang), named_row_by_row(frame, lang))


def test_a_column_of_blanks_only_and_an_empty_frame_are_named_as_before() -> None:
    for frame in (pd.DataFrame({"district": pd.Series([None, None], dtype=object),
                                "in_library": pd.Series([np.nan, None], dtype=object),
                                "level": pd.Series([pd.NA, None], dtype=object)}),
                  pd.DataFrame({"district": pd.Series([], dtype=object), "in_library": pd.Series([], dtype=bool),
                                "level": pd.Series([], dtype=object)})):
        pd.testing.assert_frame_equal(with_names(frame, "zh"), named_row_by_row(frame, "zh"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["budget exhausted", "cap reached", "no source", ""]), BLANKS,
                          st.integers(0, 3)), max_size=40),
       st.sampled_from(["arrow", "str", "object", "category"]))
def test_a_column_is_worded_as_row_by_row_did(reasons: list[Any], kind: str) -> None:
    """``_worded`` (the unfunded sheet's reasons, a reconcile's statuses and causes): the same per-value look-up."""
    if kind != "object":
        reasons = [r for r in reasons if not isinstance(r, int)]  # a text column holds text (and blanks)
    frame = pd.DataFrame({"reason": _column(kind, reasons), "n": np.arange(len(reasons))})
    words = {"budget exhausted": "预算用尽", "cap reached": "封顶"}

    def say(reason: str) -> str:
        return words.get(reason, reason.upper())

    expected = frame if not len(frame) else frame.assign(reason=frame["reason"].astype(object).map(
        lambda v: say(v) if isinstance(v, str) else v))
    pd.testing.assert_frame_equal(_worded(frame, "reason", say), expected)


def _alike(said: pd.Series, before: pd.Series) -> None:
    """The same dtype and, row by row, the same value of the same type (1, True and 1.0 are equal, not alike)."""
    assert said.dtype == before.dtype and [repr(v) for v in said] == [repr(v) for v in before], (
        list(said), said.dtype, list(before), before.dtype)


def test_values_equal_but_not_alike_keep_their_own_as_before() -> None:
    """Found by the session's review: distinct values were found by equality, so a column passed on as it is
    (a reason, a level that is not text) came out with the first of equal values on every row, and a named id
    column of datetimes or with a NaT was named otherwise than before."""
    for values in ([1, True, 1.0], [Decimal("1.0"), Decimal("1.00"), "x"], [0.0, -0.0]):
        frame = pd.DataFrame({"reason": pd.Series(values, dtype=object)})
        _alike(_worded(frame, "reason", str.upper)["reason"],
               frame["reason"].astype(object).map(lambda v: v.upper() if isinstance(v, str) else v))
    frame = pd.DataFrame({"level": pd.Series([True, 1], dtype=object), "in_library": pd.Series([1, True, 0.0][:2]),
                          "district": pd.Series(pd.to_datetime(["2020-01-01", None]))})
    said, before = with_names(frame, "en"), named_row_by_row(frame, "en")
    for column in said.columns:
        _alike(said[column], before[column])
    frame = pd.DataFrame({"district": pd.Series([pd.NaT, "haidian", Decimal("NaN"), np.float32("nan")], dtype=object)})
    _alike(with_names(frame, "zh")["district_name"], named_row_by_row(frame, "zh")["district_name"])

"""The readers' fast paths give what the plain ones give: ids numbered by their runs of equal cells, and a
vocabulary looked up as written before it is cleaned (issue 18, the ledger's reading)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine.core.vocabulary import LedgerKind
from subsidy_engine.io import column_readers
from subsidy_engine.io.column_readers import (
    Rejections,
    arrow_text,
    enum_column,
    factorize_cells,
    repeated_ids,
    surely_distinct,
    unique_inverse,
)

from strategies import examples

IDS = st.lists(st.one_of(st.none(), st.sampled_from(["L1", "L2", " L1", "", "贷-3", "l1"])), max_size=40)
KINDS = st.lists(st.one_of(st.none(), st.sampled_from(["drawdown", "repayment", " Drawdown ", "", "  ",
                                                      "RATE_CHANGE", "interest_settled", "x"])), max_size=40)


def _as(cells: list[str | None], kind: str, chunks: int) -> pd.Series:
    if kind == "object":
        return pd.Series(cells, dtype=object)
    if kind == "category":
        return pd.Series(cells, dtype="category")
    step = max(1, len(cells) // chunks)  # several Arrow chunks, as a Parquet file of row groups gives
    parts = [pa.array(cells[k:k + step], pa.string()) for k in range(0, len(cells), step)] or [pa.array([], pa.string())]
    array = pa.chunked_array(parts, pa.string())
    if kind == "arrow":
        return pd.Series(pd.arrays.ArrowExtensionArray(array))
    return pd.Series(pd.array(array, dtype="string[pyarrow]"))


@settings(max_examples=examples(200), deadline=None)
@given(cells=IDS, kind=st.sampled_from(["arrow", "string", "object", "category"]), chunks=st.integers(1, 4),
       runs=st.integers(1, 5))
def test_ids_numbered_by_their_runs_are_pandas_factorize(cells, kind, chunks, runs) -> None:
    cells = [c for c in cells for _ in range(runs)]  # runs of equal ids, as a table keyed by loan has
    series = _as(cells, kind, chunks)
    codes, distinct = factorize_cells(series)
    expected_codes, expected = pd.factorize(series, use_na_sentinel=True)
    assert codes.tolist() == expected_codes.tolist()
    assert list(distinct) == list(expected)
    assert distinct.dtype == expected.dtype


@settings(max_examples=examples(200), deadline=None)
@given(cells=KINDS, kind=st.sampled_from(["arrow", "string", "object", "category"]), chunks=st.integers(1, 4))
def test_a_vocabulary_read_as_written_first_is_the_vocabulary_cleaned(cells, kind, chunks) -> None:
    """Every cell's code and every rejection as the plain rule says: trimmed, lower-cased, blank when nothing is
    left."""
    rejections = Rejections(len(cells))
    codes = enum_column(_as(cells, kind, chunks), LedgerKind, "kind", None, rejections, len(cells),
                        missing="is missing")
    words = {m.value: m.code for m in LedgerKind}
    cleaned = [None if c is None else c.strip().lower() for c in cells]
    assert codes.tolist() == [words.get(c, -1) if c else -1 for c in cleaned]
    frame = rejections.frame(pd.Series(cells, dtype=object))
    missing = frame.loc[frame.reason == "is missing", "row"].tolist()
    assert missing == [k for k, c in enumerate(cleaned) if not c]
    unknown = frame.loc[frame.reason != "is missing", "row"].tolist()
    assert unknown == [k for k, c in enumerate(cleaned) if c and c not in words]
    assert np.asarray(codes).dtype == np.int64


UNIQUE_IDS = st.lists(st.one_of(st.none(), st.sampled_from(["", "  "]), st.text("AB1贷 ", min_size=1, max_size=3)),
                      max_size=40)


@settings(max_examples=examples(300), deadline=None)
@given(cells=st.one_of(IDS, UNIQUE_IDS, UNIQUE_IDS.map(lambda c: list(dict.fromkeys(c)))),
       kind=st.sampled_from(["arrow", "string", "object", "category"]), chunks=st.integers(1, 4))
def test_repeated_ids_are_pandas_duplicated_without_blanks(cells, kind, chunks) -> None:
    """The rule of every id column (loan_id, policy_id, event_id, project_id, claim_id): a cell repeating an
    earlier row's id is a duplicate, a blank is no id; the fast path (no id repeated) answers the same."""
    from subsidy_engine.io.column_readers import blank_cells, repeated_ids

    series = _as(cells, kind, chunks)
    expected = series.duplicated().to_numpy() & ~blank_cells(series)
    assert np.array_equal(repeated_ids(series), expected)


@settings(max_examples=examples(200), deadline=None)
@given(values=st.lists(st.integers(-3, 10**12), max_size=60), small=st.booleans())
def test_unique_inverse_is_numpy_s_unique(values: list[int], small: bool) -> None:
    # the codes of reasons and pairs: a table of the values that occur when they span a small range, else a sort
    array = np.array([v % 50 for v in values] if small else values, dtype=np.int64)
    unique, inverse = unique_inverse(array)
    expected, expected_inverse = np.unique(array, return_inverse=True)
    assert np.array_equal(unique, expected) and unique.dtype == expected.dtype
    assert np.array_equal(inverse, expected_inverse.reshape(-1)) and inverse.dtype == expected_inverse.dtype


TEXTS = st.lists(st.one_of(st.none(), st.sampled_from(["L1", "L2", "", " ", "贷-3", "l1", "L10", "1L"]),
                           st.text(max_size=6)), max_size=30)


@settings(max_examples=examples(200), deadline=None)
@given(cells=TEXTS, chunks=st.integers(1, 4), start=st.integers(0, 3), large=st.booleans())
def test_surely_distinct_says_whether_a_text_column_repeats_a_cell(cells: list[str | None], chunks: int, start: int,
                                                                   large: bool) -> None:
    # hashes of the cells read from Arrow's buffers: chunks, a slice (an offset into the buffers), large_string
    kind = pa.large_string() if large else pa.string()
    step = max(1, len(cells) // chunks)
    column = pa.chunked_array([pa.array(cells[k:k + step], kind) for k in range(0, len(cells), step)], kind)
    column = column.slice(min(start, len(cells)))
    given = [c for c in column.to_pylist() if c is not None]
    assert surely_distinct(column) == (len(set(given)) == len(given))


@settings(max_examples=examples(100), deadline=None)
@given(cells=TEXTS, kind=st.sampled_from(["arrow", "string"]))
def test_repeated_ids_are_exact_when_hashes_collide(cells: list[str | None], kind: str) -> None:
    series = pd.Series(cells, dtype=pd.ArrowDtype(pa.string()) if kind == "arrow" else "string[pyarrow]")
    expected = series.duplicated().to_numpy() & ~column_readers.blank_cells(series)
    assert (repeated_ids(series) == expected).all()
    # every hash equal (a collision on every pair): the column is looked at row by row, and nothing changes
    original = column_readers.fnv1a_hashes
    column_readers.fnv1a_hashes = lambda offsets, data, out: out.fill(7)
    try:
        assert (repeated_ids(series) == expected).all()
    finally:
        column_readers.fnv1a_hashes = original


@settings(max_examples=examples(100), deadline=None)
@given(cells=TEXTS, kind=st.sampled_from(["category", "arrow", "string", "object"]), chunks=st.integers(1, 3))
def test_arrow_text_is_the_cells_as_written(cells: list[str | None], kind: str, chunks: int) -> None:
    # a categorical column (the claims' instrument) is decoded from its categories, one chunk is not copied: the
    # same text as the column through pandas' own string conversion
    series = _as(cells, kind, chunks) if kind != "string" else pd.Series(cells, dtype="string[pyarrow]")
    expected = pa.chunked_array(series.astype(pd.StringDtype("pyarrow")).array._pa_array).combine_chunks()
    assert arrow_text(series).equals(expected.cast(pa.string()))


CELL = st.one_of(st.sampled_from(["E1", "E2", "e1", "", "贷-3", "貸", "a\u0301", "á", "L10", "L9", "𝔸"]), st.text(max_size=3))
TEXTS = st.one_of(st.lists(CELL, max_size=column_readers.FEW_CELLS),  # coded in Python
                  st.lists(CELL, min_size=column_readers.FEW_CELLS + 1, max_size=300))  # by the kernel


@settings(max_examples=examples(100), deadline=None)
@given(cells=TEXTS, numpy=st.booleans())
def test_text_codes_and_ranks_are_arrow_s_whatever_the_size(cells: list[str], numpy: bool) -> None:
    """A quote's few cells are coded in Python (up to FEW_CELLS), a table's by Arrow: the same codes and ranks,
    from Arrow text or from an object array of str."""
    arrow = pa.array(cells, pa.string())
    given_as = np.array(cells, dtype=object) if numpy else arrow
    assert column_readers.text_codes(given_as).tolist() == pc.dictionary_encode(arrow).indices.to_pylist()
    assert column_readers.text_ranks(given_as).tolist() == pc.rank(
        arrow, sort_keys="ascending", tiebreaker="dense").to_pylist()


RUNS = st.lists(st.tuples(CELL, st.integers(1, 6)), min_size=column_readers.FEW_CELLS + 1, max_size=160)  # by Arrow


@settings(max_examples=examples(100), deadline=None)
@given(runs=RUNS, offset=st.integers(0, 3), numpy=st.booleans())
def test_text_codes_and_ranks_of_cells_in_runs_are_arrow_s(runs: list[tuple[str, int]], offset: int,
                                                           numpy: bool) -> None:
    """Ids in runs of equal neighbours (a loan's years) are coded and ranked by their runs' first cells: the
    codes (in order of first appearance) and dense ranks Arrow gives the whole column, a slice of one too."""
    cells = [cell for cell, times in runs for _ in range(times)]
    arrow = pa.array(["pad"] * offset + cells, pa.string()).slice(offset)
    given_as = np.array(cells, dtype=object) if numpy else arrow
    assert column_readers.text_codes(given_as).tolist() == pc.dictionary_encode(arrow).indices.to_pylist()
    assert column_readers.text_ranks(given_as).tolist() == pc.rank(
        arrow, sort_keys="ascending", tiebreaker="dense").to_pylist()


LOOKED_UP = st.lists(st.one_of(st.none(), st.sampled_from(["P1", "P2", "p1", " P1", "", "项目-3", "P10", "P1 "]),
                               st.text(max_size=6)), max_size=30)


@settings(max_examples=examples(300), deadline=None)
@given(cells=LOOKED_UP, value_set=LOOKED_UP, large=st.booleans(), cut=st.integers(0, 3))
def test_cells_found_in_a_set_are_arrows_index_in(cells, value_set, large, cut) -> None:
    """Every cell's first position in the set, -1 when absent or null; the set may repeat cells and hold
    nulls, and either array may be a slice (a buffer's offset) or of 64-bit offsets."""
    kind = pa.large_string() if large else pa.string()
    text = pa.array(["skipped"] * cut + cells, kind)[cut:]
    words = pa.array(value_set, pa.string())
    expected = pc.index_in(text, value_set=words, skip_nulls=True).fill_null(-1).to_numpy(zero_copy_only=False)
    assert column_readers.text_index_in(text, words).tolist() == expected.tolist()


def test_many_ids_are_found_among_many_whatever_their_hashes_slot() -> None:
    """200k ids against 150k, a third absent: the open table's probing crosses its end and back."""
    ids = pa.array([f"P{k:07d}" for k in range(0, 300_000, 2)])
    looked_up = pa.array([f"P{k:07d}" for k in range(0, 200_000)] + ["", "P"])
    expected = pc.index_in(looked_up, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False)
    assert np.array_equal(column_readers.text_index_in(looked_up, ids), expected)


BLANKISH = st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(
    ["x", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x01", "\x1c", "\x7f", "\u3000", "\u00a0", "\u2028", "\u200b", "项"]),
    max_size=4)), max_size=25)


@settings(max_examples=examples(300), deadline=None)
@given(cells=BLANKISH, chunks=st.integers(1, 3))
def test_blank_text_judged_from_its_bytes_is_arrows_unicode_whitespace(cells, chunks) -> None:
    """A cell is blank when null or only whitespace: decided from the bytes for ASCII, by Arrow otherwise."""
    series = _as(cells, "arrow", chunks)
    arr = pa.chunked_array(series.array._pa_array)
    expected = pc.or_(pc.is_null(arr), pc.equal(pc.utf8_trim_whitespace(arr), "")).fill_null(True)
    assert column_readers.blank_cells(series).tolist() == expected.to_pylist()


def test_a_text_column_of_no_chunks_has_no_blank_cells() -> None:
    """A zero-row Parquet table's text columns hold no chunk at all (so does an Arrow column masked to nothing)."""
    empty = pd.Series(["a", "b"], dtype=pd.ArrowDtype(pa.string()))[np.zeros(2, bool)]
    assert pa.chunked_array(empty.array._pa_array).num_chunks == 0
    assert column_readers.blank_cells(empty).tolist() == []
    assert column_readers.ascii_cell_kinds(pa.chunked_array([], pa.string())).tolist() == []


@settings(max_examples=examples(100), deadline=None)
@given(cells=LOOKED_UP, value_set=LOOKED_UP)
def test_the_lookup_on_threads_and_on_the_calling_thread_agree(cells, value_set) -> None:
    """The threaded look-up (a portfolio's) and its serial twin (a quote's) find the same positions."""
    from subsidy_engine.kernels.text import text_lookup

    index = column_readers.TextIndex(pa.array([v for v in value_set if v is not None], pa.string()))
    offsets, data = column_readers.text_buffers(pa.array(cells, pa.string()))
    found = [np.empty(len(cells), np.int64) for _ in range(2)]
    for kernel, out in zip((text_lookup.threaded, text_lookup.serial), found):
        kernel(offsets, data, index.offsets, index.data, index.slots, index.hashes, out)
    assert found[0].tolist() == found[1].tolist()

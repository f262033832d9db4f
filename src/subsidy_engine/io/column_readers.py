"""Column readers: a table's column to exact arrays, every problem of every row collected.

Each reader takes a pandas column and returns numpy arrays (int64 units, day
numbers, codes) with a missing mask, and records each bad cell in a
:class:`Rejections` as ``(row, id, field, reason)``. They hold the cell rules
of the whole package (blank cells, exact decimals, whole numbers, dates,
vocabularies), so the loan, project, insurance and event tables read alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from subsidy_engine.core.dates import ISO_DATE, parse_date
from subsidy_engine.core.language import text
from subsidy_engine.core.money import (
    ABOVE_MAX_AMOUNT,
    ABOVE_MAX_SCORE,
    MAX_AMOUNT_FEN,
    PLAIN_MANTISSA,
    scaled_integer,
    shown_text,
    to_decimal,
    whole_value,
)
from subsidy_engine.errors import DateError, MoneyError, PortfolioSchemaError
from subsidy_engine.kernels.sort import radix_order, with_row_numbers
from subsidy_engine.kernels.text import (
    ASCII_BLANK,
    OTHER,
    ascii_kinds,
    fnv1a_hashes,
    table_size,
    text_lookup,
    text_table,
)

INT_LIMIT = 2**62  # whole-number fields far beyond any real value are errors, not overflows


def is_missing(value: object) -> bool:
    """None, pandas' NA and NaT, or a float NaN: a blank cell."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def sort_order(*keys: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Row order by ``keys`` (the first is the primary key), ties in row order.

    ``rows``: the order of those rows only (positions ``0 <= row < n`` into the keys, each key read there as it
    is packed; any other raises ``IndexError``);
    ``rows[order]`` are then those rows in key order. A caller sorting a subset passes it so, rather than a copy
    of each key at it: the copies of four keys of a national book's 2.9M claims under the caps were 92 MB of new
    memory, which a virtual machine charges for.

    The keys' ranges are packed into one integer a row, one key after the other, each read into one buffer. When
    the row's number fits beside them (in 63 bits), the packed values are sorted (each is unique: the row's
    number is part of it) and their low bits are the order; when only the keys fit, they are radix sorted
    (:func:`subsidy_engine.kernels.sort.radix_order`, stable); keys wider than that, and a few rows, go to
    ``np.lexsort`` (stable).
    """
    if rows is not None and rows.shape[0] and (int(rows.min()) < 0 or int(rows.max()) >= keys[0].shape[0]):
        # positions only, as nonzero gives them: no wrapping from the end, which a packed read would not do
        raise IndexError(f"sort_order: rows must be positions 0 to {keys[0].shape[0] - 1} of the keys")
    if rows is not None and (rows.shape[0] <= 256 or any(k.dtype == np.uint64 for k in keys)):
        keys, rows = tuple(k[rows] for k in keys), None  # a few rows; or a uint64 key, its range read as it is
    n = keys[0].shape[0] if rows is None else rows.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    if n <= 256:  # a few rows (a quote): one stable lexsort costs less than packing
        return np.lexsort(tuple(reversed(keys)))
    row_bits = max(n - 1, 0).bit_length()
    # packed in place, one key after the other (no new array a key and operation): each key is shifted in by its
    # own width, so the widths are known key by key and the keys are read once
    packed, part = np.zeros(n, np.int64), np.empty(n, np.int64)
    bits = 0
    for k in keys:
        if rows is None:
            low, high = int(k.min()), int(k.max())
            # widened to int64 first, then less the low, wrapping as int64 does: exact for every integer type (a
            # narrow type subtracted in its own width wraps on numpy 1, a uint64 less an int64 is a float on
            # numpy 2)
            np.copyto(part, k, casting="unsafe")
        else:
            if k.dtype == np.int64:  # rows are in range: "clip" writes into part, "raise" buffers a copy first
                np.take(k, rows, out=part, mode="clip")
            else:  # a narrow key (the instrument: a byte a row) read at the rows, then widened
                np.copyto(part, k[rows], casting="unsafe")
            low, high = int(part.min()), int(part.max())  # no uint64 here: its range exact in int64
        width = max(high - low, 0).bit_length()
        bits += width
        if bits > 63:
            return np.lexsort(tuple(reversed(keys if rows is None else [k[rows] for k in keys])))
        np.left_shift(packed, width, out=packed)
        part -= np.int64(low - (1 << 64) if low >= 1 << 63 else low)
        np.bitwise_or(packed, part, out=packed)
    if bits + row_bits > 63:
        return radix_order(packed, bits)
    with_row_numbers(packed, row_bits)  # ties: row order
    # every packed value is unique, so the sorted values' low bits are the order. A sort of values is 3-5 times
    # faster than an argsort (SIMD sorting networks), and sorts in place
    packed.sort()
    packed &= (1 << row_bits) - 1
    return packed


def rows_in_order(rows: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """``rows`` (increasing positions into the keys, as ``nonzero`` gives them) in the order of ``keys``, ties in
    row order: :func:`sort_order` of those rows; of the keys as they are when ``rows`` is every row (a quote's
    rows are all under the caps and all shown), without reading each key at them.

    >>> rows_in_order(np.array([0, 2, 3]), np.array([5, 9, 1, 5])).tolist()
    [2, 0, 3]
    """
    if rows.shape[0] == keys[0].shape[0]:
        return sort_order(*keys)
    return rows[sort_order(*keys, rows=rows)]


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of integers, without its sort when they span a small range.

    Codes made by packing a few small fields (a reason's code, source, year...) are non-negative and span a
    range a few times the rows at most: a table of which values occur gives the same answer in one pass.

    >>> unique_inverse(np.array([7, 3, 7, 0]))
    (array([0, 3, 7]), array([2, 1, 2, 0]))
    """
    if values.shape[0] == 0 or values.min() < 0 or values.max() > 4 * values.shape[0] + 1024:
        unique, inverse = np.unique(values, return_inverse=True)
        return unique, inverse.reshape(-1)
    present = np.zeros(int(values.max()) + 1, np.bool_)
    present[values] = True
    code = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(values.dtype), code[values]


#: At most this many cells, text is coded in Python: a quote's handful of ids costs less than one Arrow call.
FEW_CELLS = 64


def _cells(values: pa.Array | np.ndarray) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else values.to_pylist()


def text_codes(values: pa.Array | np.ndarray) -> np.ndarray:
    """Each cell's code, numbered in order of first appearance: ``pc.dictionary_encode``'s indices (of Arrow
    text, or of an object array of ``str``; ids, never null: a null has no code either way).

    >>> text_codes(pa.array(["E2", "E1", "E2"])).tolist()
    [0, 1, 0]
    """
    if len(values) <= FEW_CELLS:
        codes: dict[object, int] = {}
        return np.array([codes.setdefault(v, len(codes)) for v in _cells(values)], np.int64)
    if isinstance(values, np.ndarray):
        values = pa.array(values, pa.string())
    return _by_runs(values, lambda distinct: np.asarray(
        pc.dictionary_encode(distinct).indices.to_numpy(zero_copy_only=False), np.int64))


def text_ranks(values: pa.Array | np.ndarray) -> np.ndarray:
    """Each cell's dense rank in ascending order, from 1: ``pc.rank(values, tiebreaker="dense")`` (of Arrow
    text, or of an object array of ``str``: UTF-8 bytes and Python's text sort in the same order, code points;
    ids, never null).

    >>> text_ranks(pa.array(["b", "a", "b", "c"])).tolist()
    [2, 1, 2, 3]
    """
    if len(values) <= FEW_CELLS:
        cells = _cells(values)
        rank = {v: k for k, v in enumerate(sorted(set(cells)), start=1)}
        return np.array([rank[v] for v in cells], np.int64)
    if isinstance(values, np.ndarray):
        values = pa.array(values, pa.string())
    return _by_runs(values, lambda distinct: np.asarray(
        pc.rank(distinct, sort_keys="ascending", tiebreaker="dense").to_numpy(zero_copy_only=False), np.int64))


#: :func:`_by_runs` reads a column's runs only when they are at most this share of its cells.
RUNS_WORTH_READING = 0.75


def _by_runs(values: pa.Array, per_cell: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """``per_cell(values)`` (codes or ranks, which equal cells share and which keep the order of first
    appearance) made of the first cell of each run of equal neighbours, then given to the rest of its run.

    A claim table's ids come in runs (a loan's years one after the other: 3.6M claim rows of a national book are
    1.3M runs), and hashing or sorting text costs by the cell, more than linearly once the distinct values
    outgrow the caches: the ranks of those rows took 250-350 ms against 125 ms by their runs. A column of few
    repeats (runs above :data:`RUNS_WORTH_READING` of its cells) is given whole: the copy would cost more than
    it saves. A column with nulls too (a null equals no neighbour).
    """
    if values.null_count:
        return per_cell(values)
    start = group_starts(values)
    heads = np.flatnonzero(start)
    if heads.shape[0] > RUNS_WORTH_READING * len(values):
        return per_cell(values)
    return per_cell(values.take(pa.array(heads)))[np.cumsum(start, dtype=np.int64) - 1]


def group_starts(*keys: np.ndarray | pa.Array) -> np.ndarray:
    """True where a row starts a new run of equal ``keys`` (rows already in key order). A key may be Arrow text
    (ids, never null), compared as it is: no codes to make of millions of ids.

    >>> group_starts(pa.array(["a", "a", "b", "b"]), np.array([1, 2, 2, 2])).tolist()
    [True, True, True, False]
    """
    start = np.ones(len(keys[0]), np.bool_)
    if start.shape[0]:
        start[1:] = np.logical_or.reduce([
            np.asarray(pc.not_equal(k[1:], k[:-1]).to_numpy(zero_copy_only=False), np.bool_)
            if isinstance(k, pa.Array) else k[1:] != k[:-1] for k in keys])
    return start


class Rejections:
    """Collects (row, field, reason) and the set of bad rows."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=bool)
        self.items: list[tuple[np.ndarray, str, object]] = []

    def add(self, mask: np.ndarray, field_name: str, reason: object) -> None:
        """``reason``: a str for every masked row, or an object array aligned with rows."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.bad |= mask
            rows = np.flatnonzero(mask)
            if isinstance(reason, str):
                self.items.append((rows, field_name, reason))
            else:
                self.items.append((rows, field_name, np.asarray(reason, dtype=object)[rows]))

    def frame(self, ids: pd.Series) -> pd.DataFrame:
        """The report: ``row, <the id column's name>, field, reason``, by row."""
        id_name = str(ids.name or "id")
        parts = []
        for rows, name, reason in self.items:
            parts.append(pd.DataFrame({
                "row": rows,
                id_name: ids.iloc[rows].to_numpy(dtype=object),
                "field": name,
                "reason": reason if not isinstance(reason, str) else [reason] * len(rows),
            }))
        if not parts:
            return empty_rejections(id_name)
        return pd.concat(parts, ignore_index=True).sort_values(["row", "field"], kind="stable",
                                                             ignore_index=True)


def empty_rejections(id_name: str = "loan_id") -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype=np.int64), id_name: pd.Series(dtype=object),
                         "field": pd.Series(dtype=object), "reason": pd.Series(dtype=object)})


def take_rows(arrays: Any, index: np.ndarray) -> Any:
    """The rows at ``index`` of a reader's arrays: a mapping of per-row arrays, or an object with ``take``
    (``LoanArrays``)."""
    if isinstance(arrays, Mapping):
        return {name: values[index] for name, values in arrays.items()}
    return arrays.take(index)


def accepted_rows(arrays: Any, good: np.ndarray, n: int) -> Any:
    """The reader's arrays of its accepted rows ``good`` (increasing positions of its ``n`` rows).

    When it accepted every row, as it almost always does, the arrays it made are kept as they are (a copy of
    every column of a million loans is 0.1 GB of memory made for nothing), and only an array that is not its
    own is copied: a fast path's view of the caller's column (``to_numpy`` of an integer or flag column), which
    an edit of the caller's frame after the check would otherwise change. A ``LoanArrays`` makes every array.
    """
    if good.shape[0] != n:
        return take_rows(arrays, good)
    if isinstance(arrays, Mapping):
        return {name: values if values.flags.owndata and values.flags.writeable else values.copy()
                for name, values in arrays.items()}
    return arrays


class Read(NamedTuple):
    """What a table reader made of a table: the arrays of the rows it accepted (in row order), their
    positions in the table, and the rejected rows (``row, <id>, field, reason``).

    Every reader (``arrays_from_frame`` for loans, ``read_projects``, ``read_insurance``, ``read_events``)
    returns these three; the pipeline reads each table once and hands the result to the steps.
    """

    arrays: Any
    positions: np.ndarray
    rejections: pd.DataFrame

    def subset(self, which: np.ndarray) -> Read:
        """The read of the table's rows at ``which`` (increasing positions), renumbered from 0 in that order."""
        which = np.asarray(which, np.int64)
        accepted = np.isin(self.positions, which)
        rejected = self.rejections[np.isin(self.rejections["row"].to_numpy(dtype=np.int64), which)]
        rejected = rejected.assign(row=np.searchsorted(which, rejected["row"].to_numpy(dtype=np.int64)))
        return Read(take_rows(self.arrays, np.flatnonzero(accepted)),
                    np.searchsorted(which, self.positions[accepted]), rejected.reset_index(drop=True))

    def of_rows(self, rows: np.ndarray, id_name: str) -> Read | None:
        """The read of the table's rows at ``rows`` when the reader accepted every one of them (renumbered
        from 0, nothing rejected), else None. Every row the reader accepted, in its order, is its arrays as they
        are, shared and not copied (a national book's loans are 120 MB): nothing that reads them writes into them
        (a test holds evaluate and the Monte Carlo to it)."""
        rows = np.asarray(rows, np.int64)
        if rows.shape[0] == self.positions.shape[0] and np.array_equal(rows, self.positions):
            return Read(self.arrays, np.arange(rows.shape[0]), empty_rejections(id_name))
        index = np.searchsorted(self.positions, rows)
        if index.shape[0] and (index[-1] >= self.positions.shape[0] or (self.positions[index] != rows).any()):
            return None
        return Read(take_rows(self.arrays, index), np.arange(rows.shape[0]), empty_rejections(id_name))


def problems_message(rejections: pd.DataFrame, where: str, place: Callable[[Any], str]) -> str:
    """``N problem(s) in <where>: <place> <field>: <reason>; ...`` for the first five rows of a report."""
    head = "; ".join(f"{place(r)} {r.field}: {r.reason}" for r in rejections.head(5).itertuples())
    more = f" and {len(rejections) - 5} more" if len(rejections) > 5 else ""
    return f"{len(rejections)} problem(s) in {where}: {head}{more}"


def checked_table(table: pd.DataFrame, what: str, columns: Sequence[str], required: Sequence[str]) -> pd.DataFrame:
    """``table`` with its columns checked (only ``columns``, every ``required`` one: else
    :class:`PortfolioSchemaError` naming ``what``, as "the ledger"), its index reset, and, when it has no row,
    object columns (no row is no value, whatever types its empty columns were given)."""
    unknown = [c for c in table.columns if c not in columns]
    if unknown:
        raise PortfolioSchemaError(f"{what} has unknown columns {unknown}; it has {', '.join(columns)}")
    for name in required:
        if name not in table.columns:
            raise PortfolioSchemaError(f"{what} has no {name!r} column")
    table = table.reset_index(drop=True)
    if not len(table):
        table = pd.DataFrame({c: pd.Series(dtype=object) for c in table.columns})
    return table


def factorize_cells(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(series)``: each cell's code (-1 when null) and the distinct cells in the order they first
    appear. A column of Arrow text (a Parquet file's, a CSV read through Arrow) is hashed by its runs of equal
    cells only: a table keyed by loan repeats each id on consecutive rows, and a ledger's 6M ids are read in
    half the time (a test proves the two ways equal on generated columns).

    >>> codes, cells = factorize_cells(pd.Series(["a", "a", None, "b", "a"], dtype="string[pyarrow]"))
    >>> codes.tolist(), cells.tolist()
    ([0, 0, -1, 1, 0], ['a', 'b'])
    """
    if isinstance(series.dtype, (pd.ArrowDtype, pd.StringDtype)) and getattr(series.dtype, "storage", "pyarrow") \
            == "pyarrow" and len(series) > 1:
        chunks = pa.chunked_array(series.array._pa_array)
        if pa.types.is_string(chunks.type) or pa.types.is_large_string(chunks.type):
            # several chunks of 32-bit offsets may hold more text together than one can: joined as large_string
            text = (chunks.cast(pa.large_string()) if chunks.num_chunks > 1 else chunks).combine_chunks()
            differs = pc.not_equal(text[1:], text[:-1]).fill_null(True)  # a null is a run of its own
            heads = np.flatnonzero(np.r_[True, np.asarray(differs.to_numpy(zero_copy_only=False), bool)])
            # the runs' first cells in the column's own type: the distinct cells come back as pd.factorize's
            head_codes, cells = pd.factorize(series.iloc[heads].reset_index(drop=True), use_na_sentinel=True)
            return np.repeat(head_codes, np.diff(np.append(heads, len(text)))), cells
    codes, cells = pd.factorize(series, use_na_sentinel=True)
    return codes, cells


def valid_cells(cells: pa.Array) -> np.ndarray:
    """Whether each cell of an Arrow array is valid (not null), as numpy booleans."""
    return np.asarray(cells.is_valid().to_numpy(zero_copy_only=False), bool)


def text_buffers(cells: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A ``string`` or ``large_string`` array's offsets and UTF-8 bytes as numpy views (no copy): cell ``k`` is
    ``data[offsets[k]:offsets[k+1]]``, a null cell empty."""
    n = len(cells)
    _, offsets_buffer, data_buffer = cells.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64 if pa.types.is_large_string(cells.type) else np.int32,
                            n + 1 + cells.offset)[cells.offset:] if n else np.zeros(1, np.int32)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return offsets, data


def ascii_cell_kinds(cells: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each text cell's kind from its bytes (:func:`~subsidy_engine.kernels.text.ascii_kinds`: ``ASCII_BLANK``
    for a null cell); one pass where Arrow's trims and comparisons take five."""
    parts = []
    for chunk in (cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]):
        offsets, data = text_buffers(chunk)
        kinds = np.empty(len(chunk), np.uint8)
        ascii_kinds(offsets, data, kinds)
        if chunk.null_count:
            kinds[~valid_cells(chunk)] = ASCII_BLANK
        parts.append(kinds)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint8)  # a column of no chunks: no rows


class TextIndex:
    """The cells of a text column in a table of open addressing (:func:`~subsidy_engine.kernels.text.text_table`),
    built once and looked up as often as needed: the projects' ids, which loans, insurance and events each name.

    :meth:`positions` is ``pc.index_in(..., skip_nulls=True)`` with -1 for null, but Arrow builds its hash table
    anew at each look-up (0.15-0.2 s for 1.2M ids on 2 cores); here the look-up runs on every thread. Made for
    ids: a cell is hashed and compared a byte at a time, so long text is slower here than in Arrow (200k cells of
    1,000 bytes: 0.6 s against 0.06 s).

    >>> TextIndex(pa.array(["P1", "P2", None, "P1"])).positions(pa.array(["P2", None, "P9", "P1"])).tolist()
    [1, -1, -1, 0]
    """

    def __init__(self, cells: pa.Array) -> None:
        valid = cells.drop_null() if cells.null_count else cells
        self.offsets, self.data = text_buffers(valid)
        self.slots = np.full(table_size(len(valid)), -1, np.int64)
        self.hashes = np.empty(max(len(valid), 1), np.uint64)
        text_table(self.offsets, self.data, self.slots, self.hashes)
        # the valid cells' positions among all
        self.kept = np.flatnonzero(valid_cells(cells)) if cells.null_count else None

    def positions(self, cells: pa.Array) -> np.ndarray:
        """Each cell's position among the indexed cells (its first equal one), -1 when it has none or is null."""
        offsets, data = text_buffers(cells)
        found = np.empty(len(cells), np.int64)
        text_lookup(offsets, data, self.offsets, self.data, self.slots, self.hashes, found)
        if cells.null_count:  # a null cell is read as empty by the kernel: it is in no table
            found[~valid_cells(cells)] = -1
        if self.kept is not None and self.kept.shape[0]:  # positions among the valid cells, back to all
            found = np.where(found >= 0, self.kept[np.maximum(found, 0)], -1)
        return found


def text_index_in(cells: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Each cell's position in ``value_set`` (its first equal cell), -1 when it has none or is null:
    ``pc.index_in(..., skip_nulls=True)`` with -1 for null, by a :class:`TextIndex` of ``value_set``.

    >>> text_index_in(pa.array(["P2", None, "P9", "P1"]), pa.array(["P1", "P2", None, "P1"])).tolist()
    [1, -1, -1, 0]
    """
    return TextIndex(value_set).positions(cells)


def surely_distinct(cells: pa.Array | pa.ChunkedArray) -> bool:
    """True when no two cells of a text column are equal (nulls aside), proven by their distinct 64-bit hashes;
    False when two hashes are equal, which two equal cells, or by chance two others, give: look row by row.

    >>> surely_distinct(pa.array(["L1", "L2", None, None])), surely_distinct(pa.array(["L1", "L2", "L1"]))
    (True, False)
    """
    hashes = []
    for chunk in (cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]):
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return False
        offsets, data = text_buffers(chunk)
        out = np.empty(len(chunk), np.uint64)
        fnv1a_hashes(offsets, data, out)
        if chunk.null_count:  # a null is no id: never a repeat
            out = out[valid_cells(chunk)]
        hashes.append(out)
    joined = np.sort(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)
    return not bool((joined[1:] == joined[:-1]).any())


def repeated_ids(series: pd.Series) -> np.ndarray:
    """Cells repeating an earlier row's id (a blank cell is no id): the rule of every id column.

    Most tables repeat no id, which distinct hashes of its cells prove (:func:`surely_distinct`: 0.01-0.05 s
    for 1.2M project ids, against 0.1-0.4 s for Arrow's ``unique`` and 0.52 s for pandas' ``duplicated``); only a
    column whose hashes repeat is looked at row by row.
    """
    if isinstance(series.dtype, pd.ArrowDtype) or isinstance(series.array, pd.arrays.ArrowStringArray):
        if surely_distinct(pa.chunked_array(series.array._pa_array)):
            return np.zeros(len(series), bool)
    return series.duplicated().to_numpy() & ~blank_cells(series)


def blank_cells(series: pd.Series) -> np.ndarray:
    """Blank cells: None, NaN, NA, NaT or an empty string."""
    if isinstance(series.dtype, pd.ArrowDtype):  # in Arrow: no object round trip
        arr = pa.chunked_array(series.array._pa_array)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            # judged from the bytes; a cell of other characters and no printable ASCII (U+3000, an
            # ideographic space, say) is judged by Arrow's Unicode whitespace
            kinds = ascii_cell_kinds(arr)
            blank = kinds == ASCII_BLANK  # a null cell too
            undecided = np.flatnonzero(kinds == OTHER)
            if undecided.size:
                blank[undecided] = np.asarray(pc.equal(pc.utf8_trim_whitespace(arr.take(pa.array(undecided))), "")
                                              .to_numpy(zero_copy_only=False), bool)
            return blank
        return np.asarray(pc.is_null(arr, nan_is_null=True).to_numpy(), bool)
    if isinstance(series.dtype, pd.CategoricalDtype):  # a blank category (an empty word, spaces) is blank
        codes = series.cat.codes.to_numpy()
        return np.append(blank_cells(pd.Series(series.cat.categories, dtype=object)), True)[codes]
    try:
        blank = series.isna().to_numpy(dtype=bool)
    except ArithmeticError:  # pandas' isna raises on a Decimal signalling NaN: judge cell by cell
        return np.fromiter((is_missing(v) or (isinstance(v, str) and not v.strip()) for v in series.array),
                           dtype=bool, count=len(series))
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        try:
            empty = (series.str.strip() == "").astype(object).fillna(False).to_numpy(dtype=bool)
        except AttributeError:  # an object column without strings
            return blank
        blank = blank | empty  # NA (a blank already) counts as not empty here
    return blank


def _is_float_dtype(s: pd.Series) -> bool:
    dtype = s.dtype
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_floating(dtype.pyarrow_dtype)
    return pd.api.types.is_float_dtype(dtype)


def _is_int_dtype(s: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


#: Columns read as rates: a text cell may end in ``%`` ("3.85%" is 0.0385).
RATE_FIELDS = frozenset({"annual_rate"})
#: Columns read at two places that are not amounts of money: no 萬/億/元 units.
NOT_MONEY = frozenset({"merit_score"})


def decimal_units(series: pd.Series, scale: int, name: str, rej: Rejections, *,
                  percent: bool | None = None, units: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact decimal column -> (int64 units of 10**-scale, missing mask).

    Rows that are not exact numbers at that scale are rejected. Text cells
    follow the one text rule of :func:`~subsidy_engine.core.money.to_decimal`.
    The caller decides what a column is, never the cell: ``percent`` (a
    trailing ``%`` divides by 100) defaults to ``name in RATE_FIELDS``, and
    ``units`` (a trailing 萬/万, 億/亿 or 元) to an amount in yuan, i.e.
    ``scale == 2 and name not in NOT_MONEY``.

    >>> rej = Rejections(4)
    >>> decimal_units(pd.Series(["1,200萬", "1000,50", " 12.30 ", None]), 2, "principal", rej)[0]
    array([1200000000,          0,       1230,          0])
    >>> rej.frame(pd.Series(["a", "b", "c", "d"], name="loan_id")).reason.tolist()
    ["'1000,50': a comma is only a thousands separator (groups of three, as in 1,000,000.00); write the decimal point as '.'"]
    >>> decimal_units(pd.Series(["3.85%"]), 10, "annual_rate", rej)[0]
    array([385000000])
    """
    as_percent = name in RATE_FIELDS if percent is None else percent
    as_amount = scale == 2 and name not in NOT_MONEY if units is None else units
    values, missing = _decimal_units(series, scale, name, rej, as_percent, as_amount)
    if scale == 2:  # amounts of money and scores in hundredths, as the models' Money and Score (core.fields)
        rej.add(~missing & (np.abs(values) > MAX_AMOUNT_FEN), name, ABOVE_MAX_AMOUNT if as_amount else ABOVE_MAX_SCORE)
    return values, missing


def _decimal_units(series: pd.Series, scale: int, name: str, rej: Rejections, as_percent: bool,
                   as_amount: bool) -> tuple[np.ndarray, np.ndarray]:
    n = len(series)
    if _is_float_dtype(series):
        raise PortfolioSchemaError(
            f"column {name!r} holds binary floats ({series.dtype}); exact amounts and rates need "
            "strings, integers, Decimal objects or a decimal column (read CSV files with "
            f"dtype={{{name!r}: str}})"
        )
    if pd.api.types.is_bool_dtype(series.dtype):
        raise PortfolioSchemaError(f"column {name!r} holds booleans, not numbers")
    if _is_int_dtype(series):
        missing = series.isna().to_numpy()
        values = series.fillna(0).to_numpy(dtype=np.int64)
        limit = np.iinfo(np.int64).max // 10**scale
        too_big = np.abs(values) > limit
        rej.add(too_big & ~missing, name, "is too large")
        return np.where(too_big, 0, values) * 10**scale, missing | too_big
    fast = _decimal_units_arrow(series, scale)
    if fast is not None:
        return fast
    values = np.zeros(n, dtype=np.int64)
    missing = np.zeros(n, dtype=bool)
    reasons = np.empty(n, dtype=object)
    bad = np.zeros(n, dtype=bool)
    for k, value in enumerate(series.array):
        if is_missing(value) or (isinstance(value, str) and not value.strip()):  # a blank cell, as blank_cells
            missing[k] = True
            continue
        try:
            number = to_decimal(value, "value", percent=as_percent, units=as_amount)
            exact = scaled_integer(number, scale)
            if exact is None:
                read = f" (= {number})" if isinstance(value, str) and value.strip() != str(number) else ""
                raise MoneyError(f"{value}{read} has more than {scale} decimal places"
                                 + (" (a fraction of a fen)" if scale == 2 else ""))
            if abs(exact) > np.iinfo(np.int64).max:
                raise MoneyError(f"{value} is too large")
            values[k] = exact
        except MoneyError as exc:
            bad[k] = True
            reasons[k] = str(exc).removeprefix("value: ")
    rej.add(bad, name, reasons)
    # Rows that failed to parse are already reported; later checks skip them
    # (callers that need "was a value given" use blank_cells).
    return values, missing | bad


#: The text cells Arrow's cast to decimal reads as :func:`~subsidy_engine.core.money.to_decimal` does: the plain
#: form (``PLAIN_NUMBER``) with an exponent of at most four digits.
ARROW_READS_ALIKE = f"^(?:{PLAIN_MANTISSA}(?:[eE][+-]?[0-9]{{1,4}})?)$"


def _decimal_units_arrow(series: pd.Series, scale: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Vectorized conversion for string, Decimal and decimal columns; None to fall back."""
    try:
        if isinstance(series.dtype, pd.ArrowDtype):
            arr = pa.chunked_array(series.array._pa_array).combine_chunks()
        else:
            inferred = pd.api.types.infer_dtype(series, skipna=True)
            if inferred not in ("string", "decimal"):
                return None
            arr = pa.array(series.to_numpy(dtype=object), from_pandas=True)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            # only the plain form, which Arrow and to_decimal read alike; "1,000", " 12",
            # "3.85%" or "500萬" go to the slow path, which holds the text rule. So does an exponent of five
            # digits or more, which Arrow's cast reads wrongly (".1E-500000" as 0.00, its exponent arithmetic
            # wraps; every such value is refused or far beyond any bound anyway): one pass of one pattern
            plain = pc.match_substring_regex(arr, ARROW_READS_ALIKE).fill_null(True)
            if not pc.all(plain).as_py():
                return None
        elif not pa.types.is_decimal(arr.type):
            return None
        if not (pa.types.is_decimal128(arr.type) and arr.type.scale == scale):  # else its words are the units
            arr = arr.cast(pa.decimal128(38, scale))  # safe: fails on any lost digit
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError, ValueError,
            ArithmeticError):  # e.g. Decimal("sNaN"): let the slow path name the row
        return None
    missing = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    words = np.frombuffer(arr.buffers()[1], dtype=np.int64,
                          count=2 * (len(arr) + arr.offset))[2 * arr.offset:]
    low, high = words[0::2], words[1::2]
    if np.any((high != (low >> 63)) & ~missing):
        return None  # beyond int64 units: let the slow path say which row
    return np.where(missing, 0, low).astype(np.int64), missing


def optional_int_column(table: pd.DataFrame, name: str, rej: Rejections, default: int) -> tuple[np.ndarray, np.ndarray]:
    """An optional whole-number column -> (int64 values, missing mask): ``default`` where a cell is missing or the
    table has no such column (every cell missing then)."""
    if name not in table.columns:
        return np.full(len(table), default, np.int64), np.ones(len(table), bool)
    values, missing = int_column(table[name], name, rej)
    return np.where(missing, default, values), missing


def int_column(series: pd.Series, name: str, rej: Rejections) -> tuple[np.ndarray, np.ndarray]:
    """Whole-number column -> (int64 values, missing mask)."""
    n = len(series)
    if _is_int_dtype(series):
        missing = series.isna().to_numpy()
        return series.fillna(0).to_numpy(dtype=np.int64), missing
    if _is_float_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        whole = ~missing & (values == np.floor(np.where(missing, 0, values))) & (np.abs(values) < 2**53)
        rej.add(~missing & ~whole, name, "is not a whole number")
        return np.where(whole, values, 0).astype(np.int64), ~whole
    values = np.zeros(n, dtype=np.int64)
    missing = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    too_big = np.zeros(n, dtype=bool)
    for k, v in enumerate(series.array):
        if is_missing(v) or (isinstance(v, str) and not v.strip()):
            missing[k] = True
            continue
        number = whole_value(v)  # 60, 60.0, Decimal("60") (a Parquet decimal), "６０" as typed
        if number is None:
            bad[k] = True
            continue
        if abs(number) >= INT_LIMIT:
            too_big[k] = True
        else:
            values[k] = number
    rej.add(bad, name, "is not a whole number")
    rej.add(too_big, name, "is far too large")
    return values, missing | bad | too_big


def arrow_text(series: pd.Series) -> pa.Array:
    """The column as one Arrow ``string`` array, cells as written (blanks null).

    A column of one chunk is its chunk, not a copy; a categorical column of text (the claims' ``instrument``)
    is its categories taken by its codes, not a Python object per cell.
    """
    if isinstance(series.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(series.dtype.categories):
        codes = series.cat.codes.to_numpy()
        categories = pa.array(series.dtype.categories.to_numpy(dtype=object), pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), categories).dictionary_decode()
    if not (isinstance(series.dtype, pd.ArrowDtype) and pa.types.is_string(series.dtype.pyarrow_dtype)):
        series = series.astype(pd.StringDtype("pyarrow"))
    chunks = pa.chunked_array(series.array._pa_array)
    return (chunks.chunk(0) if chunks.num_chunks == 1 else chunks.combine_chunks()).cast(pa.string())


def text_cells(series: pd.Series) -> pa.Array:
    """The column as Arrow text, trimmed and lower-cased (blanks are null or empty)."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(arrow_text(series)))


def vocabulary_index(series: pd.Series, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each cell, the index of its word in ``words`` (-1 when not one of them), and the blank mask.

    >>> vocabulary_index(pd.Series([" Pilot", "x", None, "promotion"]), ["pilot", "promotion"])
    (array([ 0, -1, -1,  1]), array([False, False,  True, False]))
    """
    text = arrow_text(series)
    vocabulary = pa.array(list(words), pa.string())
    # Most cells are written as the words are: looked up as they are, in one pass (a ledger's 6M kinds in 70 ms);
    # the others (null, blank, spaced, capitalised, not a word) are cleaned and looked up once per distinct cell.
    index = np.asarray(pc.index_in(text, value_set=vocabulary).fill_null(-1).to_numpy(zero_copy_only=False),
                       np.int64)
    blank = np.zeros(len(text), bool)
    others = np.flatnonzero(index < 0)
    if others.size:
        encoded = pc.dictionary_encode(text.take(pa.array(others)))
        distinct = pc.utf8_lower(pc.utf8_trim_whitespace(encoded.dictionary))
        # a null cell's code is the one past the distinct cells: not a word, and blank
        word = np.append(pc.index_in(distinct, value_set=vocabulary).fill_null(-1)
                         .to_numpy(zero_copy_only=False).astype(np.int64), -1)
        empty = np.append(np.asarray(pc.equal(distinct, "").to_numpy(zero_copy_only=False), bool), True)
        code = np.asarray(encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False), np.int64)
        index[others] = word[code]
        blank[others] = empty[code]
    return index, blank



def vocabulary_codes(series: pd.Series | None, words: Sequence[str], name: str, rej: Rejections,
                     n: int) -> np.ndarray:
    """Each cell's index in ``words`` (-1 blank or none); a word that is not one of them is a problem of its row.

    >>> rej = Rejections(3)
    >>> vocabulary_codes(pd.Series(["reward", "prize", None]), ("reward",), "kind", rej, 3).tolist(), rej.bad.tolist()
    ([0, -1, -1], [False, True, False])
    """
    if series is None:
        return np.full(n, -1, dtype=np.int64)
    codes, blank = vocabulary_index(series, words)
    _reject_unknown_words(series, ~blank & (codes < 0), words, name, rej)
    return codes


def _reject_unknown_words(series: pd.Series, unknown: np.ndarray, words: Sequence[str], name: str,
                          rej: Rejections) -> None:
    """Each cell ``unknown`` marks a problem of its row that quotes what it says ("'moon' is not one of ...")."""
    if not unknown.any():
        return
    allowed = ", ".join(map(repr, words))
    given = series.astype("string").fillna("").to_numpy(dtype=object)
    reasons = np.empty(given.shape[0], dtype=object)
    for k in np.flatnonzero(unknown):  # a hostile cell may be long: the reason quotes its start (shown_text)
        reasons[k] = text("input_reasons", "not_one_of_value", "en", value=shown_text(given[k]), allowed=allowed)
    rej.add(unknown, name, reasons)


def rows_to_read(table: pd.DataFrame, name: str, columns: Sequence[str], required: Sequence[str], id_column: str,
                 blank_checked: Sequence[str] | None = None) -> tuple[pd.DataFrame, Rejections]:
    """A calculator's table made ready to read, and its rejections begun: only ``columns`` and every ``required``
    one (else :class:`PortfolioSchemaError` naming table ``name``), the index reset, each blank cell of
    ``blank_checked`` (default ``required``) missing, each repeat of ``id_column`` a duplicate."""
    unknown = [c for c in table.columns if c not in columns]
    missing = [c for c in required if c not in table.columns]
    if unknown or missing:
        raise PortfolioSchemaError(f"{name} table: unknown columns {unknown}, missing {missing}")
    table = table.reset_index(drop=True)
    rej = Rejections(len(table))
    for column in (required if blank_checked is None else blank_checked):
        rej.add(blank_cells(table[column]), column, "is missing")
    rej.add(repeated_ids(table[id_column]), id_column, text("input_reasons", "duplicate_id", "en", column=id_column))
    return table, rej


def enum_column(series: pd.Series | None, enum: type, name: str, default: object,
                 rej: Rejections, n: int, *, missing: str | None = None) -> np.ndarray:
    """String column -> member codes (``default`` for blanks; -1 when no default). With ``missing``, a blank
    cell is rejected for that reason (found as the words are: a second look at every cell is not needed)."""
    fallback = -1 if default is None else default.code  # type: ignore[attr-defined]
    if series is None:
        return np.full(n, fallback, dtype=np.int64)
    members = list(enum)  # type: ignore[call-overload]
    index, blank = vocabulary_index(series, [m.value for m in members])
    if missing is not None:
        rej.add(blank, name, missing)
    _reject_unknown_words(series, ~blank & (index < 0), [m.value for m in members], name, rej)
    # each member's code by its index, and the fallback at -1 (a blank or an unknown cell): one look-up a cell
    return np.array([m.code for m in members] + [fallback], np.int64)[index]


def date_column(series: pd.Series, name: str, rej: Rejections) -> tuple[np.ndarray, np.ndarray]:
    """Date column -> (days since epoch, missing mask).

    Arrow dates, datetime64 columns at midnight (a time of day is rejected),
    and objects that are dates or ISO 'YYYY-MM-DD' strings.
    """
    if isinstance(series.dtype, pd.ArrowDtype) and pa.types.is_date(series.dtype.pyarrow_dtype):
        arr = pa.chunked_array(series.array._pa_array).combine_chunks().cast(pa.date32())
        missing = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)
        days32 = arr.view(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
        return days32.astype(np.int64), missing
    raw_missing = blank_cells(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if getattr(series.dt, "tz", None) is not None:
            raise PortfolioSchemaError(f"column {name!r} holds timezone-aware datetimes, not dates")
        timed = (series.notna() & (series != series.dt.normalize())).to_numpy()
        rej.add(timed, name, "has a time of day; a date is expected")
        days = series.dt.normalize().to_numpy(dtype="datetime64[D]", na_value=np.datetime64("NaT"))
    else:
        days = _object_dates(series.to_numpy(dtype=object), raw_missing, name, rej)
    missing = raw_missing | np.isnat(days)
    return np.where(missing, 0, days.astype(np.int64)), missing


def _object_dates(values: np.ndarray, missing: np.ndarray, name: str, rej: Rejections) -> np.ndarray:
    """Dates from an object column: vectorized for date objects and 'YYYY-MM-DD'
    strings; any other cell is judged one by one, as the model judges it."""
    n = values.shape[0]
    days = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    present = ~missing
    todo = present.copy()
    kind = pd.api.types.infer_dtype(values[present], skipna=True)
    if kind == "date" and any(isinstance(v, datetime) for v in values[present]):
        kind = "mixed"  # dates beside a datetime infer as "date": judge each, so that no time of day is dropped
    if kind == "date":  # datetime.date objects only
        days[present] = np.array(values[present].tolist(), dtype="datetime64[D]")
        todo[:] = False
    elif kind == "string":
        text = pd.Series(values, dtype=object).where(present, "")
        iso = text.str.fullmatch(ISO_DATE).to_numpy(dtype=bool) & present
        parsed = pd.to_datetime(text.where(iso, None), format="%Y-%m-%d", errors="coerce")
        ok = iso & parsed.notna().to_numpy()
        days[ok] = parsed.to_numpy(dtype="datetime64[D]")[ok]
        todo = present & ~ok
    bad = np.zeros(n, dtype=bool)
    reasons = np.empty(n, dtype=object)
    for k in np.flatnonzero(todo):
        v = values[k]
        if isinstance(v, pd.Timestamp):
            v = v.to_pydatetime()
        if hasattr(v, "hour"):  # a datetime
            bad[k], reasons[k] = True, (f"has a time of day ({v:%Y-%m-%d %H:%M}); a date is expected"
                                        if isinstance(v, datetime) else
                                        "a datetime is not a date; pass a date or 'YYYY-MM-DD'")
        elif isinstance(v, date):
            days[k] = np.datetime64(v, "D")
        elif isinstance(v, str):  # " 2026-03-01", or "２０２６－０３－０１" as typed with a Chinese input method
            try:
                days[k] = np.datetime64(parse_date(v), "D")
            except DateError as exc:
                bad[k], reasons[k] = True, str(exc)
        else:
            bad[k], reasons[k] = True, f"{type(v).__name__} is not a date"
    rej.add(bad, name, reasons)
    return days


__all__ = ["INT_LIMIT", "Read", "Rejections", "accepted_rows", "arrow_text", "blank_cells", "repeated_ids", "checked_table", "date_column", "decimal_units",
           "empty_rejections", "enum_column", "group_starts", "int_column", "is_missing", "problems_message",
           "sort_order", "take_rows", "text_cells", "vocabulary_index"]

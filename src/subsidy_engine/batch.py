"""Loans as flat arrays for the kernels, from ``Loan`` models or from a table.

The table path validates column by column, without a Python loop per row,
and applies the same rules as :class:`~subsidy_engine.loans.Loan` (the tests
check that a row is rejected here exactly when ``Loan`` refuses it). Each
problem becomes a rejection ``(row, loan_id, field, reason)``; ``row`` is the
0-based position of the row in the input table.

Table columns: ``loan_id`` and the ``Loan`` fields, with the floating rate
flattened into ``floating_tenor``, ``floating_spread_bp`` and
``floating_reset`` (a ``floating`` column of ``FloatingRate`` objects or
mappings is accepted too). Money and rates may be strings, integers,
``Decimal`` objects or exact decimal (Arrow) columns; a float column is
refused as a whole. Whole-number fields (``term_months``, ``grace_months``,
``settlement_day``) also accept whole floats, because pandas stores an
integer column with blanks as floats, and digit strings, as read from text
files (the ``Loan`` model itself stays strict).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import PortfolioSchemaError
from .dates import ISO_DATE, DateError, parse_date
from .enums import Frequency, InterestBasis, Method, PlanUnit, Reset, Tenor
from .loans import MAX_SPREAD_BP, MAX_TERM_MONTHS, FloatingRate, Loan, plan_to_fen
from .kernels import add_years_kernel
from .money import (MAX_ANNUAL_RATE, MAX_PRINCIPAL_YUAN, PLAIN_NUMBER, RATE_DECIMALS, MoneyError,
                    scaled_integer, to_decimal, whole_number)


INT_LIMIT = 2**62  # whole-number fields far beyond any real value are errors, not overflows


def is_missing(value: object) -> bool:
    """None, pandas' NA and NaT, or a float NaN: a blank cell."""
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


@dataclass
class LoanArrays:
    """One entry per loan, in kernel units (fen, 1e-10 rate units, periods)."""

    principal_fen: np.ndarray
    periods: np.ndarray
    months_per_period: np.ndarray
    method: np.ndarray
    grace: np.ndarray
    basis: np.ndarray
    start_y: np.ndarray
    start_m: np.ndarray
    start_d: np.ndarray
    due_day: np.ndarray
    is_floating: np.ndarray
    fixed_units: np.ndarray
    tenor_5y: np.ndarray
    spread_units: np.ndarray
    reset_anniversary: np.ndarray
    plans: dict[int, list[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.principal_fen.shape[0])

    def take(self, index: np.ndarray) -> LoanArrays:
        """The loans at positions ``index`` (custom plans follow their loans)."""
        index = np.asarray(index, dtype=np.int64)
        arrays = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "plans"}
        plans: dict[int, list[int]] = {}
        if self.plans:  # custom loans are few: map only their positions
            owners = np.fromiter(self.plans, dtype=np.int64, count=len(self.plans))
            new_positions = np.full(len(self), -1, dtype=np.int64)
            new_positions[index] = np.arange(index.shape[0])
            plans = {int(new_positions[k]): self.plans[int(k)] for k in owners if new_positions[k] >= 0}
        return LoanArrays(**arrays, plans=plans)

    def slice(self, lo: int, hi: int) -> LoanArrays:
        """Loans ``lo`` to ``hi`` as views (no copy), for chunked runs."""
        arrays = {f.name: getattr(self, f.name)[lo:hi] for f in fields(self) if f.name != "plans"}
        plans = {k - lo: v for k, v in self.plans.items() if lo <= k < hi}
        return LoanArrays(**arrays, plans=plans)

    def start_days(self) -> np.ndarray:
        return civil_to_epoch_days(self.start_y, self.start_m, self.start_d)

    def plan_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Custom plans as CSR (pointer per loan, fen per period)."""
        lengths = np.zeros(len(self), dtype=np.int64)
        for k, plan in self.plans.items():
            lengths[k] = len(plan)
        ptr = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        flat = np.zeros(int(ptr[-1]), dtype=np.int64)
        for k, plan in self.plans.items():
            flat[ptr[k]:ptr[k + 1]] = plan
        return ptr, flat


def civil_to_epoch_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of (y, m, d) arrays of any shape (H. Hinnant's
    days_from_civil in integer arithmetic, as the kernel does it)."""
    y = np.asarray(y, dtype=np.int64) - (np.asarray(m) <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (np.asarray(m, dtype=np.int64) + 9) % 12
    doy = (153 * mp + 2) // 5 + np.asarray(d, dtype=np.int64) - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def add_years(epoch_day: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same day ``years`` later, clamped to the month's end, on days since 1970-01-01.

    >>> from datetime import timedelta
    >>> from subsidy_engine.rates import EPOCH, epoch_days
    >>> later = add_years(np.array([epoch_days(date(2024, 2, 29)), epoch_days(date(2026, 3, 15))]), np.array([1, 2]))
    >>> [EPOCH + timedelta(days=int(day)) for day in later]
    [datetime.date(2025, 2, 28), datetime.date(2028, 3, 15)]
    """
    days, count = np.broadcast_arrays(np.asarray(epoch_day, dtype=np.int64), np.asarray(years, dtype=np.int64))
    out = np.empty(days.shape, np.int64)
    add_years_kernel(np.ascontiguousarray(days).ravel(), np.ascontiguousarray(count).ravel(), out.reshape(-1))
    return out


# ---------------------------------------------------------------------------
# From models
# ---------------------------------------------------------------------------
def arrays_from_loans(loans: Sequence[Loan]) -> LoanArrays:
    """Flat arrays for validated ``Loan`` models."""
    n = len(loans)

    def col(values: Iterable[int], dtype: type = np.int64) -> np.ndarray:
        return np.fromiter(values, dtype=dtype, count=n)

    return LoanArrays(
        principal_fen=col(x.principal_fen for x in loans),
        periods=col(x.periods for x in loans),
        months_per_period=col(x.frequency.months for x in loans),
        method=col(x.method.code for x in loans),
        grace=col(x.grace_periods for x in loans),
        basis=col(x.basis.code for x in loans),
        start_y=col(x.start_date.year for x in loans),
        start_m=col(x.start_date.month for x in loans),
        start_d=col(x.start_date.day for x in loans),
        due_day=col((x.settlement_day or x.start_date.day) for x in loans),
        is_floating=col((x.floating is not None for x in loans), np.bool_),
        fixed_units=col(int(x.annual_rate.scaleb(RATE_DECIMALS)) if x.annual_rate is not None else 0
                        for x in loans),
        tenor_5y=col((x.floating is not None and x.floating.tenor is Tenor.FIVE_YEAR for x in loans),
                     np.bool_),
        spread_units=col(int(x.floating.spread.scaleb(RATE_DECIMALS)) if x.floating else 0
                         for x in loans),
        reset_anniversary=col((x.floating is not None and x.floating.reset is Reset.ANNIVERSARY
                               for x in loans), np.bool_),
        plans={k: x.plan_fen for k, x in enumerate(loans) if x.plan_fen is not None},  # type: ignore[misc]
    )


# ---------------------------------------------------------------------------
# From a table
# ---------------------------------------------------------------------------
LOAN_COLUMNS = (
    "principal", "annual_rate", "floating", "floating_tenor", "floating_spread_bp",
    "floating_reset", "term_months", "frequency", "method", "principal_plan_unit",
    "grace_months", "interest_basis", "start_date", "settlement_day", "principal_plan",
)


#: The columns a loan table must have.
LOAN_REQUIRED = ("loan_id", "principal", "term_months", "start_date")


def sort_order(*keys: np.ndarray) -> np.ndarray:
    """Row order by ``keys`` (the first is the primary key), ties in row order.

    When the keys' ranges fit in 63 bits together they are packed into one
    integer and sorted once (the usual case), else ``np.lexsort`` (stable);
    a few rows go straight to ``np.lexsort``.
    """
    if keys[0].shape[0] == 0:
        return np.zeros(0, np.int64)
    if keys[0].shape[0] <= 256:  # a few rows (a quote): one stable lexsort costs less than packing
        return np.lexsort(tuple(reversed(keys)))
    lows = [int(k.min()) for k in keys]
    widths = [max(int(k.max()) - low, 0).bit_length() for k, low in zip(keys, lows)]
    row_bits = max(keys[0].shape[0] - 1, 0).bit_length()
    if sum(widths) + row_bits > 63:
        return np.lexsort(tuple(reversed(keys)))
    packed = np.zeros(keys[0].shape[0], np.int64)
    for k, low, width in zip(keys, lows, widths):
        packed = (packed << width) | (k.astype(np.int64) - low)
    packed = (packed << row_bits) | np.arange(keys[0].shape[0], dtype=np.int64)  # ties: row order
    return np.argsort(packed)


def group_starts(*keys: np.ndarray) -> np.ndarray:
    """True where a row starts a new run of equal ``keys`` (rows already in key order)."""
    start = np.ones(keys[0].shape[0], np.bool_)
    if start.shape[0]:
        start[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in keys])
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


def problems_message(rejections: pd.DataFrame, where: str, place: Callable[[Any], str]) -> str:
    """``N problem(s) in <where>: <place> <field>: <reason>; ...`` for the first five rows of a report."""
    head = "; ".join(f"{place(r)} {r.field}: {r.reason}" for r in rejections.head(5).itertuples())
    more = f" and {len(rejections) - 5} more" if len(rejections) > 5 else ""
    return f"{len(rejections)} problem(s) in {where}: {head}{more}"


def blank_cells(series: pd.Series) -> np.ndarray:
    """Blank cells: None, NaN, NA, NaT or an empty string."""
    if isinstance(series.dtype, pd.ArrowDtype):  # in Arrow: no object round trip
        arr = pa.chunked_array(series.array._pa_array)
        blank = pc.is_null(arr, nan_is_null=True)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            blank = pc.or_(blank, pc.equal(pc.utf8_trim_whitespace(arr), "")).fill_null(True)
        return np.asarray(blank.to_numpy(), bool)
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
    follow the one text rule of :func:`~subsidy_engine.money.to_decimal`.
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
    n = len(series)
    as_percent = name in RATE_FIELDS if percent is None else percent
    as_amount = scale == 2 and name not in NOT_MONEY if units is None else units
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
        if is_missing(value):
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
            # "3.85%" or "500萬" go to the slow path, which holds the text rule
            plain = pc.match_substring_regex(arr, f"^(?:{PLAIN_NUMBER})$").fill_null(True)
            if not pc.all(plain).as_py():
                return None
        elif not pa.types.is_decimal(arr.type):
            return None
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
        if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            number = int(v)
        elif isinstance(v, str) and (read := whole_number(v)) is not None:  # text files ("６０" too)
            number = read
        else:
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
    """The column as one Arrow ``string`` array, cells as written (blanks null)."""
    if not (isinstance(series.dtype, pd.ArrowDtype) and pa.types.is_string(series.dtype.pyarrow_dtype)):
        series = series.astype(pd.StringDtype("pyarrow"))
    return pa.chunked_array(series.array._pa_array).combine_chunks().cast(pa.string())


def text_cells(series: pd.Series) -> pa.Array:
    """The column as Arrow text, trimmed and lower-cased (blanks are null or empty)."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(arrow_text(series)))


def vocabulary_index(series: pd.Series, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each cell, the index of its word in ``words`` (-1 when not one of them), and the blank mask.

    >>> vocabulary_index(pd.Series([" Pilot", "x", None]), ["pilot", "promotion"])
    (array([ 0, -1, -1]), array([False, False,  True]))
    """
    text = text_cells(series)
    index = pc.index_in(text, value_set=pa.array(list(words), pa.string())).fill_null(-1)
    blank = pc.or_(pc.is_null(text), pc.equal(text, "")).fill_null(True)
    return (np.asarray(index.to_numpy(zero_copy_only=False), np.int64),
            np.asarray(blank.to_numpy(zero_copy_only=False), bool))


def enum_column(series: pd.Series | None, enum: type, name: str, default: object,
                 rej: Rejections, n: int) -> np.ndarray:
    """String column -> member codes (``default`` for blanks; -1 when no default)."""
    codes = np.full(n, -1 if default is None else default.code, dtype=np.int64)  # type: ignore[attr-defined]
    if series is None:
        return codes
    members = list(enum)  # type: ignore[call-overload]
    index, blank = vocabulary_index(series, [m.value for m in members])
    known = index >= 0
    unknown = ~blank & ~known
    if unknown.any():
        allowed = ", ".join(repr(m.value) for m in members)
        shown = series.astype("string").fillna("").to_numpy(dtype=object)
        rej.add(unknown, name, np.array([f"{v!r} is not one of {allowed}" for v in shown], dtype=object))
    codes[known] = np.array([m.code for m in members], np.int64)[index[known]]
    return codes


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


def _to_civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dt = days.astype("datetime64[D]")
    months = dt.astype("datetime64[M]")
    y = months.astype(np.int64) // 12 + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (dt - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, d


def arrays_from_frame(table: pd.DataFrame, ignore_columns: Iterable[str] = ()
                      ) -> tuple[LoanArrays, np.ndarray, pd.DataFrame]:
    """Validate a loan table; returns (arrays of good rows, their positions, rejections)."""
    ignore = set(ignore_columns)
    unknown = [c for c in table.columns if c not in LOAN_COLUMNS and c != "loan_id" and c not in ignore]
    if unknown:
        raise PortfolioSchemaError(
            f"unknown columns {unknown}; a loan table has loan_id and the Loan fields "
            f"({', '.join(LOAN_COLUMNS)}); pass ignore_columns=[...] for columns to leave aside"
        )
    for required in LOAN_REQUIRED:
        if required not in table.columns:
            raise PortfolioSchemaError(f"the loan table has no {required!r} column")
    table = table.reset_index(drop=True)
    n = len(table)
    rej = Rejections(n)
    col = table.get

    loan_ids = table["loan_id"]
    rej.add(blank_cells(loan_ids), "loan_id", "is missing")
    dup = loan_ids.duplicated(keep="first").to_numpy() & ~blank_cells(loan_ids)
    rej.add(dup, "loan_id", "is a duplicate of an earlier row's loan_id")

    # principal
    fen, missing = decimal_units(table["principal"], 2, "principal", rej)
    rej.add(blank_cells(table["principal"]), "principal", "is missing")
    rej.add(~missing & (fen <= 0), "principal", "must be positive (at least 0.01 yuan)")
    rej.add(fen > int(MAX_PRINCIPAL_YUAN * 100), "principal",
            f"is above the supported maximum of {MAX_PRINCIPAL_YUAN} yuan")

    # fixed rate
    if "annual_rate" in table.columns:
        fixed_units, no_fixed = decimal_units(table["annual_rate"], RATE_DECIMALS, "annual_rate", rej)
        fixed_given = ~blank_cells(table["annual_rate"])
    else:
        fixed_units, no_fixed = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
        fixed_given = np.zeros(n, dtype=bool)
    rej.add(~no_fixed & (fixed_units < 0), "annual_rate",
            "is negative; an annual rate is a fraction >= 0 (0.0385 = 3.85%)")
    rej.add(~no_fixed & (fixed_units > int(MAX_ANNUAL_RATE.scaleb(RATE_DECIMALS))), "annual_rate",
            "is above 1 (100% a year); an annual rate is a fraction, 0.0385 = 3.85%")

    # floating rate
    tenor_s, spread_s, reset_s = col("floating_tenor"), col("floating_spread_bp"), col("floating_reset")
    if "floating" in table.columns:
        if tenor_s is not None or spread_s is not None or reset_s is not None:
            raise PortfolioSchemaError("give either a 'floating' column or floating_* columns, not both")
        tenor_s, spread_s, reset_s = _flatten_floating(table["floating"], rej)
    tenor = enum_column(tenor_s, Tenor, "floating_tenor", None, rej, n)
    if spread_s is not None:
        spread_units, no_spread = decimal_units(spread_s, RATE_DECIMALS - 4, "floating_spread_bp", rej)
        spread_given = ~blank_cells(spread_s)
    else:
        spread_units, no_spread = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
        spread_given = np.zeros(n, dtype=bool)
    rej.add(~no_spread & (np.abs(spread_units) > int(MAX_SPREAD_BP) * 10**(RATE_DECIMALS - 4)),
            "floating_spread_bp", "is beyond +/-10000 bp (100 percentage points)")
    reset = enum_column(reset_s, Reset, "floating_reset", Reset.JANUARY, rej, n)
    tenor_given = ~blank_cells(tenor_s) if tenor_s is not None else np.zeros(n, dtype=bool)
    is_floating = tenor_given | spread_given
    rej.add(is_floating & ~tenor_given, "floating_tenor", "is missing for a floating rate")
    rej.add(is_floating & tenor_given & ~spread_given, "floating_spread_bp", "is missing for a floating rate")
    rej.add(is_floating == fixed_given, "annual_rate, floating",
            "give exactly one (a fixed or an LPR-linked rate)")

    # term and frequency
    term, no_term = int_column(table["term_months"], "term_months", rej)
    rej.add(blank_cells(table["term_months"]), "term_months", "is missing")
    bad_term = ~no_term & ((term < 1) | (term > MAX_TERM_MONTHS))
    rej.add(bad_term, "term_months", f"must be between 1 and {MAX_TERM_MONTHS} months")
    no_term = no_term | bad_term  # like the model, dependent checks skip an invalid term
    freq = enum_column(col("frequency"), Frequency, "frequency", Frequency.MONTHLY, rej, n)
    mpp = np.where(freq == Frequency.QUARTERLY.code, 3, 1)
    rej.add((freq >= 0) & ~no_term & (term % mpp != 0), "frequency",
            "term_months is not a whole number of quarterly periods")
    method = enum_column(col("method"), Method, "method", Method.EQUAL_INSTALLMENT, rej, n)
    unit = enum_column(col("principal_plan_unit"), PlanUnit, "principal_plan_unit", PlanUnit.AMOUNT, rej, n)

    # grace
    if "grace_months" in table.columns:
        grace_m, no_grace = int_column(table["grace_months"], "grace_months", rej)
        grace_m = np.where(no_grace, 0, grace_m)
    else:
        grace_m = np.zeros(n, dtype=np.int64)
    rej.add(grace_m < 0, "grace_months", "must not be negative")
    rej.add(~no_term & (grace_m >= term) & (grace_m >= 0), "grace_months", "must be less than term_months")
    rej.add((grace_m % mpp != 0) & (grace_m >= 0), "grace_months",
            "is not a whole number of quarterly periods")
    rej.add((grace_m > 0) & (method == Method.CUSTOM.code), "grace_months",
            "a custom loan writes its grace as zeros in principal_plan")

    basis = enum_column(col("interest_basis"), InterestBasis, "interest_basis", None, rej, n)
    basis_given = basis >= 0
    if "interest_basis" in table.columns:
        s = table["interest_basis"]
        basis_given = s.notna().to_numpy() & (s.astype("string").str.strip().fillna("") != "").to_numpy()
    default_basis = np.where(method == Method.INTEREST_ONLY.code, InterestBasis.ACT_360.code,
                             InterestBasis.MONTHLY.code)
    basis = np.where(basis_given, basis, default_basis)

    start, no_start = date_column(table["start_date"], "start_date", rej)
    rej.add(blank_cells(table["start_date"]), "start_date", "is missing")
    if "settlement_day" in table.columns:
        settle, no_settle = int_column(table["settlement_day"], "settlement_day", rej)
        rej.add(~no_settle & ((settle < 1) | (settle > 31)), "settlement_day",
                "must be a day of month, 1 to 31")
    else:
        settle, no_settle = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    y, m, d = _to_civil(start)
    rej.add(~no_start & ~no_term & (y * 12 + m - 1 + term > 9999 * 12 + 11), "start_date",
            "plus term_months ends after the year 9999")

    # custom plans: rare, checked one by one with the model's own rule
    plans: dict[int, list[int]] = {}
    plan_col = col("principal_plan")
    custom = method == Method.CUSTOM.code
    has_plan = plan_col.notna().to_numpy() if plan_col is not None else np.zeros(n, dtype=bool)
    if plan_col is not None and plan_col.dtype == object:
        has_plan = np.array([not is_missing(v) for v in plan_col.array], dtype=bool)
    rej.add(custom & ~has_plan, "principal_plan", "method 'custom' needs a principal_plan")
    rej.add(~custom & (method >= 0) & has_plan, "principal_plan", "is only given for method 'custom'")
    periods = np.where(mpp > 0, term // mpp, 0)
    plan_reasons = np.empty(n, dtype=object)
    plan_bad = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(custom & has_plan & ~rej.bad):
        try:
            raw = plan_col.iloc[k]  # type: ignore[union-attr]
            if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
                raise ValueError("must be a sequence of amounts or fractions")
            plan = tuple(to_decimal(v, "principal_plan item") for v in raw)
            if len(plan) != periods[k]:
                raise ValueError(f"has {len(plan)} entries; the loan has {periods[k]} periods")
            plans[int(k)] = plan_to_fen(plan, list(PlanUnit)[unit[k]], int(fen[k]))
        except (ValueError, MoneyError) as exc:
            plan_bad[k], plan_reasons[k] = True, str(exc)
    rej.add(plan_bad, "principal_plan", plan_reasons)

    good = np.flatnonzero(~rej.bad)
    arrays = LoanArrays(
        principal_fen=fen, periods=periods, months_per_period=mpp.astype(np.int64), method=method,
        grace=np.where(mpp > 0, grace_m // mpp, 0), basis=basis.astype(np.int64),
        start_y=y, start_m=m, start_d=d, due_day=np.where(no_settle, d, settle),
        is_floating=is_floating, fixed_units=fixed_units, tenor_5y=tenor == Tenor.FIVE_YEAR.code,
        spread_units=spread_units, reset_anniversary=reset == Reset.ANNIVERSARY.code, plans=plans,
    ).take(good)
    return arrays, good, rej.frame(loan_ids)


def _flatten_floating(series: pd.Series, rej: Rejections) -> tuple[pd.Series, pd.Series, pd.Series]:
    n = len(series)
    tenor = np.full(n, None, dtype=object)
    spread = np.full(n, None, dtype=object)
    reset = np.full(n, None, dtype=object)
    bad = np.zeros(n, dtype=bool)
    reasons = np.empty(n, dtype=object)
    for k, v in enumerate(series.array):
        if is_missing(v):
            continue
        try:
            f = v if isinstance(v, FloatingRate) else FloatingRate(**v)
            tenor[k], spread[k], reset[k] = f.tenor.value, f.spread_bp, f.reset.value
        except (TypeError, ValueError) as exc:
            bad[k], reasons[k] = True, str(exc).replace("\n", " ")
    rej.add(bad, "floating", reasons)
    return pd.Series(tenor), pd.Series(spread, dtype=object), pd.Series(reset)


__all__ = ["LoanArrays", "PortfolioSchemaError", "arrays_from_frame", "arrays_from_loans",
           "add_years", "civil_to_epoch_days"]

"""Exact money columns written straight from kernel arrays: the decimal128 words of ``minuend[rows] -
subtrahend[rows]`` are those of the difference taken first, to the fen, negative amounts and int64's extremes
included."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine.core.columns import money_series, money_series_of_words
from subsidy_engine.kernels.decimal import decimal_words_of

from strategies import examples

FEN = st.integers(-(2**62), 2**62 - 1)  # a difference of two stays within int64


@settings(max_examples=examples(80), deadline=None)
@given(st.lists(st.tuples(FEN, FEN), min_size=1, max_size=60).flatmap(
    lambda pairs: st.tuples(st.just(pairs), st.lists(st.integers(0, len(pairs) - 1), max_size=80))))
def test_the_words_of_a_difference_taken_at_rows_are_its_exact_decimals(case) -> None:  # noqa: ANN001
    pairs, rows = case
    minuend = np.array([a for a, _ in pairs], np.int64)
    subtrahend = np.array([b for _, b in pairs], np.int64)
    taken = np.array(rows, np.int64)
    expected = [Decimal(pairs[r][0] - pairs[r][1]).scaleb(-2) for r in rows]
    assert money_series_of_words(decimal_words_of(minuend, taken, subtrahend)).tolist() == expected
    assert money_series_of_words(decimal_words_of(minuend, taken)).tolist() == [
        Decimal(pairs[r][0]).scaleb(-2) for r in rows]
    assert money_series_of_words(decimal_words_of(minuend, taken), "amount").equals(
        money_series(minuend[taken], "amount"))


def test_extremes_and_no_rows() -> None:
    values = np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min, -1, 0, 1], np.int64)
    every = np.arange(5, dtype=np.int64)
    assert money_series_of_words(decimal_words_of(values, every)).tolist() == [
        Decimal(int(v)).scaleb(-2) for v in values]
    empty = money_series_of_words(decimal_words_of(values, np.zeros(0, np.int64)), "gross")
    assert len(empty) == 0 and empty.name == "gross" and str(empty.dtype) == str(money_series(values).dtype)


def test_words_with_blanks_are_a_column_with_nulls_where_not_valid() -> None:
    words = decimal_words_of(np.array([150, -7, 9], np.int64), np.arange(3, dtype=np.int64))
    column = money_series_of_words(words, "merit_score", valid=np.array([True, False, True]))
    assert column.isna().tolist() == [False, True, False]
    assert column.dropna().tolist() == [Decimal("1.50"), Decimal("0.09")]
    assert column.equals(money_series(np.array([150, 0, 9], np.int64), "merit_score").where(
        np.array([True, False, True])))

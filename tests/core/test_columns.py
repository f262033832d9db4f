"""Exact money columns: an empty column reads as no fen (a report of a horizon without claims has one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from subsidy_engine.core.columns import MONEY_TYPE, money_fen, money_series


def test_an_empty_money_column_of_no_chunks_reads_as_no_fen() -> None:
    empty = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([], MONEY_TYPE)))
    assert money_fen(empty).tolist() == []
    assert money_fen(money_series(np.zeros(0, np.int64))).tolist() == []

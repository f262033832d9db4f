"""One rule for a whole number in a cell (term_months, grace_months, settlement_day, years, a bank's period).

Found in the review of issue 17: the table reader refused ``Decimal('60')`` (a Parquet ``decimal(10, 0)``
column, as databases export NUMERIC(10, 0)) and ``60.0`` in a column of objects as "not a whole number",
while reconciliation's own reader took both.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from subsidy_engine import load_portfolio
from subsidy_engine.core.money import whole_value
from subsidy_engine.io.column_readers import Rejections, int_column
from subsidy_engine.simulation.synthetic import portfolio


@pytest.mark.parametrize(("cell", "number"), [
    (60, 60), (np.int32(60), 60), ("60", 60), (" ６０ ", 60), ("+7", 7), (60.0, 60), (Decimal("60"), 60),
    (Decimal("6E+1"), 60), (Decimal("60.000"), 60),
    (60.5, None), (Decimal("60.5"), None), (1e17, None), (float(2**53), None), (float(2**53 - 1), 2**53 - 1), (float("nan"), None), (float("inf"), None), (Decimal("NaN"), None),
    (Decimal("Infinity"), None), (True, None), ("1_000", None), ("١٠", None), ("60.0", None), (None, None),
])
def test_a_cell_is_a_whole_number_or_not(cell: object, number: int | None) -> None:
    assert whole_value(cell) == number


def test_the_table_reader_takes_whole_decimals_and_floats() -> None:
    series = pd.Series([Decimal("60"), 60.0, Decimal("60.5"), None, "12"], dtype=object)
    rej = Rejections(len(series))
    values, missing = int_column(series, "term_months", rej)
    assert values.tolist()[:2] == [60, 60] and values[4] == 12
    assert missing.tolist() == [False, False, True, True, False]
    assert rej.bad.tolist() == [False, False, True, False, False]
    arrow = pd.Series(pd.array([Decimal("120"), None], dtype=pd.ArrowDtype(pa.decimal128(10, 0))))
    rej = Rejections(2)
    values, missing = int_column(arrow, "term_months", rej)
    assert values[0] == 120 and missing.tolist() == [False, True] and not rej.bad.any()


def test_a_parquet_numeric_term_loads() -> None:
    tables = portfolio(20, seed=1)
    folder = Path(tempfile.mkdtemp())
    for name in ("projects", "insurance", "events"):
        getattr(tables, name).to_parquet(folder / f"{name}.parquet")
    table = pa.Table.from_pandas(tables.loans)
    at = table.schema.get_field_index("term_months")
    table = table.set_column(at, "term_months", pa.array([Decimal(int(v)) for v in tables.loans.term_months],
                                                         pa.decimal128(10, 0)))
    pq.write_table(table, folder / "loans.parquet")
    loaded = load_portfolio(folder)
    assert loaded.problems.empty
    assert loaded.loans.term_months.tolist() == tables.loans.term_months.tolist()

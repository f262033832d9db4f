"""Government investment: direct investment and capital injection (measures 1 and 4), kept apart from subsidies.

Measure 1 supports public-domain projects by direct investment (直接投資) and
capital injection (資本金注入) as well as by investment subsidy and 貼息;
measure 4 lets the government invest directly in common technology platforms
(政府直接投資). This is money the government puts in as an investor, not a
subsidy: it is never a claim, never in a subsidy total, and a budget charges it
only to the sources it marks as investment budgets (``investment: true``).

The ``government_investment`` table, one row per project, kind and year:

* ``investment_id`` (unique), ``project_id`` (a project of the projects table);
* ``kind``: ``direct_investment`` (measure 1, or 4 for a common technology
  platform) or ``capital_injection`` (measure 1);
* ``measure``: 1 (the default) or 4, and 4 only for direct investment;
* ``year`` (2000 to 2100) and ``amount`` (yuan, positive).

The amounts are the bureau's decisions: nothing is computed from them but
their totals, so they read no parameter; the year is the year the money is
paid. A row of a project that is not evaluated (rejected, or started outside
the parameters' coverage) is rejected with it, as every row of such a project
is; a year outside the run's years is left out of it, as a claim's is. The
amounts of the table may add up to at most 9e13 yuan (the exact range of the
sums), else the table is refused as a whole.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from subsidy_engine.core.money import MAX_TOTAL_FEN
from subsidy_engine.errors import PortfolioSchemaError
from subsidy_engine.io import column_readers

INVESTMENT_KINDS = ("direct_investment", "capital_injection")
GOVERNMENT_INVESTMENT_COLUMNS = ("investment_id", "project_id", "kind", "measure", "year", "amount")
#: The columns a government investment table must have.
GOVERNMENT_INVESTMENT_REQUIRED = ("investment_id", "project_id", "kind", "year", "amount")


def read_government_investment(table: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    """The table's arrays (``kind``, ``measure``, ``year``, ``fen``), its accepted rows and its rejections (each bad
    cell: row, ``investment_id``, field, reason)."""
    table, rej = column_readers.rows_to_read(table, "government_investment", GOVERNMENT_INVESTMENT_COLUMNS,
                                             GOVERNMENT_INVESTMENT_REQUIRED, "investment_id")
    n = len(table)
    kind = column_readers.vocabulary_codes(table["kind"], INVESTMENT_KINDS, "kind", rej, n)
    measure, no_measure = column_readers.optional_int_column(table, "measure", rej, 1)
    rej.add(~no_measure & (measure != 1) & (measure != 4), "measure",
            "is not 1 or 4 (government investment is measure 1's, or measure 4's for a platform)")
    rej.add((kind == INVESTMENT_KINDS.index("capital_injection")) & (measure == 4), "measure",
            "is 1 for a capital injection (measure 4 is direct investment in a platform)")
    year, no_year = column_readers.int_column(table["year"], "year", rej)  # a cell it cannot read says so itself
    rej.add(~no_year & ((year < 2000) | (year > 2100)), "year", "is not a year from 2000 to 2100")
    fen, no_fen = column_readers.decimal_units(table["amount"], 2, "amount", rej)
    rej.add(~no_fen & (fen <= 0), "amount", "must be positive (at least 0.01 yuan)")
    out = {"kind": kind, "measure": measure, "year": year, "fen": fen}
    good = np.flatnonzero(~rej.bad)
    if sum(fen[good].tolist()) > MAX_TOTAL_FEN:  # its totals would not be exact (Python ints: an exact sum)
        raise PortfolioSchemaError("the amounts add up to more than 9e13 yuan, beyond the engine's exact range")
    return column_readers.accepted_rows(out, good, n), good, rej.frame(table["investment_id"])


__all__ = ["GOVERNMENT_INVESTMENT_COLUMNS", "GOVERNMENT_INVESTMENT_REQUIRED", "INVESTMENT_KINDS",
           "read_government_investment"]

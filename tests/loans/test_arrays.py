"""Loans as arrays and back: one converter family (issue 17, point 3).

``arrays_from_loans`` (models), ``arrays_from_frame`` (tables) and ``loans_from_arrays`` (back to models) are the
one way a loan changes shape; a model that comes back from its arrays prices to the fen as the one given.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from subsidy_engine import amortize
from subsidy_engine.loans.arrays import arrays_from_frame, arrays_from_loans, loans_from_arrays
from subsidy_engine.measures.claims import models_to_frame

from strategies import loans


def _same_arrays(a, b) -> None:
    for f in fields(a):
        if f.name != "plans":
            np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name), err_msg=f.name)
    assert a.plans == b.plans


@given(sample=st.lists(loans(), min_size=1, max_size=6))
def test_models_come_back_from_their_arrays(sample, curve) -> None:
    arrays = arrays_from_loans(sample)
    back = loans_from_arrays(arrays)
    _same_arrays(arrays_from_loans(back), arrays)
    for given_loan, returned in zip(sample, back):
        first, second = amortize(given_loan, curve), amortize(returned, curve)
        assert first.interest_fen.tolist() == second.interest_fen.tolist()
        assert first.principal_fen.tolist() == second.principal_fen.tolist()


@given(sample=st.lists(loans(), min_size=1, max_size=6))
def test_a_table_of_models_reads_as_the_models(sample) -> None:
    """The table path reads what a model's cells say (``models_to_frame``), as the models' own arrays."""
    table = models_to_frame(sample, ["principal"])
    table.insert(0, "loan_id", [f"L{k}" for k in range(len(sample))])
    arrays, good, rejections = arrays_from_frame(table)
    assert rejections.empty and good.tolist() == list(range(len(sample)))
    _same_arrays(arrays, arrays_from_loans(sample))
    _same_arrays(arrays_from_loans(loans_from_arrays(arrays)), arrays)

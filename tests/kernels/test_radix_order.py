"""The radix sort behind sort_order: a stable order (ties in row order) for keys of 0 to 63 bits, in one pass or
several, whatever the passes' parity (the last writes the order)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine.kernels.sort import radix_order

from strategies import examples


@settings(max_examples=examples(80), deadline=None)
@given(st.integers(0, 63).flatmap(lambda bits: st.tuples(
    st.just(bits), st.lists(st.integers(0, 2**bits - 1) | st.sampled_from([0, 2**bits - 1]), max_size=300))))
def test_radix_order_is_a_stable_argsort(case: tuple[int, list[int]]) -> None:
    bits, keys = case
    values = np.array(keys, np.int64)
    assert radix_order(values, bits).tolist() == np.argsort(values, kind="stable").tolist()


def test_too_wide_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="64 bits"):
        radix_order(np.zeros(3, np.int64), 64)

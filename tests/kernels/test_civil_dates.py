"""Day numbers to (year, month, day) in one numba pass give Python's calendar."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine.kernels.calendar import civil_dates

from strategies import examples

EPOCH = date(1970, 1, 1)
FIRST, LAST = (date.min - EPOCH).days, (date.max - EPOCH).days


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.integers(FIRST, LAST), st.sampled_from([FIRST, LAST, -1, 0, 59, 11_016, 19_782])),
                max_size=40))
def test_each_day_number_is_its_date(days) -> None:
    y, m, d = civil_dates(np.array(days, np.int64))
    expected = [EPOCH + timedelta(days=k) for k in days]
    assert list(zip(y.tolist(), m.tolist(), d.tolist())) == [(e.year, e.month, e.day) for e in expected]

"""Where the kernels read and write each loan's rows and years, in one pass: the same as the general layout.

``kernels.amortize.plain_layout`` lays out loans that move no due date, settle on their due dates and have no later
tranche or prepayment (``loans.amortization.run`` takes it for them); ``kernels.subsidy.loan_year_layout`` lays out
the 貼息 kernel's loan-years from the rows' dates. Each was a dozen numpy calls, which a quote's one loan paid for.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy_engine.kernels.amortize import plain_layout
from subsidy_engine.kernels.subsidy import loan_year_layout
from subsidy_engine.loans.amortization import first_year, pointers, row_capacity, run, year_counts
from subsidy_engine.loans.arrays import arrays_from_loans

from strategies import loans

EPOCH = date(1970, 1, 1)


@given(sample=st.lists(loans(floating=False), min_size=1, max_size=8))
def test_the_plain_layout_is_the_general_one(sample) -> None:
    arrays = arrays_from_loans(sample)
    assert arrays.events is None and not arrays.interest_months.any() and not arrays.business_day.any()
    first, row_ptr, year_ptr = plain_layout(arrays.start_y, arrays.start_m, arrays.months_per_period, arrays.periods)
    general_first = first_year(arrays)
    np.testing.assert_array_equal(first, general_first)
    np.testing.assert_array_equal(row_ptr, pointers(row_capacity(arrays)))
    np.testing.assert_array_equal(year_ptr, pointers(year_counts(arrays, general_first)))
    # and the run lays them out so: its years are those of its rows' dates
    result = run(arrays, None, rows=True, years=True)
    for j in range(len(sample)):
        rows = result.out.end_day[result.row_ptr[j]:result.row_ptr[j + 1]]
        years = [(EPOCH + timedelta(days=int(day))).year for day in (rows[0], rows[-1])]
        assert [result.first_year[j], result.first_year[j] + result.year_ptr[j + 1] - result.year_ptr[j] - 1] == years


@given(periods=st.lists(st.integers(0, 30), min_size=0, max_size=8), data=st.data())
def test_the_loan_year_layout_reads_the_first_and_last_dates(periods, data) -> None:
    """Each loan's years from its first row's to its last row's; a loan without rows has none."""
    end_day = []
    for count in periods:
        start = data.draw(st.integers(-700_000, 2_900_000))  # the years 53 to 9909
        end_day += sorted(data.draw(st.lists(st.integers(start, start + 20_000), min_size=count, max_size=count)))
    end_day_array = np.array(end_day, np.int32)
    row_ptr, first, year_ptr = loan_year_layout(np.array(periods, np.int64), end_day_array)
    assert row_ptr.tolist() == [0, *np.cumsum(periods).tolist()]
    for j, count in enumerate(periods):
        span = year_ptr[j + 1] - year_ptr[j]
        if count == 0:
            assert span == 0
            continue
        rows = end_day[row_ptr[j]:row_ptr[j + 1]]
        first_year = (EPOCH + timedelta(days=rows[0])).year
        last_year = (EPOCH + timedelta(days=rows[-1])).year
        assert (first[j], span) == (first_year, last_year - first_year + 1)


def test_the_loan_year_layout_refuses_more_periods_than_rows() -> None:
    with pytest.raises(ValueError, match="more than the rows"):
        loan_year_layout(np.array([3, 2], np.int64), np.arange(4, dtype=np.int32))

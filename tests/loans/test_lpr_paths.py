"""Loans priced on many LPR paths in one call (a Monte Carlo batch, issue 20 point 2): path ``p`` of a batch prices
a loan as the path's own curve does, to the fen, and a loan's copies keep its plan and events."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_engine import load_lpr
from subsidy_engine.io.column_readers import Read
from subsidy_engine.loans.arrays import arrays_from_frame
from subsidy_engine.loans.portfolio import amortize_portfolio
from subsidy_engine.loans.repricing import rate_segments
from subsidy_engine.params.lpr import Fixing, LprCurve, LprPaths

from builders import table_of
from strategies import examples, loans, loans_with_events

HOLD = date(2045, 12, 31)
DAYS = (date(2026, 6, 20), date(2027, 1, 20), date(2029, 3, 20))


def _paths() -> LprPaths:
    one = np.array([[300, 280, 250], [300, 300, 300], [200, 150, 100]], np.int64)
    five = one + 50
    return LprPaths(load_lpr(), DAYS, one, five, coverage_end=HOLD, projection_label="test batch")


LOANS = pd.DataFrame({
    "loan_id": ["A", "B", "C", "D"],
    "principal": ["1000000", "2500000", "800000", "1200000"],
    "annual_rate": [None, None, None, "0.04"],
    "floating_tenor": ["5Y", "1Y", "5Y", None],
    "floating_spread_bp": ["-30", "10", "0", None],
    "floating_reset": ["january", "anniversary", "january", None],
    "term_months": [120, 60, 36, 36],
    "method": ["equal_installment", "equal_principal", "custom", "equal_installment"],
    "principal_plan_unit": [None, None, "fraction", None],
    "principal_plan": [None, None, ["0"] * 11 + ["0.5"] + ["0"] * 23 + ["0.5"], None],
    "start_date": [date(2025, 3, 14), date(2024, 11, 30), date(2026, 2, 1), date(2025, 1, 1)],
})


def test_each_path_of_a_batch_prices_as_its_own_curve() -> None:
    paths = _paths()
    read = Read(*arrays_from_frame(LOANS))
    assert not len(read.rejections)
    n = len(read.arrays)
    batch = replace(read.arrays.take(np.tile(np.arange(n), paths.count)),
                    lpr_path=np.repeat(np.arange(paths.count), n))
    together = amortize_portfolio(LOANS[["loan_id"]], lpr=paths, output="schedule",
                                  read=read._replace(arrays=batch, positions=np.tile(read.positions, paths.count)))
    assert len(together.rejections) == 0
    rows = np.repeat(np.arange(paths.count), together.periods.reshape(paths.count, n).sum(axis=1))
    for p in range(paths.count):
        alone = amortize_portfolio(LOANS, lpr=paths.curve(p, f"path {p}"), output="schedule").schedule
        mine = together.schedule[rows == p].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone)
    # the paths differ, so the test could fail: the floating loans' interest is not the same on each
    interest = [together.schedule[rows == p].interest.sum() for p in range(paths.count)]
    assert len(set(interest)) == paths.count


def test_the_path_curve_is_the_history_then_the_path() -> None:
    paths, history = _paths(), load_lpr()
    curve = paths.curve(2, "path 2")
    assert curve.fixings[:len(history.fixings)] == history.fixings
    assert curve.fixings[-1] == Fixing(date(2029, 3, 20), Decimal("0.01"), Decimal("0.015"), "projected", "path 2")
    assert curve.coverage_end == HOLD and curve.history_end == history.history_end
    assert curve.projection_label == "path 2"
    day, one, five = paths.fixing_arrays()
    alone = curve.fixing_arrays()
    assert np.array_equal(day, alone[0]) and np.array_equal(one[2], alone[1]) and np.array_equal(five[2], alone[2])


def test_a_loan_on_a_path_the_batch_has_not_is_refused() -> None:
    read = Read(*arrays_from_frame(LOANS))
    loans = replace(read.arrays, lpr_path=np.full(len(read.arrays), 3))
    with pytest.raises(ValueError, match="LPR path 3 of a batch of 3"):
        rate_segments(loans, _paths())
    # loans that name no path, on a batch of several: which path each is priced on is not a guess
    with pytest.raises(ValueError, match="a batch of 3 LPR paths prices each loan on the path its lpr_path names"):
        rate_segments(read.arrays, _paths())


@pytest.mark.parametrize("bad, message", [
    ({"days": (date(2026, 6, 20), date(2026, 6, 20), date(2029, 3, 20))}, "strictly increasing"),
    ({"days": (date(2020, 6, 20),) + DAYS[1:]}, "after the published data"),
    ({"lpr_1y_bp": np.zeros((3, 2), np.int64)}, "paths x 3 fixing days"),
    ({"lpr_5y_bp": np.zeros((2, 3), np.int64)}, "paths x 3 fixing days"),
])
def test_a_batch_of_paths_checks_its_shape(bad: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        replace(_paths(), **bad)


def test_copies_of_a_loan_keep_its_plan_and_events() -> None:
    read = Read(*arrays_from_frame(LOANS))
    custom = int(np.flatnonzero(LOANS.method == "custom")[0])
    copies = read.arrays.take(np.array([custom, 0, custom, custom]))
    assert sorted(copies.plans) == [0, 2, 3]
    assert all(copies.plans[k] == read.arrays.plans[custom] for k in (0, 2, 3))
    assert copies.lpr_path is None and read.arrays.slice(1, 3).lpr_path is None
    on_paths = replace(read.arrays, lpr_path=np.arange(len(read.arrays)))
    assert on_paths.take(np.array([3, 1])).lpr_path.tolist() == [3, 1]
    assert on_paths.slice(1, 3).lpr_path.tolist() == [1, 2]


def test_one_curve_is_a_batch_of_one_path() -> None:
    curve = _paths().curve(0, "x")
    assert isinstance(curve, LprCurve)
    read = Read(*arrays_from_frame(LOANS))
    plain = rate_segments(read.arrays, curve)
    on_path_0 = rate_segments(replace(read.arrays, lpr_path=np.zeros(len(read.arrays), np.int64)), curve)
    assert np.array_equal(plain.rate_units, on_path_0.rate_units) and np.array_equal(plain.ptr, on_path_0.ptr)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.lists(st.one_of(loans(), loans_with_events()), min_size=1, max_size=12), data=st.data())
def test_a_loan_asked_for_its_first_periods_writes_its_schedule_s_first_rows(sample, data) -> None:  # noqa: ANN001
    """``stop_period`` (Monte Carlo asks for the periods up to each loan's 貼息 window): a loan of the lean loop
    writes its first ``stop`` rows, those of its whole schedule to the fen; a loop that prices to the term (events,
    calendar settlement, business days) writes them all. Never fewer rows than asked, never other figures."""
    table = table_of(sample)
    read = Read(*arrays_from_frame(table))
    curve = load_lpr().hold_flat(HOLD)
    whole = amortize_portfolio(table, lpr=curve, output="schedule", read=read)
    stops = np.array([data.draw(st.integers(1, int(n))) for n in read.arrays.periods], np.int64)
    cut = amortize_portfolio(table, lpr=curve, output="schedule",
                             read=read._replace(arrays=replace(read.arrays, stop_period=stops)))
    assert cut.rejections.equals(whole.rejections)
    for loan_id, rows in whole.schedule.groupby("loan_id", sort=False):
        mine = cut.schedule[cut.schedule.loan_id == loan_id].reset_index(drop=True)
        position = int(np.flatnonzero(read.positions == int(loan_id.removeprefix("L")))[0])
        assert len(mine) >= min(stops[position], len(rows))
        head = rows.head(len(mine)).reset_index(drop=True)
        # the table closes a loan's last row at 0 (the next row's opening): a stopped loan's figures are the rows'
        pd.testing.assert_frame_equal(mine.iloc[:-1], head.iloc[:-1])
        shown = [c for c in mine.columns if c not in ("closing_balance", "drawn")]
        pd.testing.assert_frame_equal(mine[shown], head[shown])
    lean = ((read.arrays.interest_months == 0) & (read.arrays.business_day == 0)
            & (np.diff(read.arrays.events_csr().ptr) == 0))
    written = cut.periods
    kept = np.isin(read.positions, whole.positions)  # the loans priced (a refused one has no rows either way)
    assert np.array_equal(written[lean[kept]], stops[kept][lean[kept]])
    # its yearly totals are those of the rows it wrote, its years up to its last row's
    both = amortize_portfolio(table, lpr=curve, output="both",
                              read=read._replace(arrays=replace(read.arrays, stop_period=stops)))
    rows = both.schedule.assign(year=both.schedule.end_date.map(lambda d: d.year))
    summed = rows.groupby(["loan_id", "year"], sort=False)[["interest", "principal"]].sum().reset_index()
    yearly = both.yearly[both.yearly.loan_id.isin(rows.loan_id)].reset_index(drop=True)
    keys = set(zip(summed.loan_id, summed.year))
    assert set(zip(yearly.loan_id, yearly.year)) >= keys
    # a year without a row between two with rows (a quarterly loan's) is shown with zeros
    extra = yearly[np.array([k not in keys for k in zip(yearly.loan_id, yearly.year)], bool)]
    assert (extra.interest == 0).all() and (extra.principal == 0).all()
    assert yearly.groupby("loan_id").year.max().to_dict() == rows.groupby("loan_id").year.max().to_dict()
    merged = yearly.merge(summed, on=["loan_id", "year"], suffixes=("", "_rows"))
    assert (merged.interest == merged.interest_rows).all() and (merged.principal == merged.principal_rows).all()

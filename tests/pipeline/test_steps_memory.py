"""What ``combine`` lets go of while it works (a national portfolio's claim rows are half a gigabyte, and on a
VM new memory costs more than the work done in it): the parts of :class:`~subsidy_engine.pipeline.steps.Rows`
are joined without being held twice, and a stacking's caps, once paid, are not held while the table is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from subsidy_engine import evaluate, load_lpr, load_policy
from subsidy_engine.measures.claims import ClaimRows
from subsidy_engine.pipeline import steps
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL
from subsidy_engine.simulation.synthetic import portfolio


def _rows() -> steps.Rows:
    rows = steps.Rows()
    rows.parts = [{"year": np.array([2026, 2027]), "item": pa.array(["A", "B"])},
                  {"year": np.array([2028]), "item": pa.array(["C"])}]
    return rows


def test_joined_parts_are_the_columns_concatenated_with_the_old_parts_let_go() -> None:
    rows = _rows()
    before = rows.parts[:]
    rows.join_parts()
    assert len(rows.parts) == 1
    assert rows.column("year").tolist() == [2026, 2027, 2028]
    assert rows.column("item").to_pylist() == ["A", "B", "C"]
    assert all(part == {} for part in before)  # no reference left to the parts' arrays
    assert not rows.column("year").flags.writeable  # the joined columns are given as they are: nobody writes into them


def test_a_stacking_whose_caps_were_let_go_cannot_be_paid_again() -> None:
    """Paying without the caps would pass every amount uncapped: it says so instead."""
    captured = {}
    real = steps.claims_table

    def keep(rows, ctx, st, after, order):  # noqa: ANN001, ANN202
        captured["st"] = st
        return real(rows, ctx, st, after, order)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(steps, "claims_table", keep)
        evaluate(portfolio(40, seed=3), load_policy(), range(2026, 2031),
                 lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))
    spent = captured["st"]
    assert spent.caps is None
    with pytest.raises(ValueError, match="caps were paid and let go"):
        steps.stack(spent, spent.computed)
    with pytest.raises(ValueError, match="caps were paid and let go"):
        steps.stacked_total(spent, spent.computed)


def _stacking() -> steps.Stacking:
    captured = {}
    real = steps.stacking_of

    def keep(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        captured["st"] = real(*args, **kwargs)
        return captured["st"]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(steps, "stacking_of", keep)
        evaluate(portfolio(300, seed=11), load_policy(), range(2026, 2031),
                 lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))
    return captured["st"]


def test_the_most_favourable_cut_decided_again_for_the_projects_of_changed_rows_is_the_whole_cut() -> None:
    """A Monte Carlo path reprices some rows (its loans' 貼息): 從優不重複 decided again for those rows' projects
    only (a project's choice reads its own rows; a row without a project is never cut), every other row as the
    structure's cut left it, is the cut over every row, whatever the changed rows and their new amounts."""
    st = _stacking()
    rng = np.random.default_rng(5)
    n = st.computed.shape[0]
    assert st.favourable.instruments.shape[0] and (st.project < 0).any()  # groups to decide, and rows without one
    for changing in (np.arange(n // 3, n // 2), np.sort(rng.choice(n, n // 10, replace=False)),
                     np.flatnonzero(st.project < 0)[:5], np.zeros(0, np.int64), np.arange(n)):
        again = steps.FavourableAgain(st, changing)
        for scale in (0, 1, 3):
            computed = st.computed.copy()
            computed[changing] = rng.integers(0, 2 * int(st.computed.max()) + 2, changing.shape[0]) * (scale > 0)
            assert np.array_equal(again.after(computed), steps._most_favourable(st, computed))
            assert np.array_equal(steps.stacked_total(st, computed, again), steps.stacked_total(st, computed))


def _claim_rows(n: int) -> tuple[ClaimRows, dict[str, np.ndarray]]:
    given = {"project": np.arange(n, dtype=np.int64), "day": np.arange(n, dtype=np.int64) + 20_000,
             "gross": np.arange(n, dtype=np.int64) * 100}
    rows = ClaimRows(columns={"year": np.full(n, 2026, np.int32), "amount": given["gross"] // 2,
                              "item_id": pa.array([f"L{k}" for k in range(n)])},
                     money=("amount",), paid=np.ones(n, bool), id_column="item_id", reasons=np.full(n, ""),
                     rejections=pd.DataFrame(), digest="", internal={"set_index": np.zeros(n, np.int64)})
    return rows, given


def test_a_part_of_every_row_is_its_rows_as_they_are_read_only_and_the_calculator_s_arrays_stay_its_own() -> None:
    """Every row kept (a portfolio's 貼息 and premiums), the part holds the calculator's arrays as read-only views
    (no copy); some rows kept, copies of those rows: the same columns either way."""
    rows, given = _claim_rows(5)
    for keep in (np.arange(5), np.array([0, 2, 4]), np.zeros(0, np.int64), np.array([1, 2, 3, 4]),
                 np.array([0, 2, 1, 3, 4])):  # every row, but not in order: copies in that order
        made = steps.Rows()
        made.add("premium_subsidy", rows, keep, project=given["project"], enterprise=pa.array(["E"] * 5),
                 item=rows.columns["item_id"], day=given["day"], gross=given["gross"], measure=7,
                 parameter="insurance_premium.share")
        assert made.column("project").tolist() == given["project"][keep].tolist()
        assert made.column("amount").tolist() == (given["gross"] // 2)[keep].tolist()
        assert made.column("year").tolist() == [2026] * keep.shape[0]
        assert made.column("item").to_pylist() == [f"L{k}" for k in keep.tolist()]
        assert made.column("enterprise").to_pylist() == ["E"] * keep.shape[0]
        assert not made.column("day").flags.writeable and not made.column("gross").flags.writeable
        assert all(a.flags.writeable for a in given.values())  # the calculator's arrays are not made read-only
        assert np.shares_memory(made.column("day"), given["day"]) == (keep.tolist() == list(range(5)))

"""Stacking's groups (kernels.caps.stacking_groups, over the rows kernels.caps.rows_under_caps finds, in any order)
against the rule in numpy terms, whichever way the enterprise-year groups are numbered (packed, or dense when the
years are far apart)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine.kernels.caps import NO_CAP, rows_under_caps, stacking_groups
from subsidy_engine.kernels.threads import read_only

from strategies import examples

SUBSIDY = 0


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Two group columns put the same rows together (and the same rows in none: -1)."""
    if not np.array_equal(a < 0, b < 0):
        return False
    pairs = {(int(x), int(y)) for x, y in zip(a, b) if x >= 0}
    return len(pairs) == len({x for x, _ in pairs}) == len({y for _, y in pairs})


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data(), n=st.integers(0, 40), n_projects=st.integers(0, 4), n_sets=st.integers(1, 3),
       far=st.booleans())
def test_each_row_s_groups_and_caps_are_the_rule_s(data: st.DataObject, n: int, n_projects: int, n_sets: int,
                                                    far: bool) -> None:
    ints = lambda lo, hi: st.lists(st.integers(lo, hi), min_size=n, max_size=n).map(  # noqa: E731
        lambda v: np.array(v, np.int64))
    instrument = data.draw(ints(0, 3)).astype(np.int8)
    project = data.draw(ints(-1, n_projects - 1)) if n_projects else np.full(n, -1, np.int64)
    enterprise = data.draw(ints(0, 5))
    year = data.draw(ints(1900, 9000) if far else ints(2021, 2030))
    set_of_row = data.draw(ints(0, n_sets - 1))
    project_set = np.array(data.draw(st.lists(st.integers(0, n_sets - 1), min_size=n_projects,
                                              max_size=n_projects)), np.int64)
    investment = np.array(data.draw(st.lists(st.integers(0, 10**12), min_size=n_projects, max_size=n_projects)),
                          np.int64)
    per_set = lambda lo, hi: np.array(data.draw(st.lists(st.integers(lo, hi), min_size=n_sets,  # noqa: E731
                                                         max_size=n_sets)), np.int64)
    enterprise_cap, project_cap, share = per_set(-1, 10**9), per_set(-1, 10**9), per_set(-1, 10**10)
    capped = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=n_sets,
                                         max_size=n_sets)), np.bool_).reshape(n_sets, 4)
    inputs = [read_only(a) for a in (instrument, project, enterprise, year, set_of_row, project_set, investment)]
    parameters = (SUBSIDY, *(read_only(a) for a in (enterprise_cap, project_cap, share, capped)))

    under = np.empty(n, np.bool_)
    rows_under_caps(inputs[0], inputs[1], inputs[5], *parameters[:1], parameters[-1], under)
    # the rows under a cap, in any order: the kernel writes row rows[i]'s groups and caps at i
    rows = np.array(data.draw(st.permutations(np.flatnonzero(under).tolist())), np.int64)

    def run(given_groups: np.ndarray, n_given: int) -> tuple[int, np.ndarray, np.ndarray]:
        group, cap = np.empty((rows.shape[0], 3), np.int64), np.empty((rows.shape[0], 3), np.int64)
        found = stacking_groups(read_only(rows), *inputs, *parameters, read_only(given_groups), n_given, group, cap)
        return found, group, cap

    # the rule, row by row
    own = instrument == SUBSIDY
    has = project >= 0
    safe = np.maximum(project, 0)
    cap_of_project = np.array([int(i) * int(share[s]) // 10**10 if share[s] >= 0 else NO_CAP  # exact integers
                               for i, s in zip(investment.tolist(), project_set.tolist())], np.int64)
    in_total = has & (capped[project_set[safe], instrument] if n_projects else False)
    expected_cap = np.stack([np.where(own, enterprise_cap[set_of_row], NO_CAP),
                             np.where(own & has, project_cap[set_of_row], NO_CAP),
                             np.where(in_total, cap_of_project[safe] if n_projects else NO_CAP, NO_CAP)], axis=1)
    enterprise_year = np.where(own, enterprise * 100_000 + year, -1)
    expected_groups = [enterprise_year, np.where(own & has, project, -1), np.where(in_total, project, -1)]

    dense = np.full(n, -1, np.int64)
    codes, inverse = np.unique(enterprise_year[own], return_inverse=True)
    dense[own] = inverse.reshape(-1)
    runs = [run(dense, codes.shape[0])]
    packed = run(np.zeros(0, np.int64), 0)
    if packed[0] >= 0:
        runs.append(packed)
    else:  # refused only when the packed codes would not be dense
        assert far and own.any()
    assert np.array_equal(under, own | in_total)
    for n_groups, group, cap in runs:
        assert np.array_equal(cap, expected_cap[rows])
        for column, expected in enumerate(expected_groups):
            assert _same_partition(group[:, column], expected[rows])
        used = group[group >= 0]
        assert used.shape[0] == 0 or (used.max() < n_groups and used.min() >= 0)
        # the three caps' codes never meet
        assert not (set(group[:, 0][group[:, 0] >= 0]) & set(group[:, 1][group[:, 1] >= 0]))
        assert not (set(group[:, 1][group[:, 1] >= 0]) & set(group[:, 2][group[:, 2] >= 0]))
        assert not (set(group[:, 0][group[:, 0] >= 0]) & set(group[:, 2][group[:, 2] >= 0]))


def _favourable_in_numpy(computed: np.ndarray, project: np.ndarray, instrument: np.ndarray, project_set: np.ndarray,
                         k: int, groups: list[tuple[int, list[int]]]) -> np.ndarray:
    """從優不重複 as arrays: each project's totals by instrument; in each group of its set, every instrument but
    the first of the largest total, with a total above 0, given up."""
    totals = np.zeros((project_set.shape[0], k), np.int64)
    has = project >= 0
    np.add.at(totals, (project[has], instrument[has]), computed[has])
    dropped = np.zeros_like(totals, bool)
    for set_index, columns in groups:
        for p in np.flatnonzero(project_set == set_index):
            block = totals[p, columns]
            best = columns[int(np.argmax(block))]
            for c in columns:
                dropped[p, c] |= c != best and totals[p, c] > 0
    after = computed.copy()
    after[has & dropped[np.maximum(project, 0), instrument]] = 0
    return after


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data(), n=st.integers(0, 30), n_projects=st.integers(1, 4), n_sets=st.integers(1, 3))
def test_most_favourable_only_keeps_the_largest_total_of_each_group(data: st.DataObject, n: int, n_projects: int,
                                                                     n_sets: int) -> None:
    from subsidy_engine.kernels.caps import most_favourable_only
    from subsidy_engine.pipeline.steps import _FavourableGroups

    k = 4
    ints = lambda lo, hi, size: np.array(data.draw(st.lists(st.integers(lo, hi), min_size=size,  # noqa: E731
                                                            max_size=size)), np.int64)
    computed = np.array(data.draw(st.lists(st.sampled_from([0, 10, 20]), min_size=n, max_size=n)), np.int64)
    # (a few amounts: equal totals are common, and the first of them is kept)
    project, instrument = ints(-1, n_projects - 1, n), ints(0, k - 1, n).astype(np.int8)
    project_set = ints(0, n_sets - 1, n_projects)
    groups = data.draw(st.lists(st.tuples(st.integers(0, n_sets - 1),
                                          st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True)),
                                max_size=4).map(lambda g: sorted(g, key=lambda pair: pair[0])))
    structure = _FavourableGroups.of([(s, np.array(columns, np.int64)) for s, columns in groups], n_sets)
    after = np.empty(n, np.int64)
    most_favourable_only(read_only(computed), read_only(project), read_only(instrument), read_only(project_set), k,
                         *structure, after)
    assert after.tolist() == _favourable_in_numpy(computed, project, instrument, project_set, k, groups).tolist()

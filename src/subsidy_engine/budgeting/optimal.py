"""The ``"optimal"`` mode of :func:`subsidy_engine.allocate`: a linear program solved by HiGHS.

Variables: ``x[i, s]``, the share of item ``i`` (one level of one claim over its
years) that source ``s`` pays, for every pair the budget allows; ``0 <= x <= 1``
and an item's shares add up to at most 1. Shares are uniform over an item's
years (the commitment rule of :mod:`subsidy_engine.budgeting.allocation`).

Constraints, with ``r[i, s, y]`` the item's request of year ``y``, within
source ``s``'s per-project and per-enterprise caps of a year (as in the waterfall):

* caps: ``sum_i x[i, s] r[i, s, y] <= cap[s, y]`` for each source and year; for a
  source that carries unspent money over, the same for every prefix of years,
  ``sum over y' <= y`` on both sides;
* per-project and per-enterprise caps of a source, per group and year.

Stage 1 maximises the total funded, ``Z = sum x[i, s] R[i, s]`` (``R``: the sum over the years). Stage 2 keeps
``Z`` (to 0.001 fen, or as close as the solver allows: 0.1 fen, 10 fen, a relative 1e-9) and maximises ``sum over q of t[q]``, where ``q`` is
a (source, approval year) pair and ``t[q] <= sum_s' x[i, s']`` for every item
``i`` that ``q``'s source may pay: each source's smallest funded share, as
large as possible (the fairness rule).

The program falls apart into independent blocks (pairs that share no
constraint: typically one block per source and level), and each block is
solved alone; the lexicographic optimum of the whole is that of each block.

Time limit: HiGHS stops at ``deadline`` (one limit over the whole allocation:
each solve is given what remains of it). A block whose stage 1 does not end in
time raises :class:`TimeLimitReached` (:func:`subsidy_engine.allocate` then
runs the waterfall); when a stage 2 does not end in time, every block keeps its
stage-1 plan (the largest total, without the fairness rule), so that the awards
are one of three plans, each decided by a rule, never a mix that depends on
which blocks the solver happened to finish.

Rounding: each row's award is ``floor(x r)`` fen; then, per source and year,
the fen that the floors lost (up to the LP's total rounded to the fen, within
the money the source has) go one each to the largest fractional parts, unless
that would pass a row's request or a per-group cap; a cap is never broken
(checked exactly).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from subsidy_engine.errors import OptimalError, TimeLimitReached
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.allocate import FULL, GROUP_CAP, SOURCE_CAP

if TYPE_CHECKING:
    from subsidy_engine.budgeting.plan import Plan

IPM_ABOVE = 1_000  # variables
UNIT = 1e6  # the LP counts money in 10,000 yuan (1e6 fen), so that tolerances stay far below a fen


def _solve(c: np.ndarray, a: sparse.csr_matrix, b: np.ndarray, upper: np.ndarray, deadline: float) -> np.ndarray:
    # Large blocks: the interior-point method (with crossover to a vertex), as stage 2's many two-term rows
    # are highly degenerate; there it was 25x faster than the dual simplex on 100k claims. Small blocks:
    # the simplex, which is quick there and never stalls on badly scaled tiny programs as the IPM can.
    method = "highs-ipm" if c.shape[0] > IPM_ABOVE else "highs-ds"
    remaining = deadline - time.perf_counter()
    if remaining <= 0:  # not passed on: HiGHS reads a limit of 0 as none
        raise TimeLimitReached
    result = linprog(c, A_ub=a, b_ub=b, bounds=np.column_stack([np.zeros_like(upper), upper]), method=method,
                     options={"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9,
                              "time_limit": remaining})
    if result.status == 1:  # the iteration or time limit; no iteration limit is set, so the time limit
        raise TimeLimitReached
    if result.status != 0:
        raise OptimalError(f"HiGHS: {result.message}")
    return np.asarray(result.x)


def _two_stages(a: sparse.csr_matrix, b: np.ndarray, weight: np.ndarray, pair_item: np.ndarray,
                q_of_pair: np.ndarray, deadline: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Stage 1 (the largest total) and stage 2 (keep it, raise each q's smallest share) on one block.

    Returns stage 1's shares and stage 2's (None when the time limit came first); stage 1 past the
    limit raises :class:`TimeLimitReached`.
    """
    n_pairs = weight.shape[0]
    x = _solve(-weight, a, b, np.ones(n_pairs), deadline)
    best = float(weight @ x)
    if best <= 0:
        return x, x
    _, q_index = np.unique(q_of_pair, return_inverse=True)
    n_q = int(q_index.max()) + 1
    _, item_index = np.unique(pair_item, return_inverse=True)
    # t[q] - (the sum of the item's shares) <= 0, for each pair (its item, its q)
    item_pairs = sparse.csr_matrix((np.ones(n_pairs), (item_index, np.arange(n_pairs))))
    fair = sparse.hstack([-item_pairs[item_index], sparse.csr_matrix((np.ones(n_pairs), (np.arange(n_pairs), q_index)),
                                                                     shape=(n_pairs, n_q))], format="csr")
    keep_total = sparse.csr_matrix(np.r_[-weight, np.zeros(n_q)][None, :])
    a2 = sparse.vstack([sparse.hstack([a, sparse.csr_matrix((a.shape[0], n_q))]), fair, keep_total], format="csr")
    # keep the total to 0.001 fen, else (the solver's tolerances are relative) to 0.1 fen, 10 fen, or a
    # relative 1e-9; failing all, stage 1's plan stands (the largest total, without the fairness rule)
    for allowed in (1e-3 / UNIT, 1e-1 / UNIT, 10 / UNIT, 1e-9 * best):
        b2 = np.r_[b, np.zeros(n_pairs), -(best - allowed)]
        try:
            return x, _solve(np.r_[np.zeros(n_pairs), -np.ones(n_q)], a2, b2, np.ones(n_pairs + n_q),
                             deadline)[:n_pairs]
        except OptimalError:
            continue
        except TimeLimitReached:
            return x, None
    return x, x


def optimal_records(p: Plan, deadline: float) -> tuple[tuple[np.ndarray, ...], bool]:
    """The records of the optimal plan, and whether the fairness stage ended in every block.

    Parameters
    ----------
    p : Plan
        The claims, sources and caps (:func:`subsidy_engine.budgeting.plan.build_plan`).
    deadline : float
        When HiGHS must stop, on the clock of ``time.perf_counter``.

    Raises
    ------
    TimeLimitReached
        A block's stage 1 (the largest total) did not end before ``deadline``.
    """
    n_items, n_sources = p.eligible.shape
    n_years = len(p.years)
    rows_of_item = np.diff(p.item_ptr)
    pair_item, pair_source = np.nonzero(p.eligible)  # pairs by item, then source order
    n_pairs = pair_item.shape[0]

    # entries: each pair with each row (year) of its item
    pairs_per_item = np.bincount(pair_item, minlength=n_items)
    rows_of_pair = rows_of_item[pair_item]
    entry_pair = np.repeat(np.arange(n_pairs), rows_of_pair)
    first_entry = np.cumsum(rows_of_pair) - rows_of_pair
    entry_row = p.item_ptr[pair_item][entry_pair] + np.arange(entry_pair.shape[0]) - first_entry[entry_pair]
    entry_source = pair_source[entry_pair]
    entry_year = p.row_year[entry_row]
    # what a row may ask of a source: its request within the source's per-group caps of the year
    entry_request = p.row_request[entry_row].copy()
    for g in range(p.group_cap.shape[0]):
        limited = p.group_cap[g, entry_source] >= 0
        entry_request = np.where(limited, np.minimum(entry_request, p.group_cap[g, entry_source]), entry_request)
    entry_value = entry_request / UNIT

    blocks, bounds = [], []
    # caps per source and year (prefix sums for sources that carry over)
    cap_rows, cap_cols, cap_vals = [], [], []
    for y in range(n_years):
        use = (entry_year == y) | (p.carry[entry_source] & (entry_year <= y))
        cap_rows.append(entry_source[use] * n_years + y)
        cap_cols.append(entry_pair[use])
        cap_vals.append(entry_value[use])
    cap_matrix = sparse.csr_matrix((np.concatenate(cap_vals), (np.concatenate(cap_rows), np.concatenate(cap_cols))),
                                   shape=(n_sources * n_years, n_pairs))
    cap_limit = np.where(p.carry[:, None], np.cumsum(p.cap, axis=1), p.cap).ravel() / UNIT
    blocks.append(cap_matrix)
    bounds.append(cap_limit)
    # an item's shares add up to at most 1 (needed where it has several sources)
    several = np.flatnonzero(pairs_per_item > 1)
    if several.shape[0]:
        member = np.isin(pair_item, several)
        blocks.append(sparse.csr_matrix((np.ones(int(member.sum())), (np.searchsorted(several, pair_item[member]),
                                                                         np.flatnonzero(member))),
                                        shape=(several.shape[0], n_pairs)))
        bounds.append(np.ones(several.shape[0]))
    # per-group caps of a source, per group and year, where the group asks more than the cap
    group_keys = []
    for g in range(p.group_cap.shape[0]):
        for s in np.flatnonzero(p.group_cap[g] >= 0):
            use = entry_source == s
            group = p.row_group[entry_row[use], g]
            key = group * n_years + entry_year[use]
            asked = np.bincount(key, entry_request[use].astype(np.float64))
            over = np.flatnonzero(asked > p.group_cap[g, s])
            if over.shape[0] == 0:
                continue
            pick = np.isin(key, over)
            blocks.append(sparse.csr_matrix((entry_value[use][pick], (np.searchsorted(over, key[pick]),
                                                                      entry_pair[use][pick])),
                                            shape=(over.shape[0], n_pairs)))
            bounds.append(np.full(over.shape[0], p.group_cap[g, s] / UNIT))
            group_keys.append((g, s))
    a = sparse.vstack(blocks, format="csr")
    b = np.concatenate(bounds)
    weight = np.bincount(entry_pair, entry_value, n_pairs)

    q_of_pair = pair_source * n_years + p.item_year[pair_item]
    first = np.zeros(n_pairs)  # stage 1's shares
    x = np.zeros(n_pairs)  # stage 2's
    unfinished = []  # blocks whose stage 2 the time limit stopped
    # the LP falls apart into independent blocks (typically one per source and level): solve each alone
    graph = sparse.bmat([[None, a.T], [a, None]], format="csr")
    n_blocks, block_of = connected_components(graph, directed=False)
    pair_block = block_of[:n_pairs]
    row_block = block_of[n_pairs:]
    pair_order = np.argsort(pair_block, kind="stable")
    pair_starts = np.searchsorted(pair_block[pair_order], np.arange(n_blocks + 1))
    row_order = np.argsort(row_block, kind="stable")
    row_starts = np.searchsorted(row_block[row_order], np.arange(n_blocks + 1))
    def solve_block(k: int) -> None:
        pairs = pair_order[pair_starts[k]:pair_starts[k + 1]]
        rows = row_order[row_starts[k]:row_starts[k + 1]]
        if pairs.shape[0] and rows.shape[0]:
            first[pairs], second = _two_stages(a[rows][:, pairs], b[rows], weight[pairs], pair_item[pairs],
                                               q_of_pair[pairs], deadline)
            if second is None:
                unfinished.append(k)
            else:
                x[pairs] = second

    # blocks are independent and write disjoint parts of x; HiGHS releases the GIL while it solves
    largest_first = np.argsort(-(pair_starts[1:] - pair_starts[:-1]), kind="stable")
    # each block's solves are given what remains of the one deadline; a stage 1 past it raises here
    with ThreadPoolExecutor(max_workers=min(len(os.sched_getaffinity(0)), 4)) as pool:
        list(pool.map(solve_block, largest_first.tolist()))
    # which blocks finish stage 2 in time is the machine's luck: one unfinished, and all keep stage 1's plan
    x = np.clip(first if unfinished else x, 0.0, 1.0)
    return _round(p, x, pair_source, entry_row, entry_pair, entry_request), not unfinished


def _take_back(award: np.ndarray, fraction: np.ndarray, key: np.ndarray, excess: np.ndarray) -> np.ndarray:
    """Remove ``excess[k]`` fen from the entries of each key ``k``, one each, smallest fractions first."""
    award = award.copy()
    position = np.arange(award.shape[0])
    while True:
        can = (award > 0) & (key >= 0) & (excess[np.maximum(key, 0)] > 0)
        if not can.any():
            return award
        pick = position[can][np.lexsort((position[can], fraction[can], key[can]))]
        first = np.searchsorted(key[pick], key[pick])
        rank = np.arange(pick.shape[0]) - first
        take = pick[rank < excess[key[pick]]]
        award[take] -= 1
        np.subtract.at(excess, key[take], 1)


def _round(p: Plan, x: np.ndarray, pair_source: np.ndarray, entry_row: np.ndarray, entry_pair: np.ndarray,
           request: np.ndarray) -> tuple[np.ndarray, ...]:
    """Awards in fen from the LP's shares; no cap, request or group cap broken (checked exactly)."""
    n_sources, n_years = p.cap.shape
    exact = x[entry_pair] * request
    award = np.minimum(np.floor(exact).astype(np.int64), request)
    fraction = exact - award
    source = pair_source[entry_pair]
    year = p.row_year[entry_row]
    sy = source * n_years + year
    n_rows = p.row_request.shape[0]

    def group_keys(g: int, s: int | np.integer) -> np.ndarray:
        """Per entry, its (group, year) of group cap ``g`` at source ``s`` (-1: another source)."""
        return np.where(source == s, p.row_group[entry_row, g] * n_years + year, -1)

    def over_caps(award: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(key per entry, excess per key) of every limit the awards pass: rows, group caps, caps."""
        found = []
        row_excess = np.bincount(entry_row, award, n_rows).astype(np.int64) - p.row_request
        found.append((entry_row, np.maximum(row_excess, 0)))
        for g in range(p.group_cap.shape[0]):
            for s in np.flatnonzero(p.group_cap[g] >= 0):
                key = group_keys(g, s)
                totals = np.bincount(key[key >= 0], award[key >= 0], max(int(key.max(initial=-1)) + 1, 1))
                found.append((key, np.maximum(totals.astype(np.int64) - p.group_cap[g, s], 0)))
        booked = np.bincount(sy, award, n_sources * n_years).astype(np.int64).reshape(n_sources, n_years)
        # caps: per year, or per prefix of years where money carries over (the excess taken in its last year)
        limit = np.where(p.carry[:, None], np.cumsum(p.cap, axis=1), p.cap)
        spent = np.where(p.carry[:, None], np.cumsum(booked, axis=1), booked)
        excess = np.maximum(spent - limit, 0)
        excess[:, 1:] = np.where(p.carry[:, None], np.maximum(excess[:, 1:] - excess[:, :-1], 0), excess[:, 1:])
        found.append((sy, excess.ravel()))
        return found

    # the LP meets every limit only to its tolerances: take back what the floors pass (rare, a few fen)
    for _ in range(3):
        broken = [(key, excess) for key, excess in over_caps(award) if excess.any()]
        if not broken:
            break
        for key, excess in broken:
            award = _take_back(award, fraction, key, excess)

    # per source and year, give back the fen the floors lost (up to the LP's total rounded to the fen), as far
    # as the money allows: within the year's cap, or, where money carries over, within every later prefix
    want = np.rint(np.bincount(sy, exact, n_sources * n_years)).astype(np.int64).reshape(n_sources, n_years)
    floors = np.bincount(sy, award, n_sources * n_years).astype(np.int64).reshape(n_sources, n_years)
    slack = np.cumsum(p.cap, axis=1) - np.cumsum(floors, axis=1)  # >= 0 after the repair
    later_slack = np.minimum.accumulate(slack[:, ::-1], axis=1)[:, ::-1]
    target = floors.copy()
    used = np.zeros(n_sources, np.int64)
    for y in range(n_years):
        room = np.where(p.carry, later_slack[:, y] - used, p.cap[:, y] - floors[:, y])
        give = np.clip(want[:, y] - floors[:, y], 0, np.maximum(room, 0))
        target[:, y] += give
        used += give
    lost = (target - floors).ravel()
    rank_order = np.lexsort((np.arange(sy.shape[0]), -fraction, sy))
    first_of = np.searchsorted(sy[rank_order], np.arange(n_sources * n_years))
    rank = np.empty_like(rank_order)
    rank[rank_order] = np.arange(rank_order.shape[0]) - first_of[sy[rank_order]]
    extra = (rank < lost[sy]) & (fraction > 0) & (award < request)
    award = award + extra
    # undo an extra fen that passes a row's request (several sources) or a per-group cap
    for key, excess in over_caps(award)[:-1]:
        award = award - (extra & (excess[np.maximum(key, 0)] > 0) & (key >= 0))
    broken_limits = [k for k, (_, excess) in enumerate(over_caps(award)) if excess.any()]
    if broken_limits:  # pragma: no cover - repaired above
        raise OptimalError(f"rounding the LP's plan to the fen would break a limit ({broken_limits})")
    booked = np.bincount(sy, award, n_sources * n_years).astype(np.int64).reshape(n_sources, n_years)

    carried_in = np.zeros_like(booked)
    for t in range(n_years - 1):
        carried_in[:, t + 1] = np.where(p.carry, p.cap[:, t] + carried_in[:, t] - booked[:, t], 0)
    item = np.searchsorted(p.item_ptr, entry_row, side="right") - 1
    later = year > p.item_year[item]
    committed = np.bincount(sy[later], award[later], n_sources * n_years).astype(np.int64).reshape(
        n_sources, n_years)
    # records in source order per row: asked = what the earlier sources left
    order = column_readers.sort_order(entry_row, source)
    entry_row, source, award, year, request, item = (entry_row[order], source[order], award[order], year[order],
                                                     request[order], item[order])
    start = column_readers.group_starts(entry_row)
    running = np.cumsum(award)
    group_start = np.maximum.accumulate(np.where(start, np.arange(award.shape[0]), 0))
    paid_before = running - award - np.where(group_start > 0, running[group_start - 1], 0)
    asked = p.row_request[entry_row] - paid_before
    keep = asked > 0
    # the first of the item's own years in which its source's money is spent
    spent_years = (p.cap + carried_in - booked) <= 0
    item_has_year = np.zeros((p.item_ptr.shape[0] - 1, n_years), bool)
    item_has_year[np.searchsorted(p.item_ptr, np.arange(n_rows), side="right") - 1, p.row_year] = True
    binding = np.full(award.shape[0], -1, np.int64)
    for y in reversed(range(n_years)):
        binding = np.where(spent_years[source, y] & item_has_year[item, y], y, binding)
    code = np.where(award == asked, FULL, np.where((award == request) & (request < asked), GROUP_CAP, SOURCE_CAP))
    return (entry_row[keep], source[keep], asked[keep], request[keep], award[keep], code[keep], binding[keep],
            carried_in, committed)

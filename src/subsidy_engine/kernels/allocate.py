"""The numba kernel of :func:`subsidy_engine.allocate` (waterfall and merit modes), over int64 fen.

Nothing here knows about budgets or tables: :mod:`subsidy_engine.budgeting.allocation`
prepares flat arrays and reads the records back. The rules, in the words of
the plain reference (:func:`subsidy_engine.reference.allocation.reference_allocate`):

* An **item** is one request of one level (the municipal or the district part
  of a loan's 貼息, say) over its years; its **rows** are its years. It is
  approved in its first year and committed for all its years at once.
* Years are processed in order. In year ``t``, each source in order funds the
  items approved in ``t`` that it may pay, tier by tier (waterfall: priority
  tiers; merit: one item per tier, in score order).
* A tier asks, per year ``y``, ``D[y]`` (the rows' remaining requests, first
  limited by the source's per-project and per-enterprise caps of that year).
  The source has ``A[y]``: the year's cap, less what earlier approvals
  committed to ``y``, plus (for ``y = t`` only) what carried over. If
  ``D[y] <= A[y]`` for every year, the tier is paid in full. Otherwise the
  tier gets the same share ``f = min over y of A[y] / D[y]`` of every row
  (its binding year ``y*``): year ``y`` pays ``T[y] = floor(f * D[y])``
  (``T[y*] = A[y*]`` exactly), split over the tier's rows of that year in
  proportion to their requests by the largest remainder, ties to the earlier row.
* What a source does not pay stays requested and passes to the next source.
* At the end of year ``t``, a source's unspent money of ``t`` carries to
  ``t + 1`` when the source allows it, and lapses otherwise.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from subsidy_engine.kernels.arithmetic import mul_div_floor_rem

_jit = nb.njit(cache=True, nogil=True, error_model="numpy")

#: What limited a record (``code``): nothing, the source's cap (pro-rata, or merit order), per-group caps.
FULL, SOURCE_CAP, GROUP_CAP = 0, 1, 2


@_jit
def _mul128(a, b):
    """``a * b`` for ``0 <= a, b < 2**63`` as (high, low) uint64 words."""
    mask = np.uint64(0xFFFFFFFF)
    a, b = np.uint64(a), np.uint64(b)
    a_lo, a_hi, b_lo, b_hi = a & mask, a >> np.uint64(32), b & mask, b >> np.uint64(32)
    lo_lo = a_lo * b_lo
    mid1 = a_hi * b_lo
    mid2 = a_lo * b_hi
    carry = ((lo_lo >> np.uint64(32)) + (mid1 & mask) + (mid2 & mask)) >> np.uint64(32)
    high = a_hi * b_hi + (mid1 >> np.uint64(32)) + (mid2 >> np.uint64(32)) + carry
    low = a * b
    return high, low


@_jit
def _less(a1, d1, a2, d2):
    """``a1 / d1 < a2 / d2`` exactly (all non-negative, ``d1, d2 > 0``)."""
    h1, l1 = _mul128(a1, d2)
    h2, l2 = _mul128(a2, d1)
    return h1 < h2 or (h1 == h2 and l1 < l2)


@_jit
def _add_largest_remainders(rows, remainder, left, quotient):
    """A fen more to each of the ``left`` rows of ``rows`` with the largest ``remainder``, ties to the earlier row
    (``0 < left <= len(rows)``): the first ``left`` of a stable sort by remainder, descending, found without one
    (numba's sorts cost a fresh install about 0.7 s of compilation). The last remainder the fen reach, ``v``, is
    the largest with at least ``left`` remainders ``>= v`` (a binary search); every row above it gets one, and the
    rest go to the earliest rows at ``v``."""
    low, high = 0, 1  # the count of remainders >= low is at least left, of those >= high below it
    for c in range(rows.shape[0]):
        high = max(high, remainder[rows[c]] + 1)
    while high - low > 1:
        middle = low + (high - low) // 2
        at_least = 0
        for c in range(rows.shape[0]):
            if remainder[rows[c]] >= middle:
                at_least += 1
        if at_least >= left:
            low = middle
        else:
            high = middle
    ties = left
    for c in range(rows.shape[0]):
        if remainder[rows[c]] > low:
            ties -= 1
    for c in range(rows.shape[0]):
        r = rows[c]
        if remainder[r] > low:
            quotient[r] += 1
        elif remainder[r] == low and ties > 0:
            quotient[r] += 1
            ties -= 1


@_jit
def allocate_kernel(item_ptr, row_year, row_request, source_items, year_start, item_tier, cap, carry, group_cap,
                    row_group, capacity):
    """Fund the items; return the records and each source-year's carry-in and commitments.

    Parameters (n items, m rows, S sources, Y years, G group caps)
    ---------------------------------------------------------------
    item_ptr : (n+1,) int64, rows of item ``i`` are ``item_ptr[i]:item_ptr[i+1]``, by year
    row_year : (m,) int64 year index; row_request : (m,) int64 fen, all > 0
    source_items, year_start : each source's items in funding order, and where its items of each approval year
        start (:func:`sources_in_funding_order`: they depend on the items alone, not on what they ask)
    item_tier : (n,) int64 tier of each item (consecutive equal tiers in a source's items fund together)
    cap : (S, Y) int64 fen; carry : (S,) bool
    group_cap : (G, S) int64 per-group cap a year (-1: none); row_group : (m, G) int64 group of each row
        (its claim's project or enterprise, as a dense index)
    capacity : int, at least the number of (row, eligible source) pairs

    Returns
    -------
    records : (r_row, r_source, r_asked, r_limit, r_award, r_code, r_binding), length ``count``
    carried_in, committed : (S, Y) int64
    """
    n_sources, n_years = cap.shape
    n_group_caps = group_cap.shape[0]
    remaining = row_request.copy()
    booked = np.zeros((n_sources, n_years), np.int64)
    committed = np.zeros((n_sources, n_years), np.int64)
    carried_in = np.zeros((n_sources, n_years), np.int64)
    n_groups = 1
    for g in range(n_group_caps):
        for r in range(row_group.shape[0]):
            n_groups = max(n_groups, row_group[r, g] + 1)
    # what is left of each (group cap, source) pair that has a cap, per group and year
    slot = np.full((n_group_caps, n_sources), -1, np.int64)
    n_slots = 0
    for g in range(n_group_caps):
        for s in range(n_sources):
            if group_cap[g, s] >= 0:
                slot[g, s] = n_slots
                n_slots += 1
    group_left = np.empty((n_slots, n_groups, n_years), np.int64)
    for g in range(n_group_caps):
        for s in range(n_sources):
            if slot[g, s] >= 0:
                group_left[slot[g, s], :, :] = group_cap[g, s]

    size = 0
    r_row = np.empty(capacity, np.int64)
    r_source = np.empty(capacity, np.int64)
    r_asked = np.empty(capacity, np.int64)
    r_limit = np.empty(capacity, np.int64)
    r_award = np.empty(capacity, np.int64)
    r_code = np.empty(capacity, np.int64)
    r_binding = np.empty(capacity, np.int64)
    request = np.zeros(row_request.shape[0], np.int64)
    quotient = np.zeros(row_request.shape[0], np.int64)
    remainder = np.zeros(row_request.shape[0], np.int64)
    demand = np.zeros(n_years, np.int64)
    available = np.zeros(n_years, np.int64)
    paying = np.zeros(n_years, np.int64)

    for t in range(n_years):
        for s in range(n_sources):
            for y in range(t, n_years):
                available[y] = cap[s, y] - booked[s, y]
            available[t] += carried_in[s, t]
            k = year_start[s, t]
            while k < year_start[s, t + 1]:
                end = k + 1
                while end < year_start[s, t + 1] and item_tier[source_items[end]] == item_tier[source_items[k]]:
                    end += 1
                demand[:] = 0
                for j in range(k, end):
                    i = source_items[j]
                    for r in range(item_ptr[i], item_ptr[i + 1]):
                        need = remaining[r]
                        for g in range(n_group_caps):
                            if slot[g, s] >= 0:
                                need = min(need, group_left[slot[g, s], row_group[r, g], row_year[r]])
                        for g in range(n_group_caps):
                            if slot[g, s] >= 0:
                                group_left[slot[g, s], row_group[r, g], row_year[r]] -= need
                        request[r] = need
                        demand[row_year[r]] += need
                # the tier's share: in full, or the binding year's available / demand
                binding = -1
                for y in range(t, n_years):
                    if demand[y] > available[y]:
                        if binding < 0 or _less(available[y], demand[y], available[binding], demand[binding]):
                            binding = y
                for y in range(t, n_years):
                    if binding < 0 or y == binding:
                        paying[y] = demand[y] if binding < 0 else available[binding]
                    elif demand[y] > 0:
                        paying[y] = mul_div_floor_rem(available[binding], demand[y], demand[binding])[0]
                    else:
                        paying[y] = 0
                # per row: the floor of its share, then the fen left over by the largest remainder
                for j in range(k, end):
                    i = source_items[j]
                    for r in range(item_ptr[i], item_ptr[i + 1]):
                        y = row_year[r]
                        if binding < 0 or request[r] == 0:
                            quotient[r], remainder[r] = request[r], 0
                        else:
                            quotient[r], remainder[r] = mul_div_floor_rem(paying[y], request[r], demand[y])
                if binding >= 0:
                    for y in range(t, n_years):
                        left = paying[y]
                        count = 0
                        for j in range(k, end):
                            i = source_items[j]
                            for r in range(item_ptr[i], item_ptr[i + 1]):
                                if row_year[r] == y:
                                    left -= quotient[r]
                                    count += 1
                        if left <= 0:
                            continue
                        rows = np.empty(count, np.int64)
                        c = 0
                        for j in range(k, end):
                            i = source_items[j]
                            for r in range(item_ptr[i], item_ptr[i + 1]):
                                if row_year[r] == y:
                                    rows[c] = r
                                    c += 1
                        _add_largest_remainders(rows, remainder, left, quotient)
                # book the awards, give back unused group caps, record
                for j in range(k, end):
                    i = source_items[j]
                    for r in range(item_ptr[i], item_ptr[i + 1]):
                        asked = remaining[r]
                        if asked == 0:
                            continue
                        y = row_year[r]
                        award = quotient[r]
                        remaining[r] -= award
                        booked[s, y] += award
                        available[y] -= award
                        if y > t:
                            committed[s, y] += award
                        for g in range(n_group_caps):
                            if slot[g, s] >= 0:
                                group_left[slot[g, s], row_group[r, g], y] += request[r] - award
                        r_row[size], r_source[size], r_asked[size] = r, s, asked
                        r_limit[size], r_award[size] = request[r], award
                        r_code[size] = FULL if award == asked else (GROUP_CAP if award == request[r]
                                                                    else SOURCE_CAP)
                        r_binding[size] = binding
                        size += 1
                k = end
        for s in range(n_sources):
            if carry[s] and t + 1 < n_years:
                carried_in[s, t + 1] = cap[s, t] + carried_in[s, t] - booked[s, t]
    return ((r_row[:size], r_source[:size], r_asked[:size], r_limit[:size], r_award[:size], r_code[:size],
             r_binding[:size]), carried_in, committed)


@_jit
def sources_in_funding_order(item_order, item_year, eligible, n_years):
    """Each source's items in funding order, and where its items of each approval year start: what
    :func:`allocate_kernel` walks, source by source and year by year.

    They depend on the items alone (their order, approval years and sources), not on what the items ask: a layout
    makes them once for every Monte Carlo path that funds its items (for 13k items and 27 sources, half a
    millisecond a path when the kernel made them).

    Parameters (n items, S sources, Y years)
    ----------------------------------------
    item_order : (n,) int64, items by approval year, then tier, then position
    item_year : (n,) int64 approval year index; eligible : (n, S) bool; n_years : int

    Returns
    -------
    source_items : int64, the items source ``s`` may pay, in ``item_order``, source after source
    year_start : (S, Y+1) int64, source ``s``'s items approved in year ``t`` are
        ``source_items[year_start[s, t]:year_start[s, t + 1]]``
    """
    n_items, n_sources = item_order.shape[0], eligible.shape[1]
    source_ptr = np.zeros(n_sources + 1, np.int64)
    for j in range(n_items):
        for s in range(n_sources):
            if eligible[item_order[j], s]:
                source_ptr[s + 1] += 1
    for s in range(n_sources):
        source_ptr[s + 1] += source_ptr[s]
    fill = source_ptr[:-1].copy()
    source_items = np.empty(source_ptr[n_sources], np.int64)
    for j in range(n_items):
        i = item_order[j]
        for s in range(n_sources):
            if eligible[i, s]:
                source_items[fill[s]] = i
                fill[s] += 1
    year_start = np.empty((n_sources, n_years + 1), np.int64)
    for s in range(n_sources):
        k = source_ptr[s]
        for t in range(n_years + 1):
            while k < source_ptr[s + 1] and item_year[source_items[k]] < t:
                k += 1
            year_start[s, t] = k
    return source_items, year_start


@_jit
def funding_order(item_ptr, item_order, row_year, item_tier, item_year, eligible, row_group):
    """The items and their rows renumbered in funding order (``item_order``): what :func:`allocate_kernel` then
    reads front to back, source by source.

    The kernel visits a source's items in funding order. Over rows numbered by item text (the plan's order),
    each item's rows are a read from anywhere in memory, which waits for the one before it (a tier's share
    reads the request, the item's rows and their group caps in turn); once, in a pass of its own, the reads
    do not wait on each other. The funding is the same: the same items in the same order, each with its rows.

    Returns
    -------
    rows : (m,) int64, the plan's row of each row in funding order
    ptr : (n+1,) int64, rows of the ``k``-th item in funding order are ``ptr[k]:ptr[k+1]``
    row_year, row_group : the rows' years and groups, in funding order
    item_tier, item_year, eligible : the items' tiers, approval years and sources, in funding order
    """
    # each loop below reads from independent places (no read waits for another's result), so that the
    # processor has many of them under way at once
    n_items = item_order.shape[0]
    first = np.empty(n_items, np.int64)
    ptr = np.zeros(n_items + 1, np.int64)
    for k in range(n_items):
        i = item_order[k]
        first[k] = item_ptr[i]
        ptr[k + 1] = item_ptr[i + 1] - item_ptr[i]
    for k in range(n_items):
        ptr[k + 1] += ptr[k]
    m = ptr[n_items]
    rows = np.empty(m, np.int64)
    for k in range(n_items):
        for at in range(ptr[k], ptr[k + 1]):
            rows[at] = first[k] + at - ptr[k]
    ordered_year = np.empty(m, np.int64)
    ordered_group = np.empty((m, row_group.shape[1]), np.int64)
    for at in range(m):
        ordered_year[at] = row_year[rows[at]]
    for at in range(m):
        for g in range(row_group.shape[1]):
            ordered_group[at, g] = row_group[rows[at], g]
    ordered_tier = np.empty(n_items, np.int64)
    ordered_item_year = np.empty(n_items, np.int64)
    ordered_eligible = np.empty((n_items, eligible.shape[1]), np.bool_)
    for k in range(n_items):
        ordered_tier[k] = item_tier[item_order[k]]
    for k in range(n_items):
        ordered_item_year[k] = item_year[item_order[k]]
    for k in range(n_items):
        for s in range(eligible.shape[1]):
            ordered_eligible[k, s] = eligible[item_order[k], s]
    return rows, ptr, ordered_year, ordered_group, ordered_tier, ordered_item_year, ordered_eligible


@_jit
def split_by_share(amount, share_units, scale, first, second):
    """Split each amount in the ratio ``scale : share_units`` by the largest remainder (a tie to ``first``)."""
    for i in range(amount.shape[0]):
        whole = scale + share_units[i]
        q1, rem1 = mul_div_floor_rem(amount[i], scale, whole)
        q2, rem2 = mul_div_floor_rem(amount[i], share_units[i], whole)
        if q1 + q2 < amount[i]:  # one fen left over: rem1 + rem2 == whole
            if rem1 >= rem2:
                q1 += 1
            else:
                q2 += 1
        first[i], second[i] = q1, q2


@_jit
def sum_by_source_year(source, row, row_year, values, out):
    """Add each record's ``values`` (fen) into ``out[source, year of its row]``: exact int64 sums (a bincount
    would sum in floats), in one pass without the cell numbers as an array."""
    for i in range(source.shape[0]):
        out[source[i], row_year[row[i]]] += values[i]


@_jit
def flag_years_short(code, binding, source, out):
    """Set ``out[source, binding year]`` for each record cut or passed on because its source's money of that year
    ran short (code ``SOURCE_CAP`` with a binding year): one pass, no masks."""
    for i in range(code.shape[0]):
        if code[i] == SOURCE_CAP and binding[i] >= 0:
            out[source[i], binding[i]] = True

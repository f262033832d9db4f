"""Caps over rows paid in order, and shares of amounts."""

from __future__ import annotations

from decimal import Decimal

import numba as nb
import numpy as np

from subsidy_engine.core.money import RATE_SCALE, yuan_to_fen
from subsidy_engine.kernels.arithmetic import mul_div_floor, mul_div_half_up
from subsidy_engine.kernels.threads import jit

#: A cap of none, as the kernels read caps in fen: any cap below 0 does not bind.
NO_CAP = -1


def cap_fen(cap: Decimal | None) -> int:
    """A cap in yuan as the kernels read it: fen, or :data:`NO_CAP` for none."""
    return NO_CAP if cap is None else yuan_to_fen(cap)


@jit
def within_cap(amount: int, cap: int, used: int) -> int:
    """What may be paid of ``amount`` under ``cap`` when ``used`` is spent already (a cap below 0: none)."""
    return amount if cap < 0 else max(min(amount, cap - used), 0)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def pay_under_group_caps(amounts, caps, group_start, out):
    """Pay ``amounts`` in order; within a group (``group_start`` marks its first
    row) the running total may not pass each row's cap (``cap < 0``: no cap)."""
    paid_in_group = np.int64(0)  # not a literal 0: within_cap compiled once (calendar.NO_CIVIL)
    for i in range(amounts.shape[0]):
        if group_start[i]:
            paid_in_group = np.int64(0)
        pay = within_cap(amounts[i], caps[i], paid_in_group)
        out[i] = pay
        paid_in_group += pay


@nb.njit(cache=True, nogil=True, error_model="numpy")
def pay_under_shared_caps(amounts, rows, groups, caps, n_groups, after):
    """Pay rows in one pass under several caps at once, each cap's room used only by what is paid.

    Parameters
    ----------
    amounts : ndarray of int64, shape (n,)
        The amount each row asks, in fen.
    rows : ndarray of int64, shape (m,)
        The rows under any of the caps, in the order they are paid.
    groups : ndarray of int64, shape (m, k)
        ``groups[i, c]``: the group of row ``rows[i]`` under cap ``c`` (one code space
        shared by all the caps, ``0 <= code < n_groups``), or -1 when cap ``c`` does not
        apply to the row.
    caps : ndarray of int64, shape (m, k)
        ``caps[i, c]``: the cap of that group as row ``rows[i]`` sees it, in fen;
        ``NO_CAP`` (-1): none (the row's payment still counts in its group).
    n_groups : int
        The number of group codes.
    after : ndarray of int64, shape (k, n) or (1, n)
        Written at ``rows`` alone (the others keep what the caller put there):
        ``after[c, r]``, what row ``r`` would be paid under caps ``0`` to ``c``
        only, so ``after[k - 1]`` is what each row is paid. When ``after`` has
        a single line, only what is paid is written, into ``after[0]``.

    Notes
    -----
    The rule: rows are taken in the order ``rows`` gives; the room of a group is
    its cap less what the rows of the group taken before have been *paid*
    (never below 0), and row ``r = rows[i]`` is paid ``min(amounts[r], room
    under each cap that applies to it)``; that payment, and nothing more, is
    added to each of the row's groups. So an amount that one cap cuts uses no
    room under another cap. The cut of a row is attributed to the caps in their
    order: ``amounts[r] - after[0, r]`` to cap 0, ``after[c - 1, r] - after[c,
    r]`` to cap ``c`` (the further cut by its room), so the cuts add up to
    ``amounts[r] - after[k - 1, r]``.

    The rows are read and written where they are, in the order ``rows`` gives:
    no copy of the amounts in that order, nor of what is paid, to put back.

    Examples
    --------
    Cap 0 is 10 over both rows; cap 1 is 3, over the first row only. The first
    row is paid 3 (cut 5 by cap 1), so it uses 3 of cap 0's 10, not 8; the
    second row is paid the 7 left under cap 0:

    >>> import numpy as np
    >>> after = np.empty((2, 2), np.int64)
    >>> pay_under_shared_caps(np.array([8, 9]), np.array([0, 1]), np.array([[0, 1], [0, -1]]),
    ...                       np.array([[10, 3], [10, -1]]), 2, after)
    >>> after.T.tolist()
    [[8, 3], [7, 7]]
    """
    m, k = groups.shape
    every_cap = after.shape[0] == k
    used = np.zeros(n_groups, np.int64)
    for i in range(m):
        row = rows[i]
        pay = amounts[row]
        for c in range(k):
            g = groups[i, c]
            if g >= 0 and caps[i, c] >= 0:
                pay = min(pay, max(caps[i, c] - used[g], 0))
            if every_cap:
                after[c, row] = pay
        if not every_cap:
            after[0, row] = pay
        for c in range(k):
            g = groups[i, c]
            if g >= 0:
                used[g] += pay


@nb.njit(cache=True, nogil=True, error_model="numpy")
def share_of_amounts(amount_fen, share_units, round_half_up, out):
    """``out[i] = amount * share`` (share in 1e-10 units), rounded half-up or down, exactly."""
    for i in range(amount_fen.shape[0]):
        if round_half_up:
            out[i] = mul_div_half_up(amount_fen[i], share_units[i], np.int64(RATE_SCALE))
        else:
            out[i] = mul_div_floor(amount_fen[i], share_units[i], np.int64(RATE_SCALE))


@jit
def _under_total_cap(p, instrument, project_set, total_capped):
    """Whether a row of project ``p`` (-1: none) and ``instrument`` is under the total cap (cap 5), by its
    project's parameter set."""
    return p >= 0 and total_capped[project_set[p], instrument]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def rows_under_caps(instrument, project, project_set, subsidy, total_capped, under):
    """Whether any of stacking's caps 3 to 5 applies to each claim row (written into ``under``): every 貼息 row
    (cap 3, and cap 4 with a project), and each row its project's set puts under the total cap (cap 5).

    >>> import numpy as np
    >>> under = np.empty(3, np.bool_)
    >>> rows_under_caps(np.array([0, 1, 1], np.int8), np.array([0, 0, -1]), np.zeros(1, np.int64), 0,
    ...                 np.array([[True, False]]), under)
    >>> under.tolist()
    [True, False, False]
    """
    for i in range(instrument.shape[0]):
        under[i] = instrument[i] == subsidy or _under_total_cap(project[i], instrument[i], project_set, total_capped)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def stacking_groups(rows, instrument, project, enterprise_code, year, set_of_row, project_set, total_investment,
                    subsidy, enterprise_cap, project_cap, total_share, total_capped, given_enterprise_group,
                    n_given, groups, caps):
    """The groups and caps of stacking's caps 3 to 5 of the claim rows under them, in the order they are paid
    (:func:`pay_under_shared_caps` reads them so).

    Parameters
    ----------
    rows : ndarray of int64, shape (m,)
        The rows under any of the caps (:func:`rows_under_caps`), in the order they are paid.
    instrument, project, enterprise_code, year, set_of_row : ndarray, shape (n,)
        Each row's instrument index, project row (-1: none), enterprise code, year and parameter set.
    project_set, total_investment : ndarray, shape (n_projects,)
        Each project's parameter set (the one in force on its start) and its total investment in fen.
    subsidy : int
        The instrument index of 貼息.
    enterprise_cap, project_cap, total_share : ndarray, shape (n_sets,)
        Per parameter set: 貼息's cap per enterprise and year and per project (fen, ``NO_CAP``: none), the
        total cap's share of the investment (1e-10 units, -1: none).
    total_capped : ndarray of bool, shape (n_sets, n_instruments)
        Whether an instrument is under the total cap, by the project's set.
    given_enterprise_group : ndarray, shape (n,) or (0,)
        Each row's 貼息 group per enterprise and year when the caller made them (``n_given`` groups); empty:
        made here as ``(year - first year) * enterprises + enterprise``.
    groups, caps : ndarray, shape (m, 3)
        Written, per cap (the enterprise and year, the project, the total cap): row ``rows[i]``'s group (-1: the
        cap does not apply) and the cap (fen, ``NO_CAP``: none), at ``i``.

    Returns
    -------
    int
        The number of group codes; -1 when the enterprise and year codes would not be dense (years far
        apart: the caller numbers them, and calls again with ``given_enterprise_group``).

    Notes
    -----
    Cap 3 (貼息 per enterprise and year) applies to every 貼息 row, cap 4 (貼息 per project over its life) to
    those with a project, and cap 5 (the total cap: ``floor(total investment * share)``, by the project's set)
    to each row of a project whose instrument its set puts under it. Groups are numbered enterprise-years
    first (year by year), then each project's two: ``2p`` under cap 4, ``2p + 1`` under cap 5 (after the
    enterprise-years). The numbering is where :func:`pay_under_shared_caps` keeps what each group has used, and
    it reads them in paying order, year by year, the projects in no order: a year's enterprises side by side,
    and a project's two groups in one cache line, make fewer of its reads wait on memory (a national book's
    2.9M rows: 305 -> 270 ms).

    Examples
    --------
    Two 貼息 rows of one enterprise's project (2026 and 2027), and a premium subsidy (instrument 1) under a total
    cap of 50% of 100 yuan, paid in the order third, first, second:

    >>> import numpy as np
    >>> groups, caps = np.empty((3, 3), np.int64), np.empty((3, 3), np.int64)
    >>> stacking_groups(np.array([2, 0, 1]), np.array([0, 0, 1], np.int8), np.zeros(3, np.int64),
    ...                 np.zeros(3, np.int64), np.array([2026, 2027, 2026]), np.zeros(3, np.int64),
    ...                 np.zeros(1, np.int64), np.array([10_000]), 0, np.array([700]), np.array([900]),
    ...                 np.array([5_000_000_000]), np.array([[True, True]]), np.zeros(0, np.int64), 0, groups, caps)
    4
    >>> groups.tolist(), caps.tolist()
    ([[-1, -1, 3], [0, 2, 3], [1, 2, 3]], [[-1, -1, 5000], [700, 900, 5000], [700, 900, 5000]])
    """
    n_projects = total_investment.shape[0]
    if given_enterprise_group.shape[0] == instrument.shape[0]:
        n_enterprise = n_given
        low = 0
        span = 0
        enterprises = 0
    else:
        count = 0
        low = np.int64(0)
        high = np.int64(0)
        top = np.int64(-1)
        for i in range(instrument.shape[0]):  # every row, in turn: the 貼息 rows are among the rows paid
            if instrument[i] == subsidy:
                if count == 0 or year[i] < low:
                    low = year[i]
                if count == 0 or year[i] > high:
                    high = year[i]
                top = max(top, enterprise_code[i])
                count += 1
        span = high - low + 1
        enterprises = top + 1
        n_enterprise = enterprises * span if count else 0
        if count and n_enterprise > 4 * count + 1024:
            return -1
    cap_of_project = np.empty(n_projects, np.int64)
    for p in range(n_projects):
        share = total_share[project_set[p]]
        cap_of_project[p] = NO_CAP if share < 0 else mul_div_floor(total_investment[p], share, np.int64(RATE_SCALE))
    # the rows read front to back, each written at its place in the paying order: read in that order, each row's
    # facts wait on memory (235 ms against 115 ms, with this scatter, for a national portfolio's 3.6M rows)
    place = np.full(instrument.shape[0], -1, np.int64)
    for i in range(rows.shape[0]):
        place[rows[i]] = i
    for row in range(instrument.shape[0]):
        i = place[row]
        if i < 0:
            continue
        s, p, own = set_of_row[row], project[row], instrument[row] == subsidy
        groups[i, 0], caps[i, 0] = -1, NO_CAP
        if own:
            groups[i, 0] = (given_enterprise_group[row] if span == 0
                            else (year[row] - low) * enterprises + enterprise_code[row])
            caps[i, 0] = enterprise_cap[s]
        groups[i, 1], caps[i, 1] = -1, NO_CAP
        if own and p >= 0:
            groups[i, 1], caps[i, 1] = n_enterprise + 2 * p, project_cap[s]
        groups[i, 2], caps[i, 2] = -1, NO_CAP
        if _under_total_cap(p, instrument[row], project_set, total_capped):
            groups[i, 2], caps[i, 2] = n_enterprise + 2 * p + 1, cap_of_project[p]
    return n_enterprise + 2 * n_projects


@nb.njit(cache=True, nogil=True, error_model="numpy")
def most_favourable_only(computed, project, instrument, project_set, n_instruments, set_group_ptr, group_ptr,
                         group_instruments, after):
    """從優不重複 (stacking's cut 2): of each group of instruments its project's set names, the project keeps the
    one with the largest total and gives up the others' rows.

    Parameters
    ----------
    computed : ndarray of int64, shape (n,)
        Each row's amount after its instrument's own rules, in fen.
    project, instrument : ndarray, shape (n,)
        Each row's project (-1: none, never cut) and instrument index (below ``n_instruments``).
    project_set : ndarray of int64, shape (n_projects,)
        Each project's parameter set.
    set_group_ptr, group_ptr, group_instruments : ndarray of int64
        The groups of set ``s`` are ``set_group_ptr[s]`` to ``set_group_ptr[s + 1]``; group ``g``'s
        instruments are ``group_instruments[group_ptr[g]:group_ptr[g + 1]]``.
    after : ndarray of int64, shape (n,)
        Written: each row's amount after the cut (0 for a row given up).

    Notes
    -----
    A project's total of an instrument is the sum of its rows. In each group the kept instrument is the one of
    the largest total, the first of equal totals in the group's order; every other instrument of the group
    with a total above 0 is given up, each of its rows of that project paid 0. A project's groups are read
    against the same totals (what one group gives up does not change another's choice).

    Examples
    --------
    One project, a group of instruments 0 and 1: instrument 1's 30 + 5 beats instrument 0's 20.

    >>> import numpy as np
    >>> after = np.empty(3, np.int64)
    >>> most_favourable_only(np.array([20, 30, 5]), np.zeros(3, np.int64), np.array([0, 1, 1], np.int8),
    ...                      np.zeros(1, np.int64), 2, np.array([0, 1]), np.array([0, 2]), np.array([0, 1]), after)
    >>> after.tolist()
    [0, 30, 5]
    """
    n = computed.shape[0]
    n_projects = project_set.shape[0]
    # totals are kept for the instruments some group names only, each at its slot: an instrument of no group is
    # never given up, and a national book's 1.2M projects x 8 instruments are 77 MB read at random (x 2 here)
    slot_of = np.full(n_instruments, -1, np.int64)
    n_slots = 0
    for j in range(group_instruments.shape[0]):
        if slot_of[group_instruments[j]] < 0:
            slot_of[group_instruments[j]] = n_slots
            n_slots += 1
    totals = np.zeros(n_projects * n_slots, np.int64)
    for i in range(n):
        after[i] = computed[i]
        if project[i] >= 0 and slot_of[instrument[i]] >= 0:
            totals[project[i] * n_slots + slot_of[instrument[i]]] += computed[i]
    dropped = np.zeros(n_projects * n_slots, np.bool_)
    for p in range(n_projects):
        base = p * n_slots
        s = project_set[p]
        for g in range(set_group_ptr[s], set_group_ptr[s + 1]):
            best = -1
            for j in range(group_ptr[g], group_ptr[g + 1]):
                c = slot_of[group_instruments[j]]
                if best < 0 or totals[base + c] > totals[base + best]:
                    best = c
            for j in range(group_ptr[g], group_ptr[g + 1]):
                c = slot_of[group_instruments[j]]
                if c != best and totals[base + c] > 0:
                    dropped[base + c] = True
    for i in range(n):
        if project[i] >= 0 and slot_of[instrument[i]] >= 0 and dropped[project[i] * n_slots + slot_of[instrument[i]]]:
            after[i] = 0

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
def pay_under_shared_caps(amounts, groups, caps, n_groups, after):
    """Pay rows in one pass under several caps at once, each cap's room used only by what is paid.

    Parameters
    ----------
    amounts : ndarray of int64, shape (n,)
        The amount each row asks, in fen, the rows in the order they are paid.
    groups : ndarray of int64, shape (n, k)
        ``groups[i, c]``: the group of row ``i`` under cap ``c`` (one code space shared
        by all the caps, ``0 <= code < n_groups``), or -1 when cap ``c`` does not apply
        to the row.
    caps : ndarray of int64, shape (n, k)
        ``caps[i, c]``: the cap of that group as row ``i`` sees it, in fen; ``NO_CAP``
        (-1): none (the row's payment still counts in its group).
    n_groups : int
        The number of group codes.
    after : ndarray of int64, shape (n, k)
        Written: ``after[i, c]``, what row ``i`` would be paid under caps ``0`` to ``c``
        only; ``after[i, k - 1]`` is what it is paid.

    Notes
    -----
    The rule: rows are taken in order; the room of a group is its cap less what
    the rows of the group before have been *paid* (never below 0), and row
    ``i`` is paid ``min(amounts[i], room under each cap that applies to it)``;
    that payment, and nothing more, is added to each of the row's groups. So an
    amount that one cap cuts uses no room under another cap. The cut of a row
    is attributed to the caps in their order: ``amounts[i] - after[i, 0]`` to
    cap 0, ``after[i, c - 1] - after[i, c]`` to cap ``c`` (the further cut by
    its room), so the cuts add up to ``amounts[i] - after[i, k - 1]``.

    Examples
    --------
    Cap 0 is 10 over both rows; cap 1 is 3, over the first row only. The first
    row is paid 3 (cut 5 by cap 1), so it uses 3 of cap 0's 10, not 8; the
    second row is paid the 7 left under cap 0:

    >>> import numpy as np
    >>> after = np.empty((2, 2), np.int64)
    >>> pay_under_shared_caps(np.array([8, 9]), np.array([[0, 1], [0, -1]]),
    ...                       np.array([[10, 3], [10, -1]]), 2, after)
    >>> after.tolist()
    [[8, 3], [7, 7]]
    """
    n, k = groups.shape
    used = np.zeros(n_groups, np.int64)
    for i in range(n):
        pay = amounts[i]
        for c in range(k):
            g = groups[i, c]
            if g >= 0 and caps[i, c] >= 0:
                pay = min(pay, max(caps[i, c] - used[g], 0))
            after[i, c] = pay
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

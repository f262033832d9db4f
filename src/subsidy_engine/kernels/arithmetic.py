"""Exact integer arithmetic over int64 fen: products and quotients without 128-bit integers.

An interest amount is ``round(B * k / den)`` with ``B`` the balance in fen,
``k = rate_units * days`` and ``den = 1e10 * 360`` (or 365, or periods per
year). ``B * k`` can exceed 2**63, so the quotient is first estimated in
float64 (relative error below 1e-15, so at most one fen off for balances up to
1e14 fen) and then corrected exactly: the remainder ``B*k - q*den`` is small,
so its value is fully determined by its low 64 bits, which wrapping uint64
multiplication gives exactly. No rounding depends on the float; it only picks
the starting guess.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from subsidy_engine.kernels.threads import jit


@jit
def mul_div_half_up(a: int, k: int, den: int) -> int:
    """``round_half_up(a * k / den)`` for ``a, k >= 0`` and ``0 < den < 2**61``, exactly.

    The result must fit in int64; ``a * k`` need not.
    """
    return mul_div_half_up_f(a, k, den, k / den)


# "contract" lets LLVM fuse the seed's multiply and add into one FMA, a shorter
# step on the loop-carried chain; the seed's last bit does not matter, the
# integer check below decides every result.
@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def mul_div_half_up_f(a: int, k: int, den: int, k_over_den: float) -> int:
    """:func:`mul_div_half_up` with ``k / den`` precomputed as a float.

    The float gives a candidate ``trunc(a * k/den + 0.5)``; the exact integer
    remainder then checks it: the candidate is the half-up quotient exactly
    when ``-den <= 2 * (a*k - q*den) < den``. The check is a branch that is
    almost never taken, so the CPU runs ahead on the candidate and the
    loop-carried chain balance -> interest -> principal -> balance does not
    wait for the integer multiplications. When the float lands on the wrong
    side of a half fen (an exact tie, or float error), the branch corrects it.
    """
    q = np.int64(float(a) * k_over_den + 0.5)
    rem2 = 2 * np.int64(np.uint64(a) * np.uint64(k) - np.uint64(q) * np.uint64(den))
    if rem2 >= den or rem2 < -den:
        q = _fix_quotient(a, k, den, q)
    return q  # type: ignore[return-value]  # an int64 here; numba hands its callers a Python int


@jit
def _floor_from_guess(a, k, den, q):
    """``(floor(a*k/den), remainder)`` from a guess ``q`` off by a few units.

    ``a*k - q*den`` is small, so its low 64 bits (wrapping uint64 products)
    are its exact value.
    """
    rem = np.int64(np.uint64(a) * np.uint64(k) - np.uint64(q) * np.uint64(den))
    while rem < 0:
        q -= 1
        rem += den
    while rem >= den:
        q += 1
        rem -= den
    return q, rem


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="never")
def _fix_quotient(a, k, den, q):
    """The exact half-up quotient from a guess that is off by a few units."""
    q, rem = _floor_from_guess(a, k, den, q)
    if 2 * rem >= den:
        q += 1
    return q


@jit
def mul_div_floor_rem(a: int, k: int, den: int):
    """``(floor(a * k / den), remainder)`` for ``a, k >= 0`` and ``0 < den < 2**61``, exactly.

    The float only guesses the quotient; the exact integer remainder corrects it.
    """
    return _floor_from_guess(a, k, den, np.int64(float(a) * float(k) / float(den)))


@jit
def mul_div_floor(a: int, k: int, den: int) -> int:
    """``floor(a * k / den)`` for ``a, k >= 0`` and ``0 < den < 2**61``, exactly."""
    return mul_div_floor_rem(a, k, den)[0]

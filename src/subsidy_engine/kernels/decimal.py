"""The buffers of exact decimal columns, written from kernel arrays in one pass.

An Arrow ``decimal128`` value is a 128-bit two's-complement integer (the amount in fen for money), stored as two
int64 words, low then high; the high word of an int64 amount is its sign extended. A claims table takes each of
its money columns at the rows it shows, some as the difference of two stages' amounts (a cut): writing the words
of ``minuend[rows] - subtrahend[rows]`` directly spares the full-length difference and the taken copy, both new
memory (at 1.2M projects, 3.6M rows of each of seven columns).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from subsidy_engine.kernels.threads import read_only

#: A subtrahend of none: every row's is 0.
NO_SUBTRAHEND = read_only(np.zeros(0, np.int64))


@nb.njit(cache=True, nogil=True)
def _decimal_words(minuend, subtrahend, rows, out):
    """``out[2i], out[2i + 1]``: the low and high words of ``minuend[rows[i]] - subtrahend[rows[i]]``
    (``subtrahend`` empty: 0)."""
    subtract = subtrahend.shape[0] > 0
    for i in range(rows.shape[0]):
        r = rows[i]
        value = minuend[r] - subtrahend[r] if subtract else minuend[r]
        out[2 * i] = value
        out[2 * i + 1] = value >> 63


def decimal_words_of(minuend: np.ndarray, rows: np.ndarray, subtrahend: np.ndarray | None = None) -> np.ndarray:
    """The decimal128 words (int64, two a value) of ``minuend[rows] - subtrahend[rows]``, or of ``minuend[rows]``:
    the unscaled integers of an exact column (:func:`subsidy_engine.core.columns.money_series_of_words`).

    The caller keeps the difference within int64 (fen amounts and their cuts are far inside it).

    Examples
    --------
    >>> decimal_words_of(np.array([500, 7]), np.array([1, 0]), np.array([9, 0])).tolist()
    [7, 0, 491, 0]
    >>> decimal_words_of(np.array([-5]), np.array([0])).tolist()
    [-5, -1]
    """
    out = np.empty(2 * rows.shape[0], np.int64)
    # one kind of array whatever the caller holds (int32 rows, a read-only view): compiled once
    minuend, subtrahend, rows = (read_only(np.ascontiguousarray(a, np.int64)) for a in (
        minuend, NO_SUBTRAHEND if subtrahend is None else subtrahend, rows))
    _decimal_words(minuend, subtrahend, rows, out)
    return out

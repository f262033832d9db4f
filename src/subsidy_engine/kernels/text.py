"""Text cells hashed straight from Arrow's buffers: a column of ids proven free of repeats without a hash table.

Arrow's ``unique`` builds a table of every distinct cell (for 1.2M ids, 0.1 s warm and three times that in a
fresh process, whose table's memory is new). An id column almost never repeats a cell; distinct 64-bit hashes
prove it has none, with one pass over the text and a sort of integers. Equal hashes prove nothing: the reader
then looks at the column the exact way (:func:`subsidy_engine.io.column_readers.repeated_ids`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from subsidy_engine.kernels.threads import by_size

_jit = nb.njit(cache=True, nogil=True, error_model="numpy")

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


@_jit
def _fnv1a(data, start, end):
    h = FNV_OFFSET
    for b in range(start, end):
        h = (h ^ np.uint64(data[b])) * FNV_PRIME
    return h


@_jit
def fnv1a_hashes(offsets, data, out):
    """64-bit FNV-1a hash of each cell: cell ``k`` is ``data[offsets[k]:offsets[k+1]]`` (Arrow's layout of a
    string array's offsets and UTF-8 bytes)."""
    for k in range(out.shape[0]):
        out[k] = _fnv1a(data, offsets[k], offsets[k + 1])


@_jit
def _slot(h, mask):
    # FNV-1a's low bits, which pick the slot, differ little between ids that differ in their last characters
    # ("P0000001", "P0000002"): the bits are mixed first (the finaliser of splitmix64)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.int64((h ^ (h >> np.uint64(31))) & mask)


@_jit
def _same_cell(offsets, data, k, set_offsets, set_data, j):
    length = offsets[k + 1] - offsets[k]
    if set_offsets[j + 1] - set_offsets[j] != length:
        return False
    for b in range(length):
        if data[offsets[k] + b] != set_data[set_offsets[j] + b]:
            return False
    return True


def table_size(cells: int) -> int:
    """The slots of a table of ``cells`` distinct cells: a power of two, at least twice as many (short probes)."""
    size = 2
    while size < 2 * cells:
        size *= 2
    return size


@_jit
def text_table(offsets, data, slots, hashes):
    """Put each cell in ``slots`` (a power of two of them, all -1 at first), open addressing: a slot holds the
    position of a distinct cell's first occurrence, and ``hashes`` gets each cell's hash. A repeated cell takes
    no slot of its own: equal hashes are told apart byte by byte."""
    mask = np.uint64(slots.shape[0] - 1)
    for j in range(offsets.shape[0] - 1):
        h = _fnv1a(data, offsets[j], offsets[j + 1])
        hashes[j] = h
        s = _slot(h, mask)
        while slots[s] >= 0:
            i = slots[s]
            if hashes[i] == h and _same_cell(offsets, data, j, offsets, data, i):
                break
            s = (s + 1) & (slots.shape[0] - 1)
        if slots[s] < 0:
            slots[s] = j


@nb.njit(cache=True, nogil=True, error_model="numpy", parallel=True)
def _text_lookup_threads(offsets, data, set_offsets, set_data, slots, set_hashes, out):
    """For each cell, the position of the first equal cell of a :func:`text_table`'s cells, or -1 (Arrow's
    ``index_in`` on valid cells). The table is only read: the cells are looked up on every thread."""
    mask = np.uint64(slots.shape[0] - 1)
    for k in nb.prange(out.shape[0]):
        h = _fnv1a(data, offsets[k], offsets[k + 1])
        s = _slot(h, mask)
        found = -1
        while slots[s] >= 0:
            j = slots[s]
            if set_hashes[j] == h and _same_cell(offsets, data, k, set_offsets, set_data, j):
                found = j
                break
            s = (s + 1) & (slots.shape[0] - 1)
        out[k] = found


text_lookup = by_size(_text_lookup_threads, "cells", lambda offsets: offsets.shape[0] - 1)


#: What :func:`ascii_kinds` says of a cell. Only printable ASCII (0x20-0x7E) and the ASCII spaces (tab, line
#: feed, vertical tab, form feed, carriage return, space) are judged; a cell with any other byte (a control
#: character, DEL, or any character beyond ASCII) is left to the Unicode rules, which the byte alone cannot give.
ASCII_BLANK = 0  # empty, or ASCII spaces only: blank under every definition of a space
ASCII_PLAIN = 1  # printable ASCII, not all spaces, no space first or last
ASCII_SPACED = 2  # printable ASCII, not all spaces, a space first or last
OTHER_WITH_GRAPHIC = 3  # some other byte, and a printable ASCII character that is not a space: not blank
OTHER = 4  # some other byte, and no printable ASCII character but spaces


@_jit
def ascii_kinds(offsets, data, out):
    """Each cell's kind (``ASCII_BLANK`` .. ``OTHER``), from its bytes in one pass."""
    for k in range(out.shape[0]):
        start, end = offsets[k], offsets[k + 1]
        graphic = False
        other = False
        only_spaces = True
        for b in range(start, end):
            byte = data[b]
            if 0x21 <= byte <= 0x7E:
                graphic = True
                only_spaces = False
            elif byte != 0x20:
                if not (0x09 <= byte <= 0x0D):
                    only_spaces = False
                other = True
        if only_spaces:
            out[k] = ASCII_BLANK
        elif other:
            out[k] = OTHER_WITH_GRAPHIC if graphic else OTHER
        elif data[start] == 0x20 or data[end - 1] == 0x20:
            out[k] = ASCII_SPACED
        else:
            out[k] = ASCII_PLAIN

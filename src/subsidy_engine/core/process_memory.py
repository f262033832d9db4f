"""The memory the engine asks of the process: where Arrow's buffers come from, and numpy's page size.

On the virtual machines this engine was measured on (2 cores, Linux 6.x, transparent hugepages on ``madvise``
with its ``defrag`` on ``madvise`` too), memory a process takes for the first time is what the largest
portfolios pay most for, and two defaults made it dearer. Importing ``subsidy_engine`` changes both for the
process, each unless the user chose otherwise with the library's own setting, which then stands.

**Arrow's pool.** Arrow allocates from mimalloc by default, which gave a fresh process's pages back and took
them again so often that reading a 1.2M-project portfolio spent 3 s of system time (2.5M rows: 4.0-4.6 s in
all, 0.56-0.64M rows/s), against 0.7 s with the system allocator (2.6-2.8 s, 0.90-0.96M rows/s); ``evaluate`` on
it ran 8.7 s against 10.3 s. :func:`use_system_allocator` makes the system allocator Arrow's default pool,
unless ``ARROW_DEFAULT_MEMORY_POOL`` (``mimalloc``, ``jemalloc`` or ``system``) chose one. Buffers already
made keep the pool they came from, so the change is safe at any time. A pool chosen in code
(``pa.set_memory_pool``) before the import is replaced by it; one chosen after it stands. The system allocator
may keep a long-running process's freed memory longer than mimalloc would (not measured here).

**numpy's pages.** On Linux from kernel 4.6, numpy asks the kernel for transparent hugepages (2 MB) for every
array of 4 MB or more (``madvise(MADV_HUGEPAGE)``). There, a hugepage the process had not touched before cost
about 2.5 s per GB of system time (the kernel zeroes and may first compact 2 MB at a time), small pages about
1 s per GB: ``evaluate`` of the 1.2M-project portfolio took 6.7-7.1 s with the advice and 5.1 s without it, in
alternate fresh processes (system time 3.0-3.1 s against 1.1 s), the 100k one 0.41-0.53 s either way.
:func:`use_small_pages` turns the advice off, unless ``NUMPY_MADVISE_HUGEPAGE`` (numpy's own setting, read
when numpy is imported: ``1`` advises, ``0`` does not) is set. It changes numpy's allocations for the whole
process from then on, the engine's and the application's; it changes no value, only the pages the kernel
gives. On a machine where hugepages come cheap, ``NUMPY_MADVISE_HUGEPAGE=1`` restores numpy's default. The
setting may be made before numpy's import or after it, as long as it is before the engine's. Advice switched in
code (numpy's private ``_set_madvise_hugepage``) before the engine's import is replaced by it; switched after it,
it stands.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import import_module

import pyarrow as pa

#: Arrow's own setting: when the user set it, their choice stands.
POOL_SETTING = "ARROW_DEFAULT_MEMORY_POOL"
#: numpy's own setting, read at its import: when the user set it, their choice stands.
HUGEPAGE_SETTING = "NUMPY_MADVISE_HUGEPAGE"


def use_system_allocator() -> None:
    """Make the system allocator Arrow's default pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` chose one."""
    if not os.environ.get(POOL_SETTING):
        pa.set_memory_pool(pa.system_memory_pool())


def _numpy_hugepage_setter() -> Callable[[bool], bool] | None:
    """numpy's switch of its hugepage advice (what ``NUMPY_MADVISE_HUGEPAGE`` sets at import; it returns the
    previous state): in ``numpy._core.multiarray`` from numpy 2, ``numpy.core.multiarray`` before. None when
    this numpy has none (then its default stands)."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            setter = getattr(import_module(module), "_set_madvise_hugepage", None)
        except ImportError:
            continue
        if callable(setter):
            return setter
    return None


def use_small_pages() -> None:
    """Turn numpy's hugepage advice off for the process, unless ``NUMPY_MADVISE_HUGEPAGE`` is set: then its value
    (numpy reads it only when numpy is imported; one set later, before the engine's import, is applied here)."""
    setter = _numpy_hugepage_setter()
    if setter is None:
        return
    setting = os.environ.get(HUGEPAGE_SETTING)
    if setting is None:
        setter(False)
        return
    try:
        setter(int(setting) != 0)  # numpy's own reading of it: an integer, 0 for no advice
    except ValueError:
        pass  # not a number: numpy refuses it at its import; left as numpy has it

"""How kernels are compiled and when they use threads.

Every kernel is compiled with :data:`jit` (disk cache, no GIL, numpy's error
model). A kernel that loops over loans in parallel is written once, named
``*_threads``; :func:`by_size` gives the public function that runs it over the
thread pool for a portfolio and as its serial twin for a few items.
"""

from __future__ import annotations

import contextlib
import functools
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import numba as nb
import numpy as np
from numba.core import event

# error_model="numpy": no Python zero-division checks in the hot loop (every
# divisor here is a positive constant or checked by validation).
jit = nb.njit(cache=True, nogil=True, error_model="numpy")
#: :data:`jit` for a small helper of a hot loop, inlined into its caller by numba: a call that numba does not inline
#: passes each array as a reference-counted struct (an atomic increment and decrement a call) and spills the loop's
#: registers around it; called once a settlement in the calendar loop, its helpers inlined took 5-7% off that loop.
inline_jit = nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")


# ---------------------------------------------------------------------------
# Threads for a portfolio, none for a few items
# ---------------------------------------------------------------------------
#: Below this many items (loans; days for ``calendar_year``) a kernel runs on the calling thread.
#: Both are above what a quote can hold (100 loans of at most 600 periods, quote.MAX_ITEMS), so a quote
#: never starts the thread pool: for a few loans the pool saves microseconds and costs its tail (a
#: parallel region waits for a worker that another process holds off its core; after each region the
#: OpenMP workers spin on the other cores), and the service's threads never run parallel regions at
#: once (numba's workqueue layer, its fallback without OpenMP or TBB, aborts on that). Up to 8,192 loans the
#: threads save milliseconds (the demo's simulate, 4,256 loans: 48 ms against 55 ms on 2 cores, a Monte Carlo path
#: repricing 1,657 loans nothing), and a threaded kernel costs a fresh install 1.1-1.8 s more to compile than its
#: serial twin (parallel=True lowers a gufunc and optimises the loop it calls twice more): such a portfolio's first
#: run compiles the serial twins alone.
FEW_ITEMS = {"loans": 8_192, "days": 65_536, "cells": 65_536}

#: Loans a call of a kernel's loop function prices (:mod:`subsidy_engine.kernels.subsidy`, ``ledger``,
#: ``amortize``): the threaded kernel hands ranges of this many to its threads (enough ranges to keep both busy on
#: a portfolio), and its serial twin, the same source, the same ranges in turn. The loop is a function of its own
#: so that the two twins share one compilation of it, and it takes a range, not a loan, because a call of more than
#: 30 arguments builds and unpacks a tuple of them, each array with its reference count, every time: a call a loan
#: took a ledger's 貼息 from 0.17 s to 0.28 s at 100k loans, and the amortization's calendar loop from 100-105 ms to
#: 157-172 ms on one thread (100k loans settling quarterly on the 20th).
LOANS_A_CALL = 256


def on_the_calling_thread(kernel: Any) -> Any:
    """``kernel``'s own source compiled without threads (``nb.prange`` is then ``range``).

    The copy is named ``<name>_serial``: numba's disk cache files a compiled function under its
    qualified name and does not key it by the ``parallel`` option, so the two compilations must
    not share a name or one would be loaded for the other.
    """
    source = kernel.py_func
    if not source.__name__.endswith("_threads"):
        raise ValueError(f"{source.__name__}: a threaded kernel's name ends in _threads (its twin's in _serial)")
    name = source.__name__.removesuffix("_threads") + "_serial"
    twin = types.FunctionType(source.__code__.replace(co_name=name), source.__globals__, name,
                              source.__defaults__, source.__closure__)
    twin.__qualname__ = name
    twin.__kwdefaults__ = source.__kwdefaults__
    return nb.njit(cache=True, nogil=True, error_model="numpy")(twin)


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (no copy). numba compiles a kernel once per kind of array it is given,
    writable or read-only (about 15 s for the calendar loop on a cold cache); a caller whose arrays come
    writable from one path and read-only from another (a quote's cached columns) gives them read-only."""
    view = array.view()
    view.setflags(write=False)  # not ``view.flags.writeable``: reading ``flags`` makes an object at each call
    return view


def _length(first: np.ndarray) -> int:
    return first.shape[0]


def by_size(kernel: Any, kind: str, items: Callable[[Any], int] = _length) -> Callable[..., Any]:
    """``kernel`` over the thread pool, or its serial twin when ``items(first argument)`` is below
    ``FEW_ITEMS[kind]``: the same source either way (a hypothesis test checks the two agree)."""
    serial = on_the_calling_thread(kernel)

    def run(*args: Any) -> Any:
        return (serial if items(args[0]) < FEW_ITEMS[kind] else kernel)(*args)

    functools.update_wrapper(run, kernel.py_func)  # its signature and docstring
    run.__name__ = run.__qualname__ = kernel.py_func.__name__.removeprefix("_").removesuffix("_threads")
    run.threaded, run.serial = kernel, serial  # type: ignore[attr-defined]  # for the tests
    return run


class CompileReport(event.Listener):
    """Counts the kernels numba compiles in a block and their seconds; calls ``started`` when it starts the first."""

    def __init__(self, started: Callable[[], None]) -> None:
        self.started_first, self.depth, self.kernels, self.seconds, self.started = started, 0, 0, 0.0, 0.0

    def on_start(self, ev: event.Event) -> None:
        if self.depth == 0:  # a kernel, not a function it calls (numba compiles those inside its compilation)
            if self.kernels == 0:
                self.started_first()
            self.started = time.perf_counter()
        self.depth += 1

    def on_end(self, ev: event.Event) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.kernels += 1
            self.seconds += time.perf_counter() - self.started


@contextlib.contextmanager
def compile_report(started: Callable[[], None]) -> Iterator[CompileReport]:
    """Within the block, call ``started`` when numba starts compiling (never when every kernel comes from its disk
    cache); the report yielded counts the kernels compiled and their seconds (read it after the block)."""
    report = CompileReport(started)
    with event.install_listener("numba:compile", report):
        yield report

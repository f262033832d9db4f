"""The first run on a fresh install says it is compiling (issue 19, point 5): a line when numba starts, and at the
end how many kernels in how long; nothing when every kernel is already compiled."""

from __future__ import annotations

import numba as nb

from subsidy_engine.kernels.threads import compile_report


def test_compiling_is_said_once_and_counted_and_a_compiled_kernel_says_nothing() -> None:
    @nb.njit
    def inner(x: int) -> int:
        return x + 1

    @nb.njit
    def outer(x: int) -> int:
        return inner(x) * 2

    said: list[str] = []
    with compile_report(lambda: said.append("compiling")) as report:
        assert outer(1) == 4
        assert outer(2) == 6  # compiled: nothing more
    assert said == ["compiling"]
    assert report.kernels == 1 and report.seconds > 0  # inner is compiled inside outer: one kernel
    said.clear()
    with compile_report(lambda: said.append("compiling")) as report:
        assert outer(3) == 8
    assert said == [] and report.kernels == 0

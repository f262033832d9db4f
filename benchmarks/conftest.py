"""Collects each benchmark's figures and prints them, with ratios, at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

FIGURES: list[tuple[str, str]] = []


def pytest_configure(config) -> None:
    """Timings need one process: pytest-benchmark times nothing under pytest-xdist (the tests' ``-n auto``)."""
    workers = config.getoption("numprocesses", default=None)
    if workers not in (None, 0, "0"):
        raise pytest.UsageError("the benchmarks time one process: run them with -n 0 "
                                "(python -m pytest benchmarks -n 0)")


@pytest.fixture
def report():
    """``report(name, text)``: a line for the summary printed after the run."""
    def add(name: str, text: str) -> None:
        FIGURES.append((name, text))
    return add


def pytest_terminal_summary(terminalreporter) -> None:
    if FIGURES:
        terminalreporter.section("subsidy_engine figures (ratios measured in this run)")
        for name, text in FIGURES:
            terminalreporter.write_line(f"{name:<34} {text}")

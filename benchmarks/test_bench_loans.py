"""Loan schedule benchmarks (issue 2, point 9).

Run: ``python -m pytest benchmarks -n 0`` (after the README's install). Each
benchmark times the engine with pytest-benchmark and, in the same run, the
baselines on the same loans: numpy-financial's ``ipmt``/``ppmt`` (float, not
rounded per period, so it computes less than the engine does) and the plain
Python reference (``subsidy_engine.reference.calculators``, Decimal) on a sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pytest

from subsidy_engine import amortize_portfolio, load_lpr
from subsidy_engine.loans import amortization as engine
from subsidy_engine.reference.calculators import reference_schedule

from portfolios import (
    annuity_arrays,
    annuity_table,
    best_of,
    calendar_settlement_arrays,
    loan_from_arrays,
    mixed_arrays,
    tranche_arrays,
)

LOANS = 100_000
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def annuities():
    arrays = annuity_arrays(LOANS)
    engine.run(arrays.slice(0, 10), None, rows=True, years=True)  # compile or load the cache
    return arrays


@pytest.fixture(scope="module")
def numpy_financial_seconds(annuities) -> float:
    """ipmt + ppmt for every period of the same loans, grouped by term (no wasted cells)."""
    rate = annuities.fixed_units / 1e10 / 12
    pv = annuities.principal_fen / 100.0
    groups = [(n, np.flatnonzero(annuities.periods == n)) for n in np.unique(annuities.periods)]

    def run() -> None:
        for n, idx in groups:
            per = np.arange(1, n + 1)[None, :]
            npf.ipmt(rate[idx, None], per, n, pv[idx, None])
            npf.ppmt(rate[idx, None], per, n, pv[idx, None])
    return best_of(run, 2)


@pytest.fixture(scope="module")
def numpy_financial_grid_seconds(annuities) -> float:
    """The same, the usual way: one (loans x 360) grid per block, cells past the term masked."""
    rate = annuities.fixed_units / 1e10 / 12
    pv = annuities.principal_fen / 100.0
    nper = annuities.periods
    per = np.arange(1, 361)[None, :]

    def run() -> None:
        for lo in range(0, nper.shape[0], 5000):
            block = slice(lo, lo + 5000)
            valid = per <= nper[block, None]
            np.where(valid, npf.ipmt(rate[block, None], per, nper[block, None], pv[block, None]), 0.0)
            np.where(valid, npf.ppmt(rate[block, None], per, nper[block, None], pv[block, None]), 0.0)
    return best_of(run, 1)


@pytest.fixture(scope="module")
def loop_seconds_per_period(annuities) -> float:
    """The plain-Python reference, per loan-period, on a 300-loan sample."""
    sample = [loan_from_arrays(annuities, j) for j in range(300)]
    periods = sum(x.periods for x in sample)
    return best_of(lambda: [reference_schedule(x) for x in sample], 1) / periods


def summarize(report, name: str, seconds: float, loan_periods: int, npf_seconds: float | None,
              loop_per_period: float, npf_grid_seconds: float | None = None) -> None:
    rate = loan_periods / seconds
    text = f"{rate:.3g} loan-periods/s ({seconds * 1e3:.0f} ms for {loan_periods:,})"
    if npf_seconds is not None:
        text += (f"; numpy-financial by term {loan_periods / npf_seconds:.3g}/s -> "
                 f"{npf_seconds / seconds:.0f}x")
    if npf_grid_seconds is not None:
        text += f", on a masked grid -> {npf_grid_seconds / seconds:.0f}x"
    text += f"; plain loop {1 / loop_per_period:.3g}/s -> {loop_per_period * rate:.0f}x"
    report(name, text)


@pytest.mark.parametrize(("name", "rows", "years"), [
    ("yearly totals, 100k loans", False, True),
    ("full table (int64 fen), 100k loans", True, False),
])
def test_fixed_rate_annuities(benchmark, annuities, numpy_financial_seconds, numpy_financial_grid_seconds,
                              loop_seconds_per_period, report, name, rows, years):
    benchmark.pedantic(engine.run, args=(annuities, None), kwargs={"rows": rows, "years": years},
                       rounds=7, warmup_rounds=1)
    loan_periods = int(annuities.periods.sum())
    seconds = benchmark.stats.stats.min
    benchmark.extra_info.update(loan_periods_per_s=loan_periods / seconds,
                                vs_numpy_financial=numpy_financial_seconds / seconds)
    summarize(report, name, seconds, loan_periods, numpy_financial_seconds, loop_seconds_per_period,
              numpy_financial_grid_seconds)


def test_mixed_portfolio(benchmark, report):
    """Every method, basis and frequency; a third floating, repriced yearly."""
    arrays = mixed_arrays(LOANS)
    curve = load_lpr().hold_flat(until=date(2060, 12, 31))
    engine.run(arrays.slice(0, 10), curve, rows=False, years=True)
    benchmark.pedantic(engine.run, args=(arrays, curve), kwargs={"rows": False, "years": True},
                       rounds=5, warmup_rounds=1)
    sample = [loan_from_arrays(arrays, j) for j in range(300)]
    loop = best_of(lambda: [reference_schedule(x, curve) for x in sample], 1) / sum(x.periods for x in sample)
    summarize(report, "yearly totals, mixed 100k loans", benchmark.stats.stats.min,
              int(arrays.periods.sum()), None, loop)


def test_tranche_loans(benchmark, report):
    """Issue 18: 100k quarterly project loans in 3 tranches with a prepayment each, yearly totals; the same
    loans without their events and the plain reference (on 200 of them) in the same run."""
    from subsidy_engine.loans.arrays import loans_from_arrays

    arrays = tranche_arrays(LOANS)
    plain = tranche_arrays(LOANS)
    plain.events = None
    engine.run(arrays.slice(0, 10), None, rows=False, years=True)
    benchmark.pedantic(engine.run, args=(arrays, None), kwargs={"rows": False, "years": True}, rounds=5,
                       warmup_rounds=1)
    seconds = benchmark.stats.stats.min
    without = best_of(lambda: engine.run(plain, None, rows=False, years=True), 5)
    sample = loans_from_arrays(arrays.take(np.arange(200)))
    loop = best_of(lambda: [reference_schedule(x) for x in sample], 1) / sum(x.periods for x in sample)
    rows = int(arrays.periods.sum())
    benchmark.extra_info.update(rows_per_s=rows / seconds, vs_reference=loop * rows / seconds)
    report("tranches + prepayment, 100k loans", f"{rows / seconds:.3g} periods/s ({seconds * 1e3:.0f} ms for "
           f"{rows:,}); without the events {without * 1e3:.0f} ms ({seconds / without:.2f}x); plain loop "
           f"{1 / loop:.3g}/s -> {loop * rows / seconds:.0f}x")


def test_table_to_exact_decimal_frame(benchmark, annuities, report):
    """The long table's conversion from int64 fen to its public exact-decimal form, on its own."""
    result = amortize_portfolio(annuity_table(annuities), output="schedule")

    def convert():
        result.__dict__.pop("schedule", None)
        return result.schedule
    frame = benchmark.pedantic(convert, rounds=3, warmup_rounds=1)
    seconds = benchmark.stats.stats.min
    report("fen -> exact decimal long table", f"{len(frame) / seconds:.3g} rows/s "
           f"({seconds * 1e3:.0f} ms for {len(frame):,} rows x 11 columns)")


def test_end_to_end_from_a_text_table(benchmark, annuities, report):
    """amortize_portfolio on 100k loans given as strings: validation, kernel, yearly totals."""
    table = annuity_table(annuities)
    benchmark.pedantic(amortize_portfolio, args=(table,), kwargs={"output": "yearly"}, rounds=3,
                       warmup_rounds=1)
    seconds = benchmark.stats.stats.min
    report("end to end, 100k text rows, yearly", f"{seconds * 1e3:.0f} ms "
           f"({LOANS / seconds:.3g} loans/s, validation included)")


def test_peak_memory_yearly_million_loans(benchmark, report):
    """A fresh process: yearly totals of 1,000,000 loans through the public API."""
    def run():
        out = subprocess.run([sys.executable, str(HERE / "memory_yearly.py"), "1000000"],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    figures = benchmark.pedantic(run, rounds=1)
    benchmark.extra_info.update(figures)
    report("peak memory, 1M loans yearly", f"{figures['peak_mib_after_compute']} MiB computed "
           f"(table alone {figures['peak_mib_with_table']} MiB); {figures['peak_mib_with_frame']} MiB "
           f"with the exact-decimal frame of {figures['yearly_rows']:,} rows; {figures['seconds']} s")


def test_cold_and_warm_start(benchmark, report):
    """Import plus first call, with an empty numba cache and then with the cache it left."""
    script = ("import time; t = time.perf_counter(); "
              "from subsidy_engine import Loan, amortize; "
              "amortize(Loan(principal='1000000', annual_rate='0.049', term_months=360, "
              "start_date='2024-01-15')); print(time.perf_counter() - t)")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}

        def start() -> float:
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                 text=True, check=True)
            return float(out.stdout)
        cold = start()
        warm = benchmark.pedantic(start, rounds=3)
        warm = min(warm, benchmark.stats.stats.min)
    report("import + first call", f"cold (compiling) {cold:.2f} s, warm (disk cache) {warm:.2f} s")


def test_calendar_settlement(benchmark, report):
    """Issue 18: the tranche loans settling interest on the 20th of each quarter's last month (按季結息), yearly
    totals; settlement-period rows a second against the plain reference (which sums day by day) on 20 loans."""
    from subsidy_engine.loans.arrays import loans_from_arrays

    arrays = calendar_settlement_arrays(LOANS)
    engine.run(arrays.slice(0, 10), None, rows=False, years=True)
    result = benchmark.pedantic(engine.run, args=(arrays, None), kwargs={"rows": False, "years": True}, rounds=5,
                                warmup_rounds=1)
    seconds = benchmark.stats.stats.min
    rows = int(result.written.sum())
    sample = loans_from_arrays(arrays.take(np.arange(20)))
    loop = best_of(lambda: [reference_schedule(x) for x in sample], 1) / sum(
        len(reference_schedule(x)[0]) for x in sample)
    benchmark.extra_info.update(rows_per_s=rows / seconds, vs_reference=loop * rows / seconds)
    report("calendar settlement (按季結息), 100k loans", f"{rows / seconds:.3g} rows/s ({seconds * 1e3:.0f} ms for "
           f"{rows:,} settlement and due-date rows); plain loop {1 / loop:.3g}/s -> {loop * rows / seconds:.0f}x")

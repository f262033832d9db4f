"""Peak memory of yearly totals for a million loans, through the public API.

Run as a script (a fresh process, so its peak RSS is its own):
``python benchmarks/memory_yearly.py [count]``. Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from subsidy_engine import amortize_portfolio  # noqa: E402
from subsidy_engine.core.columns import decimal_array  # noqa: E402

from portfolios import annuity_arrays  # noqa: E402


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not
    inherited from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(count: int) -> dict[str, float]:
    baseline = peak_mib()
    arrays = annuity_arrays(count)
    table = pd.DataFrame({
        "loan_id": range(count),
        "principal": pd.Series(decimal_array(arrays.principal_fen, pa.decimal128(20, 2)),
                               dtype=pd.ArrowDtype(pa.decimal128(20, 2))),
        "annual_rate": pd.Series(decimal_array(arrays.fixed_units, pa.decimal128(16, 10)),
                                 dtype=pd.ArrowDtype(pa.decimal128(16, 10))),
        "term_months": arrays.periods,
        "start_date": pd.to_datetime(pd.DataFrame({"year": arrays.start_y, "month": arrays.start_m,
                                                   "day": arrays.start_d})),
    })
    loan_periods = int(arrays.periods.sum())
    del arrays
    with_table = peak_mib()
    started = time.perf_counter()
    result = amortize_portfolio(table, output="yearly")
    computed = time.perf_counter() - started
    after_compute = peak_mib()
    yearly = result.yearly
    return {
        "loans": count, "loan_periods": loan_periods, "yearly_rows": len(yearly),
        "seconds": round(computed, 3),
        "peak_mib_before": round(baseline), "peak_mib_with_table": round(with_table),
        "peak_mib_after_compute": round(after_compute), "peak_mib_with_frame": round(peak_mib()),
        "exact_fallbacks": result.exact_fallbacks,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))

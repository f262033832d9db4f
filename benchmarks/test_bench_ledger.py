"""A bank's ledgers to each settlement's interest and 貼息 (issue 18, point 3: >= 5e6 events a second on 2 cores).

The engine reads an Arrow-typed table (a Parquet file's columns) and computes; the plain reference
(``subsidy_engine.reference.ledger``, one day at a time) prices 200 of the same ledgers in the same run.
"""

from __future__ import annotations

import time

from subsidy_engine import InterestSubsidyRule
from subsidy_engine.measures.ledger import _read_ledger, ledger_settlements
from subsidy_engine.reference.ledger import reference_ledger

from portfolios import best_of, ledger_table

LEDGERS = 100_000
RULE = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=3)


def test_ledgers(benchmark, report):
    table = ledger_table(LEDGERS)
    ledger_settlements(ledger_table(10), RULE)  # compiled before the clock runs
    result = benchmark.pedantic(ledger_settlements, args=(table, RULE), rounds=3, warmup_rounds=1)
    assert result.rejections.empty
    seconds = benchmark.stats.stats.min
    reading = best_of(lambda: _read_ledger(table), 3)
    sample = table.head(200 * 60)
    rows = [{"loan_id": r.loan_id, "date": r.date, "kind": r.kind, "amount": r.amount, "rate": r.rate}
            for r in sample.astype(object).where(sample.notna(), None).itertuples()]
    start = time.perf_counter()
    reference_ledger(rows, RULE)
    loop = (time.perf_counter() - start) / len(rows)
    events = len(table)
    benchmark.extra_info.update(events_per_s=events / seconds, vs_reference=loop * events / seconds)
    report("ledgers, 100k x 60 events", f"{events / seconds:.3g} events/s ({seconds:.2f} s for {events:,}, "
           f"{len(result.settlements):,} settlements; reading and checking the table {reading:.2f} s, computing "
           f"{events / (seconds - reading):.3g} events/s); plain loop {1 / loop:.3g}/s -> {loop * events / seconds:.0f}x")

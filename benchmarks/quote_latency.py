"""quote() latency as the portal's service sees it: a fresh process, warmed up, then timed call by call.

Run as a script: ``python benchmarks/quote_latency.py [calls]``; prints one JSON line (milliseconds).
A fresh process, as a service is: the other benchmarks' heaps and threads are not in it.
Measured: the quote of one project with a 30-year monthly loan and its 貼息 (schedule included and
not), the single-loan kernels (amortize and interest_subsidy) and the plain Decimal reference of
the same loan, schedule and subsidy.

A quote's explanation and schedule columns are made when first read (``core.deferred``), so the
quote is also timed with both read, and as the JSON ``serve`` sends; and on 64 requests that differ
(principal, rate, start) taken in turn, so that nothing a request alone determines could be reused;
and while another process keeps the second core busy (issue 20: p99 <= 3 ms then).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Callable

import numpy as np

from subsidy_engine import Loan, amortize, interest_subsidy, load_policy
from subsidy_engine.reference.calculators import reference_interest_subsidy, reference_schedule
from subsidy_engine.service.quote import QuoteRequest, quote

REQUEST = {
    "project": {"project_id": "P1", "enterprise_id": "E1", "domain": "economic", "stage": "pilot",
                "total_investment": "500000000", "eligible_investment": "400000000", "start_date": "2026-03-01"},
    "loans": [{"loan_id": "L1", "principal": "200000000", "annual_rate": "0.035", "term_months": 360,
               "start_date": "2026-03-15"}]}


def percentiles(run: Callable[[], object], calls: int) -> dict[str, float]:
    for _ in range(50):
        run()
    times = np.empty(calls)
    for k in range(calls):
        started = time.perf_counter()
        run()
        times[k] = time.perf_counter() - started
    return {"p50": float(np.percentile(times, 50)) * 1e3, "p99": float(np.percentile(times, 99)) * 1e3}


def main(calls: int) -> dict[str, object]:
    policy = load_policy()
    request = QuoteRequest.model_validate(REQUEST)
    brief = QuoteRequest.model_validate({**REQUEST, "include_schedules": False})
    response = quote(request, policy=policy)
    assert len(response.claims) == 3 and response.schedules[0].periods == 360
    loan = Loan(principal="200000000", annual_rate="0.035", term_months=360, start_date="2026-03-15")
    rule = policy.at(loan.start_date).interest_subsidy_rule()

    def plain() -> None:
        rows, _ = reference_schedule(loan)
        reference_interest_subsidy(loan, rows, rule)

    def read_whole() -> None:
        whole = quote(request, policy=policy)
        assert whole.explanation and whole.schedules[0].columns is not None and whole.schedules[0].columns.payment

    varied = [QuoteRequest.model_validate({**REQUEST, "loans": [{
        **REQUEST["loans"][0], "principal": str(100_000_000 + 1_000_003 * k), "annual_rate": f"0.0{30 + k % 20}",
        "start_date": f"2026-{1 + k % 12:02d}-15"}]}) for k in range(64)]
    turn = iter(range(10**9))

    figures: dict[str, object] = {
        "calls": calls, "quote": percentiles(lambda: quote(request, policy=policy), calls),
        "varied_requests": percentiles(lambda: quote(varied[next(turn) % 64], policy=policy), calls),
        "words_and_schedule_read": percentiles(read_whole, calls),
        "as_json": percentiles(lambda: quote(request, policy=policy).model_dump_json(), calls),
        "without_schedules": percentiles(lambda: quote(brief, policy=policy), calls),
        "kernels": percentiles(lambda: interest_subsidy(amortize(loan), rule), calls // 10),
        "plain_reference": percentiles(plain, 20)}
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # the other core kept busy
    try:
        time.sleep(0.2)
        figures["other_core_busy"] = percentiles(lambda: quote(request, policy=policy), calls)
    finally:
        spinner.kill()
        spinner.wait()
    return figures


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)))

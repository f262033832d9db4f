"""quote() latency for the portal (issue 6, point 2): a 30-year monthly loan with its 貼息, one project.

Targets: issue 6's p99 under 2 ms warm; issue 20's p50 0.4 ms and p99 1 ms idle, p99 3 ms while another
process keeps the second core busy. The percentiles are measured in a fresh process
(``quote_latency.py``: a service's process holds no other benchmark's heap),
over 2,000 calls after warm-up (the p99 of 300 calls is its 3 slowest, which
one hiccup of a shared machine moves). The baseline in the same run is the
plain Decimal reference for the same loan (schedule and subsidy), and the
vectorized single-loan path (amortize and interest_subsidy) without stacking,
explanation or response. pytest-benchmark times quote() in this process too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from subsidy_engine import load_policy
from subsidy_engine.service.quote import QuoteRequest, quote

sys.path.insert(0, str(Path(__file__).parent))
from quote_latency import REQUEST  # noqa: E402


def test_quote_latency(benchmark, report) -> None:  # noqa: ANN001
    policy = load_policy()
    request = QuoteRequest.model_validate(REQUEST)
    for _ in range(5):
        quote(request, policy=policy)
    response = benchmark.pedantic(quote, args=(request,), kwargs={"policy": policy}, rounds=30, warmup_rounds=2)
    assert len(response.claims) == 3 and response.schedules[0].periods == 360

    out = subprocess.run([sys.executable, str(Path(__file__).parent / "quote_latency.py"), "2000"],
                         capture_output=True, text=True, check=True, timeout=600)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    full, brief, busy = figures["quote"], figures["without_schedules"], figures["other_core_busy"]
    whole, sent, varied = figures["words_and_schedule_read"], figures["as_json"], figures["varied_requests"]
    kernels, plain = figures["kernels"]["p50"], figures["plain_reference"]["p50"]
    verdict = "met" if full["p50"] <= 0.4 and full["p99"] <= 1 else "NOT met"
    busy_verdict = "met" if busy["p99"] <= 3 else "NOT met"
    report("quote (30-year loan + 貼息)", f"p50 {full['p50']:.2f} ms, p99 {full['p99']:.2f} ms over 2,000 calls in a "
           f"fresh process (issue 20's p50 0.4 ms and p99 1 ms: {verdict}; words and schedule made when read); "
           f"64 requests in turn p50 {varied['p50']:.2f} / p99 {varied['p99']:.2f} ms; with the explanation and "
           f"schedule read p50 {whole['p50']:.2f} / p99 {whole['p99']:.2f} ms; as JSON p50 {sent['p50']:.2f} / p99 "
           f"{sent['p99']:.2f} ms; without schedules p50 {brief['p50']:.2f} ms; another process busy on the other "
           f"core p50 {busy['p50']:.2f} / p99 {busy['p99']:.2f} ms (target p99 3 ms: {busy_verdict}); the "
           f"single-loan kernels alone p50 {kernels:.2f} ms; plain reference {plain:.1f} ms -> "
           f"{plain / full['p50']:.1f}x")

"""``subsidy-engine serve --workers 2`` (issue 20, the portal's throughput): two processes answer on one port,
each with the limits given (a request head that does not arrive in time is closed) and warmed before it
accepts; quotes are answered as by one process."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from serving import HOST, running_serve

httpx = pytest.importorskip("httpx")

REQUEST = {"project": {"project_id": "P1", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
                       "total_investment": "500000000", "eligible_investment": "400000000",
                       "start_date": "2026-03-01"},
           "loans": [{"loan_id": "L1", "principal": "200000000", "annual_rate": "0.035", "term_months": 120,
                      "start_date": "2026-03-15"}], "lang": "en"}


@pytest.fixture(scope="module")
def two_workers() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    def healthy(port: int) -> bool:
        try:
            return httpx.get(f"http://{HOST}:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    with running_serve(["--workers", "2", "--read-timeout", "1"], healthy, wait_s=120) as (process, port):
        yield f"http://{HOST}:{port}", process


def test_two_workers_answer_quotes_as_one_process_does(two_workers: tuple[str, subprocess.Popen[bytes]]) -> None:
    from subsidy_engine.service.quote import QuoteRequest, quote

    url, _ = two_workers
    expected = json.loads(quote(QuoteRequest.model_validate(REQUEST)).model_dump_json())
    for _ in range(6):  # new connections: the supervisor's socket hands them to either worker
        with httpx.Client(base_url=url, timeout=30) as client:
            answer = client.post("/quote", json=REQUEST)
            assert answer.status_code == 200 and answer.json()["claims"] == expected["claims"]
            assert answer.json()["explanation"] == expected["explanation"]


def test_each_worker_keeps_the_head_timeout_it_was_given(two_workers: tuple[str, subprocess.Popen[bytes]]) -> None:
    """--read-timeout 1: a connection that sends no request head is closed after about a second, by whichever
    worker holds it (the limit travels to the worker processes)."""
    url, _ = two_workers
    port = int(url.rsplit(":", 1)[1])
    for _ in range(4):
        with socket.create_connection((HOST, port), timeout=10) as s:
            started = time.monotonic()
            assert s.recv(1) == b""  # closed, nothing answered
            assert time.monotonic() - started < 8

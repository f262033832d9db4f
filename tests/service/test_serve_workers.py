"""``subsidy-engine serve --workers 2`` (issue 20, the portal's throughput): two processes answer on one port,
each with the limits given (a request head that does not arrive in time is closed) and warmed before it
accepts; quotes are answered as by one process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

httpx = pytest.importorskip("httpx")

HOST = "127.0.0.1"
REQUEST = {"project": {"project_id": "P1", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
                       "total_investment": "500000000", "eligible_investment": "400000000",
                       "start_date": "2026-03-01"},
           "loans": [{"loan_id": "L1", "principal": "200000000", "annual_rate": "0.035", "term_months": 120,
                      "start_date": "2026-03-15"}], "lang": "en"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def two_workers() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    script = shutil.which("subsidy-engine", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "subsidy_engine.service.cli"]
    process = subprocess.Popen([*command, "serve", "--host", HOST, "--port", str(port), "--workers", "2",
                                "--read-timeout", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, "the server stopped"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the workers did not answer /health within 120 s"
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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

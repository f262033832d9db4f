"""A bounded HTTP abuse test of the real ``subsidy-engine serve`` on 127.0.0.1 (issue 16, rows 4, 9 and 10).

The service runs as a subprocess on a free loopback port with short timeouts (``--read-timeout 1
--body-timeout 3``), and is sent, over plain sockets: oversize bodies (declared, and streamed chunked), a
stalled upload, a stalled request head, a crowd of stalled uploads, ids with a NUL, requests of custom plans at
and over the work bound, and light quotes while heavy ones run. Every loop is bounded in count and time; the
whole module takes some twenty seconds. The server's memory is read from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from serving import HOST, running_serve

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the server's memory")


READ_TIMEOUT, BODY_TIMEOUT = 1.0, 3.0
#: how long a test waits for an answer before failing as hung: a guard, not a bound on the service's speed
HANG_S = 120.0
#: what was sent and what came back, reported by the last test (``-s`` shows it)
TALLY: Counter[str] = Counter()

GOOD: dict[str, Any] = {
    "project": {"project_id": "P1", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
                "total_investment": "500000000", "eligible_investment": "400000000", "start_date": "2026-03-01"},
    "loans": [{"loan_id": "L1", "principal": "200000000", "annual_rate": "0.035", "term_months": 360,
               "start_date": "2026-03-15"}],
    "rate_by_stage": {"pilot": "0.30", "demonstration": "0.20", "promotion": "0.10"}}


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of ``pid``, in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith(("VmRSS", "VmHWM")))
    return {name: int(value.split()[0]) for name, value in fields.items()}


class Server:
    def __init__(self, process: subprocess.Popen[bytes] | None, port: int) -> None:
        self.process, self.port = process, port

    def memory(self) -> dict[str, int]:
        assert self.process is not None
        return _memory(self.process.pid)

    def connect(self) -> socket.socket:
        return socket.create_connection((HOST, self.port), timeout=10)

    def send(self, method: str, path: str, body: bytes = b"", timeout: float = 30.0) -> socket.socket:
        """A whole request sent on a connection of its own, whose answer is still to be read."""
        s = socket.create_connection((HOST, self.port), timeout=timeout)
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        return s

    def request(self, method: str, path: str, body: bytes = b"", timeout: float = 30.0) -> tuple[int, bytes, float]:
        """One request on its own connection: (status, body, seconds)."""
        started = time.perf_counter()
        with self.send(method, path, body, timeout) as s:
            status, answer = _response(s)
        TALLY[f"{method} {path} -> {status}"] += 1
        return status, answer, time.perf_counter() - started


def _response(s: socket.socket) -> tuple[int, bytes]:
    """Read a whole response (the server closes after it): its status and body."""
    data = b""
    while True:
        try:
            piece = s.recv(1 << 16)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        return 0, b""
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return int(head.split(b" ", 2)[1]), body


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, data = out + rest[:size], rest[size + 2:]
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_serve(["--read-timeout", str(READ_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT)],
                       lambda port: Server(None, port).request("GET", "/health", timeout=5)[0] == 200) as (process, port):
        served = Server(process, port)
        assert served.request("POST", "/quote", json.dumps(GOOD).encode())[0] == 200  # warm: kernels compiled
        yield served


def _upload(s: socket.socket, head: bytes, pieces: Iterator[bytes], limit_s: float = 10.0) -> tuple[int, int]:
    """Send ``head``, then ``pieces`` until the server answers or closes: (status, body bytes sent)."""
    s.sendall(head)
    sent, started = 0, time.monotonic()
    for piece in pieces:
        if select.select([s], [], [], 0)[0]:  # answered (or closed) before the body was all sent
            break
        try:
            s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
        assert time.monotonic() - started < limit_s, "the upload was neither refused nor finished in time"
    status, _ = _response(s)
    return status, sent


def test_a_declared_oversize_body_is_refused_before_it_is_read(server: Server) -> None:
    """issue 16, row 9: a 500 MB POST was read whole (1.34 GB peak); a 50 MB Content-Length is a 413 before the
    body, and the server's peak memory does not grow by the body."""
    before = server.memory()
    size = 50_000_000
    chunk = b" " * 65_536
    with server.connect() as s:
        status, sent = _upload(s, f"POST /quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                  f"Content-Length: {size}\r\n\r\n".encode(), iter([chunk] * (size // len(chunk))))
    TALLY[f"declared 50 MB -> {status}"] += 1
    assert status == 413 and sent < size
    after = server.memory()
    assert after["VmHWM"] - before["VmHWM"] < 20_000, (before, after)


def test_a_streamed_oversize_body_is_refused_as_it_passes_the_limit(server: Server) -> None:
    """issue 16, row 9: a chunked body with no Content-Length is a 413 once past 1 MB; 4 at once hold no more."""
    before = server.memory()
    chunk = b" " * 65_536
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    results: list[tuple[int, int]] = []

    def one() -> None:
        with server.connect() as s:
            results.append(_upload(s, b"POST /quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n", iter([piece] * 800)))  # 52 MB offered

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for status, _ in results:
        TALLY[f"chunked 52 MB -> {status}"] += 1
    assert [status for status, _ in results] == [413] * 4
    assert all(sent < 20_000_000 for _, sent in results), results  # refused early, not at the end
    after = server.memory()
    assert after["VmHWM"] - before["VmHWM"] < 40_000, (before, after)


def test_a_stalled_upload_is_dropped_with_a_408(server: Server) -> None:
    """issue 16, row 9: stalled uploads were held for ever; one is answered 408 and closed after the read
    timeout."""
    started = time.monotonic()
    with server.connect() as s:
        s.sendall(b"POST /quote HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
                  b'{"project": {')
        status, body = _response(s)
    waited = time.monotonic() - started
    TALLY[f"stalled body -> {status}"] += 1
    assert status == 408 and READ_TIMEOUT * 0.8 < waited < READ_TIMEOUT + 3, waited
    assert "did not arrive in time" in json.loads(body)["detail"][0]["msg"]


def test_a_trickled_upload_is_dropped_after_the_body_timeout(server: Server) -> None:
    """issue 16, row 9: a byte just within each read timeout does not hold the connection past the body timeout."""
    started = time.monotonic()
    with server.connect() as s:
        s.sendall(b"POST /quote HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        while time.monotonic() - started < BODY_TIMEOUT + 3:
            if select.select([s], [], [], READ_TIMEOUT / 2)[0]:
                break
            s.sendall(b" ")
        status, _ = _response(s)
    TALLY[f"trickled body -> {status}"] += 1
    assert status == 408 and time.monotonic() - started < BODY_TIMEOUT + 2


def test_a_stalled_request_head_is_closed(server: Server) -> None:
    """issue 16, row 9: a request head sent a byte at a time (or not finished) does not hold a connection."""
    started = time.monotonic()
    with server.connect() as s:
        s.sendall(b"POST /quote HTTP/1.1\r\nHost: x\r\n")
        while time.monotonic() - started < READ_TIMEOUT + 4:
            if select.select([s], [], [], 0.2)[0]:
                break
            try:
                s.sendall(b"X")  # a header never finished, a byte every 0.2 s
            except (BrokenPipeError, ConnectionResetError):
                break
        status, _ = _response(s)
    TALLY[f"stalled head -> closed (status {status})"] += 1
    assert time.monotonic() - started < READ_TIMEOUT + 3


def test_a_crowd_of_stalled_uploads_is_released(server: Server) -> None:
    """issue 16, row 9: 40 stalled uploads at once are all dropped after the read timeout, and the service
    answers afterwards."""
    sockets = [server.connect() for _ in range(40)]
    try:
        for s in sockets:
            s.sendall(b"POST /quote HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\n{")
        statuses = []
        for s in sockets:
            s.settimeout(READ_TIMEOUT + 5)
            statuses.append(_response(s)[0])
    finally:
        for s in sockets:
            s.close()
    TALLY.update(f"crowd of stalled uploads -> {status}" for status in statuses)
    assert statuses == [408] * 40
    assert server.request("GET", "/health")[0] == 200


@pytest.mark.parametrize("loans", [
    [{**GOOD["loans"][0], "loan_id": "L\x00"}],
    [GOOD["loans"][0], {**GOOD["loans"][0], "loan_id": "L1\x00", "principal": "1000"}],
    [GOOD["loans"][0], {**GOOD["loans"][0], "loan_id": "L1 ", "principal": "1000"}]])
def test_nul_and_spaced_ids_are_a_422(server: Server, loans: list[dict[str, Any]]) -> None:
    """issue 16, row 4: a NUL in an id was a 500, and ``L``/``L\\x00`` two loans; both are a 422."""
    status, body, _ = server.request("POST", "/quote", json.dumps({**GOOD, "loans": loans}).encode())
    assert status == 422, body[:300]


def _heavy(loans: int) -> bytes:
    """A request of ``loans`` custom loans of 600 monthly fractions each."""
    entry = "0.001666666667"
    plan = [entry] * 599 + [str(Decimal(1) - Decimal(entry) * 599)]
    return json.dumps({**GOOD, "loans": [
        {"loan_id": f"C{k}", "principal": "1000000", "annual_rate": "0.035", "term_months": 600, "method": "custom",
         "principal_plan_unit": "fraction", "start_date": "2026-03-15", "principal_plan": plan}
        for k in range(loans)]}).encode()


def test_heavy_plans_are_bounded_and_do_not_stall_light_quotes(server: Server) -> None:
    """issue 16, row 9: two clients sending 100 custom-plan loans made a light quote wait 3.4 s. A request at the
    work bound (36,000 periods) is answered, one over it is refused (before any plan is converted:
    test_quote.py::test_a_request_beyond_the_work_bound_is_refused_before_the_work), and light quotes are
    answered, every one a 200, while two heavy requests are in flight (sent whole, their answers not yet back).
    The seconds are measured and tallied, not asserted: speed is a benchmark's; ``HANG_S`` only fails a hung test."""
    from subsidy_engine.service.quote import MAX_PERIODS

    at_bound, over = _heavy(MAX_PERIODS // 600), _heavy(MAX_PERIODS // 600 + 1)
    assert len(at_bound) < 1_000_000
    status, body, seconds = server.request("POST", "/quote", over, timeout=HANG_S)
    assert status == 422 and b"periods in all" in body, (status, body[:200])
    TALLY[f"heavy over the bound refused: {seconds:.2f} s"] += 1
    status, body, seconds = server.request("POST", "/quote", at_bound, timeout=HANG_S)
    assert status == 200, (status, body[:200])
    TALLY[f"heavy at the bound: {seconds:.2f} s"] += 1

    started = time.perf_counter()
    heavy = [server.send("POST", "/quote", at_bound, timeout=HANG_S) for _ in range(2)]
    try:
        light = json.dumps(GOOD).encode()
        statuses: list[int] = []
        latencies: list[float] = []
        while_both_in_flight = 0
        while len(statuses) < 100:
            status, _, seconds = server.request("POST", "/quote", light, timeout=HANG_S)
            statuses.append(status)
            latencies.append(seconds)
            answered = select.select(heavy, [], [], 0)[0]  # a heavy answer that has (begun to) come back
            if not answered:
                while_both_in_flight += 1
            elif len(answered) == len(heavy):
                break
        heavy_answers = []
        for s in heavy:
            heavy_answers.append(_response(s)[0])
            TALLY[f"heavy quote alongside: {time.perf_counter() - started:.2f} s"] += 1
    finally:
        for s in heavy:
            s.close()
    TALLY[f"light quotes during 2 heavy: {len(latencies)} ({while_both_in_flight} before either heavy answer), "
          f"max {max(latencies, default=0):.3f} s"] += 1
    assert heavy_answers == [200, 200]
    assert statuses and set(statuses) == {200}, Counter(statuses)
    # How many light quotes beat the heavy answers depends on the machine and its load (the fresh-clone CI saw 1
    # on a busy 2-core machine), so it is tallied, not asserted; that a light quote is answered while a heavy
    # one computes is proven without a clock by test_quote.py::test_a_light_quote_is_answered_while_a_heavy_one_*


def test_the_figures(server: Server) -> None:
    """The tally of what was sent and answered (shown with ``-s``); the server is still up and not grown."""
    assert server.process.poll() is None and server.request("GET", "/health")[0] == 200
    memory = server.memory()
    TALLY[f"server memory: RSS {memory['VmRSS'] // 1024} MB, peak {memory['VmHWM'] // 1024} MB"] += 1
    print("\n" + "\n".join(f"  {count:4d} x {what}" for what, count in sorted(TALLY.items())))

"""Starting ``subsidy-engine serve`` in its own process for a test, and stopping it (shared by the service's
tests that speak to a real server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def running_serve(options: list[str], healthy: Callable[[int], bool], wait_s: float = 60
                  ) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``subsidy-engine serve --host 127.0.0.1 --port P *options`` until the block ends: started, waited for
    until ``healthy(P)`` (the test's own client asks /health), then terminated (killed if it lingers)."""
    port = free_port()
    script = shutil.which("subsidy-engine", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "subsidy_engine.service.cli"]
    process = subprocess.Popen([*command, "serve", "--host", HOST, "--port", str(port), *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            assert process.poll() is None, "the server stopped"
            try:
                if healthy(port):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the server did not answer /health within {wait_s:g} s"
            time.sleep(0.2)
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

"""The engine's Arrow buffers come from the system allocator unless the user chose Arrow's pool."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

POOL = "import subsidy_engine, pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _pool_in_a_fresh_process(**environment: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | environment
    done = subprocess.run([sys.executable, "-c", POOL], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def test_importing_the_engine_puts_arrow_on_the_system_allocator() -> None:
    assert _pool_in_a_fresh_process() == "system"


@pytest.mark.parametrize("chosen", ["mimalloc", "jemalloc"])
def test_a_pool_the_user_chose_is_kept(chosen: str) -> None:
    import pyarrow as pa

    available = {"mimalloc": pa.mimalloc_memory_pool, "jemalloc": pa.jemalloc_memory_pool}[chosen]
    try:
        available()
    except NotImplementedError:
        pytest.skip(f"this pyarrow has no {chosen}")
    assert _pool_in_a_fresh_process(ARROW_DEFAULT_MEMORY_POOL=chosen) == chosen

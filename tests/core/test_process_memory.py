"""The process memory the engine asks for (``core.process_memory``): Arrow's buffers from the system allocator
unless the user chose Arrow's pool, and numpy's large arrays on small pages unless the user set numpy's
``NUMPY_MADVISE_HUGEPAGE``. Each is read in a fresh process, as importing the engine sets it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

POOL = "import subsidy_engine, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
# numpy's own switch, read before and after the import (numpy 2 keeps it in numpy._core, 1.26 in numpy.core)
HUGEPAGES = """
try:
    from numpy._core.multiarray import _get_madvise_hugepage
except ImportError:
    from numpy.core.multiarray import _get_madvise_hugepage
before = _get_madvise_hugepage()
import subsidy_engine
print(before, _get_madvise_hugepage())
"""
SETTINGS = ("ARROW_DEFAULT_MEMORY_POOL", "NUMPY_MADVISE_HUGEPAGE")


def _in_a_fresh_process(script: str, **environment: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS} | environment
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def test_importing_the_engine_puts_arrow_on_the_system_allocator() -> None:
    assert _in_a_fresh_process(POOL) == "system"


@pytest.mark.parametrize("chosen", ["mimalloc", "jemalloc"])
def test_a_pool_the_user_chose_is_kept(chosen: str) -> None:
    import pyarrow as pa

    available = {"mimalloc": pa.mimalloc_memory_pool, "jemalloc": pa.jemalloc_memory_pool}[chosen]
    try:
        available()
    except NotImplementedError:
        pytest.skip(f"this pyarrow has no {chosen}")
    assert _in_a_fresh_process(POOL, ARROW_DEFAULT_MEMORY_POOL=chosen) == chosen


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy advises hugepages on Linux only")
def test_importing_the_engine_turns_numpy_s_hugepage_advice_off() -> None:
    """numpy's default on a Linux kernel from 4.6 is to advise hugepages (before: off); the engine turns it off."""
    assert _in_a_fresh_process(HUGEPAGES).split()[1] == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy advises hugepages on Linux only")
@pytest.mark.parametrize("chosen", ["0", "1"])
def test_the_advice_the_user_set_is_kept(chosen: str) -> None:
    advised = str(chosen == "1")
    assert _in_a_fresh_process(HUGEPAGES, NUMPY_MADVISE_HUGEPAGE=chosen) == f"{advised} {advised}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy advises hugepages on Linux only")
@pytest.mark.parametrize("chosen", ["0", "1"])
def test_the_advice_set_after_numpy_was_imported_is_kept(chosen: str) -> None:
    """numpy reads its setting when it is imported: one set later, before the engine's import, is still the user's
    choice, and the engine applies it."""
    late = HUGEPAGES.replace("import subsidy_engine", f"import os; os.environ['NUMPY_MADVISE_HUGEPAGE'] = '{chosen}'; "
                             "import subsidy_engine")
    assert _in_a_fresh_process(late).split()[1] == str(chosen == "1")

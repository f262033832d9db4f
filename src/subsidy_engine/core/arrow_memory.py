"""Which allocator the engine's Arrow buffers come from.

Arrow allocates from mimalloc by default. On the virtual machines this engine was measured on, mimalloc
gave a fresh process's pages back and took them again so often that reading a 1.2M-project portfolio
spent 3 s of system time (2.5M rows: 4.0-4.6 s in all, 0.56-0.64M rows/s), against 0.7 s with the
system allocator (2.6-2.8 s, 0.90-0.96M rows/s); ``evaluate`` on it ran 8.7 s against 10.3 s.

Importing ``subsidy_engine`` therefore makes the system allocator Arrow's default for the process,
unless the user chose one with Arrow's own setting, the environment variable
``ARROW_DEFAULT_MEMORY_POOL`` (``mimalloc``, ``jemalloc`` or ``system``), which is then kept.
Buffers already made keep the pool they came from, so the change is safe at any time. A pool chosen in
code (``pa.set_memory_pool``) before the import is replaced by it; one chosen after it stands: an
application that wants its own pool sets the environment variable, or sets the pool after importing.
The system allocator may keep a long-running process's freed memory longer than mimalloc would (not
measured here).
"""

from __future__ import annotations

import os

import pyarrow as pa

#: Arrow's own setting: when the user set it, their choice stands.
POOL_SETTING = "ARROW_DEFAULT_MEMORY_POOL"


def use_system_allocator() -> None:
    """Make the system allocator Arrow's default pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` chose one."""
    if not os.environ.get(POOL_SETTING):
        pa.set_memory_pool(pa.system_memory_pool())

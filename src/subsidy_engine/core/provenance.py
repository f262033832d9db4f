"""What a result was computed from: engine version and a hash of its inputs.

Every result carries a :class:`Provenance`, so a figure can be reproduced
later with the same engine and the same parameter files and scenario.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata


@lru_cache(maxsize=1)
def engine_version() -> str:
    """The installed version of ``subsidy_engine`` (read once per process: a quote asks for it often)."""
    try:
        return metadata.version("subsidy_engine")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


@dataclass(frozen=True)
class Provenance:
    """Engine version and the SHA-256 of the rate data and scenario used."""

    engine_version: str
    parameters_sha256: str
    scenario: str | None

    @classmethod
    def of(cls, *digests: str, scenario: str | None = None) -> Provenance:
        h = hashlib.sha256()
        for d in digests:
            h.update(d.encode())
        h.update(f"scenario={scenario}".encode())
        return cls(engine_version(), h.hexdigest(), scenario)

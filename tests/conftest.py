"""Hypothesis profiles (ci, thorough) and the shared fixtures; the strategies are in strategies.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings

from subsidy_engine import load_lpr

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True, print_blob=True)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", "ci"))


def projected_curve():
    """The bundled history extended by a scenario whose rates move every year."""
    path = []
    one, five = Decimal("3.00"), Decimal("3.50")
    for k, year in enumerate(range(2027, 2081)):
        step = Decimal((k * 37) % 11 - 5) * Decimal("0.05")
        path.append({"date": date(year, 1, 20), "lpr_1y_pct": max(one + step, Decimal("0.5")),
                     "lpr_5y_pct": max(five + step, Decimal("0.8"))})
    return load_lpr().with_projection(path, until=date(2080, 12, 31), label="test-walk")


@pytest.fixture(scope="session")
def curve():
    return projected_curve()



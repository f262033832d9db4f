"""Hypothesis profiles (ci, thorough) and the shared fixtures; the strategies are in strategies.py."""

from __future__ import annotations

import re
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




# Every reason a test makes a reader or the pipeline give for a rejected row must read in Chinese: the
# vocabulary's input_reasons word them, keyed by the English the engine writes. A reason reworded in the code
# (or a new one) without its wording fails the test that made it, whatever that test is about.
_REASONS_MADE: list[object] = []


def _recording(function, column="reason", frame_of=lambda made: made[0] if isinstance(made, tuple) else made):
    def recorded(*args, **kwargs):
        made = function(*args, **kwargs)
        frame = frame_of(made)
        if column in getattr(frame, "columns", ()) and len(frame):
            _REASONS_MADE.extend(frame[column].dropna().unique().tolist())
        return made
    return recorded


def pytest_configure(config):
    import subsidy_engine
    from subsidy_engine.io import column_readers
    from subsidy_engine.measures import ledger
    from subsidy_engine.pipeline import evaluate, inputs
    from subsidy_engine.service import ledger_reconcile, reconcile

    inputs._check_and_read = _recording(inputs._check_and_read)
    evaluate.sorted_problems = _recording(evaluate.sorted_problems)
    column_readers.Rejections.frame = _recording(column_readers.Rejections.frame)
    # reconcile's detail (what reproduces a bank's figure, or why a row cannot be checked) is worded the same way
    reconcile.reconcile = _recording(reconcile.reconcile, "detail")
    ledger_reconcile.reconcile_ledger = _recording(ledger_reconcile.reconcile_ledger, "detail",
                                                   lambda made: made.settlements)
    # a bank's ledger: the reader's reasons and those the kernel's checks add after it
    settlements = _recording(ledger.ledger_settlements, frame_of=lambda made: made.rejections)
    ledger.ledger_settlements = ledger_reconcile.ledger_settlements = subsidy_engine.ledger_settlements = settlements


def _english_left(worded: str) -> bool:
    """True when a worded reason still has an English phrase in it (two words in a row; ids, file names and
    the engine's own words such as 'custom' stand alone; a quoted value is the user's)."""
    unquoted = re.sub(r"'[^']*'|“[^”]*”", "", worded)  # a value the reason quotes is the user's own text
    return re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", unquoted) is not None


@pytest.fixture(autouse=True)
def every_reason_is_worded():
    _REASONS_MADE.clear()
    yield
    from subsidy_engine.core.language import reason_in

    unworded = sorted({str(r) for r in _REASONS_MADE if isinstance(r, str) and _english_left(str(reason_in(r, "zh")))})
    _REASONS_MADE.clear()
    if unworded:
        pytest.fail(f"{len(unworded)} rejection reason(s) or reconcile detail(s) have no Chinese wording in "
                    f"core/names.yaml (input_reasons, reconcile_details): {unworded[:5]}", pytrace=False)

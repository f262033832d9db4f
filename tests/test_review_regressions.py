"""Regressions from the first review: each was a real failure before its fix."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from subsidy_engine import Loan, amortize_portfolio, load_lpr, load_policy
from subsidy_engine.service.cli import main

BASE = {"loan_id": "A", "principal": "1000", "annual_rate": "0.04", "term_months": 12,
        "start_date": "2024-01-15"}


def table(**changes: object) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **changes}]).astype(object)


@pytest.mark.parametrize(("field", "value"), [
    ("annual_rate", "0.059999999999999999999999999999"),  # 30 decimals: rounded by a 28-digit context
    ("principal", "1000.0000000000000000000000001"),
])
def test_values_longer_than_a_decimal_context_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Loan(**{**{k: v for k, v in BASE.items() if k != "loan_id"}, field: value})
    report = amortize_portfolio(table(**{field: value})).rejections
    assert report.field.tolist() == [field]


def test_plan_fractions_are_summed_exactly() -> None:
    with pytest.raises(ValidationError, match="fractions add up to 1.00000000000000000000000000001"):
        Loan(principal="1000", annual_rate="0.04", term_months=2, start_date="2024-01-15",
             method="custom", principal_plan_unit="fraction",
             principal_plan=["0.50000000000000000000000000001", "0.5"])


def test_arrow_date_column() -> None:
    dates = pd.Series([date(2024, 1, 15)], dtype=pd.ArrowDtype(pa.date32()))
    result = amortize_portfolio(table().assign(start_date=dates))
    assert result.rejections.empty
    assert result.schedule.start_date.iloc[0] == date(2024, 1, 15)


@pytest.mark.parametrize(("field", "value"), [
    ("term_months", "+-12"), ("term_months", "²"), ("term_months", "١٢"), ("term_months", 10**20),
    ("settlement_day", "99999999999999999999"), ("principal", Decimal("sNaN")),
    ("principal", Decimal("Infinity")),
])
def test_odd_cells_become_rejections_not_crashes(field: str, value: object) -> None:
    report = amortize_portfolio(table(**{field: value})).rejections
    assert field in report.field.tolist()


def test_pd_na_is_a_blank_cell() -> None:
    result = amortize_portfolio(table(floating=pd.NA, principal_plan=pd.NA))
    assert result.rejections.empty and result.computed == 1


def test_a_projection_cannot_replace_known_rates() -> None:
    with pytest.raises(ValueError, match="may not replace known rates"):
        load_lpr().with_projection([{"date": "2026-06-01", "lpr_1y_pct": "9", "lpr_5y_pct": "9.5"}],
                                   until=date(2030, 1, 1), label="x")


def test_schedules_must_end_within_the_calendar() -> None:
    with pytest.raises(ValidationError, match="ends after the year 9999"):
        Loan(principal="1000", annual_rate="0.04", term_months=600, start_date="9990-01-15")
    report = amortize_portfolio(table(term_months=600, start_date="9990-01-15")).rejections
    assert report.field.tolist() == ["start_date"]


def test_cli_reports_a_projection_that_ends_too_early(capsys) -> None:
    from subsidy_engine.io.files import demo_loans_path

    assert main(["amortize", str(demo_loans_path()), "--hold-lpr-until", "2025-01-01"]) == 2
    assert "must not end before its data" in capsys.readouterr().err


def test_each_table_reports_rejections_under_its_own_id() -> None:
    from subsidy_engine import event_grants, premium_subsidy

    events = pd.DataFrame({"event_id": ["V1"], "kind": ["ipo"], "enterprise_id": ["E"], "date": ["2024-01-01"]})
    assert list(event_grants(events, load_policy()).rejections.columns) == ["row", "event_id", "field", "reason"]
    insurance = pd.DataFrame({"policy_id": ["P1"], "enterprise_id": ["E"], "product_field": ["ai"],
                              "insured_amount": ["1"], "premium": ["1"], "start_date": ["2024-01-01"],
                              "years": ["0"]})
    report = premium_subsidy(insurance, load_policy()).rejections
    assert report[["policy_id", "field"]].values.tolist() == [["P1", "years"]]

"""Investment subsidy (measures 1, 2, 4): kernel == reference, who is paid, ceilings, no default rate."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from pydantic import ValidationError

from subsidy_engine import InvestmentSubsidyRule, Project, investment_subsidy, load_policy
from subsidy_engine.reference.calculators import reference_investment_subsidy

from strategies import investment_rules, projects

RATES = {"pilot": "0.30", "demonstration": "0.20", "promotion": "0.10"}


@given(items=projects(), rule=investment_rules())
def test_kernel_equals_reference(items, rule) -> None:
    result = investment_subsidy(items, rule)
    paid, unpaid = reference_investment_subsidy(items, rule)
    claims = result.claims
    assert dict(zip(claims.project_id, claims.gross)) == {k: v["gross"] for k, v in paid.items()}
    assert dict(zip(claims.project_id, claims.amount)) == {k: v["amount"] for k, v in paid.items()}
    assert set(result.not_paid.project_id) == unpaid
    assert (claims.gross == claims.amount + claims.cut_by_investment_ceiling + claims.cut_by_project_cap).all()
    if rule.ceiling_share_of_total_investment is not None:
        totals = {p.project_id: p.total_investment for p in items}
        assert all(a <= rule.ceiling_share_of_total_investment * totals[p]
                   for p, a in zip(claims.project_id, claims.amount))


def project(**fields) -> Project:
    base = dict(project_id="P", enterprise_id="E", domain="public", stage="demonstration",
                total_investment="400000000", eligible_investment="400000000", start_date="2024-01-01")
    return Project(**{**base, **fields})


def test_ceiling_then_project_cap_with_the_bundled_parameters() -> None:
    items = [project(project_id="big"),                                   # 20% of 4亿 = 8000万
             project(project_id="net", category="compute_or_network"),   # capped at 5000万
             project(project_id="half", stage="pilot", total_investment="100000000.01",
                     eligible_investment="100000000.01")]                # 30% = 30,000,000.003 -> .00
    rates = {"pilot": "0.60", "demonstration": "0.20", "promotion": "0.10"}
    claims = investment_subsidy(items, load_policy(), rate_by_stage=rates).claims.set_index("project_id")
    assert claims.loc["big", "amount"] == Decimal("80000000.00")
    assert claims.loc["net", "amount"] == Decimal("50000000.00")
    assert claims.loc["net", "cut_by_project_cap"] == Decimal("30000000.00")
    # 60% would be 60,000,000.01 (rounded half-up); the 50% ceiling is 50,000,000.005, rounded down
    assert claims.loc["half", "gross"] == Decimal("60000000.01")
    assert claims.loc["half", "amount"] == Decimal("50000000.00")


def test_who_is_paid_and_why_not() -> None:
    items = [project(project_id="economic", domain="economic"),
             project(project_id="nonprofit", platform_type="non_profit"),
             project(project_id="quasi-free", platform_type="quasi_operating", domain="economic",
                     free_service_obligation=True, expected_returns="100000000"),
             project(project_id="quasi-no-service", platform_type="quasi_operating",
                     expected_returns="100000000"),
             project(project_id="quasi-profitable", platform_type="quasi_operating",
                     free_service_obligation=True, expected_returns="500000000")]
    result = investment_subsidy(items, load_policy(), rate_by_stage=RATES)
    assert result.claims.project_id.tolist() == ["quasi-free"]
    assert result.claims.measure.tolist() == [4]
    reasons = dict(zip(result.not_paid.project_id, result.not_paid.reason))
    assert "preferential credit" in reasons["economic"]
    assert "government direct investment" in reasons["nonprofit"]
    assert "free-service" in reasons["quasi-no-service"]
    assert "cover its investment" in reasons["quasi-profitable"]


def test_there_is_no_default_rate() -> None:
    with pytest.raises(ValueError, match="rate_by_stage is required"):
        investment_subsidy([project()], load_policy())
    with pytest.raises(ValidationError, match="every stage needs one"):
        InvestmentSubsidyRule(rate_by_stage={"pilot": "0.3"})

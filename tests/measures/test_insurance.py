"""Premium subsidy (保費補貼, measure 7): kernel == reference, caps, eligibility, anchor dates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given

from subsidy_engine import InsurancePolicy, PremiumSubsidyRule, load_policy, premium_subsidy
from subsidy_engine.reference.calculators import reference_premium_subsidy

from builders import two_sets, write
from strategies import insurance_portfolios, premium_rules


@given(policies=insurance_portfolios(), rule=premium_rules())
def test_kernel_equals_reference_and_caps_hold(policies, rule) -> None:
    result = premium_subsidy(policies, rule)
    expected = reference_premium_subsidy(policies, lambda p: rule)
    got = result.claims.sort_values(["policy_id", "policy_year"]).reset_index(drop=True)
    want = sorted(expected, key=lambda r: (r["policy_id"], r["policy_year"]))
    assert got.policy_id.tolist() == [r["policy_id"] for r in want]
    assert got.start_date.tolist() == [r["start_date"] for r in want]
    assert got.gross.tolist() == [r["gross"] for r in want]
    assert got.amount.tolist() == [r["amount"] for r in want]
    assert (got.gross == got.amount + got.cut_by_annual_cap).all()
    if rule.annual_cap_per_enterprise is not None:
        assert (got.groupby(["enterprise_id", "year"]).amount.sum() <= rule.annual_cap_per_enterprise).all()
    left_out = {p.policy_id for p in policies if p.product_field not in rule.eligible_fields}
    assert set(result.not_paid.policy_id) == left_out
    assert not left_out & set(got.policy_id)


def test_the_bundled_defaults() -> None:
    policies = [
        InsurancePolicy(policy_id="A", enterprise_id="E", product_field="satellite_internet",
                        insured_amount="50000000", premium="900000", start_date="2024-01-01", years=4),
        InsurancePolicy(policy_id="B", enterprise_id="E", product_field="blockchain",
                        insured_amount="20000000", premium="300000", start_date="2024-06-01", years=1),
        InsurancePolicy(policy_id="C", enterprise_id="F", product_field="other",
                        insured_amount="1000000", premium="10000", start_date="2024-06-01", years=1),
    ]
    result = premium_subsidy(policies, load_policy())
    claims = result.claims
    # A: 80% x min(900,000, 3% x 50,000,000 = 1,500,000) = 720,000 a year, 3 years (not 4)
    assert claims[claims.policy_id == "A"].gross.tolist() == [Decimal("720000.00")] * 3
    # B in 2024: 80% x 300,000 = 240,000, but E has 1,000,000 - 720,000 = 280,000 left: paid in full
    # 2024 total 960,000 <= 100万
    assert claims[claims.policy_id == "B"].amount.tolist() == [Decimal("240000.00")]
    assert result.not_paid.policy_id.tolist() == ["C"]
    assert set(claims.parameter_set) == {"beijing-analog-defaults"}


def test_the_annual_cap_cuts_the_later_policy_and_says_so() -> None:
    # "A" starts in March, "B" in January: the date decides, not the id
    policies = [InsurancePolicy(policy_id=p, enterprise_id="E", product_field="ai",
                                insured_amount="100000000", premium="1000000", start_date=d, years=1)
                for p, d in (("A", "2025-03-01"), ("B", "2025-01-01"))]
    claims = premium_subsidy(policies, load_policy()).claims.set_index("policy_id")
    assert claims.loc["B", "amount"] == Decimal("800000.00")  # January first
    assert claims.loc["A", "amount"] == Decimal("200000.00")  # the rest of the 100万
    assert claims.loc["A", "cut_by_annual_cap"] == Decimal("600000.00")


def test_a_premium_just_under_the_rate_cap_is_not_capped() -> None:
    # 3% of 1.30 yuan is 0.039; a premium of 0.03 is below it, so 100% of 0.03 is paid,
    # not 100% of 0.039 (which would round to 0.04)
    rule = PremiumSubsidyRule(share="1", premium_rate_cap="0.03", eligible_fields=("ai",))
    policy = InsurancePolicy(policy_id="P", enterprise_id="E", product_field="ai", insured_amount="1.30",
                             premium="0.03", start_date="2025-01-01", years=1)
    assert premium_subsidy([policy], rule).claims.gross.tolist() == [Decimal("0.03")]


def test_each_policy_uses_the_parameters_in_force_on_its_start(tmp_path) -> None:
    data = two_sets(date(2024, 12, 31), date(2025, 1, 1))
    data["parameter_sets"][1]["parameters"]["insurance_premium"]["share"].update(value="0.50",
                                                                                status="official")
    policy = write(tmp_path, data)
    from subsidy_engine import load_policy as load
    policies = [InsurancePolicy(policy_id=p, enterprise_id=p, product_field="ai", insured_amount="1000000",
                                premium="10000", start_date=d, years=1)
                for p, d in (("old", "2024-12-31"), ("new", "2025-01-01"))]
    claims = premium_subsidy(policies, load(policy)).claims.set_index("policy_id")
    assert claims.loc["old", "gross"] == Decimal("8000.00")
    assert claims.loc["new", "gross"] == Decimal("5000.00")
    assert claims.loc["new", "parameter_set"] == "implementing-rules-2025"


def test_bad_rows_are_reported_and_the_rest_compute() -> None:
    table = pd.DataFrame({
        "policy_id": ["A", "B", "A"], "enterprise_id": ["E", None, "E"],
        "product_field": ["ai", "quantum", "ai"], "insured_amount": ["1000000", "1000000", "1000000"],
        "premium": ["10000", "0.001", "10000"], "start_date": ["2024-01-01"] * 3, "years": ["1", "x", "1"],
    })
    result = premium_subsidy(table, load_policy())
    fields = set(zip(result.rejections.row, result.rejections.field))
    assert {(1, "enterprise_id"), (1, "product_field"), (1, "premium"), (1, "years"), (2, "policy_id")} <= fields
    assert result.claims.policy_id.tolist() == ["A"]


def test_a_float_money_column_is_refused() -> None:
    from subsidy_engine import PortfolioSchemaError

    table = pd.DataFrame({"policy_id": ["A"], "enterprise_id": ["E"], "product_field": ["ai"],
                          "insured_amount": [1e6], "premium": ["1"], "start_date": ["2024-01-01"],
                          "years": [1]})
    with pytest.raises(PortfolioSchemaError, match="binary floats"):
        premium_subsidy(table, load_policy())

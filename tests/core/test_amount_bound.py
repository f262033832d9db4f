"""Every amount of money is at most 1e12 yuan, read from a table or given to a model (core.money.MAX_AMOUNT_YUAN).

Found in the review of issue 17: the bound was checked for a loan's principal (model and table) and for a quote,
but an insured amount, a premium, an investment or an amount raised of 5e15 yuan was read and priced, beyond the
range where the kernels' exact products are proven (``kernels.arithmetic``).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from pydantic import ValidationError

from subsidy_engine.core.money import MAX_AMOUNT_YUAN
from subsidy_engine.measures.grants import Event, read_events
from subsidy_engine.measures.investment import Project, read_projects
from subsidy_engine.measures.premium_subsidy import InsurancePolicy, read_insurance

ABOVE = str(MAX_AMOUNT_YUAN + Decimal("0.01"))
POLICY = {"policy_id": "I1", "enterprise_id": "E1", "product_field": "ai", "insured_amount": "1000000",
          "premium": "1000", "start_date": "2024-01-01", "years": 1}
PROJECT = {"project_id": "P1", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
           "total_investment": "1000000", "eligible_investment": "500000", "start_date": "2024-01-01"}
EVENT = {"event_id": "V1", "kind": "reits_issuance", "enterprise_id": "E1", "date": "2024-01-01",
         "amount_raised": "1000000"}


@pytest.mark.parametrize(("model", "row", "field"), [
    (InsurancePolicy, POLICY, "insured_amount"), (InsurancePolicy, POLICY, "premium"),
    (Project, PROJECT, "total_investment"), (Project, PROJECT, "expected_returns"), (Event, EVENT, "amount_raised"),
])
def test_a_model_refuses_an_amount_above_the_bound(model, row, field: str) -> None:  # noqa: ANN001
    model(**{**row, field: str(MAX_AMOUNT_YUAN)})  # the bound itself is accepted
    with pytest.raises(ValidationError, match="above the supported maximum"):
        model(**{**row, field: ABOVE})


@pytest.mark.parametrize(("reader", "row", "field"), [
    (read_insurance, POLICY, "insured_amount"), (read_insurance, POLICY, "premium"),
    (read_projects, PROJECT, "total_investment"), (read_projects, PROJECT, "eligible_investment"),
    (read_events, EVENT, "amount_raised"),
])
def test_a_table_rejects_an_amount_above_the_bound(reader, row, field: str) -> None:  # noqa: ANN001
    table = pd.DataFrame([row, {**row, field: "5e15"}], dtype=object)
    table.iloc[1, 0] = str(table.iloc[1, 0]) + "b"  # another id
    if field == "eligible_investment":
        table.loc[1, "total_investment"] = "5e15"
    arrays, good, rejections = reader(table)
    assert good.tolist() == [0]
    assert "above the supported maximum" in " ".join(rejections.reason)

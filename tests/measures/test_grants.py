"""REITs (measure 13) and listing (measure 14) grants: kernel == reference, caps, reasons."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import given

from subsidy_engine import Event, event_grants, load_policy
from subsidy_engine.reference.calculators import reference_event_grants

from strategies import event_lists, grant_rules


@given(events=event_lists(), rules=grant_rules())
def test_kernel_equals_reference(events, rules) -> None:
    result = event_grants(events, rules)
    grants, reasons = reference_event_grants(events, lambda e: rules)
    assert dict(zip(result.claims.event_id, result.claims.amount)) == grants
    assert dict(zip(result.not_paid.event_id, result.not_paid.reason)) == reasons
    claims = result.claims
    assert (claims.amount <= claims.gross).all()
    cap = rules.listing.lifetime_cap_per_enterprise
    if cap is not None:
        listing = claims[claims.measure == 14]
        assert (listing.groupby("enterprise_id").amount.sum() <= cap).all()


def listing(event_id: str, venue: str, stage: str, day: str, enterprise: str = "E") -> Event:
    return Event(event_id=event_id, kind="listing", enterprise_id=enterprise, venue=venue, stage=stage,
                 date=day)


def test_tranches_once_each_and_the_lifetime_cap() -> None:
    events = [listing("1", "a_share_ipo", "acceptance", "2024-01-10"),
              listing("2", "a_share_ipo", "acceptance", "2024-02-10"),   # again: nothing
              listing("3", "neeq_select", "acceptance", "2024-03-10"),   # no such tranche
              listing("4", "overseas_direct", "listing", "2024-04-10"),  # 600万, capped at 300万 left
              listing("5", "a_share_ipo", "listing", "2024-05-10")]      # cap used up
    result = event_grants(events, load_policy())
    claims = result.claims.set_index("event_id")
    assert claims.loc["1", "amount"] == Decimal("3000000.00")
    assert claims.loc["4", "amount"] == Decimal("3000000.00")
    assert claims.loc["4", "cut_by_lifetime_cap"] == Decimal("3000000.00")
    assert claims.loc["5", "amount"] == Decimal("0.00")
    assert dict(zip(result.not_paid.event_id, result.not_paid.reason)) == {
        "2": "this stage of this venue was already granted to the enterprise",
        "3": "no tranche for this stage of this venue"}


def test_reits_share_mode_rounds_then_caps() -> None:
    rules = load_policy().sets[0].grant_rules().model_copy(update={"reits": load_policy().sets[0].grant_rules()
                                                                   .reits.model_copy(update={"mode": "share_of_raised"})})
    events = [Event(event_id="small", kind="reits_issuance", enterprise_id="E", date="2024-06-01",
                    amount_raised="300000001"),     # 0.5% = 1,500,000.005 -> 1,500,000.01
              Event(event_id="big", kind="reits_issuance", enterprise_id="E", date="2024-06-01",
                    amount_raised="5000000000"),    # 0.5% = 25,000,000 -> capped at 5,000,000
              Event(event_id="unknown", kind="reits_issuance", enterprise_id="E", date="2024-06-01")]
    result = event_grants(events, rules)
    claims = result.claims.set_index("event_id")
    assert claims.loc["small", "amount"] == Decimal("1500000.01")
    assert claims.loc["big", "amount"] == Decimal("5000000.00")
    assert result.not_paid.reason.tolist() == ["share_of_raised mode needs amount_raised"]


def test_bad_event_rows_are_reported() -> None:
    table = pd.DataFrame({"event_id": ["1", "2", "3"], "kind": ["listing", "ipo", "reits_issuance"],
                          "enterprise_id": ["E", "E", "E"], "venue": [None, None, "a_share_ipo"],
                          "stage": ["listing", None, None], "date": ["2024-01-01", "2024-01-01", "2024-13-01"]})
    report = event_grants(table, load_policy()).rejections
    assert {(0, "venue"), (1, "kind"), (2, "venue, stage"), (2, "date")} <= set(zip(report.row, report.field))

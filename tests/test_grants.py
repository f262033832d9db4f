"""REITs (measure 13) and listing (measure 14) grants: kernel == reference, caps, reasons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from subsidy_engine import Event, GrantRules, event_grants, load_policy
from subsidy_engine.core.vocabulary import STAGES, VENUES
from subsidy_engine.reference.calculators import reference_event_grants

money = st.integers(0, 10**10).map(lambda f: Decimal(f).scaleb(-2))


@st.composite
def grant_rules(draw) -> GrantRules:
    tranches = {v: {s: draw(money) for s in draw(st.sets(st.sampled_from(STAGES)))} for v in VENUES}
    return GrantRules.model_validate({
        "reits": {"mode": draw(st.sampled_from(["flat", "share_of_raised"])), "flat_amount": draw(money),
                  "share_of_raised": Decimal(draw(st.integers(0, 10**8))).scaleb(-10),
                  "share_cap": draw(money)},
        "listing": {"tranches": tranches,
                    "lifetime_cap_per_enterprise": draw(st.one_of(st.none(), money))}})


@st.composite
def event_lists(draw) -> list[Event]:
    events = []
    for k in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["reits_issuance", "listing"]))
        listing = kind == "listing"
        events.append(Event(
            event_id=f"V{k:02d}", kind=kind, enterprise_id=draw(st.sampled_from(["E1", "E2"])),
            venue=draw(st.sampled_from(VENUES)) if listing else None,
            stage=draw(st.sampled_from(STAGES)) if listing else None,
            date=draw(st.dates(date(2024, 1, 1), date(2024, 12, 31))),
            amount_raised=draw(st.one_of(st.none(), st.integers(1, 10**13).map(
                lambda f: Decimal(f).scaleb(-2)))) if not listing else None))
    return events


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

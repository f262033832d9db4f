"""The hypothesis strategies the tests share: loans, rates, portfolios, rules and budgets.

Every property test draws its inputs from here, so a new case (a half-fen tie, an extreme term) added to a
generator reaches every test that uses it. ``examples(n)`` is the number of examples a test asks for under
the ``ci`` profile, deepened by the ``thorough`` one (``HYPOTHESIS_PROFILE=thorough``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from hypothesis import settings
from hypothesis import strategies as st

from subsidy_engine import (
    Budget,
    Event,
    GrantRules,
    InsurancePolicy,
    InterestSubsidyRule,
    InvestmentSubsidyRule,
    Loan,
    PremiumSubsidyRule,
    Project,
)
from subsidy_engine.core.vocabulary import LIST_FLAGS, RULE_FLAGS, STAGES, VENUES, ProductField


def days_between(first: date, last: date) -> st.SearchStrategy[date]:
    return st.integers(0, (last - first).days).map(lambda k: first + timedelta(days=k))

YEARS = (2026, 2027, 2028)

RATES = {"pilot": "0.30", "demonstration": "0.20", "promotion": "0.10"}

SECTORS = ("a", "b")

FIELDS = [f.value for f in ProductField]

ENTERPRISES = ("E1", "E2", "E3")

DISTRICTS = ("x", "y")

# Rates whose monthly or day-count products often land exactly on half a fen.
TIE_RATES = [Decimal(x) for x in ("0.06", "0.12", "0.048", "0.036", "0.072", "0.0365", "0.0036",
                                  "0.08075", "0")]

def budget_of(sources: list[dict], tiers: list[dict] | None = None, years: tuple[int, int] = (2026, 2028),
              merit_points: dict[str, str] | None = None) -> Budget:
    return Budget.of({"id": "test", "status": "inferred", "basis": "test", "years": list(years),
                      "priority_tiers": tiers if tiers is not None else [{"in_library": True}], "sources": sources,
                      **({"merit_points": merit_points} if merit_points else {})})


#: The ``ci`` profile's examples per property (conftest.py); a test that asks for fewer names its own number.
CI_EXAMPLES = 150


def examples(n: int) -> int:
    """``n`` examples under the ``ci`` profile, as many more under another as that profile has more than ``ci``:
    an explicit number (for a test whose every example is slow) still deepens under ``thorough``."""
    return max(1, n * settings().max_examples // CI_EXAMPLES)


# from conftest
@st.composite
def rates(draw) -> Decimal:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.sampled_from(TIE_RATES))
    if kind == 1:  # basis points, the usual contract form
        return Decimal(draw(st.integers(0, 2400))) / 10000
    return Decimal(draw(st.integers(0, 24 * 10**8))).scaleb(-10)  # full 1e-10 precision

@st.composite
def principals(draw) -> Decimal:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        fen = draw(st.integers(1, 10**4))  # 0.01 to 100 yuan
    elif kind == 1:
        fen = draw(st.integers(10**4, 10**11))
    elif kind == 2:
        fen = draw(st.integers(10**11, 10**13))  # up to 1e11 yuan
    else:
        fen = 200 * draw(st.integers(1, 10**9)) + 100  # B x 0.5% is x.5 fen
    return Decimal(fen).scaleb(-2)

@st.composite
def loans(draw, floating: bool | None = None) -> Loan:
    frequency = draw(st.sampled_from(["monthly", "quarterly"]))
    months = 1 if frequency == "monthly" else 3
    periods = draw(st.one_of(st.integers(1, 24), st.integers(1, 600 // months),
                             st.sampled_from([1, 2, 600 // months])))
    method = draw(st.sampled_from(["equal_installment", "equal_principal", "interest_only", "custom"]))
    grace = 0
    if method != "custom" and periods > 1 and draw(st.booleans()):
        grace = draw(st.integers(0, periods - 1)) * months
    is_floating = draw(st.booleans()) if floating is None else floating
    start = draw(st.dates(date(2019, 8, 20) if is_floating else date(2000, 1, 1), date(2026, 6, 19)))
    fields: dict[str, object] = dict(
        principal=draw(principals()), term_months=periods * months, frequency=frequency,
        method=method, grace_months=grace, start_date=start,
        interest_basis=draw(st.sampled_from([None, "monthly", "act_360", "act_365", "30_360"])),
        settlement_day=draw(st.one_of(st.none(), st.integers(1, 31))),
    )
    if is_floating:
        fields["floating"] = {"tenor": draw(st.sampled_from(["1Y", "5Y"])),
                              "spread_bp": Decimal(draw(st.integers(-80, 300))),
                              "reset": draw(st.sampled_from(["january", "anniversary"]))}
    else:
        fields["annual_rate"] = draw(rates())
    if method == "custom":
        fen = int(fields["principal"] * 100)  # type: ignore[operator]
        if draw(st.booleans()):
            cuts = sorted(draw(st.lists(st.integers(0, fen), min_size=periods - 1, max_size=periods - 1)))
            bounds = [0, *cuts, fen]
            fields["principal_plan"] = [Decimal(b - a).scaleb(-2) for a, b in zip(bounds, bounds[1:])]
        else:
            weights = draw(st.lists(st.integers(0, 1000), min_size=periods, max_size=periods))
            if sum(weights) == 0:
                weights[-1] = 1
            total = sum(weights)
            # fractions that add up to exactly 1: w / total where that terminates
            fractions = [Decimal(w) / Decimal(total) for w in weights]
            if sum(map(Fraction, fractions)) != 1:
                fractions = [Decimal(0)] * (periods - 1) + [Decimal(1)]
            fields["principal_plan"] = fractions
            fields["principal_plan_unit"] = "fraction"
    return Loan(**fields)


@st.composite
def loans_with_events(draw, floating: bool | None = None) -> Loan:
    """A loan of :func:`loans` drawn in tranches and prepaid (issue 18): dates anywhere in its life, on its due
    dates too, and prepayments that may exceed the balance (then both paths must refuse the loan)."""
    from subsidy_engine.core.dates import day_date
    from subsidy_engine.loans.contract import maturity_day

    base = draw(loans(floating=floating).filter(lambda x: x.method.value != "custom"))
    start, maturity = base.start_date, day_date(maturity_day(base.start_date, base.term_months, base.due_day))
    if (maturity - start).days < 3:
        return base
    due = [d for d in (date.fromordinal(o) for o in range(start.toordinal() + 1, min(maturity.toordinal(),
                                                                                      start.toordinal() + 800)))
           if d.day == min(base.due_day, 28) or d.day == base.due_day]
    some_day = st.one_of(st.sampled_from(due) if due else st.nothing(), days_between(start + timedelta(1),
                                                                                      maturity - timedelta(1)))
    tranche_days = sorted(set(draw(st.lists(some_day, max_size=3))))
    total = int(base.principal * 100)
    cuts = sorted(draw(st.lists(st.integers(1, max(total - 1, 1)), min_size=len(tranche_days),
                                max_size=len(tranche_days), unique=True))) if total > len(tranche_days) else []
    if len(cuts) != len(tranche_days):
        tranche_days = []
    bounds = [0, *cuts, total]
    amounts = [Decimal(b - a).scaleb(-2) for a, b in zip(bounds, bounds[1:])]
    drawdowns = [{"date": start, "amount": amounts[0]}] + [
        {"date": d, "amount": a} for d, a in zip(tranche_days, amounts[1:])]
    prepay_days = sorted(set(draw(st.lists(some_day, max_size=3))))
    prepayments = [{"date": d, "amount": Decimal(draw(st.integers(1, max(total // draw(st.sampled_from([3, 10, 100])),
                                                                       1)))).scaleb(-2),
                    "recompute": draw(st.sampled_from(["payment", "term"]))} for d in prepay_days]
    fields = base.model_dump(exclude={"principal", "drawdowns", "prepayments"})
    return Loan(**fields, drawdowns=drawdowns, prepayments=prepayments)


# from test_allocation
# equal small amounts against small caps make remainder ties and binding later years common
claim_amounts = st.one_of(st.sampled_from([1, 3, 100, 200, 300, 1000]), st.integers(0, 2_000), st.integers(0, 10**13),
                    st.sampled_from([50, 150, 250, 10**12 + 50])).map(lambda fen: Decimal(fen) / 100)

@st.composite
def claims_tables(draw: st.DrawFn, max_items: int = 10, single_year: bool = False) -> pd.DataFrame:
    rows = []
    for k in range(draw(st.integers(1, max_items))):
        instrument = draw(st.sampled_from(["interest_subsidy", "premium_subsidy", "listing_grant"]))
        first = draw(st.sampled_from(YEARS))
        span = 1 if single_year else draw(st.integers(1, YEARS[-1] - first + 1))
        project = draw(st.sampled_from(["P0", "P1", "P2", "P3", None]))
        attributes = {"project_id": project, "enterprise_id": draw(st.sampled_from(["E0", "E1", "E2"])),
                      "sector": draw(st.sampled_from(SECTORS)), "district": draw(st.sampled_from(DISTRICTS + (None,))),
                      "industry_or_software": draw(st.booleans()), "in_library": draw(st.booleans()),
                      **{flag: draw(st.booleans()) for flag in LIST_FLAGS},
                      "merit_score": draw(st.sampled_from([None, Decimal("70.00"), Decimal("85.50"), Decimal("99")]))}
        measure = {"interest_subsidy": 15, "premium_subsidy": 7, "listing_grant": 14}[instrument]
        for year in range(first, first + span):
            row = {"claim_id": f"{instrument}:I{k}:{year}", "instrument": instrument, "item_id": f"I{k}",
                   "measure": measure, "year": year, "amount": draw(claim_amounts), **attributes}
            if year > first and draw(st.integers(0, 4)) == 0:  # a caller's table may change them between years
                row["project_id"] = draw(st.sampled_from(["P0", "P1", None]))
                row["enterprise_id"] = draw(st.sampled_from(["E0", "E1"]))
            rows.append(row)
    return pd.DataFrame(rows)

cap_amounts = st.one_of(st.sampled_from([0, 1, 100, 250, 500, 2000]), st.integers(0, 3_000),
                st.integers(0, 2 * 10**13)).map(
    lambda fen: str(Decimal(fen) / 100))

@st.composite
def eligibility(draw: st.DrawFn) -> dict:
    rule: dict = {}
    if draw(st.booleans()):
        rule["industry_or_software"] = draw(st.booleans())
    if draw(st.booleans()):
        rule["sectors"] = draw(st.lists(st.sampled_from(SECTORS), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        rule["measures"] = draw(st.lists(st.sampled_from([7, 14, 15]), min_size=1, max_size=3, unique=True))
    if draw(st.integers(0, 3)) == 0:
        rule[draw(st.sampled_from(LIST_FLAGS))] = draw(st.booleans())
    return rule

@st.composite
def budgets(draw: st.DrawFn, binding_eligibility: bool = True, group_caps: bool = True,
            district: bool = True) -> Budget:
    sources = []
    for k in range(draw(st.integers(1, 4))):
        level = draw(st.sampled_from(["municipal", "district"])) if district else "municipal"
        source: dict = {"id": f"S{k}", "level": level,
                        "caps": {y: draw(cap_amounts) for y in YEARS} if draw(st.booleans()) else draw(cap_amounts),
                        "carry_over": draw(st.booleans())}
        if level == "district":
            source["matching_share"] = draw(st.sampled_from(["1", "0.5", "0.3333333333", "2"]))
            if binding_eligibility and draw(st.booleans()):
                source["eligible"] = {"districts": draw(st.lists(st.sampled_from(DISTRICTS), min_size=1,
                                                                 unique=True))}
        elif binding_eligibility:
            source["eligible"] = draw(eligibility())
        if group_caps and draw(st.integers(0, 3)) == 0:
            source["per_project_cap"] = draw(cap_amounts)
        if group_caps and draw(st.integers(0, 3)) == 0:
            source["per_enterprise_cap"] = draw(cap_amounts)
        sources.append(source)
    tiers = draw(st.sampled_from([[], [{"in_library": True}], [{"measures": [15]}, {"in_library": True}],
                                  [{"demonstration_case": True}, {"solution_list": True, "in_library": True}]]))
    # merit points that reorder the scores drawn (70, 85.50, 99) and make ties
    points = draw(st.dictionaries(st.sampled_from(RULE_FLAGS), st.sampled_from(["0", "14.50", "15", "29", "0.01"]),
                                  max_size=3))
    return budget_of(sources, tiers, merit_points=points)


# from test_evaluate
@st.composite
def portfolios(draw) -> tuple[dict[str, list[dict[str, object]]], list[Project], list, list, list]:
    """Small portfolios whose amounts make every cap bind now and then."""
    n_projects = draw(st.integers(1, 4))
    projects, loans, insurance, events = [], [], [], []
    for k in range(n_projects):
        total = draw(st.integers(10**6, 2 * 10**9))
        quasi = draw(st.booleans()) and draw(st.booleans())
        projects.append({
            "project_id": f"P{k}", "enterprise_id": draw(st.sampled_from(ENTERPRISES)),
            "sector": draw(st.sampled_from([None, "ai", "5g_network"])),
            "district": draw(st.sampled_from([None, "haidian", "daxing"])),
            "industry_or_software": draw(st.booleans()),
            "domain": draw(st.sampled_from(["public", "economic"])),
            "stage": draw(st.sampled_from(list(RATES))),
            "platform_type": "quasi_operating" if quasi else "none", "free_service_obligation": quasi,
            "total_investment": str(total),
            "eligible_investment": str(draw(st.integers(0, total))),
            "expected_returns": str(total // 2) if quasi else None,
            "start_date": draw(days_between(date(2022, 1, 1), date(2025, 12, 31))).isoformat()})
    for k in range(draw(st.integers(0, 5))):
        loans.append({
            "loan_id": f"L{k}", "project_id": f"P{draw(st.integers(0, n_projects - 1))}",
            "principal": str(draw(st.integers(10**5, 3 * 10**9))),
            "annual_rate": str(Decimal(draw(st.integers(0, 600))) / 10000),
            "term_months": draw(st.integers(6, 120)),
            "method": draw(st.sampled_from(["equal_installment", "equal_principal", "interest_only"])),
            "start_date": draw(days_between(date(2022, 1, 1), date(2025, 12, 31))).isoformat()})
    for k in range(draw(st.integers(0, 3))):
        project = draw(st.integers(0, n_projects - 1))
        insured = draw(st.integers(10**6, 10**9))
        insurance.append({
            "policy_id": f"I{k}", "enterprise_id": projects[project]["enterprise_id"],
            "project_id": f"P{project}", "product_field": draw(st.sampled_from(["ai", "blockchain", "other"])),
            "insured_amount": str(insured), "premium": str(draw(st.integers(1, insured // 10))),
            "start_date": draw(days_between(date(2022, 1, 1), date(2025, 12, 31))).isoformat(),
            "years": draw(st.integers(1, 4))})
    for k in range(draw(st.integers(0, 3))):
        reits = draw(st.booleans())
        project = draw(st.sampled_from([None, *range(n_projects)]))
        events.append({
            "event_id": f"V{k}", "kind": "reits_issuance" if reits else "listing",
            "enterprise_id": (projects[project]["enterprise_id"] if project is not None
                              else draw(st.sampled_from([*ENTERPRISES, "E9"]))),
            "project_id": None if project is None else f"P{project}",
            "venue": None if reits else draw(st.sampled_from(["a_share_ipo", "neeq_select", "overseas_direct"])),
            "stage": None if reits else draw(st.sampled_from(["acceptance", "listing"])),
            "date": draw(days_between(date(2022, 1, 1), date(2025, 12, 31))).isoformat(), "amount_raised": None})
    awards = []
    for k in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["reward", "research_funding", "other"]))
        project = draw(st.sampled_from([None, *range(n_projects)]))
        decided = draw(days_between(date(2022, 1, 1), date(2025, 12, 31)))
        awards.append({
            "award_id": f"A{k}", "kind": kind,
            "enterprise_id": (projects[project]["enterprise_id"] if project is not None
                              else draw(st.sampled_from([*ENTERPRISES, "E9"]))),
            "project_id": None if project is None else f"P{project}",
            "measure": draw(st.sampled_from([4, 9, 15])) if kind == "other" else None,
            # whole fen, at least one a year of the plan, with remainders when split in 2 or 3
            "amount": str(Decimal(draw(st.one_of(st.integers(3, 10**11), st.sampled_from([3, 4, 5, 100, 10**10 + 1]))))
                          / 100),
            "decision_date": decided.isoformat(),
            "first_payment_year": draw(st.sampled_from([None, decided.year, decided.year + 1])),
            "payment_years": draw(st.sampled_from([None, 1, 2, 3]))})
    return {"projects": projects, "loans": loans, "insurance": insurance, "events": events, "awards": awards}


# from test_grants
money_amounts = st.integers(0, 10**10).map(lambda f: Decimal(f).scaleb(-2))

@st.composite
def grant_rules(draw) -> GrantRules:
    tranches = {v: {s: draw(money_amounts) for s in draw(st.sets(st.sampled_from(STAGES)))} for v in VENUES}
    return GrantRules.model_validate({
        "reits": {"mode": draw(st.sampled_from(["flat", "share_of_raised"])), "flat_amount": draw(money_amounts),
                  "share_of_raised": Decimal(draw(st.integers(0, 10**8))).scaleb(-10),
                  "share_cap": draw(money_amounts)},
        "listing": {"tranches": tranches,
                    "lifetime_cap_per_enterprise": draw(st.one_of(st.none(), money_amounts))}})

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


# from test_insurance
@st.composite
def insurance_portfolios(draw) -> list[InsurancePolicy]:
    count = draw(st.integers(1, 10))
    return [InsurancePolicy(
        policy_id=f"P{k:02d}", enterprise_id=draw(st.sampled_from(["E1", "E2", "E3"])),
        product_field=draw(st.sampled_from(FIELDS)),
        insured_amount=Decimal(draw(st.integers(1, 10**12))).scaleb(-2),
        premium=Decimal(draw(st.one_of(st.integers(1, 10**10), st.sampled_from([1, 5, 250])))).scaleb(-2),
        # within two years, so that an enterprise often has several policy-years in one year
        start_date=draw(st.dates(date(2024, 1, 1), date(2025, 12, 31))),
        years=draw(st.integers(1, 6))) for k in range(count)]

@st.composite
def premium_rules(draw) -> PremiumSubsidyRule:
    micro = st.integers(0, 10**6).map(lambda v: Decimal(v).scaleb(-6))
    return PremiumSubsidyRule(
        share=draw(st.one_of(micro, st.sampled_from([Decimal("0.8"), Decimal("0.5")]))),
        premium_rate_cap=draw(st.one_of(st.none(), micro)),
        annual_cap_per_enterprise=draw(st.one_of(st.none(), st.integers(0, 10**9).map(
            lambda f: Decimal(f).scaleb(-2)))),
        max_years=draw(st.one_of(st.none(), st.integers(1, 4))),
        eligible_fields=tuple(draw(st.sets(st.sampled_from(FIELDS), min_size=1))))


# from test_interest_subsidy
@st.composite
def interest_rules(draw) -> InterestSubsidyRule:
    form = draw(st.sampled_from(["points_on_balance", "points_on_principal", "share_of_interest",
                                 "rate_gap"]))
    parameter = {"points_on_balance": "points", "points_on_principal": "points",
                 "share_of_interest": "share", "rate_gap": "benchmark_rate"}[form]
    value = draw(rates()) if parameter != "share" else Decimal(draw(st.integers(0, 1000))) / 1000
    caps = st.one_of(st.none(), st.integers(0, 10**12).map(lambda f: Decimal(f).scaleb(-2)))
    return InterestSubsidyRule(
        form=form, **{parameter: value},
        start_date=draw(st.one_of(st.none(), st.dates(date(1999, 6, 1), date(2030, 12, 31)))),
        max_years=draw(st.one_of(st.none(), st.integers(1, 6))),
        annual_cap=draw(caps), lifetime_cap=draw(caps))


# from test_investment
fen_amounts = st.integers(0, 10**12)

@st.composite
def projects(draw) -> list[Project]:
    out = []
    for k in range(draw(st.integers(1, 10))):
        total = draw(st.integers(1, 10**12))
        out.append(Project(
            project_id=f"J{k}", enterprise_id="E", domain=draw(st.sampled_from(["public", "economic"])),
            stage=draw(st.sampled_from(list(RATES))), in_library=draw(st.booleans()),
            platform_type=draw(st.sampled_from(["none", "non_profit", "quasi_operating"])),
            free_service_obligation=draw(st.booleans()),
            category=draw(st.sampled_from(["compute_or_network", "other"])),
            total_investment=Decimal(total).scaleb(-2),
            eligible_investment=Decimal(draw(st.integers(0, total))).scaleb(-2),
            expected_returns=draw(st.one_of(st.none(), fen_amounts.map(lambda f: Decimal(f).scaleb(-2)))),
            start_date="2024-01-01"))
    return out

@st.composite
def investment_rules(draw) -> InvestmentSubsidyRule:
    rate = st.integers(0, 10**10).map(lambda u: Decimal(u).scaleb(-10))
    money = st.one_of(st.none(), fen_amounts.map(lambda f: Decimal(f).scaleb(-2)))
    return InvestmentSubsidyRule(
        rate_by_stage={s: draw(rate) for s in RATES},
        ceiling_share_of_total_investment=draw(st.one_of(st.none(), rate)),
        per_project_cap=draw(money), per_project_cap_compute_or_network=draw(money))


# from test_kernel_equals_reference
@st.composite
def shared_caps(draw) -> tuple[list[int], list[list[int]], list[list[int]], int]:
    """Rows in paying order under up to three caps, groups shared across rows, caps small enough to bind."""
    n, k, n_groups = draw(st.integers(0, 40)), draw(st.integers(1, 3)), draw(st.integers(1, 6))
    amounts = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
    groups = [[draw(st.integers(-1, n_groups - 1)) for _ in range(k)] for _ in range(n)]
    caps = [[draw(st.sampled_from([-1, 0, 5, 30, 120])) for _ in range(k)] for _ in range(n)]
    return amounts, groups, caps, n_groups

"""allocate(): budgets, the three modes, their invariants, and the kernel against the plain reference."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_engine import Budget, BudgetError, allocate, evaluate, load_budget
from subsidy_engine.core.vocabulary import RULE_FLAGS
from subsidy_engine.reference.allocation import reference_allocate
from subsidy_engine.simulation.synthetic import portfolio

from builders import check_invariants, claims, fen
from strategies import YEARS, budget_of, budgets, claims_tables, examples


def as_dicts(table: pd.DataFrame) -> list[dict]:
    out = []
    for row in table.to_dict("records"):
        row = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v) for k, v in row.items()}
        row["item"] = f"{row['instrument']}:{row['item_id']}"
        row["amount"] = Decimal(row["amount"])
        out.append(row)
    return out






def awards_key(result) -> dict:  # noqa: ANN001
    a = result.awards
    return {(c, lv, s): int(Decimal(v) * 100) for c, lv, s, v in zip(a.claim_id, a.level.astype(str),
                                                                       a.source_id, a.awarded)
            if s is not None and not pd.isna(s) and Decimal(v) > 0}


PROPERTY = settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(table=claims_tables(), budget=budgets(), mode=st.sampled_from(["waterfall", "merit"]))
def test_kernel_equals_reference(table: pd.DataFrame, budget: Budget, mode: str) -> None:
    result = allocate(table, budget, mode)
    awards, booked = reference_allocate(as_dicts(table), budget, mode)
    assert awards_key(result) == {k: v for k, v in awards.items() if v > 0}
    spent = dict(zip(zip(result.by_source.source_id, result.by_source.year), fen(result.by_source.awarded)))
    assert {k: v for k, v in spent.items() if v} == {k: v for k, v in booked.items() if v}


@PROPERTY
@given(table=claims_tables(), budget=budgets(), points=st.dictionaries(
    st.sampled_from(RULE_FLAGS), st.sampled_from(["0.01", "14.50", "15", "29"]), min_size=1, max_size=3))
def test_merit_with_points_equals_the_reference(table: pd.DataFrame, budget: Budget, points: dict[str, str]) -> None:
    budget = Budget.of({**budget.file.model_dump(mode="json"), "merit_points": points})
    result = allocate(table, budget, "merit")
    awards, _ = reference_allocate(as_dicts(table), budget, "merit")
    assert awards_key(result) == {k: v for k, v in awards.items() if v > 0}


@PROPERTY
@given(table=claims_tables(), budget=budgets(), mode=st.sampled_from(["waterfall", "merit", "optimal"]),
       seed=st.integers(0, 2**32 - 1))
def test_invariants_determinism_and_shuffling(table: pd.DataFrame, budget: Budget, mode: str, seed: int) -> None:
    result = allocate(table, budget, mode)
    check_invariants(result, table, budget)
    again = allocate(table, budget, mode)
    pd.testing.assert_frame_equal(result.awards, again.awards)
    pd.testing.assert_frame_equal(result.by_source, again.by_source)
    shuffled = allocate(table.sample(frac=1, random_state=seed).reset_index(drop=True), budget, mode)
    pd.testing.assert_frame_equal(result.awards, shuffled.awards)
    pd.testing.assert_frame_equal(result.unfunded, shuffled.unfunded)


@PROPERTY
@given(table=claims_tables(single_year=True), budget=budgets(binding_eligibility=False, group_caps=False,
                                                              district=False))
def test_waterfall_pays_the_smaller_of_money_and_claims(table: pd.DataFrame, budget: Budget) -> None:
    """When eligibility does not bind (single-year claims), each year pays min(money available, claims)."""
    result = allocate(table, budget, "waterfall")
    by_year = result.by_source.assign(v=fen(result.by_source.available), a=fen(result.by_source.awarded))
    claims = table.assign(f=fen(table.amount)).groupby("year")["f"].sum()
    for year, group in by_year.groupby("year"):
        assert group.a.sum() == min(group.v.sum(), claims.get(year, 0))
    # single-year claims, no group cap: a source's money ran short exactly when more was asked of it than it had
    asked = fen(result.by_source.asked)
    assert (result.by_source.cap_exceeded.to_numpy(bool) == (asked > by_year.v.to_numpy())).all()
    if table.year.nunique() == 1 and not any(s.carry_over for s in budget.sources):
        year = int(table.year.iloc[0])
        total_cap = sum(int(budget.cap(s, year) * 100) for s in budget.sources)
        assert fen(result.awards.awarded).sum() == min(total_cap, fen(table.amount).sum())


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=claims_tables(), budget=budgets(group_caps=False))
def test_optimal_funds_at_least_the_waterfall(table: pd.DataFrame, budget: Budget) -> None:
    """The LP's total is the largest: the waterfall's plan is one it could choose (up to rounding fen).

    Not with per-group caps: the waterfall takes them in priority order, which is no uniform share."""
    waterfall = fen(allocate(table, budget, "waterfall").awards.awarded).sum()
    optimal = allocate(table, budget, "optimal")
    slack = 3 * len(optimal.awards) + 2 * len(budget.sources) * len(YEARS)
    assert fen(optimal.awards.awarded).sum() >= waterfall - slack


# --- worked examples --------------------------------------------------------------------------------------



def test_waterfall_tiers_then_pro_rata_by_largest_remainder() -> None:
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "100.00"}])
    table = claims([("lib", 15, 2026, "40.00", True, None), ("a", 15, 2026, "50.00", False, None),
                    ("b", 15, 2026, "50.00", False, None), ("c", 15, 2026, "50.00", False, None)])
    result = allocate(table, budget, "waterfall")
    awarded = dict(zip(result.awards.claim_id, result.awards.awarded))
    # library first in full; 60.00 over three equal claims of 50.00: 20.00 each
    assert awarded == {"lib": Decimal("40.00"), "a": Decimal("20.00"), "b": Decimal("20.00"), "c": Decimal("20.00")}
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "60.02"}])
    result = allocate(table, budget, "waterfall")
    awarded = dict(zip(result.awards.claim_id, result.awards.awarded))
    # 20.02 over three: 6.67 each and 0.01 left over, to the earliest of three equal remainders ("a")
    assert [awarded[k] for k in ("a", "b", "c")] == [Decimal("6.68"), Decimal("6.67"), Decimal("6.67")]
    assert "pro rata within tier 'others'" in result.unfunded.reason.iloc[0]


def test_merit_funds_by_score_then_library() -> None:
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "100.00"}])
    table = claims([("low", 15, 2026, "60.00", True, "70"), ("high", 15, 2026, "60.00", False, "90"),
                    ("tie_lib", 15, 2026, "30.00", True, "80"), ("tie", 15, 2026, "30.00", False, "80"),
                    ("none", 15, 2026, "10.00", True, None)])
    awarded = dict(zip(*[allocate(table, budget, "merit").awards[c] for c in ("claim_id", "awarded")]))
    assert awarded == {"high": Decimal("60.00"), "tie_lib": Decimal("30.00"), "tie": Decimal("10.00"),
                       "low": Decimal("0.00"), "none": Decimal("0.00")}


def test_commitments_shrink_later_years_and_money_carries_over() -> None:
    """A 2-year item approved in 2026 is committed for 2027 at the 2026 share; 2026's rest carries."""
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": {2026: "100.00", 2027: "100.00",
                                                                      2028: "100.00"}, "carry_over": True}], tiers=[])
    table = pd.DataFrame({"claim_id": ["loan:L1:2026", "loan:L1:2027", "grant:G1:2027", "grant:G2:2026"],
                          "instrument": ["interest_subsidy", "interest_subsidy", "listing_grant", "listing_grant"],
                          "item_id": ["L1", "L1", "G1", "G2"], "measure": [15, 15, 14, 14],
                          "year": [2026, 2027, 2027, 2026], "amount": ["40.00", "80.00", "100.00", "10.00"]})
    result = allocate(table, budget, "waterfall")
    awarded = dict(zip(result.awards.claim_id, result.awards.awarded))
    assert awarded["loan:L1:2026"] == Decimal("40.00") and awarded["loan:L1:2027"] == Decimal("80.00")
    by = result.by_source.set_index("year")
    assert by.loc[2026, "remaining"] == Decimal("50.00") and by.loc[2027, "carried_in"] == Decimal("50.00")
    assert by.loc[2027, "committed"] == Decimal("80.00")
    # 2027: 100 cap + 50 carried - 80 committed = 70 for G1
    assert awarded["grant:G1:2027"] == Decimal("70.00")
    assert by.loc[2027, "remaining"] == Decimal("0.00") and by.loc[2028, "carried_in"] == Decimal("0.00")
    # without carry-over, a commitment larger than a later year's money sets the share: 2027 binds
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": {2026: "100.00", 2027: "40.00",
                                                                      2028: "0"}}], tiers=[])
    awarded = dict(zip(*[allocate(table, budget, "waterfall").awards[c] for c in ("claim_id", "awarded")]))
    assert (awarded["loan:L1:2026"], awarded["loan:L1:2027"]) == (Decimal("20.00"), Decimal("40.00"))
    assert awarded["grant:G1:2027"] == Decimal("0.00")


def test_district_matching_splits_to_the_fen_and_passes_the_rest_on() -> None:
    budget = budget_of([{"id": "city", "level": "municipal", "caps": "1000"},
                        {"id": "district_x", "level": "district", "eligible": {"districts": ["x"]},
                         "matching_share": "1", "caps": "0.02"},
                        {"id": "district_reserve", "level": "district", "matching_share": "0.5", "caps": "1000"}],
                       tiers=[])
    table = pd.DataFrame({"claim_id": ["c"], "measure": [15], "year": [2026], "amount": ["0.05"], "district": ["x"]})
    awards = allocate(table, budget, "waterfall").awards
    got = {(lv, s): (c, a) for lv, s, c, a in zip(awards.level.astype(str), awards.source_id, awards.claimed,
                                                   awards.awarded)}
    # 0.05 split 1:1 -> 0.03 municipal (the tie's fen), 0.02 district; district_x pays 0.02 in full
    assert got[("municipal", "city")] == (Decimal("0.03"), Decimal("0.03"))
    assert got[("district", "district_x")] == (Decimal("0.02"), Decimal("0.02"))
    table["amount"] = "0.09"
    awards = allocate(table, budget, "waterfall").awards
    rows = awards[awards.level == "district"]
    assert rows.source_id.tolist() == ["district_x", "district_reserve"]
    assert rows.awarded.tolist() == [Decimal("0.02"), Decimal("0.02")]  # 0.04 asked; x pays 0.02, the rest passes
    assert "the rest passed to district_reserve" in rows.reason.iloc[0]


def test_optimal_shares_a_tight_source_evenly() -> None:
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "300.00"}], tiers=[])
    table = claims([("a", 15, 2026, "100.00", False, None), ("b", 15, 2026, "200.00", False, None),
                    ("c", 15, 2026, "300.00", False, None)])
    result = allocate(table, budget, "optimal")
    awarded = dict(zip(result.awards.claim_id, result.awards.awarded))
    assert sum(awarded.values()) == Decimal("300.00")
    assert awarded == {"a": Decimal("50.00"), "b": Decimal("100.00"), "c": Decimal("150.00")}


# --- the demo budget, evaluate's claims, bad input ---------------------------------------------------------

def test_demo_budget_allocates_evaluated_claims() -> None:
    claims_ = evaluate(portfolio(400, seed=3), years=range(2026, 2031))
    # the attributes that funding rules read are those of each claim's project
    projects = claims_.portfolio.projects.set_index("project_id")
    with_project = claims_.table.project_id.notna().to_numpy()
    sector = projects.loc[claims_.table.project_id[with_project], "sector"].astype(str).to_numpy()
    assert (claims_.attributes.sector[with_project].astype(str).to_numpy() == sector).all()
    budget = load_budget()
    for mode in ("waterfall", "merit", "optimal"):
        result = allocate(claims_, budget, mode)
        check_invariants(result, claims_.table.assign(
            amount=claims_.table.amount.astype(str)), budget)
        # evaluate's funding_sources name the sources the demo budget pays from
        paid = result.awards[result.awards.awarded > 0]
        sources = dict(zip(claims_.table.claim_id, claims_.table.funding_sources.astype(str)))
        assert all(s in sources[c].split("|") for c, s in zip(paid.claim_id, paid.source_id))
    assert result.provenance.parameters_sha256 != allocate(claims_, budget, "merit").provenance.parameters_sha256


def test_claims_outside_the_budget_years_are_an_error() -> None:
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "1"}])
    with pytest.raises(BudgetError, match=r"years \[2031\] are outside budget test's years 2026-2028"):
        allocate(claims([("a", 15, 2031, "1.00", False, None)]), budget)


def test_bad_claims_name_row_and_field() -> None:
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "1"}])
    table = claims([("a", 15, 2026, "-1.00", False, None), ("a", 15, 2026, "1.001", False, None)])
    with pytest.raises(BudgetError) as error:
        allocate(table, budget)
    message = str(error.value)
    assert "row 0 ('a'): amount must not be negative" in message
    assert "row 1 ('a'): claim_id is a duplicate" in message
    with pytest.raises(BudgetError, match=r"missing columns \['in_library', 'sector'\]"):
        allocate(table.drop(columns="in_library"),
                 budget_of([{"id": "fund", "level": "municipal", "caps": "1", "eligible": {"sectors": ["a"]}}]))
    with pytest.raises(BudgetError, match=r"row 0 \('a'\): amount is above the supported maximum of 1"):
        allocate(claims([("a", 15, 2026, "100000000000000.00", False, None)]), budget)  # one claim: 1e12 at most
    with pytest.raises(BudgetError, match="beyond the engine's exact range"):  # 100 of them: 1e14 in total
        allocate(claims([(f"c{k}", 15, 2026, "1000000000000.00", False, None) for k in range(100)]), budget)
    with pytest.raises(ValueError, match="mode 'fair' is not one of"):
        allocate(table, budget, "fair")  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "message"), [
    ({"sources": [{"id": "f", "level": "municipal", "caps": 1.5}]}, "must be written as a string|floats"),
    ({"sources": [{"id": "f", "level": "municipal", "caps": "1", "colour": "red"}]}, "colour: Extra inputs"),
    ({"sources": [{"id": "f", "level": "municipal", "caps": "1"}] * 2}, "duplicate of an earlier source's id"),
    ({"sources": [{"id": "f", "level": "municipal", "caps": {2026: "1"}}]}, r"missing \[2027, 2028\]"),
    ({"sources": [{"id": "f", "level": "district", "caps": "1"}]}, "needs matching_share"),
    ({"sources": [{"id": "f", "level": "municipal", "caps": "1", "matching_share": "1"}]}, "for district sources"),
    ({"sources": [{"id": "f", "level": "city", "caps": "1"}]}, "level"),
    ({"years": [2028, 2026]}, "first <= last"),
])
def test_budget_validation_names_the_problem(change: dict, message: str) -> None:
    data = {"id": "b", "status": "inferred", "basis": "test", "years": [2026, 2028],
            "sources": [{"id": "f", "level": "municipal", "caps": "1"}], **change}
    with pytest.raises(BudgetError, match=message):
        Budget.of(data)


def test_load_budget_reports_the_file(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "budget.yaml"
    bad.write_text("id: b\nstatus: inferred\nbasis: x\nyears: [2026, 2026]\nsources: []\n")
    with pytest.raises(BudgetError, match=r"budget.yaml: sources: .*at least 1"):
        load_budget(bad)


# --- found in review ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["waterfall", "merit", "optimal"])
def test_group_caps_count_each_rows_own_project(mode: str) -> None:
    """An item whose project differs by year (a caller's table) counts each year under that year's project."""
    budget = budget_of([{"id": "f", "level": "municipal", "caps": "1000", "per_project_cap": "10"}], tiers=[])
    table = pd.DataFrame({"claim_id": ["L:2026", "L:2027", "H:2027"],
                          "instrument": ["interest_subsidy", "interest_subsidy", "listing_grant"],
                          "item_id": ["L", "L", "H"], "measure": [15, 15, 14], "year": [2026, 2027, 2027],
                          "amount": ["10.00"] * 3, "project_id": ["P0", "P1", "P1"], "merit_score": ["1"] * 3,
                          "in_library": [False] * 3})
    result = allocate(table, budget, mode)
    check_invariants(result, table, budget)
    assert result.awards[result.awards.year == 2027].awarded.sum() == Decimal("10.00")


def test_caps_and_flags_are_checked() -> None:
    for bad in ({"caps": "-5"}, {"caps": "1", "per_project_cap": "-3"}):
        with pytest.raises(BudgetError, match="a cap must not be negative"):
            budget_of([{"id": "f", "level": "municipal", **bad}])
    table = claims([("a", 15, 2026, "10.00", False, None)])
    with pytest.raises(BudgetError, match="1E[+]20 is above the supported maximum of 1"):  # a cap: 1e12 at most
        budget_of([{"id": "f", "level": "municipal", "caps": "1e20"}], tiers=[])
    with pytest.raises(BudgetError, match="beyond the engine's exact range"):  # 31 x 3 years of 1e12: 9.3e13
        allocate(table, budget_of([{"id": f"f{k}", "level": "municipal", "caps": "1e12"} for k in range(31)],
                                  tiers=[]))
    with pytest.raises(BudgetError, match=r"missing columns \['project_id'\]"):
        allocate(table, budget_of([{"id": "f", "level": "municipal", "caps": "1", "per_project_cap": "1"}], tiers=[]))
    # text flags are read as words, not as "any text is true"
    library = budget_of([{"id": "f", "level": "municipal", "caps": "100", "eligible": {"in_library": True}}], tiers=[])
    words = table.assign(in_library=pd.Series(["false"], dtype="string[pyarrow]"))
    assert allocate(words, library).awards.awarded.sum() == Decimal("0.00")
    with pytest.raises(BudgetError, match=r"row 0 \('a'\): in_library is not true or false"):
        allocate(table.assign(in_library=["maybe"]), library)
    with pytest.raises(BudgetError, match="merit_score must not be negative"):
        allocate(table.assign(merit_score=["-1"]), library, "merit")
    # JSON writes year keys as text
    assert budget_of([{"id": "f", "level": "municipal", "caps": {"2026": "1", "2027": "2", "2028": "3"}}]).cap(
        budget_of([{"id": "f", "level": "municipal", "caps": "1"}]).sources[0], 2026) == Decimal("1")


def test_optimal_names_the_per_project_cap() -> None:
    budget = budget_of([{"id": "f", "level": "municipal", "caps": {2026: "100", 2027: "5", 2028: "100"},
                         "per_project_cap": "8"}], tiers=[])
    table = pd.DataFrame({"claim_id": ["a", "b", "c"], "measure": [15] * 3, "year": [2026, 2027, 2026],
                          "amount": ["10.00"] * 3, "project_id": ["P", "Q", "R"]})
    reasons = dict(zip(*[allocate(table, budget, "optimal").awards[c] for c in ("claim_id", "reason")]))
    assert reasons["a"] == reasons["c"] == "f's per-project cap (8 a year)"
    assert reasons["b"] == "optimal plan: f's 2027 money is spent"


def test_the_items_are_part_of_the_provenance() -> None:
    budget = budget_of([{"id": "f", "level": "municipal", "caps": {2026: "5", 2027: "100", 2028: "100"}}], tiers=[])
    table = pd.DataFrame({"claim_id": ["a", "b"], "instrument": ["interest_subsidy"] * 2, "measure": [15, 15],
                          "year": [2026, 2027], "amount": ["10.00", "10.00"]})
    apart, together = (allocate(table.assign(item_id=ids), budget) for ids in (["L1", "L2"], ["L1", "L1"]))
    assert apart.awards.awarded.tolist() != together.awards.awarded.tolist()
    assert apart.provenance.parameters_sha256 != together.provenance.parameters_sha256


def test_allocate_takes_evaluates_fen_and_reads_the_decimals_only_of_another_table(monkeypatch) -> None:
    """Claims carries its amounts in fen (issue 17): allocate does not read the decimals evaluate just wrote, and
    a Claims given another table is read from that table; the awards are the same either way."""
    from dataclasses import replace

    from subsidy_engine.io import column_readers

    claims = evaluate(portfolio(300, seed=17), years=range(2026, 2029))
    budget = load_budget()
    read = []
    real = column_readers.decimal_units

    def counted(series, scale, name, rej, **kwargs):  # noqa: ANN001, ANN202
        read.append(name)
        return real(series, scale, name, rej, **kwargs)

    monkeypatch.setattr(column_readers, "decimal_units", counted)
    direct = allocate(claims, budget)
    assert "amount" not in read and claims.amounts_fen() is not None
    copied = allocate(replace(claims, table=claims.table.copy()), budget)
    assert read.count("amount") == 1
    pd.testing.assert_frame_equal(direct.awards, copied.awards)
    pd.testing.assert_frame_equal(direct.by_source, copied.by_source)


def test_a_cap_is_exceeded_only_when_the_source_s_money_ran_short() -> None:
    """cap_exceeded says the money of a source's year ran out (a part cut or passed on for it), not that a claim
    was cut by a per-project cap, and it flags the year whose money bound (found by the review of issue 20)."""
    per_project = Budget.of({"id": "b", "status": "inferred", "basis": "x", "years": [2026, 2026],
                             "sources": [{"id": "fund", "level": "municipal", "caps": "1000",
                                          "per_project_cap": "100"}]})
    table = pd.DataFrame({"claim_id": ["c1", "c2"], "measure": [7, 7], "year": [2026, 2026],
                          "amount": ["600", "500"], "project_id": ["P1", "P2"]})
    result = allocate(table, per_project)
    row = result.by_source.iloc[0]
    assert row.awarded == Decimal("200.00") and row.asked == Decimal("1100.00") and not row.cap_exceeded
    short = Budget.of({"id": "b", "status": "inferred", "basis": "x", "years": [2026, 2027],
                       "sources": [{"id": "fund", "level": "municipal", "caps": {2026: "100", 2027: "10000"}}]})
    # an item of two years approved in 2026: 2026's money cannot cover its share, 2027's is plenty
    two_years = pd.DataFrame({"claim_id": ["a:2026", "a:2027"], "measure": [15, 15], "year": [2026, 2027],
                              "amount": ["300", "300"], "item": ["a", "a"]})
    by_year = allocate(two_years, short).by_source.set_index("year")
    assert bool(by_year.cap_exceeded[2026]) and by_year.remaining[2026] == Decimal("0.00")
    assert not bool(by_year.cap_exceeded[2027])

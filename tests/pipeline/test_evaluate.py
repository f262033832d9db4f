"""evaluate(): the portfolio's claims equal the plain reference to the fen, and its invariants hold."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine import Event, InsurancePolicy, Loan, Project, evaluate, explain, load_policy
from subsidy_engine.errors import EvaluationError
from subsidy_engine.pipeline.evaluate import CLAIM_COLUMNS, CUT_COLUMNS
from subsidy_engine.pipeline.inputs import PortfolioTables
from subsidy_engine.reference.calculators import reference_evaluate
from subsidy_engine.simulation.synthetic import portfolio as demo_portfolio

from builders import as_tables
from strategies import RATES, examples, portfolios

POLICY = load_policy()


def models(rows: dict[str, list[dict[str, object]]]) -> tuple[list, list, list, list]:
    def clean(row: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in row.items() if v is not None}
    projects = [Project(**clean(r)) for r in rows["projects"]]
    loans = [(r["loan_id"], r["project_id"], Loan(**clean({k: v for k, v in r.items()
                                                           if k not in ("loan_id", "project_id")})))
             for r in rows["loans"]]
    insurance = [InsurancePolicy(**clean(r)) for r in rows["insurance"]]
    events = [Event(**clean(r)) for r in rows["events"]]
    return projects, loans, insurance, events


def award_dicts(rows: dict[str, list[dict[str, object]]]) -> list[dict[str, object]]:
    """The awards rows as the reference takes them: amounts as Decimal, the decision as a date."""
    return [{**r, "amount": Decimal(str(r["amount"])), "decision_date": date.fromisoformat(str(r["decision_date"]))}
            for r in rows.get("awards", [])]


def _stacked_policy():  # noqa: ANN202
    """The bundled parameters with the decided awards stacked: a reward against the investment subsidy (從優不重複),
    and every award under the total cap."""
    import tempfile

    from builders import BUNDLED, write
    data = copy.deepcopy(BUNDLED)
    stacking = data["parameter_sets"][0]["parameters"]["stacking"]
    stacking["most_favourable_only"]["value"] = [["investment_subsidy", "reward"],
                                                 *stacking["most_favourable_only"]["value"]]
    stacking["total_cap_instruments"]["value"] = [*stacking["total_cap_instruments"]["value"], "reward",
                                                  "research_funding", "other_award"]
    return load_policy(write(Path(tempfile.mkdtemp()), data))


STACKED = _stacked_policy()


@settings(max_examples=examples(90))  # a portfolio priced twice (kernels, reference) an example
@given(portfolios(), st.sampled_from([None, (2024,), (2023, 2024, 2025)]), st.booleans(), st.booleans())
def test_evaluate_equals_the_plain_reference(rows, years, with_rates, stacked) -> None:
    rates = RATES if with_rates else None
    policy = STACKED if stacked else POLICY
    claims = evaluate(as_tables(rows), policy, years, rate_by_stage=rates)
    assert claims.rejections.empty
    expected = reference_evaluate(*models(rows), policy, years, rates, awards=award_dicts(rows))
    table = claims.table
    assert list(table.columns) == list(CLAIM_COLUMNS)
    got = {(r.instrument, r.item_id, int(r.year)): r for r in table.itertuples()}
    assert set(got) == set(expected)
    for key, want in expected.items():
        row = got[key]
        for name in ("gross", "amount", *CUT_COLUMNS[1:]):
            assert getattr(row, name) == want[name], (key, name)
        assert row.cut_by_item_rules == want["gross"] - want["computed"], key
        assert (None if pd.isna(row.project_id) else row.project_id) == want["project_id"], key
        assert row.funding_sources == want["funding_sources"], key
    # the invariants: parts add up, nothing negative, caps hold per project
    cuts = sum((table[c] for c in CUT_COLUMNS), start=pd.Series([Decimal(0)] * len(table)))
    assert (table.gross - cuts == table.amount).all()
    for column in ("amount", *CUT_COLUMNS):
        assert (table[column] >= 0).all()


def test_the_order_of_the_rows_changes_no_claim() -> None:
    tables = demo_portfolio(400, seed=3)
    shuffled = PortfolioTables(
        **{name: getattr(tables, name).sample(frac=1, random_state=1).reset_index(drop=True)
           for name in ("projects", "loans", "insurance", "events", "awards")},
        problems=tables.problems, source=tables.source, digest=tables.digest)
    a = evaluate(tables, POLICY, range(2022, 2031), rate_by_stage=RATES).table
    b = evaluate(shuffled, POLICY, range(2022, 2031), rate_by_stage=RATES).table
    pd.testing.assert_frame_equal(a.sort_values("claim_id", ignore_index=True),
                                  b.sort_values("claim_id", ignore_index=True))


def one_project(**loan: object) -> dict[str, list[dict[str, object]]]:
    return {"projects": [{"project_id": "P", "enterprise_id": "E", "domain": "public", "stage": "pilot",
                          "total_investment": "1000000000", "eligible_investment": "1000000000",
                          "start_date": "2024-01-01", "industry_or_software": True, "district": "haidian"}],
            "loans": [{"loan_id": "L", "project_id": "P", "principal": "500000000", "annual_rate": "0.03",
                       "term_months": 60, "grace_months": 24, "start_date": "2024-04-19", **loan}],
            "insurance": [], "events": []}


def test_most_favourable_only_keeps_the_larger_instrument_and_explains_the_cut() -> None:
    # 貼息 of 25,000,000.08 over two years against an investment subsidy of 30% x 10亿 = 3亿,
    # capped at 2亿 per project: the investment subsidy is the more favourable, 貼息 is cut
    claims = evaluate(as_tables(one_project()), POLICY, rate_by_stage=RATES)
    table = claims.table.set_index("claim_id")
    assert table.loc["investment_subsidy:P:2024", "amount"] == Decimal("200000000.00")
    subsidy = table[table.instrument == "interest_subsidy"]
    assert subsidy.gross.sum() == Decimal("25000000.08")
    assert (subsidy.amount == 0).all() and subsidy.cut_by_most_favourable.sum() == Decimal("25000000.08")
    assert set(table.funding_sources) == {"gaojingjian_fund|district_matching:haidian"}
    text = explain(claims, "P", lang="en")
    # the clauses cited are quoted in Simplified characters (core.chinese), the parameter file keeps the source's
    assert "从优不重复" in text and "投资补助和贴息" in text and "高精尖产业发展资金" in text
    assert "京发改规〔2024〕4号" in text and "0.025" in text
    # without the investment subsidy the 貼息 is paid, within 50% of the investment
    alone = evaluate(as_tables(one_project()), POLICY).table
    assert alone.amount.sum() == Decimal("25000000.08")
    assert any("no rate" in note for note in evaluate(as_tables(one_project()), POLICY).notes)


def test_enterprise_year_cap_spans_the_enterprise_s_loans() -> None:
    rows = one_project(principal="2000000000", grace_months=36)   # 2.5% of 20亿 = 5000万 a year
    rows["loans"].append({**rows["loans"][0], "loan_id": "M", "start_date": "2024-05-01"})
    claims = evaluate(as_tables(rows), POLICY, 2025)
    by_loan = claims.table.set_index("item_id")
    cap = Decimal("20000000")   # 2000万 per enterprise and year
    assert by_loan.amount.sum() == cap
    assert by_loan.loc["L", "amount"] == cap and by_loan.loc["M", "amount"] == 0   # L was drawn first
    assert by_loan.loc["M", "cut_by_enterprise_cap"] == by_loan.loc["M", "gross"]


def test_forfeited_interest_subsidy_uses_no_room_under_the_enterprise_cap() -> None:
    """從優不重複 comes before the caps: 貼息 a project gives up for its investment subsidy does not use its
    enterprise's yearly room, so another project's 貼息 (which has no alternative) is paid (issue 15, point 8)."""
    rows = one_project(principal="600000000", grace_months=36)   # 2.5% of 6亿 = 1500万 a year, drawn first
    rows["projects"].append({**rows["projects"][0], "project_id": "Q", "domain": "economic"})  # no investment subsidy
    rows["loans"].append({**rows["loans"][0], "loan_id": "M", "project_id": "Q", "start_date": "2024-05-01"})
    claims = evaluate(as_tables(rows), POLICY, 2025, rate_by_stage=RATES)
    by_loan = claims.table[claims.table.instrument == "interest_subsidy"].set_index("item_id")
    # P keeps its investment subsidy (2亿 after its own cap) and gives up its 貼息, before any cap
    assert by_loan.loc["L", "amount"] == 0
    assert by_loan.loc["L", "cut_by_most_favourable"] == by_loan.loc["L", "gross"] - by_loan.loc["L", "cut_by_item_rules"]
    assert by_loan.loc["L", "cut_by_enterprise_cap"] == 0
    # Q's 貼息 is alone under the enterprise's 2000万 of 2025: paid in full (it was cut to 500万 before)
    assert by_loan.loc["M", "gross"] < Decimal(20000000)
    assert by_loan.loc["M", "amount"] == by_loan.loc["M", "gross"]
    assert by_loan.loc["M", "cut_by_enterprise_cap"] == 0


def test_seed_78_forfeited_interest_subsidy_no_longer_crowds_out_the_kept() -> None:
    """The demo case of issue 15, point 8: enterprise E1000 gives up the 貼息 of loans L1522 and L3008 (their
    projects keep an investment subsidy); in 2026 that 貼息 used the enterprise's whole 2000万, and loan L1867,
    whose project has no alternative, was paid 0 of the 20,510,250.00 it asks. Now it is paid up to the cap."""
    from subsidy_engine.params.lpr import load_lpr

    claims = evaluate(demo_portfolio(5000, seed=78), POLICY, range(2026, 2031), rate_by_stage=RATES,
                      lpr=load_lpr().hold_flat(until=date(2040, 12, 31)))
    table = claims.table.set_index("claim_id")
    kept = table.loc["interest_subsidy:L1867:2026"]
    assert kept.enterprise_id == "E1000" and kept.gross - kept.cut_by_item_rules == Decimal("20510250.00")
    assert kept.amount == Decimal("20000000.00") and kept.cut_by_enterprise_cap == Decimal("510250.00")
    for claim_id in ("interest_subsidy:L1522:2026", "interest_subsidy:L3008:2026"):
        given_up = table.loc[claim_id]
        assert given_up.enterprise_id == "E1000" and given_up.amount == 0
        assert given_up.cut_by_most_favourable == given_up.gross - given_up.cut_by_item_rules
        assert given_up.cut_by_enterprise_cap == 0
    # everywhere: a claim given up is cut by no cap, and an enterprise-year cut by its cap pays the cap in full
    given_up = table[table.cut_by_most_favourable > 0]
    assert len(given_up) and (given_up[["cut_by_enterprise_cap", "cut_by_project_cap", "cut_by_total_cap"]] == 0
                              ).all().all()
    subsidy = table[table.instrument == "interest_subsidy"]
    cap = POLICY.sets[-1].parameters.interest_subsidy.annual_cap_per_enterprise.value
    assert {s.parameters.interest_subsidy.annual_cap_per_enterprise.value for s in POLICY.sets} == {cap}
    by_year = subsidy.groupby(["enterprise_id", "year"])[["amount", "cut_by_enterprise_cap", "cut_by_project_cap",
                                                          "cut_by_total_cap"]].sum()
    cut = by_year[by_year.cut_by_enterprise_cap > 0]
    assert (by_year.amount <= cap).all()
    # a year whose 貼息 the enterprise cap cut pays the cap in full, unless another cap bound first
    assert len(cut) and all(r.amount == cap or r.cut_by_project_cap + r.cut_by_total_cap > 0
                            for r in cut.itertuples())


def test_the_cut_columns_are_in_the_order_applied_and_a_quote_s_rows_follow_them() -> None:
    """The cuts are applied in the order of their columns; a quote's rows are built by position from
    the same columns, so their fields must follow them."""
    from subsidy_engine.pipeline.one_project import ClaimRow
    from subsidy_engine.service.quote import QuoteClaim

    assert CUT_COLUMNS == ("cut_by_item_rules", "cut_by_most_favourable", "cut_by_enterprise_cap",
                           "cut_by_project_cap", "cut_by_total_cap")
    assert ClaimRow._fields == CLAIM_COLUMNS
    assert [c for c in QuoteClaim.model_fields if c.startswith("cut_by_")] == list(CUT_COLUMNS)


def test_total_cap_as_a_share_of_investment() -> None:
    rows = one_project()
    rows["projects"][0]["total_investment"] = "40000000"        # 50% of 4000万 = 2000万 < 25,000,000.08
    rows["projects"][0]["eligible_investment"] = "40000000"
    table = evaluate(as_tables(rows), POLICY).table
    assert table.amount.sum() == Decimal("20000000.00")
    assert table.cut_by_total_cap.sum() == Decimal("5000000.08")
    assert table.sort_values("year").cut_by_total_cap.iloc[0] == 0   # earliest years are paid first


def test_bad_rows_are_reported_and_the_rest_computed_and_strict_raises() -> None:
    rows = one_project()
    rows["loans"].append({**rows["loans"][0], "loan_id": "X", "principal": "-5"})
    rows["loans"].append({**rows["loans"][0], "loan_id": "Y", "project_id": None})
    claims = evaluate(as_tables(rows), POLICY)
    assert sorted(zip(claims.rejections.id, claims.rejections.field)) == [("X", "principal"),
                                                                          ("Y", "project_id")]
    assert set(claims.table.item_id) == {"L"}
    with pytest.raises(EvaluationError, match="loans row 3 .'X'. principal"):
        evaluate(as_tables(rows), POLICY, strict=True)


def test_explain_names_every_amount_of_the_project() -> None:
    claims = evaluate(demo_portfolio(300, seed=5), POLICY, range(2024, 2027), rate_by_stage=RATES)
    project = claims.table.project_id.dropna().iloc[0]
    text = explain(claims, project, lang="en")
    for row in claims.table[claims.table.project_id == project].itertuples():
        assert row.claim_id in text and f"{row.amount:,}" in text
    with pytest.raises(KeyError, match="no project 'nope'"):
        explain(claims, "nope")


def test_items_before_the_policy_are_rejected_not_guessed() -> None:
    rows = one_project()
    rows["loans"].append({**rows["loans"][0], "loan_id": "OLD", "start_date": "2020-03-01"})
    rows["projects"].append({**rows["projects"][0], "project_id": "Q", "start_date": "2021-07-21"})
    rows["loans"].append({**rows["loans"][0], "loan_id": "QL", "project_id": "Q"})
    claims = evaluate(as_tables(rows), POLICY)
    report = claims.rejections.set_index("id")
    assert report.loc["OLD", "field"] == "start_date" and "covers 2021-07-22" in report.loc["OLD", "reason"]
    assert report.loc["Q", "field"] == "start_date"
    assert report.loc["QL", "reason"].startswith("its project is rejected")
    assert set(claims.table.item_id) == {"L"}


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(1, 600).flatmap(lambda n: st.tuples(*(st.lists(st.integers(-3, 3) if k else
                                                                   st.integers(-(2**40), 2**40), min_size=n, max_size=n)
                                                          for k in range(3)))))
def test_sort_order_is_a_stable_lexsort_for_few_rows_and_many(keys: tuple[list[int], ...]) -> None:
    """Both regimes of column_readers.sort_order (a lexsort for a quote's few rows, packed keys for a portfolio) give
    the order of the keys, ties in row order."""
    from subsidy_engine.io import column_readers

    arrays = [np.array(k, np.int64) for k in keys]
    expected = sorted(range(len(keys[0])), key=lambda r: (*(k[r] for k in keys), r))
    assert column_readers.sort_order(*arrays).tolist() == expected
    assert column_readers.sort_order(*arrays[1:]).tolist() == sorted(range(len(keys[0])),
                                                            key=lambda r: (keys[1][r], keys[2][r], r))
    _sorted_at_rows_as_copies(column_readers, arrays)


@settings(max_examples=examples(60), deadline=None)
@given(st.sampled_from([30, 52, 62]).flatmap(lambda bits: st.integers(257, 700).flatmap(
    lambda n: st.tuples(*(st.lists(st.integers(-3, 3) if k else st.integers(-(2**bits), 2**bits), min_size=n,
                                   max_size=n) for k in range(3))))))
def test_sort_order_of_wide_keys_packed_without_the_row_or_not_packed(keys: tuple[list[int], ...]) -> None:
    """Keys whose ranges leave no room for the row's number beside them are radix sorted (stable: ties in row
    order), and keys wider than an int64 fall back to a lexsort: the same order either way."""
    from subsidy_engine.io import column_readers

    arrays = [np.array(k, np.int64) for k in keys]
    assert column_readers.sort_order(*arrays).tolist() == sorted(range(len(keys[0])),
                                                              key=lambda r: (*(k[r] for k in keys), r))
    assert column_readers.sort_order(arrays[1], arrays[2].astype(np.int8), arrays[1] > 0).tolist() == sorted(
        range(len(keys[0])), key=lambda r: (keys[1][r], keys[2][r], keys[1][r] > 0, r))
    _sorted_at_rows_as_copies(column_readers, [arrays[1], arrays[2].astype(np.int8), arrays[0]])


def _sorted_at_rows_as_copies(column_readers: ModuleType, arrays: list[np.ndarray]) -> None:
    """``sort_order(*keys, rows=rows)`` is the order of the keys' copies at ``rows``: every other row, the rows
    backwards (a permutation), some rows twice, and none."""
    n = arrays[0].shape[0]
    for rows in (np.arange(0, n, 2), np.arange(n)[::-1].copy(), np.concatenate([np.arange(n), np.arange(n // 3)]),
                 np.zeros(0, np.int64)):
        assert column_readers.sort_order(*arrays, rows=rows).tolist() == column_readers.sort_order(
            *[a[rows] for a in arrays]).tolist()


def test_an_enterprise_s_items_are_paid_when_every_project_is_rejected() -> None:
    """A project outside the policy's coverage is rejected; its enterprise's insurance and events without a
    project still compute, described by no project (this crashed on the attributes of no project)."""
    rows = {"projects": [{"project_id": "P0", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
                          "total_investment": "1000000", "eligible_investment": "1000", "start_date": "2020-01-02"}],
            "loans": [],
            "insurance": [{"policy_id": "I0", "enterprise_id": "E1", "product_field": "ai",
                           "insured_amount": "10000000", "premium": "100000", "start_date": "2024-03-01", "years": 1}],
            "events": [{"event_id": "V0", "kind": "reits_issuance", "enterprise_id": "E1", "date": "2024-05-06"}]}
    claims = evaluate(as_tables(rows), POLICY)
    assert list(claims.rejections[["table", "id", "field"]].itertuples(index=False, name=None)) == [
        ("projects", "P0", "start_date")]
    assert sorted(claims.table.instrument.astype(str)) == ["premium_subsidy", "reits_grant"]
    assert claims.table.project_id.isna().all() and not claims.attributes.in_library.any()
    assert claims.attributes.merit_score.isna().all()


def test_stacking_parameters_are_made_once_per_policy_and_anew_for_a_scenario_s() -> None:
    from subsidy_engine.pipeline.steps import _stacking_parameters
    from subsidy_engine.simulation.scenario import Scenario

    base = load_policy()
    assert _stacking_parameters(base) is _stacking_parameters(base)
    changed = Scenario.of({"id": "cap", "parameters": {"interest_subsidy.annual_cap_per_enterprise": "1000"}})
    other = changed.policy(base)
    assert _stacking_parameters(other).enterprise_cap.tolist() == [100_000] * len(other.sets)
    assert _stacking_parameters(base).enterprise_cap.tolist() != [100_000] * len(base.sets)


def test_a_missing_sector_or_district_reads_not_given_however_the_table_spells_it() -> None:
    tables = demo_portfolio(300, seed=5)
    projects = tables.projects.copy()
    projects["sector"] = pd.array([None] * len(projects), dtype="string")  # a Parquet file's nullable text
    projects["district"] = pd.Series([float("nan")] * len(projects), dtype=object)
    claims = evaluate(PortfolioTables(projects=projects, loans=tables.loans, insurance=tables.insurance,
                                      events=tables.events, problems=tables.problems, source="test", digest="t"),
                      POLICY, range(2024, 2027))
    text = explain(claims, claims.table.project_id.dropna().iloc[0], lang="en")
    assert "(sector not given, district not given," in text.splitlines()[0]


def test_stacking_groups_changed_in_place_are_seen() -> None:
    from subsidy_engine.pipeline.steps import _stacking_parameters

    policy = load_policy()  # a policy of this test's own: its lists are changed in place below
    before = _stacking_parameters(policy)
    groups = policy.sets[0].parameters.stacking.most_favourable_only.value
    assert groups, "the bundled policy has a most-favourable group"
    saved = list(groups)
    groups.clear()
    try:
        assert _stacking_parameters(policy).favourable.instruments.tolist() == [] != \
            before.favourable.instruments.tolist()
    finally:
        groups.extend(saved)


def two_projects_of_one_enterprise(p1_investment: str = "4000000000") -> dict[str, list[dict[str, object]]]:
    """Projects P1 and P2 of enterprise E; loans L1 of P1 (4亿, drawn 2025-01-02: 2.5% is 916.67万 of 貼息 in
    2025) and L2 of P2 (5亿, drawn 2025-02-01: 1041.67万 in 2025), interest only over their 2-year windows."""
    rows = one_project(loan_id="L1", project_id="P1", principal="400000000", start_date="2025-01-02")
    p1 = rows["projects"][0]
    p1.update(project_id="P1", total_investment=p1_investment, eligible_investment=p1_investment)
    rows["projects"].append({**p1, "project_id": "P2", "total_investment": "4000000000",
                             "eligible_investment": "4000000000"})
    rows["loans"].append({**rows["loans"][0], "loan_id": "L2", "project_id": "P2", "principal": "500000000",
                          "start_date": "2025-02-01"})
    return rows


def capped_policy(**parameters: str):
    from subsidy_engine.simulation.scenario import Scenario
    return Scenario.of({"id": "small caps", "parameters": parameters}).policy(POLICY)


def assert_equals_the_reference(rows: dict[str, list[dict[str, object]]], policy, claims, years=None,  # noqa: ANN001
                                rates=None) -> None:
    expected = reference_evaluate(*models(rows), policy, years, rates, awards=award_dicts(rows))
    got = {(r.instrument, r.item_id, int(r.year)): r for r in claims.table.itertuples()}
    assert set(got) == set(expected)
    for key, want in expected.items():
        for name in ("amount", *CUT_COLUMNS[1:]):
            assert getattr(got[key], name) == want[name], (key, name)


def test_enterprise_year_room_is_left_to_paid_interest_subsidy_when_the_project_cap_cuts() -> None:
    """A cap limits what is paid, so its room is used only by what is paid. P1's lifetime 貼息 cap is nearly
    used up by an earlier loan L0 (2023), so L1's 貼息 of 2025 is cut by the project cap; it must use only
    what it is paid of the enterprise's 2025 room, and P2's L2 is paid from the rest of that room. (P1 needs
    two loans: a loan's own lifetime cap is the project's, so one loan alone never meets the project cap.)"""
    cap, project_cap = Decimal(10000000), Decimal(11000000)           # 1000万 a year, 1100万 a project
    policy = capped_policy(**{"interest_subsidy.annual_cap_per_enterprise": str(cap),
                              "interest_subsidy.total_cap_per_project": str(project_cap)})
    rows = two_projects_of_one_enterprise()
    rows["loans"].insert(0, {**rows["loans"][0], "loan_id": "L0", "principal": "600000000", "term_months": 12,
                             "grace_months": 0, "method": "interest_only", "start_date": "2023-01-02"})
    claims = evaluate(as_tables(rows), policy)
    table = claims.table.set_index("claim_id")
    subsidy = table[table.instrument == "interest_subsidy"]
    l1, l2 = table.loc["interest_subsidy:L1:2025"], table.loc["interest_subsidy:L2:2025"]
    p1_before = subsidy[(subsidy.project_id == "P1") & (subsidy.year < 2025)].amount.sum()
    assert cap - Decimal(1000000) <= p1_before < project_cap            # L0 used P1's room but 100万 or so
    assert not ((subsidy.year == 2025) & (subsidy.item_id == "L0")).any()
    # L1 (drawn first in 2025) is paid P1's room left, cut by the project cap and by nothing else
    kept = l1.gross - l1.cut_by_item_rules - l1.cut_by_most_favourable
    assert l1.amount == project_cap - p1_before < kept
    assert l1.cut_by_project_cap == kept - l1.amount and l1.cut_by_enterprise_cap == l1.cut_by_total_cap == 0
    # L2 is paid the enterprise's 2025 room that L1 did not use (before: only the 83.33万 L1's unpaid 貼息 left)
    kept = l2.gross - l2.cut_by_item_rules - l2.cut_by_most_favourable
    assert l2.amount == cap - l1.amount < kept
    assert l2.cut_by_enterprise_cap == kept - l2.amount and l2.cut_by_project_cap == l2.cut_by_total_cap == 0
    assert_equals_the_reference(rows, policy, claims)


def test_enterprise_year_room_is_left_to_paid_interest_subsidy_when_the_total_cap_cuts() -> None:
    """The same with the total cap: L1's 貼息 of 2025 is cut by 50% of P1's small investment, so it uses only
    what it is paid of the enterprise's 2025 room, and P2's L2 is paid from the rest of that room."""
    cap = Decimal(10000000)                                             # 1000万 a year
    policy = capped_policy(**{"interest_subsidy.annual_cap_per_enterprise": str(cap)})
    rows = two_projects_of_one_enterprise(p1_investment="2000000")      # 50%: 100万
    claims = evaluate(as_tables(rows), policy)
    table = claims.table.set_index("claim_id")
    l1, l2 = table.loc["interest_subsidy:L1:2025"], table.loc["interest_subsidy:L2:2025"]
    kept = l1.gross - l1.cut_by_item_rules - l1.cut_by_most_favourable
    assert l1.amount == Decimal(1000000) < kept
    assert l1.cut_by_total_cap == kept - l1.amount and l1.cut_by_enterprise_cap == l1.cut_by_project_cap == 0
    kept = l2.gross - l2.cut_by_item_rules - l2.cut_by_most_favourable
    assert l2.amount == cap - l1.amount < kept
    assert l2.cut_by_enterprise_cap == kept - l2.amount and l2.cut_by_project_cap == l2.cut_by_total_cap == 0
    assert_equals_the_reference(rows, policy, claims)

TIGHT = capped_policy(**{"interest_subsidy.annual_cap_per_enterprise": "5000000",   # 500万 a year
                         "interest_subsidy.total_cap_per_project": "12000000",      # 1200万 a project
                         "stacking.total_cap_share_of_investment": "0.02"})        # 2% of the investment


def of_one_enterprise(rows: dict[str, list[dict[str, object]]]) -> dict[str, list[dict[str, object]]]:
    return {name: [{**r, "enterprise_id": "E1"} if "enterprise_id" in r else r for r in table]
            for name, table in rows.items()}


@settings(max_examples=examples(100), deadline=None)
@given(portfolios(), st.booleans(), st.sampled_from([None, (2024,), (2023, 2024, 2025)]), st.booleans())
def test_evaluate_equals_the_plain_reference_when_the_caps_bind_together(rows, one_enterprise, years,
                                                                         with_rates) -> None:
    """Under caps small enough that one row is often under several binding caps: each row is paid the least of
    its amount and its room under every cap, rooms used only by what is paid, as the plain reference does.
    (About one example in eight of one enterprise tells this from paying the caps one after another.)"""
    rows = of_one_enterprise(rows) if one_enterprise else rows
    rates = RATES if with_rates else None
    claims = evaluate(as_tables(rows), TIGHT, years, rate_by_stage=rates)
    assert_equals_the_reference(rows, TIGHT, claims, years, rates)
    if years is None:  # every year shown: each cap holds over its whole group
        table = claims.table
        subsidy = table[table.instrument == "interest_subsidy"]
        assert (subsidy.groupby(["enterprise_id", "year"]).amount.sum() <= Decimal(5000000)).all()
        assert (subsidy.groupby("project_id").amount.sum() <= Decimal(12000000)).all()


def test_funding_sources_of_a_portfolio_apply_the_one_rule_to_each_project() -> None:
    """steps.funding_sources computes funding_sources_of once per kind of project and hands it to each."""
    from itertools import product

    import pyarrow as pa

    from subsidy_engine.pipeline.steps import funding_sources, funding_sources_of

    cases = list(product([True, False], [None, "", "smart_city", "ai"], [None, "", "haidian", "daxing"])) * 2
    table = funding_sources(pa.array([c[1] for c in cases], pa.string()), pa.array([c[2] for c in cases], pa.string()),
                            np.array([c[0] for c in cases]))
    assert table.to_pylist() == [funding_sources_of(*c) for c in cases]
    # each text once, the projects' indices into them: a million projects hold a few dozen texts
    assert sorted(table.dictionary.to_pylist()) == sorted({funding_sources_of(*c) for c in cases})
    assert funding_sources(pa.array([], pa.string()), pa.array([], pa.string()), np.zeros(0, bool)).to_pylist() == []


def test_a_portfolios_loans_move_their_due_dates_and_a_projection_is_opted_into_and_said() -> None:
    """Issue 18: evaluate reads a loan's business_day; one whose dates go past China's published calendar is
    refused with the reason, unless the caller passes the weekend projection, which the notes and the
    provenance carry (and the CLI's --business-days-beyond weekends)."""
    from subsidy_engine import china_calendar
    from subsidy_engine.simulation.synthetic import portfolio

    tables = portfolio(60, seed=18)
    moving = dataclasses.replace(tables, loans=tables.loans.assign(business_day="following"))
    refused = evaluate(moving, years=range(2026, 2031))
    reasons = refused.rejections[refused.rejections.field == "business_day"]
    assert len(reasons) and reasons.reason.str.contains("with_weekend_projection").all()
    projected = evaluate(moving, years=range(2026, 2031), calendar=china_calendar().with_weekend_projection())
    assert not (projected.rejections.field == "business_day").any()
    assert any("Monday to Friday" in note for note in projected.notes)
    assert projected.provenance != evaluate(tables, years=range(2026, 2031)).provenance


@settings(max_examples=examples(60), deadline=None)
@given(parts=st.lists(st.tuples(st.sampled_from(["interest_subsidy", "reits_grant", "reward"]),
                                st.text(min_size=1, max_size=6), st.integers(1900, 2200)), max_size=5))
def test_a_quote_s_claim_ids_are_the_table_s(parts: list[tuple[str, str, int]]) -> None:
    """claim_id (a quote's few, in Python) writes each id as claim_ids writes the table's column (Arrow)."""
    import pyarrow as pa

    from subsidy_engine.pipeline.steps import claim_id, claim_ids

    instruments, items, years = (list(column) for column in zip(*parts)) if parts else ([], [], [])
    table = claim_ids(pa.array(instruments, pa.string()), pa.array(items, pa.string()), np.array(years, np.int64))
    assert [claim_id(*part) for part in parts] == table.to_pylist()


@settings(max_examples=examples(60), deadline=None)
@given(years=st.one_of(st.lists(st.integers(2000, 2100), max_size=40),
                       st.lists(st.integers(-(10**6), 10**6), max_size=40)),  # a span written year by year
       codes=st.lists(st.integers(0, 7), max_size=40))
def test_years_and_instruments_as_text_are_python_s(years: list[int], codes: list[int]) -> None:
    """The claims' year and instrument texts, taken from each distinct one written once, are ``str(year)`` and
    the instrument's name."""
    from subsidy_engine.params.policy import INSTRUMENTS
    from subsidy_engine.pipeline.steps import instrument_texts, year_texts

    assert year_texts(np.array(years, np.int64)).to_pylist() == [str(y) for y in years]
    assert year_texts(np.array(years, np.int32)).to_pylist() == [str(y) for y in years]
    assert instrument_texts(np.array(codes, np.int8)).to_pylist() == [INSTRUMENTS[c] for c in codes]


def test_sort_order_of_uint64_keys_past_a_float_and_of_narrow_signed_keys() -> None:
    """Keys of every integer type are ordered as integers: uint64 beyond 2**53 (a float would merge them), and
    int8 keys spanning more than half their type (subtracted in their own type they would wrap)."""
    from subsidy_engine.io import column_readers

    wide = np.array([2**60 + 1, 2**60], np.uint64).repeat(150)
    assert column_readers.sort_order(wide).tolist() == np.argsort(wide, kind="stable").tolist()
    top = np.array([2**63 + 5, 2**63, 2**63 + 1], np.uint64).repeat(100)
    assert column_readers.sort_order(top).tolist() == np.argsort(top, kind="stable").tolist()
    narrow = np.tile(np.array([100, -100, 0, 127, -128], np.int8), 60)
    assert column_readers.sort_order(narrow, narrow.astype(np.int16)).tolist() == np.argsort(
        narrow, kind="stable").tolist()
    # rows are positions of the keys: none wraps from the end, none is past it
    keys = np.arange(1000)[::-1].copy()
    for rows in (np.r_[np.arange(300), -1], np.full(300, 5000), np.array([-1])):
        with pytest.raises(IndexError, match="rows must be positions 0 to 999"):
            column_readers.sort_order(keys, rows=rows)
    # read at rows: the same
    at = np.arange(top.shape[0])[::-1].copy()
    assert column_readers.sort_order(top, rows=at).tolist() == np.argsort(top[at], kind="stable").tolist()
    assert column_readers.sort_order(narrow, narrow.astype(np.int16), rows=at).tolist() == np.argsort(
        narrow[at], kind="stable").tolist()


def test_text_columns_of_a_selection_without_claims_are_as_pandas_makes_them() -> None:
    """Claims exist but none in the years asked: the empty table's parameter columns are as pandas makes an empty
    column of text objects, as when it had rows (pandas' own inference either way)."""
    from subsidy_engine.simulation.synthetic import portfolio

    tables = portfolio(400, seed=5)
    none = evaluate(tables, years=(1990,)).table
    some = evaluate(tables, years=range(2026, 2031)).table
    assert len(none) == 0 and len(some)
    for name in ("parameter", "parameter_set"):
        assert none[name].dtype == pd.Series(np.array([], dtype=object)).dtype, name
        assert some[name].dtype == pd.Series(np.array(["x"], dtype=object)).dtype, name

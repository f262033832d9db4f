"""Decided awards (issue 21, point 1): rewards (measure 1), research funding (measure 5) and other decided amounts,
read from the awards table of every form, paid in equal yearly parts, stacked, allocated and explained."""

from __future__ import annotations

import copy
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from subsidy_engine import allocate, evaluate, explain, load_policy, load_portfolio
from subsidy_engine.measures.awards import split_evenly

from builders import BUNDLED, as_tables, fen, write
from strategies import RATES, budget_of
from workbooks import write_tables

POLICY = load_policy()
PROJECT = {"project_id": "P1", "enterprise_id": "E", "domain": "economic", "stage": "pilot",
           "total_investment": "100000000", "eligible_investment": "100000000", "start_date": "2026-03-01",
           "industry_or_software": True}


def portfolio(*awards: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    return {"projects": [PROJECT], "loans": [], "insurance": [], "events": [], "awards": list(awards)}


def award(**cells: object) -> dict[str, object]:
    return {"award_id": "A1", "enterprise_id": "E", "project_id": "P1", "kind": "reward", "amount": "1000000.01",
            "decision_date": "2026-05-01", **cells}


@given(st.lists(st.tuples(st.integers(1, 10**15), st.integers(1, 10)), min_size=1, max_size=20))
def test_an_award_split_adds_up_and_its_parts_differ_by_a_fen_at_most(plans: list[tuple[int, int]]) -> None:
    amounts, parts = (np.array(v, np.int64) for v in zip(*plans))
    split = split_evenly(amounts, parts)
    start = 0
    for amount, n in plans:
        mine = split[start:start + n].tolist()
        start += n
        assert sum(mine) == amount and max(mine) - min(mine) <= 1
        assert mine == sorted(mine, reverse=True)  # the fen left over go to the earliest years


def test_each_payment_is_a_claim_of_its_year_and_measure() -> None:
    claims = evaluate(as_tables(portfolio(
        award(payment_years=3),
        award(award_id="A2", kind="research_funding", amount="500", decision_date="2027-05-01",
              first_payment_year=2028, project_id=None),
        award(award_id="A3", kind="other", measure=9, amount="7"))), POLICY)
    assert claims.rejections.empty
    table = claims.table
    got = [(r.claim_id, r.measure, r.instrument, r.year, r.amount, None if pd.isna(r.project_id) else r.project_id)
           for r in table.itertuples()]
    assert sorted(got) == sorted([
        ("reward:A1:2026", 1, "reward", 2026, Decimal("333333.34"), "P1"),
        ("reward:A1:2027", 1, "reward", 2027, Decimal("333333.34"), "P1"),
        ("reward:A1:2028", 1, "reward", 2028, Decimal("333333.33"), "P1"),
        ("research_funding:A2:2028", 5, "research_funding", 2028, Decimal("500.00"), None),
        ("other_award:A3:2026", 9, "other_award", 2026, Decimal("7.00"), "P1")])
    text = explain(claims, "P1", lang="en")
    assert "Decision A1 (reward): 1,000,000.01, decided on 2026-05-01" in text
    assert "Paid in 3 equal yearly part(s), the fen left over to the earliest years: 333,333.33 in 2028." in text
    assert "measure 9" in text and "Sources of the values" not in text  # a decision cites no parameter
    zh = explain(claims, "P1")
    assert "决定A1（奖励（措施1））" in zh and "第1条" in zh


@pytest.mark.parametrize(("cells", "field", "reason"), [
    ({"kind": "prize"}, "kind", "'prize' is not one of 'reward', 'research_funding', 'other'"),
    ({"kind": "reward", "measure": 5}, "measure", "is not the kind's measure"),
    ({"kind": "research_funding", "measure": 1}, "measure", "is not the kind's measure"),
    ({"kind": "other"}, "measure", "is needed for an award of kind 'other'"),
    ({"kind": "other", "measure": 16}, "measure", "is not a measure of 78號 (1 to 15)"),
    ({"amount": "0"}, "amount", "must be positive"),
    ({"amount": "1.001"}, "amount", "fen"),
    ({"amount": None}, "amount", "is missing"),
    ({"decision_date": "2026-13-01"}, "decision_date", ""),
    ({"first_payment_year": 2025}, "first_payment_year", "is before the year of the decision"),
    ({"payment_years": 0}, "payment_years", "is not 1 to 10"),
    ({"payment_years": 11}, "payment_years", "is not 1 to 10"),
    ({"decision_date": "2026-05-01", "first_payment_year": 2096, "payment_years": 6}, "payment_years",
     "makes the last payment after 2100"),
    ({"amount": "0.03", "payment_years": 5}, "amount", "is less than a fen for each year of payment_years"),
    ({"project_id": "P9"}, "project_id", "is not a project of the projects table"),
    ({"decision_date": "2021-01-04"}, "decision_date", "no parameter set"),
])
def test_a_bad_award_is_rejected_naming_its_row_field_and_reason_and_the_good_one_is_paid(
        cells: dict[str, object], field: str, reason: str) -> None:
    claims = evaluate(as_tables(portfolio(award(award_id="GOOD", amount="10"), award(award_id="BAD", **cells))),
                      POLICY)
    rejected = claims.rejections
    assert rejected[["table", "row", "id"]].drop_duplicates().values.tolist() == [["awards", 3, "BAD"]]
    assert any(f == field and reason in r for f, r in zip(rejected.field, rejected.reason)), rejected
    assert claims.table.claim_id.tolist() == ["reward:GOOD:2026"]


def test_a_repeated_award_id_is_rejected() -> None:
    claims = evaluate(as_tables(portfolio(award(), award())), POLICY)
    assert claims.rejections[["row", "field"]].values.tolist() == [[3, "award_id"]]


@pytest.mark.parametrize("form", ["csv", "parquet", "xlsx"])
def test_the_awards_table_loads_from_every_form_typed(tmp_path: Path, form: str) -> None:
    tables = {"projects": pd.DataFrame([PROJECT]),
              "awards": pd.DataFrame([award(payment_years="2", first_payment_year="2027"),
                                      award(award_id="A2", kind="other", measure="nine")])}
    loaded = load_portfolio(write_tables(tmp_path, form, tables))
    assert loaded.awards.amount.dtype == pd.ArrowDtype(pa.decimal128(20, 2))
    assert loaded.awards.decision_date.dtype == pd.ArrowDtype(pa.date32())
    row = 2 if form == "parquet" else 3
    assert loaded.problems[["table", "row", "id", "field"]].values.tolist() == [["awards", row, "A2", "measure"]]
    claims = evaluate(loaded, POLICY)
    assert claims.table.claim_id.tolist() == ["reward:A1:2027", "reward:A1:2028"]
    assert fen(claims.table.amount).tolist() == [50000001, 50000000]


def _policy_stacking(groups: list[list[str]], capped: list[str], share: str | None = None):  # noqa: ANN202
    data = copy.deepcopy(BUNDLED)
    stacking = data["parameter_sets"][0]["parameters"]["stacking"]
    stacking["most_favourable_only"]["value"] = groups
    stacking["total_cap_instruments"]["value"] = capped
    if share is not None:
        stacking["total_cap_share_of_investment"]["value"] = share
    return load_policy(write(Path(tempfile.mkdtemp()), data))


def test_a_parameter_file_may_stack_a_reward_against_the_investment_subsidy_and_cap_it() -> None:
    rows = portfolio(award(amount="40000000"))  # the investment subsidy at 30%: 3000万; the reward 4000万
    rows["projects"] = [{**PROJECT, "domain": "public"}]  # the investment subsidy is measure 1's public domain's
    plain = evaluate(as_tables(rows), POLICY, rate_by_stage=RATES).table
    assert fen(plain.amount).tolist() == [3_000_000_000, 4_000_000_000]  # by default each is paid
    favourable = evaluate(as_tables(rows), _policy_stacking([["investment_subsidy", "reward"]], []),
                          rate_by_stage=RATES).table.set_index("instrument")
    assert fen(favourable.cut_by_most_favourable).tolist() == [3_000_000_000, 0]  # the reward is larger: kept
    capped = evaluate(as_tables(rows), _policy_stacking([], ["investment_subsidy", "reward"], "0.5"),
                      rate_by_stage=RATES).table.set_index("instrument")
    assert fen(capped.amount).sum() == 5_000_000_000  # half of the 1亿 investment, of the 7000万 asked
    assert fen(capped.loc[["reward"]].cut_by_total_cap).tolist() == [2_000_000_000]


def test_awards_are_allocated_and_a_budget_may_fund_them_alone() -> None:
    claims = evaluate(as_tables(portfolio(award(amount="100"), award(award_id="A2", kind="research_funding",
                                                                    amount="50"))), POLICY)
    budget = budget_of([{"id": "science", "level": "municipal", "caps": "1000", "eligible": {"measures": [5]}},
                        {"id": "fund", "level": "municipal", "caps": "1000",
                         "eligible": {"instruments": ["reward"]}}], tiers=[])
    awards = allocate(claims, budget).awards
    assert sorted(zip(awards.claim_id, awards.source_id, fen(awards.awarded).tolist())) == [
        ("research_funding:A2:2026", "science", 5000), ("reward:A1:2026", "fund", 10000)]


@pytest.mark.parametrize("table", ["events", "awards"])
def test_a_table_built_in_python_that_cannot_be_read_is_reported_not_a_crash(table: str) -> None:
    """Review: a float money column (a problem of the whole table) was kept by checked_portfolio, and evaluate read
    its rows again and raised; its rows are now left out, with the one problem that says why."""
    from subsidy_engine.pipeline.inputs import checked_portfolio

    rows = {"events": pd.DataFrame({"event_id": ["V1"], "kind": ["reits_issuance"], "enterprise_id": ["E"],
                                    "date": ["2026-05-01"], "amount_raised": [5e8]}),
            "awards": pd.DataFrame({"award_id": ["A1"], "enterprise_id": ["E"], "kind": ["reward"],
                                    "amount": [1000.5], "decision_date": ["2026-05-01"]})}
    tables = checked_portfolio({"projects": pd.DataFrame([PROJECT]), table: rows[table]}, source="python",
                               digest="python")
    whole = tables.problems[tables.problems.table == table]
    assert whole.field.tolist() == ["(table)"]
    claims = evaluate(tables, POLICY)
    assert not (claims.table.instrument.isin(["reits_grant", "reward"])).any()
    assert claims.rejections.field[claims.rejections.table == table].tolist() == ["(table)"]


def test_stacking_reads_the_project_s_parameter_set_and_explain_cites_that_one() -> None:
    """Review: an award decided under one parameter set, of a project started under another, is stacked by the
    project's set (as every instrument is); explain cited the award's own set (an empty group, the wrong value)."""
    from datetime import date

    from builders import two_sets

    data = two_sets(date(2026, 12, 31), date(2027, 1, 1))
    data["parameter_sets"][1]["parameters"]["stacking"]["most_favourable_only"]["value"] = [
        ["investment_subsidy", "reward"]]
    policy = load_policy(write(Path(tempfile.mkdtemp()), data))
    rows = portfolio(award(amount="1000", decision_date="2026-05-01"))
    rows["projects"] = [{**PROJECT, "domain": "public", "start_date": "2027-03-01"}]
    claims = evaluate(as_tables(rows), policy, rate_by_stage=RATES)
    reward = claims.table.set_index("instrument").loc["reward"]
    assert reward.parameter_set == "beijing-analog-defaults"  # the decision's set names the claim
    assert fen(pd.Series([reward.cut_by_most_favourable])).tolist() == [100000]  # the project's set stacks it
    text = explain(claims, "P1", lang="en")
    assert "the project keeps investment_subsidy" in text
    assert "stacking.most_favourable_only = [['investment_subsidy', 'reward']]" in text


def test_an_award_of_a_project_when_the_projects_table_has_no_rows_is_rejected_not_a_crash() -> None:
    """Review (hostile input): a projects table with its columns and no rows, beside an award naming a project,
    failed with Arrow's "Index 0 out of bounds" while checking whose enterprise the project is."""
    rows = portfolio(award())
    rows["projects"] = []  # the table keeps its columns (as_tables), and has no rows
    claims = evaluate(as_tables(rows), POLICY)
    assert claims.rejections[["table", "id", "field", "reason"]].values.tolist() == [
        ["awards", "A1", "project_id", "is not a project of the projects table"]]
    assert claims.table.empty


def test_an_award_of_another_enterprise_s_project_is_rejected() -> None:
    """Review: an award naming project P1 (of E) for enterprise Z was paid under Z's per-enterprise caps; a quote
    refuses the same mismatch."""
    claims = evaluate(as_tables(portfolio(award(), award(award_id="A2", enterprise_id="Z"))), POLICY)
    assert claims.rejections[["table", "row", "id", "field", "reason"]].values.tolist() == [
        ["awards", 3, "A2", "enterprise_id", "is not the enterprise of its project (P1 is E's)"]]
    assert claims.table.item_id.unique().tolist() == ["A1"]

"""Government investment (issue 21, point 2): direct investment and capital injection (measures 1 and 4), read from
its own table, never a claim nor in a subsidy total, charged only to the budget's investment sources and reported
apart by simulate (printed, summary.json, its sheet, the outlay chart's own series)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_engine import BudgetError, evaluate, explain, load_policy
from subsidy_engine.service.cli import main
from subsidy_engine.simulation.simulate import simulate

from builders import as_tables, fen
from strategies import budget_of, examples
from workbooks import write_tables

POLICY = load_policy()
PROJECT = {"project_id": "P1", "enterprise_id": "E", "domain": "public", "stage": "pilot",
           "total_investment": "100000000", "eligible_investment": "100000000", "start_date": "2026-03-01",
           "industry_or_software": True, "district": "haidian", "platform_type": "non_profit"}  # measures 1 and 4
AWARD = {"award_id": "A1", "enterprise_id": "E", "project_id": "P1", "kind": "reward", "amount": "100",
         "decision_date": "2026-05-01"}


def investment(**cells: object) -> dict[str, object]:
    return {"investment_id": "G1", "project_id": "P1", "kind": "direct_investment", "year": 2026, "amount": "5000000",
            **cells}


def portfolio(*invested: dict[str, object], projects: list[dict[str, object]] | None = None
              ) -> dict[str, list[dict[str, object]]]:
    return {"projects": projects or [PROJECT], "loans": [], "insurance": [], "events": [], "awards": [AWARD],
            "government_investment": list(invested)}


SOURCES = [{"id": "fund", "level": "municipal", "caps": "1000"},
           {"id": "platforms", "level": "municipal", "caps": "100", "investment": True, "eligible": {"measures": [4]}},
           {"id": "city", "level": "municipal", "caps": "4000000", "investment": True}]


def test_it_is_never_a_claim_nor_in_a_subsidy_total() -> None:
    with_it = evaluate(as_tables(portfolio(investment(), investment(investment_id="G2", kind="capital_injection",
                                                                    year=2027, amount="7"))), POLICY)
    without = evaluate(as_tables(portfolio()), POLICY)
    pd.testing.assert_frame_equal(with_it.table, without.table)
    assert with_it.total == without.total == Decimal("100.00")
    invested = with_it.government_investment
    assert invested[["investment_id", "project_id", "enterprise_id", "district", "measure", "kind", "year"]
                    ].values.tolist() == [["G1", "P1", "E", "haidian", 1, "direct_investment", 2026],
                                          ["G2", "P1", "E", "haidian", 1, "capital_injection", 2027]]
    assert fen(invested.amount).tolist() == [500000000, 700]
    assert evaluate(as_tables(portfolio(investment(year=2027))), POLICY, years=[2026]).government_investment.empty


@pytest.mark.parametrize(("cells", "field", "reason"), [
    ({"kind": "loan"}, "kind", "'loan' is not one of 'direct_investment', 'capital_injection'"),
    ({"measure": 2}, "measure", "is not 1 or 4"),
    ({"kind": "capital_injection", "measure": 4}, "measure", "is 1 for a capital injection"),
    ({"year": 1999}, "year", "is not a year from 2000 to 2100"),
    ({"year": "soon"}, "year", "is not a whole number"),
    ({"year": "2026.5"}, "year", "is not a whole number"),
    ({"amount": "-5"}, "amount", "must be positive"),
    ({"amount": None}, "amount", "is missing"),
    ({"project_id": "P9"}, "project_id", "is not a project of the projects table"),
    ({"project_id": None}, "project_id", "is missing"),
])
def test_a_bad_row_is_rejected_naming_its_row_field_and_reason(cells: dict[str, object], field: str,
                                                              reason: str) -> None:
    claims = evaluate(as_tables(portfolio(investment(investment_id="OK"), investment(investment_id="BAD", **cells))),
                      POLICY)
    rejected = claims.rejections
    assert rejected[["table", "row", "id"]].drop_duplicates().values.tolist() == [["government_investment", 3, "BAD"]]
    assert any(f == field and reason in r for f, r in zip(rejected.field, rejected.reason)), rejected
    assert claims.government_investment.investment_id.tolist() == ["OK"]
    assert len(rejected) == 1 or field == "project_id"  # one reason a bad cell (review: a year said twice)


def test_the_investment_of_a_project_outside_the_coverage_goes_with_it() -> None:
    late = {**PROJECT, "project_id": "P2", "start_date": "2031-03-01"}
    claims = evaluate(as_tables(portfolio(investment(), investment(investment_id="G2", project_id="P2"),
                                          projects=[PROJECT, late])), POLICY)
    mine = claims.rejections[claims.rejections.table == "government_investment"]
    assert mine[["row", "id", "field", "reason"]].values.tolist() == [
        [3, "G2", "project_id", "its project is rejected: it is not evaluated"]]
    assert claims.government_investment.investment_id.tolist() == ["G1"]


def test_simulate_charges_it_to_investment_sources_only_and_reports_the_rest_uncharged() -> None:
    rows = portfolio(investment(), investment(investment_id="G2", measure=4, amount="300"),
                     investment(investment_id="G3", kind="capital_injection", year=2027, amount="9000000"))
    run = simulate(as_tables(rows), range(2026, 2029), budget=budget_of(SOURCES))
    assert run.allocation.by_source.source_id.unique().tolist() == ["fund"]  # the subsidies' sources only
    assert fen(run.allocation.awards.awarded).sum() == 10000  # the reward, paid by the fund
    assert run.investment is not None
    assert set(run.investment.by_source.source_id) == {"platforms", "city"}
    shown = [(r.year, r.source_id, r.measure, r.kind, int(fen(pd.Series([r.amount]))[0]))
             for r in run.government_investment.itertuples()]
    # platforms pays measure 4 up to its 100 a year; city the rest within 400万 a year; what is left, uncharged
    assert shown == [(2026, "city", 1, "direct_investment", 400000000), (2026, "city", 4, "direct_investment", 20000),
                     (2026, "platforms", 4, "direct_investment", 10000), (2026, None, 1, "direct_investment", 100000000),
                     (2027, "city", 1, "capital_injection", 400000000),
                     (2027, None, 1, "capital_injection", 500000000)] or shown
    total = sum(amount for *_, amount in shown)
    assert total == 500000000 + 30000 + 900000000  # nothing lost in the split


def test_a_budget_without_investment_sources_reports_it_all_uncharged() -> None:
    run = simulate(as_tables(portfolio(investment())), range(2026, 2029), budget=budget_of(SOURCES[:1]))
    assert run.investment is None
    assert run.government_investment[["year", "source_id"]].values.tolist() == [[2026, None]]


@pytest.mark.parametrize(("source", "error"), [
    ({"id": "x", "level": "district", "caps": "1", "investment": True, "matching_share": "1"},
     "an investment source has no matching_share"),
])
def test_an_investment_source_is_checked(source: dict[str, object], error: str) -> None:
    with pytest.raises(BudgetError, match=error):
        budget_of([SOURCES[0], source])
    with pytest.raises(BudgetError, match="at least 1 funding source for the subsidies"):
        budget_of([SOURCES[2]])


def test_a_budget_without_investment_sources_hashes_as_before() -> None:
    plain = budget_of(SOURCES[:1])
    marked = budget_of([{**SOURCES[0], "investment": False}])
    assert plain.digest == marked.digest != budget_of(SOURCES).digest


def test_the_command_prints_writes_and_draws_it_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = {name: pd.DataFrame(rows) for name, rows in portfolio(
        investment(), investment(investment_id="G2", kind="capital_injection", year=2027, amount="7")).items()
        if rows}
    folder = write_tables(tmp_path, "csv", tables)
    budget = tmp_path / "budget.yaml"
    import yaml
    budget.write_text(yaml.safe_dump({"id": "b", "status": "inferred", "basis": "test", "years": [2026, 2028],
                                      "sources": SOURCES}), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["simulate", "--portfolio", str(folder), "--budget", str(budget), "--years", "3", "--start",
                 "2026", "--out", str(out), "--lang", "en"]) == 0
    said = capsys.readouterr().out
    assert "Government investment (direct investment and capital injection, measures 1 and 4, not in the " \
           "subsidies above): 5,000,007.00 in all, 4,000,007.00 of it charged to investment budgets" in said
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["government_investment"] == [
        {"year": 2026, "source_id": "city", "measure": 1, "kind": "direct_investment", "amount": "4000000.00"},
        {"year": 2026, "source_id": None, "measure": 1, "kind": "direct_investment", "amount": "1000000.00"},
        {"year": 2027, "source_id": "city", "measure": 1, "kind": "capital_injection", "amount": "7.00"}]
    assert sum(Decimal(r["awarded"]) for r in summary["by_year"]) == Decimal("100.00")  # the reward alone
    sheet = openpyxl.load_workbook(out / "report.xlsx", read_only=True)["government investment"]
    rows = list(sheet.iter_rows(values_only=True))
    assert "kind of investment" in rows[0] and ("direct investment" in rows[1] or "direct investment" in rows[2])


def test_the_demo_portfolio_hash_names_what_the_generator_makes_now() -> None:
    """Review: the demo's hash was the call and the engine's version alone, unchanged when the same call gained the
    awards, the list flags and the government's investment."""
    import hashlib

    from subsidy_engine.core.provenance import engine_version
    from subsidy_engine.simulation.synthetic import portfolio as demo

    before = hashlib.sha256(f"subsidy_engine.demo.portfolio(10, seed=78) {engine_version()}".encode()).hexdigest()
    assert demo(10).digest != before and demo(10).digest == demo(10).digest


def test_explain_says_the_investment_apart_and_cites_its_clause() -> None:
    claims = evaluate(as_tables(portfolio(investment(), investment(investment_id="G2", measure=4, year=2027,
                                                                   amount="7"))), POLICY)
    text = explain(claims, "P1", lang="en")
    assert ("Government investment (not a subsidy, in no claim): direct_investment of 5,000,000.00 in 2026; "
            "78號 measure 1") in text
    assert "direct_investment of 7.00 in 2027; 78號 measure 4" in text
    assert "1 claim(s) in all years, total 100.00" in text  # the reward alone
    zh = explain(claims, "P1")
    assert "政府投资（不是补贴，不计入申请金额）：2026年直接投资5,000,000.00元；78号第1条" in zh and "第4条：「" in zh


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.sampled_from(["P1", "P2"]), st.sampled_from(["direct_investment",
                                                                               "capital_injection"]),
                               st.sampled_from([1, 4]), st.integers(2026, 2028), st.integers(1, 10**9)),
                     min_size=1, max_size=8),
       caps=st.lists(st.integers(0, 10**9), min_size=2, max_size=2), measures=st.sampled_from([None, [1], [4]]))
def test_what_is_charged_equals_the_plain_reference_and_nothing_is_lost(rows: list, caps: list[int],
                                                                        measures: list[int] | None) -> None:
    """The investment per year and source equals the reference allocation of the same rows against the investment
    sources alone (a plain budget of them); charged and uncharged add up to what was invested."""
    from subsidy_engine import Budget
    from subsidy_engine.reference.allocation import reference_allocate

    invested = [investment(investment_id=f"G{k}", project_id=p, kind=kind, measure=4 if kind == "direct_investment"
                           and m == 4 else 1, year=y, amount=str(Decimal(fen_) / 100))
                for k, (p, kind, m, y, fen_) in enumerate(rows)]
    second = {**PROJECT, "project_id": "P2", "enterprise_id": "F", "district": "daxing"}
    sources = [SOURCES[0], {"id": "inv_a", "level": "municipal", "caps": str(Decimal(caps[0]) / 100),
                            "investment": True, "carry_over": True,
                            **({"eligible": {"measures": measures}} if measures else {})},
               {"id": "inv_b", "level": "district", "caps": str(Decimal(caps[1]) / 100), "investment": True,
                "eligible": {"districts": ["haidian"]}}]
    run = simulate(as_tables(portfolio(*invested, projects=[PROJECT, second])), range(2026, 2029),
                   budget=budget_of(sources))
    got: dict[tuple[int, object], int] = {}
    for r in run.government_investment.itertuples():
        got[(r.year, r.source_id)] = got.get((r.year, r.source_id), 0) + int(Decimal(r.amount) * 100)
    plain = Budget.of({"id": "plain", "status": "inferred", "basis": "test", "years": [2026, 2028],
                       "priority_tiers": [], "sources": [{k: v for k, v in s.items() if k != "investment"}
                                                         | {"level": "municipal"} for s in sources[1:]]})
    district = {"P1": "haidian", "P2": "daxing"}
    claims = [{"claim_id": f"government_investment:{r['investment_id']}", "item": f"government_investment:"
               f"{r['investment_id']}", "year": r["year"], "amount": Decimal(str(r["amount"])),
               "measure": r["measure"], "project_id": r["project_id"], "enterprise_id": "E" if r["project_id"] == "P1"
               else "F", "district": district[str(r["project_id"])]} for r in invested]
    awards, _ = reference_allocate(claims, plain, "waterfall")
    want: dict[tuple[int, object], int] = {}
    year_of = {c["claim_id"]: c["year"] for c in claims}
    for (claim_id, _, source), fen_ in awards.items():
        if fen_:
            want[(year_of[claim_id], source)] = want.get((year_of[claim_id], source), 0) + fen_
    for c in claims:
        left = int(c["amount"] * 100) - sum(v for (k, _, _), v in awards.items() if k == c["claim_id"])
        if left:
            want[(c["year"], None)] = want.get((c["year"], None), 0) + left
    assert got == want
    assert sum(got.values()) == sum(fen_ for *_, fen_ in rows)  # nothing lost in the split


def test_a_table_whose_amounts_add_up_beyond_the_exact_range_is_refused_as_a_whole(tmp_path: Path,
                                                                                 capsys: pytest.CaptureFixture[str]
                                                                                 ) -> None:
    """Review: 93,000 rows of 999,999,999,999.99 summed to a negative total (int64 overflow) with no investment
    budget, and aborted the run naming "claims" with one; validate said nothing. The table is now refused as a
    whole, by validate too, and the rest of the portfolio computed."""
    rows = [investment(investment_id=f"G{k}", amount="999999999999.99") for k in range(100)]
    claims = evaluate(as_tables(portfolio(*rows)), POLICY)
    assert claims.government_investment.empty and claims.total == Decimal("100.00")
    whole = claims.rejections[claims.rejections.table == "government_investment"]
    assert whole.reason.tolist() == ["the amounts add up to more than 9e13 yuan, beyond the engine's exact range: "
                                     "its 100 row(s) are not read"]
    folder = write_tables(tmp_path, "csv", {"projects": pd.DataFrame([PROJECT]),
                                            "government_investment": pd.DataFrame(rows)})
    assert main(["validate", str(folder)]) == 1
    assert "超出引擎的精确计算范围" in capsys.readouterr().out


def test_an_investment_source_reads_no_instrument() -> None:
    with pytest.raises(BudgetError, match="its eligible reads measures and the project's attributes, not instruments"):
        budget_of([SOURCES[0], {**SOURCES[2], "eligible": {"instruments": ["investment_subsidy"]}}])


def test_growth_projects_of_a_scenario_bring_their_investment() -> None:
    """Review: a scenario's new projects kept their loans, insurance, events and awards but not their investment."""
    from subsidy_engine.simulation.scenario import Scenario
    from subsidy_engine.simulation.synthetic import portfolio as demo

    base = demo(200, seed=78)
    grown = Scenario.of({"id": "x", "growth": {"projects_per_year": 300, "from_year": 2027}}).portfolio(
        base, tuple(range(2026, 2031)))
    added = grown.government_investment.investment_id.astype(str)
    assert added.str.startswith("G2027-").any() and len(grown.government_investment) > len(base.government_investment)


def test_a_scenario_reports_its_own_government_investment(tmp_path: Path) -> None:
    """Review: a scenario that cut the investment budget left 1.29 bn uncharged, which no output said."""
    from subsidy_engine.reports.simulation_report import write_outputs
    from subsidy_engine.simulation.scenario import Scenario
    from subsidy_engine.simulation.simulate import Comparison

    rows = portfolio(investment(), investment(investment_id="G2", year=2027, amount="3000000"))
    budget = budget_of(SOURCES)
    scenario = Scenario.of({"id": "cut", "budget": {"caps": {"city": "1000000"}}})
    base = simulate(as_tables(rows), range(2026, 2029), budget=budget)
    other = simulate(as_tables(rows), range(2026, 2029), budget=scenario.budget(budget), label="cut")
    write_outputs(base, tmp_path, comparison=Comparison(base, other), scenario=scenario, charts=False, lang="en")
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))

    def uncharged(records: list[dict[str, object]]) -> Decimal:
        return sum((Decimal(str(r["amount"])) for r in records if r["source_id"] is None), Decimal(0))

    assert uncharged(summary["government_investment"]) == Decimal("1000000.00")
    assert uncharged(summary["scenario"]["government_investment"]) == Decimal("6000000.00")
    book = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    assert {"government investment", "scenario government investment"} <= set(book.sheetnames)


def test_the_parameters_sheet_lists_the_investment_budget_s_caps() -> None:
    """Review: the sheet that lists every value the figures rest on left the investment sources' caps out."""
    from subsidy_engine.reports.workbook import report_tables

    run = simulate(as_tables(portfolio(investment())), range(2026, 2029), budget=budget_of(SOURCES))
    listed = report_tables(run, lang="en")["parameters"].frame
    assert {"budget.fund.caps", "budget.platforms.caps", "budget.city.caps"} <= set(listed.parameter)


@pytest.mark.parametrize(("project", "cells", "reason"), [
    ({"domain": "economic"}, {"kind": "capital_injection"},
     "is measure 1's for a public-domain project (78號 measure 1); its project is economic-domain"),
    ({"platform_type": "quasi_operating", "free_service_obligation": True, "expected_returns": "1000"},
     {"measure": 4}, "is measure 4's for a non-profit platform (78號 measure 4); its project is not one"),
    ({"platform_type": "none"}, {"measure": 4},
     "is measure 4's for a non-profit platform (78號 measure 4); its project is not one"),
])
def test_an_investment_the_clause_does_not_allow_for_its_project_is_rejected(project: dict[str, object],
                                                                           cells: dict[str, object],
                                                                           reason: str) -> None:
    """Third review: measure 1 allows direct investment and capital injection in public-domain projects, measure 4
    direct investment in non-profit platforms; a row for another project went through, and explain cited the
    clause it breaks."""
    rows = portfolio(investment(investment_id="BAD", **cells), projects=[{**PROJECT, **project}])
    claims = evaluate(as_tables(rows), POLICY)
    mine = claims.rejections[claims.rejections.table == "government_investment"]
    assert mine[["row", "id", "field", "reason"]].values.tolist() == [[2, "BAD", "measure", reason]]
    assert claims.government_investment.empty
    platform = {**PROJECT, "project_id": "P2", "platform_type": "non_profit"}
    fine = evaluate(as_tables(portfolio(investment(measure=4, project_id="P2"), projects=[PROJECT, platform])),
                    POLICY)
    assert fine.rejections.empty and len(fine.government_investment) == 1

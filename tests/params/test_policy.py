"""The 78號 parameter file: sourced values, a strict loader, dated sets."""

from __future__ import annotations

import copy
import functools
import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine import CoverageError, Loan, PolicyError, amortize, interest_subsidy, load_policy
from subsidy_engine.params.policy import FEW_DAYS, Policy

from builders import BUNDLED, two_sets, write
from strategies import examples


def test_every_value_has_a_status_and_a_defined_source() -> None:
    policy = load_policy()
    seen = 0
    for section, values in policy.sets[0].parameters:
        for name, parameter in values:
            assert parameter.status in ("official", "official-analog", "inferred"), (section, name)
            source = policy.sources[parameter.source]
            assert source.title and (source.url is None or source.url.startswith("http"))
            seen += 1
    assert seen == 26
    # 78號 publishes no amount or rate: no number in the defaults may claim to be official
    def is_number(value: object) -> bool:
        if isinstance(value, dict):
            value = list(value.values())
        return isinstance(value, (Decimal, int)) or (isinstance(value, list) and any(map(is_number, value)))
    official_numbers = [name for _, values in policy.sets[0].parameters for name, p in values
                        if p.status == "official" and is_number(p.value)]
    assert official_numbers == []


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["parameter_sets"][0]["parameters"]["interest_subsidy"].update(pointz={}),
     r"parameter_sets\.0\.parameters\.interest_subsidy\.pointz: Extra inputs are not permitted"),
    (lambda d: d["parameter_sets"][0]["parameters"]["interest_subsidy"]["points"].update(value=0.025),
     "must be written as a string"),
    (lambda d: d["parameter_sets"][0]["parameters"]["interest_subsidy"]["points"].pop("source"),
     r"interest_subsidy\.points\.source: Field required"),
    (lambda d: d["parameter_sets"][0]["parameters"]["reits_grant"]["mode"].update(status="guess"),
     r"reits_grant\.mode\.status: Input should be 'official', 'official-analog' or 'inferred'"),
    (lambda d: d["parameter_sets"][0]["parameters"]["stacking"]["district_policies"].update(source="nope"),
     r"stacking\.district_policies: source 'nope' is not defined"),
])
def test_the_loader_is_strict_and_says_where(tmp_path, change, message) -> None:
    data = copy.deepcopy(BUNDLED)
    change(data)
    with pytest.raises(PolicyError, match=message):
        load_policy(write(tmp_path, data))




def test_gaps_and_overlaps_are_errors(tmp_path) -> None:
    with pytest.raises(PolicyError, match="no parameters between 2024-12-30"):
        load_policy(write(tmp_path, two_sets(date(2024, 12, 30), date(2025, 1, 1))))
    with pytest.raises(PolicyError, match="overlap"):
        load_policy(write(tmp_path, two_sets(date(2025, 1, 1), date(2025, 1, 1))))


def test_each_anchor_date_gets_the_set_in_force(tmp_path) -> None:
    policy = load_policy(write(tmp_path, two_sets(date(2024, 12, 31), date(2025, 1, 1))))
    days = np.array([(d - date(1970, 1, 1)).days for d in
                     (date(2021, 7, 22), date(2024, 12, 31), date(2025, 1, 1), date(2040, 1, 1))])
    assert policy.set_index(days).tolist() == [0, 0, 1, 1]
    assert policy.at(date(2025, 6, 1)).interest_subsidy_rule().points == Decimal("0.015")
    with pytest.raises(CoverageError, match="no parameters in force on 2021-07-21"):
        policy.at(date(2021, 7, 21))


def test_the_bundled_rule_reproduces_the_published_example() -> None:
    loan = Loan(principal="500000000", annual_rate="0.03", term_months=60, grace_months=24,
                start_date="2024-04-19")
    rule = load_policy().at(loan.start_date).interest_subsidy_rule()
    assert interest_subsidy(amortize(loan), rule).total == Decimal("25000000.08")


def test_the_policy_digest_changes_with_the_file(tmp_path) -> None:
    data = copy.deepcopy(BUNDLED)
    data["parameter_sets"][0]["parameters"]["insurance_premium"]["share"]["value"] = "0.70"
    assert load_policy(write(tmp_path, data)).digest != load_policy().digest


def test_a_rule_is_made_once_per_section_and_anew_for_a_changed_one() -> None:
    from subsidy_engine.params.policy import ParameterSet

    first = load_policy().sets[0]
    assert first.interest_subsidy_rule() is first.interest_subsidy_rule()
    assert first.interest_subsidy_rule(date(2024, 1, 1)).start_date == date(2024, 1, 1)
    data = first.model_dump()
    data["parameters"]["interest_subsidy"]["points"]["value"] = Decimal("0.01")
    changed = ParameterSet.model_validate(data, strict=False)
    assert changed.interest_subsidy_rule().points == Decimal("0.01")
    assert first.interest_subsidy_rule().points == Decimal("0.025")


# -- what the data covers, said where it is used (issue 16, row 11) ------------------------------------------------
def portfolio_of(*loans: dict[str, object], project_start: str = "2024-01-01"):
    """One project of one enterprise with ``loans`` (each a row of the loans table, L-prefixed ids)."""
    import pandas as pd

    from subsidy_engine.pipeline.inputs import TABLES, PortfolioTables, check_tables

    rows = {"projects": [{"project_id": "P", "enterprise_id": "E", "domain": "public", "stage": "pilot",
                          "total_investment": "1000000000", "eligible_investment": "1000000000",
                          "start_date": project_start, "industry_or_software": True, "district": "haidian"}],
            "loans": [{"project_id": "P", "principal": "100000000", "term_months": 36, **loan} for loan in loans],
            "insurance": [], "events": []}
    frames = {name: pd.DataFrame(rows.get(name, []), columns=list(columns) if not rows.get(name) else None, dtype=object)
              for name, (_, columns) in TABLES.items()}
    return PortfolioTables(**frames, problems=check_tables(frames), source="test", digest="test")


def sections(text: str) -> dict[str, str]:
    """An explanation's paragraphs by the claim id they start with."""
    return {part.split(":", 3)[0] + ":" + part.split(":", 3)[1] + ":" + part.split(":", 3)[2]: part
            for part in text.split("\n\n") if part.startswith("interest_subsidy:")}


FLOATING = {"floating_tenor": "5Y", "floating_spread_bp": "-30", "floating_reset": "january"}


def test_a_loan_priced_on_a_projected_lpr_is_noted_and_explained_claim_by_claim() -> None:
    """issue 16, row 11: a floating loan priced on the 2026 LPR held flat said so only in ``lpr_projection``;
    nothing in the notes or in ``explain``. The projection is now a note of the result, and each claim of the loan
    whose year it touches says so in ``explain``; a fixed loan's claims say nothing of it."""
    from subsidy_engine import evaluate, explain, load_lpr

    tables = portfolio_of({"loan_id": "LF", "start_date": "2029-03-15", **FLOATING},
                          {"loan_id": "LX", "annual_rate": "0.03", "start_date": "2024-04-19"})
    claims = evaluate(tables, load_policy(), lpr=load_lpr().hold_flat(until=date(2040, 12, 31)))
    assert claims.rejections.empty and set(claims.table.item_id) == {"LF", "LX"}
    [note] = [n for n in claims.notes if "projection" in n]
    assert "1 floating loan" in note and "'flat'" in note and "from 2029-03-15" in note, note
    assert "last published fixing (2026-05-20: 1Y 3%, 5Y 3.5%) held flat" in note and "2040-12-31" in note, note
    text = explain(claims, "P", lang="en")
    assert f"Note: {note}" in text
    paragraphs = sections(text)
    for claim in claims.table.itertuples():
        said = "not published data: the LPR projection 'flat'" in paragraphs[claim.claim_id]
        assert said == (claim.item_id == "LF"), (claim.claim_id, paragraphs[claim.claim_id])


def test_an_item_beyond_covers_until_is_rejected_with_the_reason() -> None:
    """issue 16, row 11: the open-ended parameter set gave a loan of 2100 the parameters of 2021 without a word.
    The bundled file states its coverage (``covers_until``, sourced, with a status); an item anchored after it is
    rejected with a reason naming it, as one before the first set is."""
    from subsidy_engine import evaluate

    policy = load_policy()
    assert policy.covers_until is not None and policy.covers_until.status == "inferred"
    assert policy.covers_until.source in policy.sources and policy.covers_until.note
    end = policy.covers_until.value
    assert policy.coverage == (date(2021, 7, 22), end)
    tables = portfolio_of({"loan_id": "L2100", "annual_rate": "0.03", "start_date": "2100-01-04"},
                          {"loan_id": "LX", "annual_rate": "0.03", "start_date": "2024-04-19"})
    claims = evaluate(tables, policy)
    report = claims.rejections.set_index("id")
    assert report.loc["L2100", "field"] == "start_date"
    assert f"covers_until {end}" in report.loc["L2100", "reason"], report.loc["L2100", "reason"]
    assert set(claims.table.item_id) == {"LX"}
    with pytest.raises(CoverageError, match=f"covers_until {end}"):
        policy.at(end + (date(2000, 1, 2) - date(2000, 1, 1)))
    assert policy.at(end).id == policy.sets[-1].id


def test_an_open_ended_file_without_covers_until_is_noted_on_the_result_and_its_claims(tmp_path) -> None:
    """issue 16, row 11: a parameter file that states no end (no covers_until, its last set open) gave 2060 the
    parameters of 2021 with no note. Its items are still evaluated, but the result says the set has no stated end,
    and so does each claim it is used for."""
    from subsidy_engine import evaluate, explain, load_lpr

    data = copy.deepcopy(BUNDLED)
    data.pop("covers_until")
    policy = load_policy(write(tmp_path, data))
    assert policy.coverage[1] is None and policy.covers_until is None
    tables = portfolio_of({"loan_id": "LF", "start_date": "2060-03-15", **FLOATING}, project_start="2060-01-01")
    claims = evaluate(tables, policy, lpr=load_lpr().hold_flat(until=date(2070, 12, 31)))
    assert claims.rejections.empty and len(claims.table)
    [open_end] = [n for n in claims.notes if "covers_until" in n]
    assert "states no end" in open_end and "2021-07-22" in open_end, open_end
    assert any("from 2060-03-15" in n for n in claims.notes), claims.notes
    for paragraph in sections(explain(claims, "P", lang="en")).values():
        assert "has no stated end (the parameter file gives no covers_until)" in paragraph, paragraph
        assert "not published data: the LPR projection 'flat'" in paragraph


def test_covers_until_must_be_within_the_sets_and_sourced(tmp_path) -> None:
    """issue 16, row 11: a stated coverage beyond the last set's valid_to, or before the first set, is an error
    that says where; it has a status and a defined source like every value of the file."""
    data = copy.deepcopy(BUNDLED)
    data["parameter_sets"][0]["valid_to"] = date(2025, 12, 31)
    with pytest.raises(PolicyError, match="covers_until .* is after 2025-12-31, the valid_to of set"):
        load_policy(write(tmp_path, data))
    data = copy.deepcopy(BUNDLED)
    data["covers_until"]["value"] = date(2020, 1, 1)
    with pytest.raises(PolicyError, match="covers_until 2020-01-01 is before 2021-07-22"):
        load_policy(write(tmp_path, data))
    data = copy.deepcopy(BUNDLED)
    data["covers_until"]["source"] = "nope"
    with pytest.raises(PolicyError, match="covers_until: source 'nope' is not defined"):
        load_policy(write(tmp_path, data))


def test_a_scenario_s_parameters_keep_the_file_s_coverage() -> None:
    """issue 16, row 11: a scenario that overrides parameters rebuilds the policy; it keeps ``covers_until``."""
    from subsidy_engine.simulation.scenario import Scenario

    policy = load_policy()
    changed = Scenario.of({"id": "x", "parameters": {"insurance_premium.share": "0.60"}}).policy(policy)
    assert changed.coverage == policy.coverage and changed.covers_until == policy.covers_until


@functools.lru_cache(maxsize=1)
def _two_sets() -> Policy:
    """An open-ended file of two sets, read once (the look-up test below runs many times)."""
    return load_policy(write(Path(tempfile.mkdtemp(prefix="two-sets-")), two_sets(date(2024, 12, 31), date(2025, 1, 1))))


@settings(max_examples=examples(60), deadline=None)
@given(days=st.lists(st.integers(18_000, 25_000), min_size=1, max_size=5), open_ended=st.booleans())
def test_one_day_is_looked_up_as_an_array_of_days(days: list[int], open_ended: bool) -> None:
    """Policy.at and index_on (a quote's few days, without arrays) give set_index's set over many days (its
    searchsorted), and its refusal; set_index of a few days is index_on's."""
    policy = _two_sets() if open_ended else load_policy()
    for day in days:
        try:
            expected: int | str = int(policy.set_index(np.full(FEW_DAYS + 1, day))[0])
            assert policy.set_index(np.array([day])).tolist() == [expected]
        except CoverageError as exc:
            expected = str(exc)
        try:
            found: int | str = policy.index_on(day)
            assert policy.at(date(1970, 1, 1) + timedelta(days=day)) is policy.sets[found]
        except CoverageError as exc:
            found = str(exc)
        assert found == expected
        assert policy.outside_day(day) == bool(policy.outside(np.array([day]))[0])

"""The 78號 parameter file: sourced values, a strict loader, dated sets."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import numpy as np
import pytest
import yaml

from subsidy_engine import CoverageError, Loan, PolicyError, amortize, interest_subsidy, load_policy
from subsidy_engine.rates import schedules_dir

BUNDLED = yaml.safe_load((schedules_dir() / "policy-78.yaml").read_text(encoding="utf-8"))


def write(tmp_path, data) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


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


def two_sets(first_to: date, second_from: date) -> dict:
    data = copy.deepcopy(BUNDLED)
    first = data["parameter_sets"][0]
    second = copy.deepcopy(first)
    first["valid_to"] = first_to
    second.update(id="implementing-rules-2025", valid_from=second_from, valid_to=None)
    second["parameters"]["interest_subsidy"]["points"].update(value="0.015", status="official")
    data["parameter_sets"].append(second)
    return data


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
    from subsidy_engine.policy import ParameterSet

    first = load_policy().sets[0]
    assert first.interest_subsidy_rule() is first.interest_subsidy_rule()
    assert first.interest_subsidy_rule(date(2024, 1, 1)).start_date == date(2024, 1, 1)
    data = first.model_dump()
    data["parameters"]["interest_subsidy"]["points"]["value"] = Decimal("0.01")
    changed = ParameterSet.model_validate(data, strict=False)
    assert changed.interest_subsidy_rule().points == Decimal("0.01")
    assert first.interest_subsidy_rule().points == Decimal("0.025")

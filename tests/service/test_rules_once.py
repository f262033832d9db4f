"""Rules written once (issue 16, rows 12 and 2): the files' error messages, the digit rule and a stage's rate.

Budget, parameter and scenario files say their validation errors through ``subsidy_engine.core.messages`` (never a
class of the engine, never pydantic's "Value error, "); a budget's year keys are read by ``money.whole_number``;
``rate_by_stage`` is read by ``investment.stage_rate`` on the command line and over HTTP alike.
"""

from __future__ import annotations

import copy
import re
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from subsidy_engine import Budget, BudgetError, PolicyError, load_budget, load_lpr, load_policy
from subsidy_engine.errors import ScenarioError
from subsidy_engine.params.lpr import schedules_dir
from subsidy_engine.simulation.scenario import Scenario, load_scenario

from engine_names import class_names

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note on httpx versions
    from fastapi.testclient import TestClient


def _class_names() -> set[str]:
    return class_names()


def _said_plainly(message: str, prefix: str) -> None:
    """One line starting with ``prefix``, naming no class of the engine and none of pydantic's wording."""
    names = _class_names() | {"Eligibility"}  # a one-word class name, named in pydantic's wording
    assert {"FundingSource", "LprChanges", "ParameterSet"} <= names
    leaked = sorted(name for name in names if re.search(rf"\b{name}\b", message))
    assert not leaked, message
    assert "Value error," not in message and "validation error for" not in message, message
    assert "\n" not in message and message.startswith(prefix), message


BUDGET: dict[str, Any] = {"id": "b", "status": "inferred", "basis": "test", "years": [2026, 2027],
                          "sources": [{"id": "f", "level": "municipal", "caps": "1"}]}


@pytest.mark.parametrize("change", [
    {"priority_tiers": [5]},  # was "Input should be a valid dictionary or instance of Eligibility"
    {"sources": [5]},  # "... instance of FundingSource"
    {"sources": [{"id": "f", "level": "municipal", "caps": "1", "eligible": "all"}]},
    {"sources": [{"id": "f", "level": "district", "caps": "1"}]},  # the model's own check: "Value error, ..."
    {"years": [2028, 2026]},
])
def test_a_bad_budget_names_no_class(change: dict[str, Any], tmp_path: Path) -> None:
    """issue 16, row 12: a budget's errors were pydantic's own ("... instance of FundingSource"); they are said
    through subsidy_engine.core.messages, after the file's name."""
    with pytest.raises(BudgetError) as error:
        Budget.of({**BUDGET, **change}, "budget.yaml")
    _said_plainly(str(error.value), "budget.yaml: ")
    path = tmp_path / "budget.yaml"
    path.write_text(yaml.safe_dump({**BUDGET, **change}), encoding="utf-8")
    with pytest.raises(BudgetError) as error:
        load_budget(path)
    _said_plainly(str(error.value), f"{path}: ")


@pytest.mark.parametrize("change", [
    {"lpr": 5},  # was "Input should be a valid dictionary or instance of LprChanges"
    {"budget": "more"}, {"growth": [1]}, {"monte_carlo": 5},
    {"lpr": {"shifts": [5]}},
])
def test_a_bad_scenario_names_no_class(change: dict[str, Any], tmp_path: Path) -> None:
    """issue 16, row 12: a scenario's errors named its classes (LprChanges); they are said through
    subsidy_engine.core.messages, after the file's name."""
    with pytest.raises(ScenarioError) as error:
        Scenario.of({"id": "x", **change}, "s.yaml")
    _said_plainly(str(error.value), "s.yaml: ")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"id": "x", **change}), encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    _said_plainly(str(error.value), f"{path}: ")


@pytest.mark.parametrize("value, reason", [
    ("3.497", "3.497 is above 1"),  # was "...value: Value error, 3.497 is above 1"
    ("x", "'x' is not a decimal number"),
    ({"a": 1}, "value: "),
])
def test_a_scenario_s_bad_parameter_names_no_class(value: object, reason: str) -> None:
    """issue 16, row 12: a scenario's parameter overrides kept pydantic's "Value error, " prefix; the message
    names the parameter and the reason only."""
    with pytest.raises(ScenarioError) as error:
        Scenario.of({"id": "x", "parameters": {"interest_subsidy.points": value}}, "s.yaml").policy(load_policy())
    message = str(error.value)
    _said_plainly(message, "s.yaml: parameters")
    assert "interest_subsidy.points.value: " in message and reason in message, message


BUNDLED = yaml.safe_load((schedules_dir() / "policy-78.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("change", [
    lambda d: d.update(parameter_sets=[5]),  # "... instance of ParameterSet"
    lambda d: d["parameter_sets"][0]["parameters"].update(interest_subsidy=5),
    lambda d: d["parameter_sets"][0]["parameters"]["insurance_premium"]["share"].update(value="80"),
    lambda d: d["parameter_sets"][0]["parameters"]["insurance_premium"].update(share="0.8"),
    lambda d: d.update(sources=[1]),
])
def test_a_bad_parameter_file_names_no_class(change: Any, tmp_path: Path) -> None:
    """issue 16, row 12: a parameter file's errors kept pydantic's "Value error, " prefix and named its classes;
    they are said through subsidy_engine.core.messages, after the file's name."""
    data = copy.deepcopy(BUNDLED)
    change(data)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    _said_plainly(str(error.value), f"{path}: ")


# -- the digit rule -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("year", ["٢٠٢٦", "۲۰۲۶", "२०२६", "2_026"])
def test_a_budget_year_in_other_digits_is_not_a_year(year: str) -> None:
    """issue 16, row 12 (the one digit rule): ``caps: {"٢٠٢٦": ...}`` (Arabic-Indic digits) was read as 2026 by
    ``str.isdigit``; a year key is read by ``money.whole_number``, so it is refused, naming the key."""
    data = {**BUDGET, "years": [2026, 2026], "sources": [{"id": "f", "level": "municipal", "caps": {year: "1"}}]}
    with pytest.raises(BudgetError) as error:
        Budget.of(data, "budget.yaml")
    _said_plainly(str(error.value), "budget.yaml: sources.0.caps")
    assert repr(year) in str(error.value) or year in str(error.value)


@pytest.mark.parametrize("year", ["2026", " 2026 ", "２０２６", 2026])
def test_a_budget_year_in_ascii_or_full_width_digits_is_read(year: object) -> None:
    """issue 16, row 12: what ``money.whole_number`` reads (ASCII digits, full-width ones, spaces around)."""
    data = {**BUDGET, "years": [2026, 2026], "sources": [{"id": "f", "level": "municipal", "caps": {year: "7"}}]}
    budget = Budget.of(data)
    assert budget.cap(budget.sources[0], 2026) == Decimal(7)


# -- a stage's rate -----------------------------------------------------------------------------------------------
RATE_TEXTS = ["0.3", "30%", "0.3_0", "1.5", "-0.1", "３０%", "abc", "1", "0", "100%", "101%", "1e-10", "1e-11",
              "NaN", "", " 0.25 ", "0,3", "3e-1"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    from subsidy_engine.service.serve import create_app

    return TestClient(create_app(load_policy(), load_lpr().hold_flat(until=date(2060, 12, 31))),
                      raise_server_exceptions=False)


@pytest.mark.parametrize("text", RATE_TEXTS)
def test_the_command_line_and_http_read_a_stage_rate_alike(client: TestClient, text: str) -> None:
    """issue 16, row 12: ``rate_by_stage`` was read two ways: ``"30%"`` worked with ``--rates`` and was a 422
    over HTTP, and ``"0.3_0"`` passed the request's model to be refused later by the engine. Both read it with
    ``investment.stage_rate``: the same rates accepted, as the same value, and the same reason for the rest."""
    from subsidy_engine.params.rules import stage_rate
    from subsidy_engine.service.cli import _rates
    from subsidy_engine.service.quote import QuoteRequest

    try:
        expected: Decimal | None = stage_rate(text, "w")
        reason = ""
    except ValueError as exc:
        expected, reason = None, str(exc).removeprefix("w: ")
    try:
        cli: dict[str, str] | None = _rates(f"pilot={text},demonstration=0.2,promotion=0.1")
        cli_error = ""
    except ValueError as exc:
        cli, cli_error = None, str(exc)
    body = {"project": {"project_id": "P1", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
                        "total_investment": "500000000", "eligible_investment": "400000000",
                        "start_date": "2026-03-01"},
            "rate_by_stage": {"pilot": text, "demonstration": "0.2", "promotion": "0.1"}}
    answer = client.post("/quote", json=body)
    if expected is None:
        assert cli is None and answer.status_code == 422, (cli, answer.text[:300])
        if text.strip() and "," not in text:  # blank is "no rate" and a comma parts --rates: said before the rule
            assert cli_error == f"--rates pilot={text.strip()}: {reason}", (cli_error, reason)
        [detail] = answer.json()["detail"]
        assert detail["loc"][-1] == "rate_by_stage" and detail["msg"] == f"rate_by_stage.pilot: {reason}", detail
    else:
        assert answer.status_code == 200, answer.text[:300]
        assert cli is not None and Decimal(cli["pilot"]) == expected
        assert QuoteRequest.model_validate(body).rate_by_stage["pilot"] == cli["pilot"]  # type: ignore[index]
        [claim] = [c for c in answer.json()["claims"] if c["instrument"] == "investment_subsidy"]
        assert Decimal(claim["gross"]) == (expected * 400000000).quantize(Decimal("0.01"))


def test_stage_rate_says_what_a_rate_is() -> None:
    """issue 16, row 12: the one rule's answers, each refusal naming the field and the value."""
    from subsidy_engine.params.rules import stage_rate

    assert stage_rate("30%", "r") == Decimal("0.30") and stage_rate("0.3", "r") == Decimal("0.3")
    assert stage_rate("３０％", "r") == Decimal("0.30") and stage_rate(Decimal(1), "r") == Decimal(1)
    with pytest.raises(ValueError, match=r"^r: 1.5 is not a fraction between 0 and 1 \(0.3 or 30% is 30 percent\)$"):
        stage_rate("1.5", "r")
    with pytest.raises(ValueError, match=r"^r: '0.3_0': an underscore"):
        stage_rate("0.3_0", "r")
    with pytest.raises(ValueError, match=r"^r: floats are not accepted"):
        stage_rate(0.3, "r")


def test_a_bad_source_is_the_only_problem_said() -> None:
    """issue 16, row 12: one unreadable source was also said as "sources: Tuple should have at least 1 item after
    validation, not 0" (pydantic counts only the items it could read); the file's one source is said once."""
    with pytest.raises(BudgetError) as error:
        Budget.of({**BUDGET, "sources": [{"id": "f", "level": "city", "caps": "1"}]}, "budget.yaml")
    message = str(error.value)
    assert message.startswith("budget.yaml: sources.0.level: ") and "at least" not in message, message
    with pytest.raises(BudgetError, match=r"^budget.yaml: sources: a budget needs at least 1 funding source$"):
        Budget.of({**BUDGET, "sources": []}, "budget.yaml")


def test_a_message_s_path_holds_fields_and_keys_only() -> None:
    """issue 16, row 12: a refused cap was said at ``sources.0.caps.dict[int,function-before[_money(), decimal]].2026``
    (pydantic's names for the forms a value may take, a private function's among them); the path is the
    fields and keys the user wrote."""
    data = {**BUDGET, "years": [2026, 2026], "sources": [{"id": "f", "level": "municipal", "caps": {2026: "abc"}}]}
    with pytest.raises(BudgetError) as error:
        Budget.of(data, "budget.yaml")
    said = str(error.value)
    assert "sources.0.caps.2026:" in said and "[" not in said and "_money" not in said, said

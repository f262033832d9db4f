"""LPR data and horizon, the Loan model's errors, money rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from subsidy_engine import (
    CoverageError,
    FloatingRate,
    Loan,
    MoneyError,
    amortize,
    load_lpr,
    load_policy,
)
from subsidy_engine.core.money import div_half_up, quantize_fen, scaled_integer, split_largest_remainder, to_decimal
from subsidy_engine.params.lpr import schedules_dir


def test_lpr_history_is_complete_and_sourced() -> None:
    curve = load_lpr()
    assert curve.first_date == date(2019, 8, 20)
    assert curve.fixings[-1].date == date(2026, 5, 20)
    assert len(curve.fixings) == 82  # every monthly fixing, 2019-08 to 2026-05
    assert all(f.source.startswith("http") for f in curve.fixings)
    assert {f.status for f in curve.fixings} == {"official-analog", "inferred"}
    assert [f.date for f in curve.fixings if f.status == "inferred"] == [date(2021, 2, 22), date(2021, 9, 22)]
    # the change points of the published LPR history (schedules/lpr.csv)
    assert curve.rate("1Y", date(2019, 8, 19 + 1)) == Decimal("0.0425")
    assert curve.rate("5Y", date(2022, 5, 19)) == Decimal("0.046")
    assert curve.rate("5Y", date(2022, 5, 20)) == Decimal("0.0445")
    assert curve.rate("1Y", date(2024, 10, 21)) == Decimal("0.031")
    assert curve.rate("5Y", date(2026, 6, 19)) == Decimal("0.035")


def test_asking_beyond_the_horizon_is_an_error() -> None:
    curve = load_lpr()
    with pytest.raises(CoverageError, match="coverage horizon 2026-06-19"):
        curve.rate("1Y", date(2026, 6, 20))
    with pytest.raises(CoverageError, match="before the first fixing"):
        curve.rate("1Y", date(2019, 8, 19))
    loan = Loan(principal="1000000", floating=FloatingRate(tenor="5Y", spread_bp="0"),
                term_months=360, start_date="2024-01-15")
    with pytest.raises(CoverageError, match="projection"):
        amortize(loan)


def test_a_flat_projection_is_made_once_for_each_horizon_and_label() -> None:
    # a service holds the curve flat to each quote's horizon: the same horizon is the same curve, not a new one
    # whose digest and rate arrays are computed again
    curve = load_lpr()
    held = curve.hold_flat(until=date(2054, 12, 31))
    assert curve.hold_flat(until=date(2054, 12, 31)) is held
    assert curve.hold_flat(until=date(2055, 12, 31)) is not held
    other = curve.hold_flat(until=date(2054, 12, 31), label="mine")
    assert other is not held and other.projection_label == "mine" and other.digest != held.digest
    assert held == curve.with_projection([], until=date(2054, 12, 31), label="flat")


def test_a_flat_projection_is_explicit_and_reported() -> None:
    loan = Loan(principal="1000000", floating=FloatingRate(tenor="5Y", spread_bp="-30"),
                term_months=360, start_date="2024-01-15")
    schedule = amortize(loan, load_lpr().hold_flat(until=date(2054, 12, 31)))
    assert schedule.projected_from == date(2027, 1, 1)
    assert schedule.provenance.scenario == "flat"
    assert schedule.rows[-1].annual_rate == Decimal("0.032")


def test_projection_must_follow_the_history() -> None:
    with pytest.raises(ValueError, match="may not replace known rates"):
        load_lpr().with_projection([{"date": "2026-01-20", "lpr_1y_pct": "3", "lpr_5y_pct": "3.5"}],
                                   until=date(2030, 1, 1), label="x")


def test_a_bad_lpr_file_names_the_line(tmp_path) -> None:
    text = (schedules_dir() / "lpr.csv").read_text().replace("2020-03-20,4.05", "2020-03-20,4.O5")
    (tmp_path / "lpr.csv").write_text(text)
    with pytest.raises(ValueError, match=r"line 9: lpr_1y_pct: '4.O5' is not a decimal number"):
        load_lpr(tmp_path / "lpr.csv")


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"principal": 1000.0}, "principal", "floats are not accepted"),
    ({"principal": "100.001"}, "principal", "fraction of a fen"),
    ({"principal": "0"}, "principal", "must be positive"),
    ({"annual_rate": 0.05}, "annual_rate", "floats are not accepted"),
    ({"annual_rate": "5"}, "annual_rate", "above 1"),
    ({"term_months": "12"}, "term_months", "valid integer"),
    ({"term_months": 0}, "term_months", "between 1 and 600"),
    ({"frequency": "weekly"}, "frequency", "'monthly', 'quarterly'"),
    ({"frequency": "quarterly", "term_months": 10}, "frequency", "not a whole number"),
    ({"grace_months": 12}, "grace_months", "less than term_months"),
    ({"method": "balloon"}, "method", "is not one of"),
    ({"interest_basis": "act_366"}, "interest_basis", "is not one of"),
    ({"start_date": "2024-02-30"}, "start_date", "not an ISO date"),
    ({"settlement_day": 32}, "settlement_day", "1 to 31"),
    ({"method": "custom"}, "principal_plan", "needs a principal_plan"),
    ({"method": "custom", "principal_plan": ["1", "2"]}, "principal_plan", "has 2 entries"),
    ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
])
def test_every_bad_value_names_its_field(changes, field, message) -> None:
    fields = {"principal": "1000", "annual_rate": "0.05", "term_months": 12, "start_date": "2024-01-01"}
    with pytest.raises(ValidationError) as err:
        Loan(**{**fields, **changes})
    errors = err.value.errors()
    assert any(e["loc"] and e["loc"][0] == field for e in errors), errors
    assert message in str(err.value)


def test_rate_form_must_be_exactly_one() -> None:
    with pytest.raises(ValidationError, match="give exactly one"):
        Loan(principal="1000", term_months=12, start_date="2024-01-01")
    with pytest.raises(ValidationError, match="floats are not accepted"):
        FloatingRate(tenor="1Y", spread_bp=-20.0)


def test_loan_is_frozen() -> None:
    loan = Loan(principal="1000", annual_rate="0.05", term_months=12, start_date="2024-01-01")
    with pytest.raises(ValidationError):
        loan.principal = Decimal(5)  # type: ignore[misc]


def test_half_up_not_half_even() -> None:
    assert quantize_fen(Decimal("3.125")) == Decimal("3.13")
    assert round(Decimal("3.125"), 2) == Decimal("3.12")  # what we must not do
    assert div_half_up(25, 10) == 3 and div_half_up(35, 10) == 4 and div_half_up(24, 10) == 2
    with pytest.raises(MoneyError, match="floats"):
        to_decimal(0.1)


@given(digits=st.integers(0, 10**12), exponent=st.integers(-40, 40), places=st.sampled_from([2, 10]))
def test_scaled_integer_is_exact_arithmetic(digits: int, exponent: int, places: int) -> None:
    """The shortcuts (zero, more places to drop than digits) agree with plain fractions."""
    value = Decimal(digits).scaleb(exponent)
    exact = Fraction(digits) * Fraction(10) ** (exponent + places)
    assert scaled_integer(value, places) == (int(exact) if exact.denominator == 1 else None)


def test_magnitudes_no_amount_or_rate_reaches_are_refused_when_read() -> None:
    assert to_decimal("9" * 999) == Decimal("9" * 999)  # the field's own bound says why it is too large
    for text in ("1e999", "-1e999999", "1" + "0" * 999):
        with pytest.raises(MoneyError, match="digits before the point; no amount or rate comes near"):
            to_decimal(text)
    with pytest.raises(MoneyError, match="an integer of about 5,001 digits"):
        to_decimal(10**5000)  # past the 4,300 digits str() of an int allows
    assert to_decimal("0e999999") == 0 and scaled_integer(Decimal("0e999999"), 2) == 0
    assert scaled_integer(Decimal("1e-999999"), 2) is None


def test_largest_remainder_conserves_the_total() -> None:
    parts = split_largest_remainder(1000, [Decimal(1)] * 7)
    assert sum(parts) == 1000 and max(parts) - min(parts) == 1
    assert parts[:6] == [143] * 6  # ties go to the earlier items


# -- rates in rate files are bounded, every problem at once (issue 16, row 2) ---------------------------------------
def _lpr_file(tmp_path, *changes: tuple[str, str]):
    text = (schedules_dir() / "lpr.csv").read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "lpr.csv").write_text(text)
    return tmp_path / "lpr.csv"


def test_every_lpr_value_outside_the_bound_is_a_problem_naming_its_line(tmp_path) -> None:
    """issue 16, row 2: an LPR file with 349.7 (or "3,000") loaded as a 349.7% (3000%) LPR and a floating loan was
    amortised on it without a word. Every value outside (0, 100%] is a problem, all of them at once, each with the
    line a text editor shows and the value; "3,00" is refused by the one amount-text rule (money.to_decimal)."""
    path = _lpr_file(tmp_path, ("2020-03-20,4.05,4.75", "2020-03-20,349.7,4.75"),        # line 9
                     ("2022-05-20,3.70,4.45", '2022-05-20,3.70,"3,000"'),                  # line 35
                     ("2026-05-20,3.00,3.50", '2026-05-20,"3,00",0'))                      # line 83
    with pytest.raises(ValueError) as err:
        load_lpr(path)
    message = str(err.value)
    assert message.startswith(f"{path}: 4 problems: ") and "\n" not in message
    assert "line 9: lpr_1y_pct: '349.7' is 349.7% a year, above 100%" in message
    assert "line 35: lpr_5y_pct: '3,000' is 3000% a year, above 100%" in message
    with pytest.raises(MoneyError) as comma:
        to_decimal("3,00", "lpr_1y_pct")
    assert f"line 83: {comma.value}" in message  # the same rule, word for word
    assert "line 83: lpr_5y_pct: '0' is not positive" in message


def test_lpr_lines_are_the_lines_a_text_editor_shows(tmp_path) -> None:
    """issue 16, row 2: a blank line before a bad value moved the line the problem named (the reader counted
    records, not lines)."""
    path = _lpr_file(tmp_path, ("2019-09-20,4.20,4.85", "\n2019-09-20,4.20,4.85"),
                     ("2020-03-20,4.05,4.75", "2020-03-20,349.7,4.75"))  # now on line 10
    with pytest.raises(ValueError, match=r"lpr.csv, line 10: lpr_1y_pct: '349.7'"):
        load_lpr(path)


def test_a_projected_lpr_outside_the_bound_is_refused_every_value_at_once() -> None:
    """issue 16, row 2: a projection (a curve given in code) took any rate, 349.7% included."""
    with pytest.raises(ValueError) as err:
        load_lpr().with_projection([{"date": "2026-12-21", "lpr_1y_pct": "349.7", "lpr_5y_pct": "3.50"},
                                    {"date": "2027-12-20", "lpr_1y_pct": "3.00", "lpr_5y_pct": "-0.5"}],
                                   until=date(2030, 12, 31), label="hot")
    message = str(err.value)
    assert "projection 'hot': 2 problems" in message
    assert "2026-12-21: lpr_1y_pct: '349.7' is 349.7% a year, above 100%" in message
    assert "2027-12-20: lpr_5y_pct: '-0.5' is not positive" in message


def test_a_scenario_that_takes_the_lpr_out_of_bounds_is_refused_naming_each_change(tmp_path) -> None:
    """issue 16, row 2: a scenario's shifts of +34,000 bp priced floating loans at 343% with exit 0."""
    from subsidy_engine.errors import ScenarioError
    from subsidy_engine.simulation.scenario import load_scenario

    path = tmp_path / "hot.yaml"
    path.write_text("id: hot\nlpr:\n  shifts:\n    - {from: 2027-01-20, bp: 34000}\n"
                    "    - {from: 2028-01-20, bp: -34400, tenor: 5Y}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path).curve(load_lpr())
    message = str(err.value)
    assert message.startswith(f"{path}: lpr.shifts: 4 problems: ") and "\n" not in message
    assert "from 2027-01-20: the 1Y LPR would be 343% a year, above 100%" in message
    assert "from 2027-01-20: the 5Y LPR would be 343.5% a year, above 100%" in message
    assert "from 2028-01-20: the 1Y LPR would be 343% a year" in message
    assert "from 2028-01-20: the 5Y LPR would be -0.5% a year, not positive" in message


def test_policy_rates_are_bounded_every_value_at_once(tmp_path) -> None:
    """issue 16, row 2 (held already, kept as a check): a parameter file's rates and shares are fractions at most
    money.MAX_ANNUAL_RATE, and every value above it is named in one error."""
    import copy

    import yaml

    from subsidy_engine import PolicyError

    data = yaml.safe_load((schedules_dir() / "policy-78.yaml").read_text(encoding="utf-8"))
    changed = copy.deepcopy(data)
    parameters = changed["parameter_sets"][0]["parameters"]
    parameters["interest_subsidy"]["points"]["value"] = "3.497"
    parameters["insurance_premium"]["share"]["value"] = "80"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(changed, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policy(tmp_path / "p.yaml")
    assert "interest_subsidy.points.value: 3.497 is above 1" in str(err.value)
    assert "insurance_premium.share.value: 80 is above 1" in str(err.value)


def test_every_cli_rate_outside_the_bound_is_named_at_once() -> None:
    """issue 16, row 2: ``--rates pilot=2,demonstration=300%,...`` named only its first bad rate."""
    from subsidy_engine.service.cli import _rates

    with pytest.raises(ValueError) as err:
        _rates("pilot=2,demonstration=300%,promotion=0.1")
    message = str(err.value)
    assert "--rates pilot=2: 2 is not a fraction between 0 and 1" in message
    assert "--rates demonstration=300%: 3.00 is not a fraction between 0 and 1" in message


# Regressions from the first review (each a real failure before its fix)
def test_a_projection_cannot_replace_known_rates() -> None:
    with pytest.raises(ValueError, match="may not replace known rates"):
        load_lpr().with_projection([{"date": "2026-06-01", "lpr_1y_pct": "9", "lpr_5y_pct": "9.5"}],
                                   until=date(2030, 1, 1), label="x")

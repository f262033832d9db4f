"""Shared strategies: loans across every method, basis, frequency and rate form."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from subsidy_engine import Loan, load_lpr

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True, print_blob=True)
settings.register_profile(
    "thorough", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", "ci"))


def projected_curve():
    """The bundled history extended by a scenario whose rates move every year."""
    path = []
    one, five = Decimal("3.00"), Decimal("3.50")
    for k, year in enumerate(range(2027, 2081)):
        step = Decimal((k * 37) % 11 - 5) * Decimal("0.05")
        path.append({"date": date(year, 1, 20), "lpr_1y_pct": max(one + step, Decimal("0.5")),
                     "lpr_5y_pct": max(five + step, Decimal("0.8"))})
    return load_lpr().with_projection(path, until=date(2080, 12, 31), label="test-walk")


@pytest.fixture(scope="session")
def curve():
    return projected_curve()


# Rates whose monthly or day-count products often land exactly on half a fen.
TIE_RATES = [Decimal(x) for x in ("0.06", "0.12", "0.048", "0.036", "0.072", "0.0365", "0.0036",
                                  "0.08075", "0")]


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

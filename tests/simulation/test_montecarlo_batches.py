"""Monte Carlo paths priced together (issue 20, point 2): the loans a path reprices are priced for a batch of paths
in one call of the kernels, and each path is still, to the fen, the full pipeline on that path's own curve.

The portfolio is the generator's with the loans it never makes: 1Y tenors, resets on the drawdown anniversary,
custom principal plans, tranches and prepayments, due dates moved to business days and interest settled on
calendar days, so that every input of the rate segments and of the amortization differs between the copies of a
batch."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from subsidy_engine import load_budget, load_lpr, load_policy
from subsidy_engine.core.money import yuan_to_fen
from subsidy_engine.loans.portfolio import amortize_portfolio
from subsidy_engine.params.lpr import LprCurve, LprPaths
from subsidy_engine.pipeline.inputs import PortfolioTables, checked_portfolio
from subsidy_engine.simulation import montecarlo
from subsidy_engine.simulation.montecarlo import lpr_paths, monte_carlo
from subsidy_engine.simulation.scenario import MonteCarloSettings, Scenario
from subsidy_engine.simulation.simulate import simulate
from subsidy_engine.simulation.synthetic import portfolio

YEARS = (2026, 2027, 2028, 2029, 2030)
HOLD = date(2045, 12, 31)
SETTINGS = MonteCarloSettings(paths=7, seed=4, monthly_sigma_bp="30")
RATE_SENSITIVE = {"interest_subsidy.form": "share_of_interest", "interest_subsidy.points": "0.5"}


def every_kind_of_floating_loan(seed: int = 21, prepaid: bool = True) -> PortfolioTables:
    base = portfolio(400, seed=seed, start_between=(date(2024, 6, 1), date(2026, 5, 31)))
    loans = base.loans.copy()
    for column in ("floating_tenor", "method", "annual_rate", "floating_spread_bp"):
        loans[column] = loans[column].astype(object)
    floating = np.flatnonzero(loans.floating_tenor.notna().to_numpy())
    assert floating.shape[0] > 60
    loans["floating_reset"] = None
    loans["business_day"] = None
    loans["interest_dates"] = None
    loans["interest_frequency"] = None
    loans["principal_plan_unit"] = None
    loans["principal_plan"] = pd.Series([None] * len(loans), dtype=object)
    loans.loc[floating[::3], "floating_tenor"] = "1Y"
    loans.loc[floating[1::3], "floating_reset"] = "anniversary"
    loans.loc[floating[::4], "business_day"] = "modified_following"
    loans.loc[floating[2::5], "interest_dates"] = "calendar"
    loans.loc[floating[2::5], "interest_frequency"] = "quarterly"
    loans.loc[floating[2::5], "method"] = "equal_principal"
    custom = [k for k in floating[5::9] if loans.term_months[k] == 36][:3]
    assert custom
    for k in custom:
        loans.loc[k, "method"] = "custom"
        loans.loc[k, "grace_months"] = 0
        loans.loc[k, "principal_plan_unit"] = "fraction"
        loans.at[k, "principal_plan"] = ["0"] * 11 + ["0.25"] + ["0"] * 11 + ["0.25"] + ["0"] * 11 + ["0.5"]
    tranche_loans = [k for k in floating[4::7] if k not in custom][:6]
    prepaid = [k for k in floating[6::7] if k not in custom and k not in tranche_loans][:6]
    drawdowns, prepayments = [], []
    for k in tranche_loans:
        principal, start = int(loans.principal[k]), loans.start_date[k]
        drawdowns += [(loans.loan_id[k], start, str(principal - principal // 4)),
                      (loans.loan_id[k], start + pd.Timedelta(days=100), str(principal // 4))]
    for j, k in enumerate(prepaid):
        prepayments.append((loans.loan_id[k], loans.start_date[k] + pd.Timedelta(days=200 + 30 * j),
                            str(int(loans.principal[k]) // 5), "payment" if j % 2 else "term"))
    # prepayments that keep the payment (the term shortens) on a projected rate: where such a loan ends, and so how
    # many loan-years it has, depends on the path
    shortened = [k for k in floating[3::11] if k not in custom and k not in tranche_loans and k not in prepaid
                 and loans.method[k] == "equal_installment" and loans.term_months[k] >= 60][:5]
    assert len(shortened) >= 3
    for j, k in enumerate(shortened):
        loans.loc[k, "start_date"] = date(2025, 6, 15)
        loans.loc[k, "grace_months"] = 0
        prepayments.append((loans.loan_id[k], date(2027, 2, 10), str(int(loans.principal[k]) * (5 + 7 * j) // 100),
                            "term"))
    tables = {"projects": base.projects, "loans": loans, "insurance": base.insurance, "events": base.events,
              "drawdowns": pd.DataFrame(drawdowns, columns=["loan_id", "date", "amount"]),
              "prepayments": pd.DataFrame(prepayments if prepaid else [],
                                          columns=["loan_id", "date", "amount", "recompute"])}
    made = checked_portfolio(tables, source="every kind of floating loan", digest="test")
    assert made.problems.empty, made.problems.to_string()
    return made


@pytest.fixture(scope="module")
def history() -> LprCurve:
    return load_lpr()


@pytest.fixture(scope="module", params=[True, False], ids=["prepaid", "not prepaid"])
def hostile(request: pytest.FixtureRequest) -> PortfolioTables:
    """With prepayments, a path may move a loan's last dates (each path's claims are found on it); without, every
    path has the structure's loan-years (read through its mask)."""
    return every_kind_of_floating_loan(prepaid=request.param)


def _run(tables: PortfolioTables, history: LprCurve, policy=None, budget=None):  # noqa: ANN001, ANN202
    return monte_carlo(tables, YEARS, policy=policy or load_policy(), budget=budget or load_budget(),
                       history=history, changes=[], settings=SETTINGS, hold_until=HOLD, label="batch")


@pytest.mark.parametrize("policy_overrides", [{}, RATE_SENSITIVE])
def test_each_path_of_a_batch_is_the_full_pipeline_on_its_curve(hostile: PortfolioTables, history: LprCurve,
                                                               policy_overrides: dict) -> None:  # type: ignore[type-arg]
    s = Scenario.of({"id": "batch", "parameters": policy_overrides})
    policy = s.policy(load_policy())
    budget = Scenario.of({"id": "tight", "budget": {"scale": {"*": "0.02"}}}).budget(load_budget())
    mc = _run(hostile, history, policy, budget)
    assert mc.loans_repriced > 60
    assert len({int(mc.awarded_fen[p].sum()) for p in range(SETTINGS.paths)}) > 1  # the paths differ
    days, one, five = lpr_paths(history, [], SETTINGS, date(YEARS[-1] + 2, 12, 31))
    paths = LprPaths(history, tuple(days), one, five, coverage_end=HOLD, projection_label="test")
    for p in (0, 4, 6):
        run = simulate(hostile, YEARS, policy=policy, budget=budget, lpr=paths.curve(p, f"path {p}"))
        by_source = run.allocation.by_source
        full = np.array([[yuan_to_fen(v) for v in by_source[by_source.source_id == src.id].awarded]
                         for src in budget.sources])
        assert np.array_equal(mc.awarded_fen[p], full)
        exceeded = np.array([[bool(v) for v in by_source[by_source.source_id == src.id].cap_exceeded]
                             for src in budget.sources])
        assert np.array_equal(mc.exceeded[p], exceeded)
    assert mc.exceeded.any() and not mc.exceeded.all()


@pytest.mark.parametrize("paths_a_batch", [1, 2, 3, 5, 10**6])
def test_the_batch_size_changes_nothing(hostile: PortfolioTables, history: LprCurve, paths_a_batch: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(montecarlo, "ROWS_A_BATCH", 1)
    alone = _run(hostile, history)
    rows = montecarlo._Prepared(hostile, load_policy(), YEARS, None, load_budget(), "waterfall",
                                history.hold_flat(HOLD)).rows_a_path()
    monkeypatch.setattr(montecarlo, "ROWS_A_BATCH", rows * paths_a_batch)
    together = _run(hostile, history)
    assert np.array_equal(alone.awarded_fen, together.awarded_fen)
    assert np.array_equal(alone.exceeded, together.exceeded)
    assert alone.provenance == together.provenance


def test_a_path_below_zero_with_a_loan_s_spread_is_refused_before_any_runs(hostile: PortfolioTables,
                                                                           history: LprCurve,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor, and the paths' lowest LPR, are checked against the lowest spread of a loan repriced after the data
    before any path runs (here the test drives path 5 below zero)."""
    real = montecarlo.lpr_paths

    def below_zero_on_path_5(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        days, one, five = real(*args, **kwargs)
        five[5, 3:] = -500
        return days, one, five

    monkeypatch.setattr(montecarlo, "lpr_paths", below_zero_on_path_5)
    monkeypatch.setattr(montecarlo, "ROWS_A_BATCH", 10**9)
    with pytest.raises(ValueError, match=r"the LPR paths go down to -5% .* spread of -\d+ bp, its rate would be zero"):
        _run(hostile, history)


def test_the_paths_funded_on_threads_are_those_funded_in_turn(hostile: PortfolioTables, history: LprCurve,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Each path's allocation kernel runs on a thread of a pool as wide as numba's (one a Dask worker: none)."""
    budget = Scenario.of({"id": "tight", "budget": {"scale": {"*": "0.05"}}}).budget(load_budget())
    monkeypatch.setattr(montecarlo.numba, "get_num_threads", lambda: 3)
    on_threads = _run(hostile, history, budget=budget)
    monkeypatch.setattr(montecarlo.numba, "get_num_threads", lambda: 1)
    in_turn = _run(hostile, history, budget=budget)
    assert np.array_equal(on_threads.awarded_fen, in_turn.awarded_fen)
    assert np.array_equal(on_threads.exceeded, in_turn.exceeded) and in_turn.exceeded.any()


def test_a_batch_holds_as_many_paths_as_its_rows_allow(hostile: PortfolioTables, history: LprCurve,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """rows_a_path is the rows a path prices (so ROWS_A_BATCH bounds a batch's memory), and a batch holds at most
    PATHS_A_BATCH paths' plans, however few rows a path prices (none, when no loan is repriced)."""
    prepared = montecarlo._Prepared(hostile, load_policy(), YEARS, None, load_budget(), "waterfall",
                                    history.hold_flat(HOLD))
    assert prepared.moving_read is not None
    days, one, five = lpr_paths(history, [], SETTINGS, date(YEARS[-1] + 2, 12, 31))
    paths = LprPaths(history, tuple(days), one[:1], five[:1], coverage_end=HOLD, projection_label="one")
    priced = amortize_portfolio(prepared.moving, lpr=paths, output="schedule", read=prepared.moving_read._replace(
        arrays=replace(prepared.moving_read.arrays, lpr_path=np.zeros(len(prepared.moving_read.arrays), np.int64))))
    assert 0 < prepared.rows_a_path() and int(priced.periods.sum()) <= prepared.rows_a_path()
    sizes: list[int] = []
    real = montecarlo._Prepared.subsidies
    monkeypatch.setattr(montecarlo._Prepared, "subsidies",
                        lambda self, paths, names: sizes.append(paths.count) or real(self, paths, names))
    monkeypatch.setattr(montecarlo, "ROWS_A_BATCH", 10**12)
    monkeypatch.setattr(montecarlo, "PATHS_A_BATCH", 3)
    _run(hostile, history)
    assert sizes == [3, 3, 1]


def test_only_a_prepayment_lets_a_path_move_a_loan_s_dates(hostile: PortfolioTables, history: LprCurve) -> None:
    prepared = montecarlo._Prepared(hostile, load_policy(), YEARS, None, load_budget(), "waterfall",
                                    history.hold_flat(HOLD))
    assert prepared.dates_move == (len(hostile.prepayments) > 0)
    assert int(prepared.window.sum()) == prepared.width > 0
    # the tables are kept (and sent to a cluster's workers) only when a path may need the full pipeline
    assert (prepared.tables is not None) == prepared.dates_move


def _floating_loans(drawn: dict[str, date], prepayments: list[tuple[str, date, str, str]]) -> PortfolioTables:
    """A small portfolio whose only floating loans are those of ``drawn`` (id: drawdown day; 10M over 120 months,
    5Y LPR + 0), with ``prepayments``."""
    base = portfolio(20, seed=3, start_between=(date(2024, 6, 1), date(2026, 5, 31)))
    loans = base.loans.copy()
    for column in ("floating_tenor", "method", "annual_rate", "floating_spread_bp"):
        loans[column] = loans[column].astype(object)
    loans.loc[loans.floating_tenor.notna(), ["floating_tenor", "floating_spread_bp", "annual_rate"]] = [None, None,
                                                                                                      "0.04"]
    for k, (loan_id, day) in enumerate(drawn.items(), start=1):
        loans.loc[k, ["loan_id", "principal", "floating_tenor", "floating_spread_bp", "annual_rate", "term_months",
                      "method", "grace_months", "start_date"]] = [loan_id, Decimal("10000000"), "5Y", "0", None, 120,
                                                                   "equal_installment", 0, day]
    made = checked_portfolio({"projects": base.projects, "loans": loans, "insurance": base.insurance,
                              "events": base.events,
                              "prepayments": pd.DataFrame(prepayments, columns=["loan_id", "date", "amount",
                                                                                "recompute"])},
                             source="floating loans", digest="test")
    assert made.problems.empty, made.problems.to_string()
    return made


def _two_floating_loans(prepayments: list[tuple[str, date, str, str]]) -> PortfolioTables:
    """X, Y and Z drawn 2026-06-15 (every reset on a projected rate), with ``prepayments`` after the data."""
    return _floating_loans({loan_id: date(2026, 6, 15) for loan_id in "XYZ"}, prepayments)

def _every_path_is_the_full_pipeline(tables: PortfolioTables, history: LprCurve, policy, paths: int,  # noqa: ANN001
                                     seed: int) -> None:
    settings = MonteCarloSettings(paths=paths, seed=seed, monthly_sigma_bp="30")
    budget = load_budget()
    for rows in (1, 10**9):  # one path a batch, and all in one
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(montecarlo, "ROWS_A_BATCH", rows)
            mc = monte_carlo(tables, YEARS, policy=policy, budget=budget, history=history, changes=[],
                             settings=settings, hold_until=HOLD, label="few")
        longest = max(s.parameters.interest_subsidy.max_years.value or 30 for s in policy.sets)  # as monte_carlo
        days, one, five = lpr_paths(history, [], settings, date(YEARS[-1] + longest, 12, 31))
        curves = LprPaths(history, tuple(days), one, five, coverage_end=HOLD, projection_label="test")
        for p in range(paths):
            run = simulate(tables, YEARS, policy=policy, budget=budget, lpr=curves.curve(p, f"path {p}"))
            by_source = run.allocation.by_source
            full = np.array([[yuan_to_fen(v) for v in by_source[by_source.source_id == src.id].awarded]
                             for src in budget.sources])
            assert np.array_equal(mc.awarded_fen[p], full), (rows, p)


def test_paths_that_move_two_loans_years_each_way_are_the_full_pipeline(history: LprCurve) -> None:
    """Term-keeping prepayments on projected rates: on a path, X ends a loan-year earlier than on the flat structure
    and Y one later, so the path has as many claims as the structure, on other loans and years (a review found
    them placed by position, silently)."""
    tables = _two_floating_loans([("X", date(2027, 3, 10), "7320000", "term"), ("Y", date(2028, 3, 10), "6470000",
                                                                               "term")])
    policy = Scenario.of({"id": "five", "parameters": {"interest_subsidy.max_years": 5}}).policy(load_policy())
    _every_path_is_the_full_pipeline(tables, history, policy, paths=6, seed=0)


def test_a_prepayment_above_the_balance_on_some_paths_only_is_each_path_s_own(history: LprCurve) -> None:
    """Z's prepayment is just above its balance on the flat curve (9,436,519.31) and within it on paths whose rates
    are higher; Y's is just below it, and above it on paths whose rates are lower. The full pipeline refuses each
    loan on the paths whose balance it exceeds and prices it on the others."""
    tables = _two_floating_loans([("Z", date(2027, 3, 10), "9436600", "payment"),
                                  ("Y", date(2027, 3, 10), "9436400", "payment")])
    _every_path_is_the_full_pipeline(tables, history, load_policy(), paths=6, seed=0)


def _an_old_floating_loan(amount: str) -> PortfolioTables:
    """W drawn 2023-04-01, so its 3-year 貼息 window ended before the published data; a prepayment of ``amount`` on
    2027-03-10, after a reset on a projected rate."""
    return _floating_loans({"W": date(2023, 4, 1)}, [("W", date(2027, 3, 10), amount, "payment")])

@pytest.mark.parametrize("amount", ["6533700", "6533580"])  # just above and just below its flat-curve balance
def test_a_loan_whose_window_has_ended_is_refused_on_the_paths_the_full_pipeline_refuses_it(
        history: LprCurve, amount: str) -> None:
    """W's claims do not move with the LPR, but whether its prepayment is within its balance does, and a loan refused
    has no claims: the paths on which W comes out otherwise than on the flat curve are the full pipeline's."""
    policy = Scenario.of({"id": "three", "parameters": {"interest_subsidy.max_years": 3}}).policy(load_policy())
    _every_path_is_the_full_pipeline(_an_old_floating_loan(amount), history, policy, paths=8, seed=0)


def test_paths_that_go_below_zero_with_a_loan_s_spread_are_refused_before_any_runs(history: LprCurve) -> None:
    """The scenario's own path may go below monte_carlo.floor_pct: where it takes a floating loan's rate to zero or
    less (a loan the paths do not reprice included), no path can be priced as the full pipeline would."""
    with pytest.raises(ValueError, match=r"the LPR paths go down to -2% .* zero or less"):
        monte_carlo(_an_old_floating_loan("1000000"), YEARS, policy=load_policy(), budget=load_budget(),
                    history=history, changes=[(date(2026, 7, 1), -500, -500)],
                    settings=MonteCarloSettings(paths=4, seed=0, monthly_sigma_bp="30"), hold_until=HOLD)

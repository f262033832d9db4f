"""Scenarios, baseline-versus-scenario deltas, Monte Carlo over LPR paths and the charts (issue 5)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from subsidy_engine import BudgetError, load_budget, load_lpr, load_policy, load_portfolio
from subsidy_engine.core.money import yuan_to_fen
from subsidy_engine.errors import ScenarioError
from subsidy_engine.params.lpr import Fixing, LprCurve, schedules_dir
from subsidy_engine.reports.simulation_report import write_outputs
from subsidy_engine.service.cli import main
from subsidy_engine.simulation.montecarlo import MonteCarlo, lpr_paths, monte_carlo
from subsidy_engine.simulation.scenario import MonteCarloSettings, Scenario, load_scenario
from subsidy_engine.simulation.simulate import Comparison, simulate
from subsidy_engine.simulation.synthetic import portfolio

YEARS = (2026, 2027, 2028, 2029, 2030)
HOLD = date(2045, 12, 31)
# 貼息 as a share of the interest makes every floating loan's subsidy move with the LPR
RATE_SENSITIVE = {"interest_subsidy.form": "share_of_interest", "interest_subsidy.points": "0.5"}


@pytest.fixture(scope="module")
def history() -> LprCurve:
    return load_lpr()


def test_the_bundled_scenario_loads_and_names_what_it_changes() -> None:
    s = load_scenario(schedules_dir() / "scenario-demo.yaml")
    assert s.id == "lpr-cut-2027" and len(s.digest) == 64
    assert s.shifts_bp() == [(date(2027, 1, 20), -25, -25)]
    assert s.file.monte_carlo is not None and s.file.monte_carlo.paths == 1000


@pytest.mark.parametrize("data, message", [
    ({"id": "x", "bogus": 1}, "bogus: Extra inputs are not permitted"),
    ({"id": "x", "parameters": {"insurance_premium.shar": "0.6"}}, "parameters.insurance_premium.shar: no such"),
    ({"id": "x", "parameters": {"insurance_premium.share": 0.6}}, "must be written as a string"),
    ({"id": "x", "budget": {"caps": {"nope": "1"}}}, "budget.caps.nope: no such source"),
    ({"id": "x", "budget": {"scale": {"zzz*": "1.1"}}}, r"budget.scale.zzz\*: matches no source"),
    ({"id": "x", "budget": {"scale": {"gaojingjian_fund": "-1"}}}, "must not be negative"),
    ({"id": "x", "budget": {"scale": {"gaojingjian_fund": 1.1}}}, "must be written as a string"),
    ({"id": "x", "lpr": {"shifts": [{"from": "2026-05-20", "bp": -25}]}}, "within the published data"),
    ({"id": "x", "lpr": {"shifts": [{"from": "2027-01-20", "bp": -400}]}}, "not positive"),
    ({"id": "x", "growth": {"projects_per_year": -1}}, "growth.projects_per_year"),
])
def test_a_bad_scenario_says_where(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScenarioError, match=message):
        s = Scenario.of(data)
        s.policy(load_policy())
        s.budget(load_budget())
        s.curve(load_lpr())


def test_lpr_shifts_add_up_per_tenor(history: LprCurve) -> None:
    s = Scenario.of({"id": "x", "lpr": {"shifts": [{"from": "2027-01-20", "bp": -25},
                                                   {"from": "2028-01-20", "bp": -10, "tenor": "5Y"},
                                                   {"from": "2028-01-20", "bp": 5, "tenor": "1Y"}]}})
    curve = s.curve(history, HOLD)
    last = history.fixings[-1]
    assert curve.rate("5Y", date(2027, 1, 19)) == last.lpr_5y
    assert curve.rate("5Y", date(2027, 6, 1)) == last.lpr_5y - Decimal("0.0025")
    assert curve.rate("5Y", date(2029, 1, 1)) == last.lpr_5y - Decimal("0.0035")
    assert curve.rate("1Y", date(2029, 1, 1)) == last.lpr_1y - Decimal("0.0020")
    assert curve.coverage_end == HOLD and curve.projection_label == "scenario x"


def test_overrides_apply_to_every_set_and_cite_the_scenario() -> None:
    base = load_policy()
    s = Scenario.of({"id": "sixty", "description": "d", "parameters": {"insurance_premium.share": "0.60"}})
    policy = s.policy(base)
    assert policy.digest != base.digest and len(policy.sets) == len(base.sets)
    for before, after in zip(base.sets, policy.sets):
        p = after.parameter("insurance_premium.share")
        assert (p.value, p.status, p.source) == (Decimal("0.60"), "inferred", "scenario")
        assert after.parameter("interest_subsidy.points") == before.parameter("interest_subsidy.points")
    assert "scenario sixty" in policy.sources["scenario"].title


def test_budget_changes_replace_and_scale_caps_to_the_fen() -> None:
    base = load_budget()
    s = Scenario.of({"id": "b", "budget": {"caps": {"gaojingjian_fund": {2027: "1000.01"}},
                                           "scale": {"district_matching:*": "1.333"}}})
    budget = s.budget(base)
    fund = budget.sources[0]
    assert budget.cap(fund, 2027) == Decimal("1000.01")
    assert budget.cap(fund, 2026) == base.cap(base.sources[0], 2026)
    for old, new in zip(base.sources, budget.sources):
        for year in base.years:
            if old.id.startswith("district_matching:"):
                expected = (base.cap(old, year) * Decimal("1.333")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
                assert budget.cap(new, year) == expected
            elif old.id.startswith("sector_budget"):
                assert budget.cap(new, year) == base.cap(old, year)
    assert budget.digest != base.digest
    with pytest.raises(BudgetError, match=r"scenario c: .*2027: 1000.005 has a fraction of a fen"):
        Scenario.of({"id": "c", "budget": {"caps": {"gaojingjian_fund": {2027: "1000.005"}}}}).budget(base)


def test_growth_adds_projects_in_their_years_to_any_portfolio(tmp_path: Path) -> None:
    base = portfolio(200, seed=4)
    for name in ("projects", "loans", "insurance", "events"):  # a portfolio read from files: text columns
        getattr(base, name).to_csv(tmp_path / f"{name}.csv", index=False)
    loaded = load_portfolio(tmp_path)
    s = Scenario.of({"id": "g", "growth": {"projects_per_year": 50, "seed": 3}})
    grown = s.portfolio(loaded, YEARS)
    assert len(grown.projects) == 200 + 4 * 50 and grown.problems.empty
    new = grown.projects.iloc[200:]
    years = pd.to_datetime(new.start_date.astype(str)).dt.year
    assert sorted(set(years)) == [2027, 2028, 2029, 2030]
    assert (new.project_id.astype(str).str.slice(0, 6) == "G" + years.astype(str) + "-").all()
    pd.testing.assert_frame_equal(grown.projects.iloc[:200].astype(str), loaded.projects.astype(str))
    claims = simulate(grown, YEARS, lpr=load_lpr().hold_flat(until=HOLD)).claims
    assert claims.rejections.empty
    assert set(claims.table.year) >= {2029, 2030}  # growth fills the later years


@pytest.fixture(scope="module")
def compared(history: LprCurve) -> tuple[Comparison, Scenario]:
    tables, policy, budget = portfolio(600, seed=9), load_policy(), load_budget()
    s = Scenario.of({"id": "mixed", "parameters": {"insurance_premium.share": "0.60"},
                     "lpr": {"shifts": [{"from": "2027-01-20", "bp": -50}]},
                     "budget": {"scale": {"sector_budget:*": "0.5"}}, "growth": {"projects_per_year": 60}})
    baseline = simulate(tables, YEARS, policy=policy, budget=budget, lpr=history.hold_flat(until=HOLD))
    other = simulate(s.portfolio(tables, YEARS), YEARS, policy=s.policy(policy), budget=s.budget(budget),
                     lpr=s.curve(history, HOLD), label=s.id)
    return Comparison(baseline, other), s


def test_deltas_are_exact_differences_that_add_up(compared: tuple[Comparison, Scenario]) -> None:
    c, _ = compared
    by_year, by_source = c.by_year(), c.by_year_source()
    assert (by_year.delta_awarded == by_year.scenario_awarded - by_year.baseline_awarded).all()
    for year, row in by_year.set_index("year").iterrows():
        part = by_source[by_source.year == year]
        assert sum(part.delta_awarded, Decimal(0)) == row.delta_awarded
        assert sum(part.scenario_awarded, Decimal(0)) == row.scenario_awarded
        for column in ("measure", "district"):
            table = c.by(column)
            assert sum(table[table.year == year].delta_awarded, Decimal(0)) == row.delta_awarded
    assert (by_year.baseline_awarded == c.baseline.by_year().awarded).all()
    # halving the sector budgets shows as a delta of their caps
    sector = by_source[by_source.source_id.str.startswith("sector_budget")]
    assert (sector.scenario_cap * 2 == sector.baseline_cap).all()


def test_drivers_are_the_largest_changes_with_their_share(compared: tuple[Comparison, Scenario]) -> None:
    c, _ = compared
    everyone = c.drivers(top=10_000)
    size = everyone.delta_awarded.map(abs).tolist()
    assert size == sorted(size, reverse=True)
    total = sum(c.by_year().delta_awarded, Decimal(0))
    assert sum(everyone.delta_awarded, Decimal(0)) == total  # every project, nothing lost
    assert everyone.new.any() and (everyone[everyone.new].baseline_awarded == 0).all()
    top = c.drivers(5)
    assert len(top) == 5 and top.iloc[0].share_of_delta == (top.iloc[0].delta_awarded / total).quantize(
        Decimal("0.0001"))
    existing = c.drivers(5, existing_only=True)
    assert not existing.new.any() and not existing.project_id.str.startswith("G").any()


def test_a_scenario_that_changes_nothing_has_no_deltas(history: LprCurve) -> None:
    tables = portfolio(200, seed=2)
    baseline = simulate(tables, YEARS, lpr=history.hold_flat(until=HOLD))
    s = Scenario.of({"id": "same"})
    other = simulate(s.portfolio(tables, YEARS), YEARS, policy=s.policy(load_policy()),
                     budget=s.budget(load_budget()), lpr=s.curve(history, HOLD), label="same")
    c = Comparison(baseline, other)
    assert (c.by_year_source().delta_awarded == 0).all() and (c.drivers(50).delta_awarded == 0).all()


def _path_curve(history: LprCurve, settings: MonteCarloSettings, through: date, p: int,
                changes: list[tuple[date, int, int]] = []) -> LprCurve:  # noqa: B006
    days, one, five = lpr_paths(history, changes, settings, through)
    fixings = tuple(Fixing(d, Decimal(int(a)) / 10_000, Decimal(int(b)) / 10_000, "projected", "test")
                    for d, a, b in zip(days, one[p], five[p]))
    return LprCurve(history.fixings + fixings, coverage_end=HOLD, history_end=history.history_end)


@pytest.mark.parametrize("mode", ["waterfall", "merit"])
def test_each_monte_carlo_path_equals_the_full_pipeline_to_the_fen(history: LprCurve, mode: str) -> None:
    s = Scenario.of({"id": "mc", "parameters": RATE_SENSITIVE, "growth": {"projects_per_year": 40},
                     "lpr": {"shifts": [{"from": "2027-06-20", "bp": -30}]}})
    tight = Scenario.of({"id": "tight", "budget": {"scale": {"*": "0.3"}}}).budget(load_budget())  # money binds
    tables, policy, budget = s.portfolio(portfolio(500, seed=11), YEARS), s.policy(load_policy()), tight
    settings = MonteCarloSettings(paths=4, seed=3, monthly_sigma_bp="25")
    mc = monte_carlo(tables, YEARS, policy=policy, budget=budget, history=history, changes=s.shifts_bp(),
                     settings=settings, hold_until=HOLD, mode=mode, label="mc")
    assert mc.loans_repriced > 0
    assert len({mc.awarded_fen[p].sum() for p in range(4)}) > 1  # the paths differ
    for p in (0, 3):
        curve = _path_curve(history, settings, date(2032, 12, 31), p, s.shifts_bp())
        run = simulate(tables, YEARS, policy=policy, budget=budget, mode=mode, lpr=curve)  # type: ignore[arg-type]
        by_source = run.allocation.by_source
        full = np.array([[yuan_to_fen(v) for v in by_source[by_source.source_id == src.id].awarded]
                         for src in budget.sources])
        assert np.array_equal(mc.awarded_fen[p], full)
        # a cap is exceeded when the source's money for the year ran short, as the full run says
        full_exceeded = np.array([[bool(v) for v in by_source[(by_source.source_id == src.id)
                                                              & by_source.year.isin(YEARS)].cap_exceeded]
                                  for src in budget.sources])
        assert np.array_equal(mc.exceeded[p], full_exceeded)
    assert mc.exceeded.any()


def test_without_moves_every_path_is_the_scenario_itself(history: LprCurve) -> None:
    s = Scenario.of({"id": "flat", "parameters": RATE_SENSITIVE, "lpr": {"shifts": [{"from": "2027-01-20",
                                                                                    "bp": -25}]}})
    tables, policy, budget = portfolio(400, seed=6), s.policy(load_policy()), load_budget()
    mc = monte_carlo(tables, YEARS, policy=policy, budget=budget, history=history, changes=s.shifts_bp(),
                     settings=MonteCarloSettings(paths=3, monthly_sigma_bp="0"), hold_until=HOLD)
    run = simulate(tables, YEARS, policy=policy, budget=budget, lpr=s.curve(history, HOLD))
    table = mc.outlay_by_year()
    assert (table.p5 == table.p95).all() and (table["min"] == table["max"]).all()
    assert list(table.p50) == list(run.by_year().awarded)
    assert (mc.exceeded == mc.exceeded[0]).all()


def test_paths_are_seeded_on_the_5bp_grid_and_floored(history: LprCurve) -> None:
    settings = MonteCarloSettings(paths=500, seed=5, monthly_sigma_bp="30", monthly_drift_bp="-5",
                                  floor_pct="2.00")
    days, one, five = lpr_paths(history, [], settings, date(2035, 12, 31))
    again = lpr_paths(history, [], settings, date(2035, 12, 31))
    assert np.array_equal(five, again[2]) and days[0] == date(2026, 6, 20) and days[-1] == date(2035, 12, 20)
    assert (five % 5 == 0).all() and (one % 5 == 0).all()
    assert five.min() == 200 and one.min() == 200  # the floor binds for some paths, never passed
    assert np.median(five[:, -1]) < five[:, 0].mean()  # a negative drift pulls the paths down
    other = lpr_paths(history, [], settings.model_copy(update={"seed": 6}), date(2035, 12, 31))
    assert not np.array_equal(five, other[2])


def test_monte_carlo_refuses_what_it_cannot_do(history: LprCurve) -> None:
    args = dict(policy=load_policy(), budget=load_budget(), history=history, changes=[], hold_until=HOLD)
    tables = portfolio(100, seed=1)
    with pytest.raises(ValueError, match="not 'optimal'"):
        monte_carlo(tables, YEARS, settings=MonteCarloSettings(paths=2), mode="optimal", **args)
    with pytest.raises(ValueError, match="gives a rate of zero or less: raise floor_pct above 0.78%"):
        monte_carlo(tables, YEARS, settings=MonteCarloSettings(paths=2, floor_pct="0.50"), **args)


def test_outputs_with_a_scenario_and_monte_carlo(tmp_path: Path, compared: tuple[Comparison, Scenario],
                                                 history: LprCurve) -> None:
    c, s = compared
    mc = monte_carlo(c.scenario.claims.portfolio, YEARS, policy=c.scenario.claims.policy,
                     budget=c.scenario.allocation.budget, history=history, changes=s.shifts_bp(),
                     settings=MonteCarloSettings(paths=8, seed=1), hold_until=HOLD, label=s.id)
    assert isinstance(mc, MonteCarlo)
    paths = write_outputs(c.baseline, tmp_path, comparison=c, monte_carlo=mc, scenario=s)
    assert [p.name for p in paths] == ["summary.json", "report.xlsx", "outlay_by_year_source.png",
                                       "caps_by_source.png", "budget_at_risk.png"]
    summary = json.loads(paths[0].read_text(encoding="utf-8"))
    assert summary["scenario"]["id"] == "mixed" and summary["scenario"]["inputs_sha256"] != summary["inputs_sha256"]
    deltas = pd.DataFrame(summary["scenario"]["deltas_by_year"])
    assert list(deltas.delta_awarded.map(Decimal)) == list(c.by_year().delta_awarded)
    assert summary["monte_carlo"]["settings"]["paths"] == 8 and len(summary["monte_carlo"]["outlay_by_year"]) == 5
    book = openpyxl.load_workbook(paths[1], read_only=True)
    assert {"情景汇总", "情景按资金来源", "情景主要变化项目", "蒙特卡洛年度支出", "预算风险"} <= set(book.sheetnames)
    for png in paths[2:]:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_simulate_command_with_a_scenario(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    scenario = schedules_dir() / "scenario-demo.yaml"
    assert main(["simulate", "--projects", "300", "--scenario", str(scenario), "--paths", "3", "--lang", "en",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Scenario lpr-cut-2027" in out and "change in awarded (yuan)" in out and "Monte Carlo (3 LPR paths" in out
    assert {p.name for p in tmp_path.iterdir()} == {"manifest.json", "summary.json", "report.xlsx",
                                                    "outlay_by_year_source.png", "caps_by_source.png",
                                                    "budget_at_risk.png"}
    assert main(["simulate", "--projects", "300", "--scenario", str(scenario), "--paths", "0", "--quiet",
                 "--out", str(tmp_path / "q")]) == 0
    assert capsys.readouterr() == ("", "")
    assert "monte_carlo" not in json.loads((tmp_path / "q" / "summary.json").read_text(encoding="utf-8"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nparameters:\n  insurance_premium.share: 0.6\n", encoding="utf-8")
    assert main(["simulate", "--projects", "50", "--scenario", str(bad), "--out", str(tmp_path / "b")]) == 2
    assert "must be written as a string" in capsys.readouterr().err


def test_a_year_is_exceeded_when_cuts_name_its_money(history: LprCurve) -> None:
    """A source-year is exceeded when claims were cut because its money did not cover them: the years the cuts'
    reasons name, with or without carry-over, in the full run and in a Monte Carlo path alike. (Items approved in
    2026 for 2026-2027 count on 2027's cap, not on what 2026 will carry into it: the allocation's rule.)"""
    import re

    from subsidy_engine import Budget

    tables, policy = portfolio(300, seed=8), load_policy()
    demand = simulate(tables, YEARS, lpr=history.hold_flat(until=HOLD)).by_year().set_index("year").claimed
    spare = (demand[2026] / 4).quantize(Decimal("1"))

    def budget(carry: bool, plenty: bool = False) -> Budget:
        caps = {2026: str(demand[2026] + spare), 2027: str(demand[2027] + (spare if plenty else -spare / 2)),
                2028: str(demand[2028] + 1), 2029: "1", 2030: "1"}
        return Budget.of({"id": "one", "status": "inferred", "basis": "a test", "years": [2026, 2030],
                          "sources": [{"id": "fund", "level": "municipal", "caps": caps, "carry_over": carry}]})

    for carry, plenty in ((True, False), (False, False), (True, True)):
        chosen = budget(carry, plenty)
        run = simulate(tables, YEARS, budget=chosen, lpr=history.hold_flat(until=HOLD))
        named = {int(y) for r in run.allocation.unfunded.reason.astype(str)
                 for y in re.findall(r"fund's (\d{4}) money", r)}
        flagged = run.allocation.by_source[run.allocation.by_source.cap_exceeded.astype(bool)].year.tolist()
        assert set(flagged) == named and (named == set() if plenty else named == {2027})
        mc = monte_carlo(tables, YEARS, policy=policy, budget=chosen, history=history, changes=[],
                         settings=MonteCarloSettings(paths=1, monthly_sigma_bp="0"), hold_until=HOLD)
        assert mc.exceeded[0, 0].tolist() == [y in named for y in YEARS]


# -- regressions from the review of this change ---------------------------------------------------


def _mc_equals_pipeline(tables, years, policy, budget, history, changes, hold):  # noqa: ANN001, ANN202
    mc = monte_carlo(tables, years, policy=policy, budget=budget, history=history, changes=changes,
                     settings=MonteCarloSettings(paths=1, monthly_sigma_bp="0"), hold_until=hold)
    curve = history.with_projection(
        [{"date": d, "lpr_1y_pct": Decimal(history.fixings[-1].lpr_1y * 10_000 + a) / 100,
          "lpr_5y_pct": Decimal(history.fixings[-1].lpr_5y * 10_000 + b) / 100}
         for d, a, b in _cumulative(changes)], until=hold, label="check")
    run = simulate(tables, years, policy=policy, budget=budget, lpr=curve)
    assert list(mc.outlay_by_year().p50) == list(run.by_year().awarded)
    return mc, run


def _cumulative(changes: list[tuple[date, int, int]]) -> list[tuple[date, int, int]]:
    out, one, five = [], 0, 0
    for when, a, b in changes:
        one, five = one + a, five + b
        out.append((when, one, five))
    return out


def test_a_loan_no_curve_can_price_is_rejected_not_fatal(history: LprCurve) -> None:
    tables = portfolio(300, seed=8)
    loans = tables.loans.copy()
    floating = loans.index[loans.floating_tenor.notna()][-1]
    loans.loc[floating, "term_months"] = 360   # resets past the LPR's hold_until
    frames = {"projects": tables.projects, "loans": loans, "insurance": tables.insurance, "events": tables.events}
    from subsidy_engine.pipeline.inputs import PortfolioTables, check_tables
    grown = PortfolioTables(**frames, problems=check_tables(frames), source="long loan", digest="long loan")
    _, run = _mc_equals_pipeline(grown, YEARS, load_policy(), load_budget(), history, [], date(2040, 12, 31))
    assert list(run.claims.rejections.id) == [loans.loan_id[floating]]


def test_paths_move_on_a_scenario_date_between_publications(history: LprCurve) -> None:
    s = Scenario.of({"id": "jan1", "parameters": RATE_SENSITIVE, "lpr": {"shifts": [{"from": "2027-01-01",
                                                                                    "bp": -100}]}})
    _mc_equals_pipeline(portfolio(300, seed=5), YEARS, s.policy(load_policy()), load_budget(), history,
                        s.shifts_bp(), HOLD)


def test_the_scenario_hold_until_bounds_the_paths(history: LprCurve) -> None:
    s = Scenario.of({"id": "short", "lpr": {"hold_until": "2030-12-31"}})
    mc, run = _mc_equals_pipeline(portfolio(300, seed=5), YEARS, load_policy(), load_budget(), history, [],
                                  s.hold_until(HOLD))
    assert len(run.claims.rejections) > 0  # loans resetting after 2030 cannot be priced, in both


def test_claimed_counts_a_part_once_however_many_sources_it_asks(history: LprCurve) -> None:
    from subsidy_engine import Budget

    budget = Budget.of({"id": "two", "status": "inferred", "basis": "a test", "years": [2026, 2030],
                        "sources": [{"id": "first", "level": "municipal", "caps": "1000000"},
                                    {"id": "second", "level": "municipal", "caps": "900000000"}]})
    run = simulate(portfolio(300, seed=8), YEARS, budget=budget, lpr=history.hold_flat(until=HOLD))
    claimed = run.by_year().set_index("year").claimed
    for column in ("measure", "district"):
        table = run.by(column)
        assert table.groupby("year").claimed.sum().to_dict() == {y: v for y, v in claimed.items() if v}
    assert (run.by_year_source().groupby("year").claimed.sum() == claimed).all()


def test_only_the_scenario_s_own_projects_are_new(history: LprCurve) -> None:
    tables = portfolio(300, seed=8)
    s = Scenario.of({"id": "longer", "parameters": {"insurance_premium.max_years": 5}})
    baseline = simulate(tables, YEARS, lpr=history.hold_flat(until=HOLD))
    other = simulate(tables, YEARS, policy=s.policy(load_policy()), lpr=history.hold_flat(until=HOLD))
    drivers = Comparison(baseline, other).drivers(1000)
    assert (drivers.delta_awarded != 0).any() and not drivers.new.any()


def test_monte_carlo_provenance_covers_the_scenario_path(history: LprCurve) -> None:
    args = dict(policy=load_policy(), budget=load_budget(), history=history, hold_until=HOLD,
                settings=MonteCarloSettings(paths=1))
    tables = portfolio(100, seed=1)
    digests = {monte_carlo(tables, YEARS, changes=[(date(2027, 1, 20), bp, bp)], **args).provenance.parameters_sha256
               for bp in (-25, -150)}  # -250 would take a -78 bp loan below zero
    assert len(digests) == 2


@pytest.mark.parametrize("data, message", [
    ({"monte_carlo": {"monthly_sigma_bp": "-5"}}, "monthly_sigma_bp"),
    ({"monte_carlo": {"monthly_drift_bp": "1e17"}}, "monthly_drift_bp"),
    ({"monte_carlo": {"seed": -1}}, "monte_carlo.seed"),
    ({"monte_carlo": {"floor_pct": "1.02"}}, "not on the LPR's 5 bp grid"),
    ({"growth": {"projects_per_year": 5, "seed": -1}}, "growth.seed"),
    ({"growth": {"projects_per_year": 5, "from_year": 0}}, "growth.from_year"),
])
def test_scenario_values_are_bounded(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScenarioError, match=message):
        Scenario.of({"id": "x", **data})


def test_growth_outside_the_horizon_and_too_many_paths_are_errors(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    with pytest.raises(ScenarioError, match="growth.from_year 2024 is outside the horizon 2026-2030"):
        Scenario.of({"id": "x", "growth": {"projects_per_year": 5, "from_year": 2024}}).portfolio(
            portfolio(50, seed=1), YEARS)
    assert main(["simulate", "--projects", "50", "--paths", "200000", "--out", str(tmp_path)]) == 2
    assert "monte_carlo.paths" in capsys.readouterr().err
    assert main(["simulate", "--projects", "50", "--paths", "2", "--mode", "optimal", "--out", str(tmp_path)]) == 2
    assert "waterfall or merit" in capsys.readouterr().err


def test_a_horizon_without_claims_still_reports(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["simulate", "--projects", "50", "--start", "2029", "--years", "2", "--out", str(tmp_path)]) == 0
    assert "2029、2030年没有申请" in capsys.readouterr().out
    book = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    assert [r for r in book["按措施"].iter_rows(values_only=True)] == [("年度", "措施", "措施名称", "申请金额（元）",
                                                                      "安排金额（元）")]


def test_the_outlay_chart_draws_sources_of_any_name(history: LprCurve) -> None:
    from subsidy_engine import Budget
    from subsidy_engine.reports.charts import _by_group

    budget = Budget.of({"id": "city", "status": "inferred", "basis": "a test", "years": [2026, 2030],
                        "sources": [{"id": "city_fund", "level": "municipal", "caps": "900000000"}]})
    run = simulate(portfolio(100, seed=8), YEARS, budget=budget, lpr=history.hold_flat(until=HOLD))
    drawn = _by_group(run).sum(axis=0)
    assert drawn.tolist() == pytest.approx([float(v) for v in run.by_year().awarded])  # in yuan


def test_the_mean_of_the_paths_rounds_half_up() -> None:
    from subsidy_engine.simulation.montecarlo import _mean

    assert _mean(np.array([2, 3])) == Decimal("0.03") and _mean(np.array([0, 1])) == Decimal("0.01")


def test_progress_is_reported_after_each_path(history: LprCurve) -> None:
    done: list[int] = []
    monte_carlo(portfolio(100, seed=1), YEARS, policy=load_policy(), budget=load_budget(), history=history,
                changes=[], settings=MonteCarloSettings(paths=4), hold_until=HOLD, progress=done.append)
    assert done == [1, 2, 3, 4]

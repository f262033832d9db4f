"""A sweep over a grid of scenarios (issue 20): each scenario equals the same scenario run alone, to the fen."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from subsidy_engine import load_budget, load_lpr, load_policy
from subsidy_engine.core.money import yuan_to_fen
from subsidy_engine.errors import ScenarioError
from subsidy_engine.params.lpr import LprCurve, schedules_dir
from subsidy_engine.simulation import sweep as sweep_module
from subsidy_engine.simulation.montecarlo import monte_carlo
from subsidy_engine.simulation.scenario import MonteCarloSettings, Scenario
from subsidy_engine.simulation.simulate import simulate
from subsidy_engine.simulation.sweep import MAX_SCENARIOS, SweepInputs, SweepSpec, load_sweep, sweep
from subsidy_engine.simulation.synthetic import portfolio

YEARS = (2026, 2027, 2028)
HOLD = date(2045, 12, 31)
GRID = {"id": "grid", "description": "three axes",
        "lpr": {"from": "2027-01-20", "shift_bp": [-50, 0]},
        "budget": {"sources": "*", "scale": ["0.05", "1.00"]},
        "parameters": {"interest_subsidy.form": ["share_of_interest"], "interest_subsidy.points": ["0.3", "0.6"]}}


@pytest.fixture(scope="module")
def history() -> LprCurve:
    return load_lpr()


@pytest.fixture(scope="module")
def inputs(history: LprCurve) -> SweepInputs:
    return SweepInputs(portfolio(400, seed=21), YEARS, load_policy(), load_budget(), history, HOLD)


def _alone(inputs: SweepInputs, values: dict[str, str]):  # noqa: ANN202
    """The scenario of ``values`` as a scenario file would say it, run by simulate on its own."""
    data: dict = {"id": "alone", "parameters": {k: v for k, v in values.items() if "." in k}}  # type: ignore[type-arg]
    if values.get("lpr_shift_bp", "0") != "0":
        data["lpr"] = {"shifts": [{"from": "2027-01-20", "bp": int(values["lpr_shift_bp"])}]}
    if "budget_scale" in values:
        data["budget"] = {"scale": {"*": values["budget_scale"]}}
    s = Scenario.of(data)
    return simulate(inputs.tables, inputs.years, policy=s.policy(inputs.policy), budget=s.budget(inputs.budget),
                    lpr=s.curve(inputs.history, HOLD))


def test_each_scenario_of_the_grid_equals_that_scenario_run_alone(inputs: SweepInputs) -> None:
    result = sweep(SweepSpec.of(GRID), inputs)
    table = result.scenarios()
    assert len(table) == 2 * 2 * 1 * 2 == len(result.results)
    assert list(table.columns[:5]) == ["scenario_id", "lpr_shift_bp", "budget_scale", "interest_subsidy.form",
                                       "interest_subsidy.points"]
    assert table.awarded.nunique() > 2  # the axes change the outlay
    by_year, by_source = result.by_year(), result.by_year_source()
    for point in result.points:
        alone = _alone(inputs, point.values)
        mine = by_year[by_year.scenario_id == point.scenario_id]
        assert list(mine.claimed) == list(alone.by_year().claimed)
        assert list(mine.awarded) == list(alone.by_year().awarded)
        assert list(mine.unfunded) == list(alone.by_year().unfunded)
        in_years = alone.allocation.by_source[alone.allocation.by_source.year.isin(YEARS)]
        expected = in_years.merge(alone.by_year_source()[["year", "source_id", "claimed"]],
                                                    on=["year", "source_id"])
        got = by_source[by_source.scenario_id == point.scenario_id].merge(
            expected, on=["year", "source_id"], suffixes=("", "_alone"))
        assert len(got) == len(expected) == len(inputs.budget.sources) * len(YEARS)
        for column in ("claimed", "awarded", "cap", "available", "asked", "cap_exceeded"):
            assert list(got[column]) == list(got[f"{column}_alone"]), (point.values, column)
        row = table[table.scenario_id == point.scenario_id].iloc[0]
        assert row.awarded == sum(mine.awarded) and row.unfunded == row.claimed - row.awarded
        assert row.sources_exceeded == int(got.cap_exceeded.sum())
    # a tight budget leaves claims unfunded and caps exceeded; the full one fewer
    tight, full = table[table.budget_scale == "0.05"], table[table.budget_scale == "1.00"]
    assert (tight.unfunded.to_numpy() > full.unfunded.to_numpy()).all()
    assert (tight.sources_exceeded.to_numpy() > 0).all()


def test_a_point_s_hash_is_that_of_its_values_in_any_sweep(inputs: SweepInputs) -> None:
    """A point's hash covers its values (as the engine reads them: "1.0" is "1"), not the sweep's id nor where
    in a grid it sat; the sweep's own hash covers the file and every point. (The review found the sweep's id and
    the spelling of a value in each point's hash.)"""
    spec = SweepSpec.of({"id": "p", "lpr": {"from": "2027-01-20", "shift_bp": [-25, 0]},
                         "budget": {"scale": ["0.5", "1"]}})
    first, again = sweep(spec, inputs), sweep(spec, inputs)
    assert [r.inputs_sha256 for r in first.results] == [r.inputs_sha256 for r in again.results]
    assert first.provenance == again.provenance and len({r.inputs_sha256 for r in first.results}) == 4
    other = sweep(SweepSpec.of({"id": "another", "lpr": {"from": "2027-01-20", "shift_bp": [0, -25, 50]},
                                "budget": {"scale": ["1.0", "0.50"]}}), inputs)
    hashes = {tuple(p.values.values()): r.inputs_sha256 for p, r in zip(first.points, first.results)}
    for point, result in zip(other.points, other.results):
        shift, scale = point.values["lpr_shift_bp"], point.values["budget_scale"]
        if shift != "50":
            assert result.inputs_sha256 == hashes[(shift, {"1.0": "1", "0.50": "0.5"}[scale])]
    assert other.provenance.parameters_sha256 != first.provenance.parameters_sha256


def test_scenarios_that_differ_only_in_budget_share_one_evaluation(inputs: SweepInputs,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = sweep_module.evaluate
    monkeypatch.setattr(sweep_module, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    spec = SweepSpec.of({"id": "b", "lpr": {"from": "2027-01-20", "shift_bp": [-25, 0, 25]},
                         "budget": {"scale": ["0.5", "0.8", "1"]}})
    result = sweep(spec, inputs, progress=lambda done: calls.append(0))
    assert len(result.results) == 9 and calls.count(1) == 3  # one evaluation per LPR value
    assert calls.count(0) == 3 and calls[-1] == 0  # progress after each evaluation's scenarios


def test_monte_carlo_per_scenario_is_the_scenario_monte_carlo(inputs: SweepInputs) -> None:
    settings = MonteCarloSettings(paths=3, seed=2, monthly_sigma_bp="30")
    spec = SweepSpec.of({"id": "mc", "lpr": {"from": "2027-01-20", "shift_bp": [-25]},
                         "budget": {"scale": ["0.3"]},
                         "parameters": {"interest_subsidy.form": ["share_of_interest"]},
                         "monte_carlo": settings.model_dump(mode="json")})
    result = sweep(spec, inputs)
    point = result.points[0]
    mc = monte_carlo(inputs.tables, YEARS, policy=point.evaluation.policy(inputs.policy),
                     budget=point.budget_change.budget(inputs.budget), history=inputs.history,
                     changes=point.evaluation.shifts_bp(), settings=settings, hold_until=HOLD)
    p = result.results[0].p_cap_exceeded
    assert p is not None and np.array_equal(p, mc.exceeded.mean(axis=0))
    assert "p_cap_exceeded" in result.by_year_source() and "max_p_cap_exceeded" in result.scenarios()
    # the paths given to sweep() replace the file's
    fewer = sweep(spec, inputs, monte_carlo=settings.with_paths(1)).results[0].p_cap_exceeded
    assert fewer is not None and set(np.unique(fewer)) <= {0.0, 1.0}


@pytest.mark.parametrize("data, message", [
    ({"id": "x"}, "at least one axis"),
    ({"id": "x", "bogus": 1}, "bogus: Extra inputs are not permitted"),
    ({"id": "x", "budget": {"scale": []}}, "budget.scale"),
    ({"id": "x", "budget": {"scale": [1.1]}}, "must be written as a string"),
    ({"id": "x", "parameters": {"insurance_premium.share": []}}, "give at least one value"),
    ({"id": "x", "lpr": {"shift_bp": [1]}}, "lpr.from"),
    ({"id": "x", "lpr": {"from": "2027-01-20", "shift_bp": [0, 0]}}, "lpr.shift_bp: 0 and 0 are the same value"),
    ({"id": "x", "budget": {"scale": ["1", "1.0"]}}, "budget.scale: 1.0 and 1 are the same value"),
    ({"id": "x", "parameters": {"insurance_premium.share": ["0.6", "0.60"]}},
     "parameters.insurance_premium.share: 0.60 and 0.6 are the same value"),
    ({"id": "x", "lpr": {"from": "2027-01-20", "shift_bp": [25.0]}}, "lpr.shift_bp.0"),
    ({"id": "x", "lpr": {"from": "2027-01-20", "shift_bp": [True]}}, "lpr.shift_bp.0"),
    ({"id": "x", "lpr": {"from": "2027-01-20", "shift_bp": ["10"]}}, "lpr.shift_bp.0"),
    ({"id": "x", "lpr": {"from": "2027-01-20", "shift_bp": list(range(40))},
      "budget": {"scale": [str(k) for k in range(30)]}}, f"1,200 scenarios .* more than {MAX_SCENARIOS:,}"),
])
def test_a_bad_sweep_file_says_where(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScenarioError, match=message):
        SweepSpec.of(data, "s.yaml")


@pytest.mark.parametrize("data, message", [
    ({"id": "x", "parameters": {"insurance_premium.shar": ["0.6"]}}, "parameters.insurance_premium.shar: no such"),
    ({"id": "x", "parameters": {"insurance_premium.share": ["0.6", "7"]}}, "insurance_premium"),
    ({"id": "x", "budget": {"sources": "zzz*", "scale": ["1"]}}, r"budget.scale.zzz\*: matches no source"),
    ({"id": "x", "budget": {"scale": ["1", "-1"]}}, "must not be negative"),
    ({"id": "x", "lpr": {"from": "2026-05-20", "shift_bp": [0, -25]}}, "within the published LPR data"),
    ({"id": "x", "lpr": {"from": "2026-05-20", "shift_bp": [0]}}, "within the published LPR data"),
    ({"id": "x", "lpr": {"from": "2027-01-20", "shift_bp": [-25, -400]}}, "not positive"),
])
def test_every_scenario_is_checked_before_anything_runs(inputs: SweepInputs, data: dict, message: str,  # type: ignore[type-arg]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_module, "evaluate", lambda *a, **k: pytest.fail("evaluated before the check"))
    with pytest.raises(ScenarioError, match=message) as caught:
        sweep(SweepSpec.of(data, "s.yaml"), inputs)
    assert str(caught.value).startswith("s.yaml: ")


def test_the_bundled_sweep_loads(tmp_path: Path) -> None:
    spec = load_sweep(schedules_dir() / "sweep-demo.yaml")
    assert spec.size == len(spec.points()) >= 12 and len(spec.digest) == 64
    assert {"lpr_shift_bp", "budget_scale"} <= set(spec.axes())
    bad = tmp_path / "s.yaml"
    bad.write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="a sweep is a mapping"):
        load_sweep(bad)


def test_amounts_stay_exact(inputs: SweepInputs) -> None:
    result = sweep(SweepSpec.of({"id": "e", "budget": {"scale": ["0.333"]}}), inputs)
    caps = result.by_year_source().cap
    assert all(isinstance(v, Decimal) and v == v.quantize(Decimal("0.01")) for v in caps)
    source = inputs.budget.sources[0]
    base = inputs.budget.file.model_dump(mode="json")["sources"][0]["caps"]
    first = base if not isinstance(base, dict) else base[YEARS[0]]
    expected = (Decimal(first) * Decimal("0.333")).quantize(Decimal("0.01"))
    row = result.by_year_source()
    got = row[(row.source_id == source.id) & (row.year == YEARS[0])].cap.iloc[0]
    assert yuan_to_fen(got) == yuan_to_fen(expected)


SMALL = "id: small\nlpr:\n  from: 2027-01-20\n  shift_bp: [-25, 0]\nbudget:\n  scale: [\"0.10\", \"1\"]\n"


def test_simulate_command_with_a_sweep(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from subsidy_engine.service.cli import main

    file = tmp_path / "sweep.yaml"
    file.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["simulate", "--projects", "300", "--sweep", str(file), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "情景扫描small：4个情景（LPR调整（基点）：-25、0；预算倍数：0.10、1），2次测算" in said
    assert "资金不足的来源年度数" in said and "安排金额最低：S001" in said
    assert "--scenario" not in said  # no advertisement of a scenario after a sweep
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    swept = summary["sweep"]
    assert swept["id"] == "small" and len(swept["scenarios"]) == 4 and swept["monte_carlo"] is None
    assert swept["axes"] == {"lpr_shift_bp": ["-25", "0"], "budget_scale": ["0.10", "1"]}
    assert len({s["inputs_sha256"] for s in swept["scenarios"]}) == 4 and "monte_carlo" not in summary
    rows = pd.DataFrame(swept["scenarios"])
    assert (rows.awarded.map(Decimal) + rows.unfunded.map(Decimal) == rows.claimed.map(Decimal)).all()
    by_year = pd.DataFrame(swept["by_year"])
    assert by_year.groupby("scenario_id").awarded.apply(lambda v: sum(map(Decimal, v))).tolist() == [
        Decimal(v) for v in rows.awarded]
    book = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    assert {"情景扫描汇总", "情景扫描按年度", "情景扫描按资金来源"} <= set(book.sheetnames)
    cover = {r[0]: r[1] for r in book["封面"].iter_rows(values_only=True)}
    assert cover["情景扫描"] == "small：4个情景（LPR调整（基点）：-25、0；预算倍数：0.10、1）"
    headers = [c.value for c in next(book["情景扫描按资金来源"].iter_rows(max_row=1))]
    assert headers[:4] == ["情景编号", "年度", "资金来源代码", "资金来源"] and "当年资金不足" in headers
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_sweep_with_paths_and_its_refusals(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from subsidy_engine.service.cli import main

    file = tmp_path / "sweep.yaml"
    file.write_text(SMALL, encoding="utf-8")
    assert main(["simulate", "--projects", "200", "--sweep", str(file), "--paths", "2", "--quiet", "--lang", "en",
                 "--out", str(tmp_path / "mc")]) == 0
    summary = json.loads((tmp_path / "mc" / "summary.json").read_text(encoding="utf-8"))
    assert summary["sweep"]["monte_carlo"]["paths"] == 2 and "monte_carlo" not in summary  # the sweep's paths
    assert {"max_p_cap_exceeded"} <= set(summary["sweep"]["scenarios"][0])
    assert "p_cap_exceeded" in summary["sweep"]["by_year_source"][0]
    scenario = schedules_dir() / "scenario-demo.yaml"
    assert main(["simulate", "--projects", "50", "--sweep", str(file), "--scenario", str(scenario),
                 "--out", str(tmp_path / "b")]) == 2
    assert "--sweep and --scenario: give one" in capsys.readouterr().err
    file.write_text("id: x\nbudget:\n  scale: [0.5]\n", encoding="utf-8")
    assert main(["simulate", "--projects", "50", "--sweep", str(file), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert str(file) in err and "must be written as a string" in err
    assert main(["simulate", "--projects", "50", "--sweep", str(file), "--paths", "2", "--mode", "optimal",
                 "--out", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b").exists()
    # a value no scenario can have is said before the baseline runs and before any cluster is reached
    file.write_text("id: x\nparameters:\n  insurance_premium.shar: [\"0.6\"]\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["simulate", "--sweep", str(file), "--cluster", "tcp://127.0.0.1:1", "--out", str(tmp_path / "b")]) == 2
    said = capsys.readouterr()
    assert "parameters.insurance_premium.shar: no such parameter" in said.err and said.out == ""

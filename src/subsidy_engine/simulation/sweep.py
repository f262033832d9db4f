"""A sweep: the same portfolio under a grid of scenarios, one row of results per scenario.

A finance bureau asks "what if the LPR moves by -50 to +25 bp, and the funds get 80% to 120% of their
budget, and the premium share is 60% or 80%?" A sweep file lists each axis's values; the engine runs every
combination (the grid's product) and reports, per scenario, the outlay, what is left unfunded and the budget
at risk, per year and source (``simulate --sweep sweep.yaml``)::

    id: lpr-x-budget
    description: LPR shifts against budget scalings and the premium share
    lpr:                          # an LPR shift from a date, one value per scenario (0: the published path)
      from: 2027-01-20
      shift_bp: [-50, -25, 0, 25]
      tenor: both                 # 1Y, 5Y or both (default)
      hold_until: 2045-12-31      # optional: until when the last value holds
    budget:                       # every cap of the matching sources scaled (fnmatch pattern; "*": all)
      sources: "*"
      scale: ["0.80", "1.00", "1.20"]
    parameters:                   # any parameter of the policy file, section.name: its values
      insurance_premium.share: ["0.60", "0.80"]
    monte_carlo:                  # optional: random LPR paths around each scenario's path
      paths: 100
      seed: 7

Amounts, factors and rates are strings (read exactly), as in a scenario file. Each point of the grid is a
:class:`~subsidy_engine.simulation.scenario.Scenario` built from its values, so a sweep changes exactly what
a scenario file with those values would, and is checked the same way, all points before anything runs.

**What a scenario's row holds.** Per year: ``claimed`` (after evaluate's cuts), ``awarded`` (the outlay) and
``unfunded``; per source and year: what its claims first asked of it (``claimed``), ``awarded``, ``cap``,
``available``, ``asked`` and ``cap_exceeded`` (:attr:`subsidy_engine.Allocation.by_source`: the money of the
source's year ran short, so some claim was cut or passed on for it). With ``monte_carlo``, also
``p_cap_exceeded``: the share of the scenario's LPR paths in which that happens. Unfunded is counted per
year, not per source: a part one source does not pay may be paid by the next.

**How it stays fast.** The budget changes only the allocation: the scenarios that differ only in their
budget share one evaluation (the claims and their provenance belong to the LPR path and parameters alone).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from subsidy_engine.budgeting.allocation import TIME_LIMIT, Mode, allocate
from subsidy_engine.core.dates import IsoDate
from subsidy_engine.core.money import fen_to_yuan, to_decimal, yuan_to_fen
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.errors import BudgetError, MoneyError, ScenarioError
from subsidy_engine.params.budget import Budget
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import Policy
from subsidy_engine.pipeline.evaluate import evaluate
from subsidy_engine.pipeline.inputs import PortfolioTables
from subsidy_engine.simulation.scenario import (
    DEFAULT_HOLD_UNTIL,
    Exact,
    MonteCarloSettings,
    Scenario,
    read_mapping,
    validated,
)
from subsidy_engine.simulation.simulate import Simulation

if TYPE_CHECKING:
    from distributed import Client

#: The most scenarios one sweep runs (a grid grows as the product of its axes: say so before hours of work).
MAX_SCENARIOS = 1_000
_STRICT = ConfigDict(extra="forbid", frozen=True)


class LprAxis(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_date: IsoDate = Field(alias="from")
    shift_bp: list[StrictInt] = Field(min_length=1)  # a float or true is refused, not taken as a number of bp
    tenor: Literal["1Y", "5Y", "both"] = "both"
    hold_until: IsoDate | None = None


class BudgetAxis(BaseModel):
    model_config = _STRICT
    sources: str = "*"
    scale: list[Exact] = Field(min_length=1)


class SweepFile(BaseModel):
    model_config = _STRICT
    id: str = Field(min_length=1)
    description: str = ""
    lpr: LprAxis | None = None
    budget: BudgetAxis | None = None
    parameters: dict[str, list[Any]] = {}
    monte_carlo: MonteCarloSettings | None = None

    @field_validator("parameters")
    @classmethod
    def _values_given(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for dotted, values in value.items():
            if not values:
                raise ValueError(f"{dotted}: give at least one value")
        return value


@dataclass(frozen=True)
class Point:
    """One scenario of the grid: its number (from 1), its values by axis, and the scenarios that make it.

    ``evaluation`` holds what changes the claims (the LPR shift and the parameters), ``budget_change`` what
    changes the money (the budget's scaling): points with the same ``evaluation`` share their claims.
    """

    number: int
    values: dict[str, str]
    evaluation: Scenario
    budget_change: Scenario

    width: int = 3

    @property
    def scenario_id(self) -> str:
        """``S001``...; as many digits as the grid's largest number needs, so that the ids sort as numbers."""
        return f"S{self.number:0{self.width}d}"


@dataclass(frozen=True)
class PointResult:
    """What one scenario of a sweep yields, in fen (small, so that it travels from a worker).

    Arrays are per year (``years``) or per source and year (``sources x years``).
    """

    number: int
    claimed_fen: np.ndarray
    awarded_fen: np.ndarray
    source_claimed_fen: np.ndarray
    source_awarded_fen: np.ndarray
    cap_fen: np.ndarray
    available_fen: np.ndarray
    asked_fen: np.ndarray
    cap_exceeded: np.ndarray
    p_cap_exceeded: np.ndarray | None
    inputs_sha256: str
    lpr_projection: str | None


@dataclass(frozen=True)
class SweepSpec:
    """A loaded sweep file and the SHA-256 of its text (carried into results)."""

    file: SweepFile
    digest: str
    path: str

    @property
    def id(self) -> str:
        return self.file.id

    @classmethod
    def of(cls, data: dict[str, Any], name: str = "<dict>") -> SweepSpec:
        """A sweep from a mapping shaped like the YAML file."""
        parsed, digest = validated(SweepFile, data, name)
        if parsed.lpr is None and parsed.budget is None and not parsed.parameters:
            raise ScenarioError(f"{name}: a sweep needs at least one axis: lpr, budget or parameters")
        spec = cls(parsed, digest, name)
        for axis, values in spec._raw().items():  # a value given twice would run its scenarios twice
            seen: dict[str, Any] = {}
            for value in values:
                key = _canonical(value)
                if key in seen:
                    where = {"lpr_shift_bp": "lpr.shift_bp", "budget_scale": "budget.scale"}.get(axis,
                                                                                                 f"parameters.{axis}")
                    raise ScenarioError(f"{name}: {where}: {value} and {seen[key]} are the same value: give each "
                                        "value once")
                seen[key] = value
        count = spec.size
        if count > MAX_SCENARIOS:
            raise ScenarioError(f"{name}: the grid has {count:,} scenarios (the product of its axes), more than "
                                f"{MAX_SCENARIOS:,}: split it into several sweeps")
        return spec

    def axes(self) -> dict[str, list[str]]:
        """Each axis by its column name (``lpr_shift_bp``, ``budget_scale``, then the parameters) and its values
        as text, in the file's order."""
        f = self.file
        out: dict[str, list[str]] = {}
        if f.lpr is not None:
            out["lpr_shift_bp"] = [str(v) for v in f.lpr.shift_bp]
        if f.budget is not None:
            out["budget_scale"] = [str(v) for v in f.budget.scale]
        for dotted, values in f.parameters.items():
            out[dotted] = [str(v) for v in values]
        return out

    @property
    def size(self) -> int:
        return int(np.prod([len(v) for v in self.axes().values()], dtype=np.int64))

    def _raw(self) -> dict[str, list[Any]]:
        f = self.file
        raw: dict[str, list[Any]] = {}
        if f.lpr is not None:
            raw["lpr_shift_bp"] = list(f.lpr.shift_bp)
        if f.budget is not None:
            raw["budget_scale"] = list(f.budget.scale)
        raw.update(f.parameters)
        return raw

    def points(self) -> list[Point]:
        """Every scenario of the grid, the first axis varying slowest.

        A point's scenarios are named by their values alone (``sweep[lpr_shift_bp=-25,...]``), written as the
        engine reads them (``1.0`` and ``1`` alike), so that the same values have the same hash in any sweep.
        """
        f, axes, raw = self.file, self.axes(), self._raw()
        names = list(axes)
        width = max(3, len(str(self.size)))
        points = []
        combinations = itertools.product(*(range(len(raw[n])) for n in names))
        for number, picks in enumerate(combinations, start=1):
            chosen = {n: raw[n][k] for n, k in zip(names, picks)}
            evaluation: dict[str, Any] = {"parameters": {k: v for k, v in chosen.items() if k in f.parameters}}
            if f.lpr is not None:
                shift = int(chosen["lpr_shift_bp"])
                evaluation["lpr"] = {"shifts": [{"from": f.lpr.from_date.isoformat(), "bp": shift,
                                                 "tenor": f.lpr.tenor}] if shift else [],
                                     "hold_until": f.lpr.hold_until.isoformat() if f.lpr.hold_until else None}
            said = ",".join(f"{k}={_canonical(chosen[k])}" for k in names if k != "budget_scale")
            money: dict[str, Any] = {}
            if f.budget is not None:
                money = {"budget": {"scale": {f.budget.sources: str(chosen["budget_scale"])}}}
            scale = _canonical(chosen["budget_scale"]) if "budget_scale" in chosen else "1"
            points.append(Point(number, {n: axes[n][k] for n, k in zip(names, picks)},
                                self._scenario({"id": f"sweep[{said}]", **evaluation}),
                                self._scenario({"id": f"sweep[budget_scale={scale}]", **money}), width))
        return points

    def _scenario(self, data: dict[str, Any]) -> Scenario:
        return Scenario.of(data, self.path)


def _typed_values(values: dict[str, str]) -> dict[str, object]:
    """A point's values for its row: the LPR shift a number of bp, the others as the file wrote them."""
    return {k: int(v) if k == "lpr_shift_bp" else v for k, v in values.items()}


def _canonical(value: Any) -> str:
    """A value as the engine reads it: a number's exact value (``1.0`` is ``1``), anything else as written."""
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        return repr(value)
    try:
        number = to_decimal(value, "value")
    except MoneyError:
        return str(value)
    return format(number.normalize(), "f") if number else "0"


def load_sweep(path: str | os.PathLike[str]) -> SweepSpec:
    """Load a sweep file (see the module docstring for its shape)."""
    data, digest = read_mapping(path, "sweep", "an id and its axes")
    return SweepSpec(SweepSpec.of(data, str(Path(path))).file, digest, str(Path(path)))


@dataclass(frozen=True)
class Sweep:
    """What :func:`sweep` returns: one result per scenario of the grid, and the tables a bureau reads.

    Amounts in the tables are exact yuan (``Decimal``); the per-point arrays are int64 fen.
    """

    spec: SweepSpec
    points: tuple[Point, ...]
    results: tuple[PointResult, ...]
    years: tuple[int, ...]
    source_ids: tuple[str, ...]
    provenance: Provenance
    monte_carlo: MonteCarloSettings | None = None

    def scenarios(self) -> pd.DataFrame:
        """One row per scenario: ``scenario_id``, each axis's value, and over the horizon ``claimed``,
        ``awarded``, ``unfunded`` and ``sources_exceeded`` (source-years whose cap the claims passed); with
        Monte Carlo, ``max_p_cap_exceeded``."""
        rows = []
        for point, r in zip(self.points, self.results):
            claimed, awarded = int(r.claimed_fen.sum()), int(r.awarded_fen.sum())
            row: dict[str, object] = {"scenario_id": point.scenario_id, **_typed_values(point.values),
                                      "claimed": fen_to_yuan(claimed), "awarded": fen_to_yuan(awarded),
                                      "unfunded": fen_to_yuan(claimed - awarded),
                                      "sources_exceeded": int(r.cap_exceeded.sum())}
            if r.p_cap_exceeded is not None:
                row["max_p_cap_exceeded"] = round(float(r.p_cap_exceeded.max(initial=0.0)), 4)
            rows.append(row)
        return pd.DataFrame(rows)

    def by_year(self) -> pd.DataFrame:
        """Per scenario and year: ``claimed``, ``awarded``, ``unfunded`` and ``sources_exceeded``."""
        rows = []
        for point, r in zip(self.points, self.results):
            for k, year in enumerate(self.years):
                claimed, awarded = int(r.claimed_fen[k]), int(r.awarded_fen[k])
                rows.append({"scenario_id": point.scenario_id, "year": year, "claimed": fen_to_yuan(claimed),
                             "awarded": fen_to_yuan(awarded), "unfunded": fen_to_yuan(claimed - awarded),
                             "sources_exceeded": int(r.cap_exceeded[:, k].sum())})
        return pd.DataFrame(rows)

    def by_year_source(self) -> pd.DataFrame:
        """Per scenario, year and source: ``claimed`` (first asked of it), ``awarded``, ``cap``, ``available``,
        ``asked``, ``cap_exceeded``; with Monte Carlo, ``p_cap_exceeded``."""
        rows = []
        for point, r in zip(self.points, self.results):
            for k, year in enumerate(self.years):
                for s, source_id in enumerate(self.source_ids):
                    row: dict[str, object] = {
                        "scenario_id": point.scenario_id, "year": year, "source_id": source_id,
                        "claimed": fen_to_yuan(int(r.source_claimed_fen[s, k])),
                        "awarded": fen_to_yuan(int(r.source_awarded_fen[s, k])),
                        "cap": fen_to_yuan(int(r.cap_fen[s, k])), "available": fen_to_yuan(int(r.available_fen[s, k])),
                        "asked": fen_to_yuan(int(r.asked_fen[s, k])), "cap_exceeded": bool(r.cap_exceeded[s, k])}
                    if r.p_cap_exceeded is not None:
                        row["p_cap_exceeded"] = round(float(r.p_cap_exceeded[s, k]), 4)
                    rows.append(row)
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class SweepInputs:
    """What every scenario of a sweep starts from (the baseline's inputs)."""

    tables: PortfolioTables
    years: tuple[int, ...]
    policy: Policy
    budget: Budget
    history: LprCurve
    hold_until: date = DEFAULT_HOLD_UNTIL
    mode: Mode = "waterfall"
    rate_by_stage: dict[str, str] | None = None
    calendar: BusinessCalendar | None = None
    time_limit: float = TIME_LIMIT


@dataclass(frozen=True)
class Built:
    """Each point's parameters, LPR path and budget, built once (and so checked): by evaluation and budget id."""

    policies: dict[str, Policy]
    curves: dict[str, LprCurve]
    budgets: dict[str, Budget]

    def of_group(self, group: list[Point]) -> Built:
        """What the points of ``group`` need (a cluster's task carries only that)."""
        first = group[0].evaluation.id
        return Built({first: self.policies[first]}, {first: self.curves[first]},
                     {p.budget_change.id: self.budgets[p.budget_change.id] for p in group})


def build(spec: SweepSpec, policy: Policy, budget: Budget, history: LprCurve,
          hold_until: date = DEFAULT_HOLD_UNTIL) -> Built:
    """Every point's parameters, LPR path and budget, each distinct one once: a bad value of the file is an error
    here, before anything is computed (``simulate --sweep`` calls it before the baseline)."""
    lpr = spec.file.lpr
    if lpr is not None and lpr.from_date <= history.coverage_end:  # even with only a shift of 0
        raise ScenarioError(f"{spec.path}: lpr.from {lpr.from_date} is within the published LPR data (to "
                            f"{history.coverage_end}): a sweep shifts projected rates only")
    policies: dict[str, Policy] = {}
    curves: dict[str, LprCurve] = {}
    budgets: dict[str, Budget] = {}
    for point in spec.points():
        key = point.evaluation.id
        if key not in policies:
            policies[key] = point.evaluation.policy(policy)
            curves[key] = point.evaluation.curve(history, hold_until)
        if point.budget_change.id not in budgets:
            budgets[point.budget_change.id] = point.budget_change.budget(budget)
    return Built(policies, curves, budgets)


def run_group(inputs: SweepInputs, group: list[Point], built: Built,
              monte_carlo: MonteCarloSettings | None = None) -> list[PointResult]:
    """The scenarios of ``group``, which share their evaluation (the same LPR shift and parameters): the claims
    are evaluated once and allocated under each scenario's budget; with ``monte_carlo``, each scenario's LPR
    paths give the probability that each cap is exceeded."""
    evaluation = group[0].evaluation
    policy, curve = built.policies[evaluation.id], built.curves[evaluation.id]
    claims = evaluate(inputs.tables, policy, inputs.years, rate_by_stage=inputs.rate_by_stage, lpr=curve,
                      calendar=inputs.calendar)
    results = []
    for point in group:
        budget = built.budgets[point.budget_change.id]
        run = Simulation(claims, allocate(claims, budget, inputs.mode, time_limit=inputs.time_limit), inputs.years,
                         point.scenario_id)
        p_exceeded = None
        if monte_carlo is not None:
            from subsidy_engine.simulation.montecarlo import monte_carlo as paths_of

            mc = paths_of(inputs.tables, inputs.years, policy=policy, budget=budget, history=inputs.history,
                          changes=evaluation.shifts_bp(), settings=monte_carlo,
                          hold_until=evaluation.hold_until(inputs.hold_until), rate_by_stage=inputs.rate_by_stage,
                          mode=inputs.mode, label=point.scenario_id)
            p_exceeded = mc.exceeded.mean(axis=0)
        results.append(_result(point, run, p_exceeded))
    return results


def _group_task(work: tuple[list[Point], Built], inputs: SweepInputs, monte_carlo: MonteCarloSettings | None
                ) -> list[PointResult]:
    """:func:`run_group` as a cluster's task (the group and what it needs first: the inputs are sent to every
    worker once)."""
    group, built = work
    return run_group(inputs, group, built, monte_carlo)


def _result(point: Point, run: Simulation, p_exceeded: np.ndarray | None) -> PointResult:
    years = run.years
    by_year = run.by_year()
    by_source = run.allocation.by_source
    budget = run.allocation.budget
    source_ids = [s.id for s in budget.sources]

    def grid(frame: pd.DataFrame, column: str) -> np.ndarray:  # (sources, years) in fen, sources in budget order
        frame = frame[frame.year.isin(years)]  # the budget's other years are not the horizon's
        values = np.zeros((len(source_ids), len(years)), np.int64)
        s = pd.Index(source_ids).get_indexer(pd.Index(frame.source_id.astype(str)))
        y = pd.Index(years).get_indexer(pd.Index(frame.year))
        values[s, y] = _fen(frame[column]) if column != "cap_exceeded" else frame[column].to_numpy(bool)
        return values

    first_asked = run.by_year_source()
    return PointResult(
        point.number, _fen(by_year.claimed), _fen(by_year.awarded), grid(first_asked, "claimed"),
        grid(by_source, "awarded"), grid(by_source, "cap"), grid(by_source, "available"),
        grid(by_source, "asked"), grid(by_source, "cap_exceeded").astype(bool), p_exceeded, run.inputs_sha256, run.claims.provenance.scenario)


def _fen(amounts: pd.Series) -> np.ndarray:
    """Exact yuan (Decimals or decimal columns of any scale) as int64 fen; a few rows per scenario."""
    return np.array([yuan_to_fen(Decimal(str(v))) for v in amounts], np.int64)


def sweep(spec: SweepSpec, inputs: SweepInputs, *, monte_carlo: MonteCarloSettings | None = None,
          progress: Callable[[int], None] | None = None, client: Client | None = None,
          built: Built | None = None) -> Sweep:
    """Run every scenario of ``spec`` on ``inputs`` (the baseline's portfolio, parameters, budget and LPR data).

    ``built``: :func:`build`'s result when the caller checked the file before (else built here).
    ``monte_carlo``: the LPR paths of each scenario (default: the file's ``monte_carlo``, if any). ``client``:
    run the groups of scenarios on this cluster's workers (:mod:`subsidy_engine.simulation.cluster`); the results
    and their hashes are the same to the fen.

    Every point's scenario is built (and so checked) before anything runs; the points that share an evaluation
    run together (:func:`run_group`). ``progress`` is called with the number of scenarios done.

    Examples
    --------
    >>> from subsidy_engine import load_budget, load_lpr, load_policy
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> spec = SweepSpec.of({"id": "demo", "lpr": {"from": "2027-01-20", "shift_bp": [-25, 0]},
    ...                      "budget": {"scale": ["0.5", "1"]}})
    >>> inputs = SweepInputs(portfolio(200, seed=3), (2026, 2027), load_policy(), load_budget(), load_lpr())
    >>> result = sweep(spec, inputs)
    >>> result.scenarios()[["scenario_id", "lpr_shift_bp", "budget_scale"]].values.tolist()
    [['S001', -25, '0.5'], ['S002', -25, '1'], ['S003', 0, '0.5'], ['S004', 0, '1']]
    """
    outside = [y for y in inputs.years if y not in inputs.budget.years]
    if outside:
        raise BudgetError(f"years {outside} are beyond budget {inputs.budget.id}'s years "
                          f"{inputs.budget.years[0]}-{inputs.budget.years[-1]}")
    points = spec.points()
    if built is None:  # every scenario built, and so checked, before anything runs: a bad value is said in seconds
        built = build(spec, inputs.policy, inputs.budget, inputs.history, inputs.hold_until)
    groups: dict[str, list[Point]] = {}
    for point in points:
        groups.setdefault(point.evaluation.id, []).append(point)
    paths = monte_carlo if monte_carlo is not None else spec.file.monte_carlo
    results: list[PointResult] = []
    if client is None:
        for group in groups.values():
            results += run_group(inputs, group, built, paths)
            if progress is not None:
                progress(len(results))
    else:
        from subsidy_engine.simulation.cluster import map_in_order

        sizes = [len(g) for g in groups.values()]
        done = np.cumsum(sizes)  # the groups' sizes differ: say the scenarios done, roughly, as groups finish
        work = [(group, built.of_group(group)) for group in groups.values()]
        for part in map_in_order(client, _group_task, work, inputs, paths,
                                 progress=None if progress is None else lambda k: progress(int(done[k - 1]))):
            results += part
    results.sort(key=lambda r: r.number)
    model = paths.model_dump_json() if paths is not None else "no Monte Carlo"
    provenance = Provenance.of(spec.digest, model, *(r.inputs_sha256 for r in results),
                               scenario=f"sweep {spec.id}: {len(points)} scenarios")
    return Sweep(spec, tuple(points), tuple(results), tuple(inputs.years),
                 tuple(s.id for s in inputs.budget.sources), provenance, paths)


__all__ = ["MAX_SCENARIOS", "Built", "Point", "PointResult", "Sweep", "SweepInputs", "SweepSpec", "build", "load_sweep", "run_group",
           "sweep"]

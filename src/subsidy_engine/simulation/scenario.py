"""Scenarios: what changes against the baseline, as a YAML file (:func:`load_scenario`).

A scenario names its changes; everything it does not name stays as in the
baseline (the parameter file, the budget, the portfolio, the LPR held flat
after its data). Each part is optional::

    id: lpr-cut-2027
    description: the 5-year LPR 25 bp lower from January 2027, insurance share 60%
    lpr:                          # changes to the projected LPR (never to published fixings)
      shifts:
        - {from: 2027-01-20, bp: -25}             # both tenors, from that fixing on
        - {from: 2028-01-20, bp: -10, tenor: 5Y}
      hold_until: 2045-12-31      # the last value holds until then (default: --hold-lpr-until)
    parameters:                   # policy parameters, in every parameter set
      insurance_premium.share: "0.60"
    budget:
      caps:                       # a source's caps replaced: one amount, or per year
        gaojingjian_fund: {2027: "1500000000"}
      scale:                      # caps multiplied, after any replacement above (half-up to the fen);
                                  # * and ? match ids
        "district_matching:*": "1.10"
    growth:                       # new projects a year, from the synthetic generator
      projects_per_year: 1000
      from_year: 2027             # default: the year after the horizon's first
      seed: 1
    monte_carlo:                  # random LPR paths around the scenario's own path
      paths: 1000
      seed: 7
      monthly_sigma_bp: "10"      # standard deviation of a month's move
      monthly_drift_bp: "0"
      floor_pct: "1.00"           # random moves take no tenor below this (on the 5 bp grid;
                                  # keep LPR + spread > 0)

Amounts and rates are written as strings (read exactly); an unknown key, a
float, a parameter or source that does not exist, or an LPR change dated
within the published data is an error that says where.

**Shifts** add up: a fixing date's LPR is the last published fixing plus the
sum of the shifts dated on or before it (each on its tenor). **Overrides** take
status ``inferred`` and cite the scenario as their source, so ``explain`` shows
them. **Growth** projects are synthetic (:func:`subsidy_engine.simulation.synthetic.portfolio`,
ids prefixed ``G<year>-``), starting in their year; with a portfolio of your
own, they stand for the pipeline you expect, not for projects you know.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from subsidy_engine.core.dates import IsoDate
from subsidy_engine.core.messages import one_line, validation_messages
from subsidy_engine.core.money import quantize_fen, to_decimal
from subsidy_engine.errors import MoneyError, ScenarioError
from subsidy_engine.io.files import read_yaml
from subsidy_engine.params.budget import Budget
from subsidy_engine.params.lpr import LprCurve, lpr_bound_problem
from subsidy_engine.params.policy import ParameterSet, Policy, PolicyFile, Source
from subsidy_engine.pipeline.inputs import PortfolioTables, concat_tables, extend_portfolio

_STRICT = ConfigDict(extra="forbid", frozen=True)
DEFAULT_HOLD_UNTIL = date(2045, 12, 31)


def _exact(value: object) -> object:
    if isinstance(value, float):
        raise ValueError(f"{value!r} must be written as a string (\"{value!r}\") so that it is read exactly")
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:  # the one text rule of numbers (Decimal would read "1_000" and other scripts' digits)
            return to_decimal(value, "_")
        except MoneyError as exc:
            raise ValueError(str(exc).removeprefix("_: ")) from None
    return value


Exact = Annotated[Decimal, BeforeValidator(_exact)]


class LprShift(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_date: IsoDate = Field(alias="from")
    bp: int
    tenor: Literal["1Y", "5Y", "both"] = "both"


class LprChanges(BaseModel):
    model_config = _STRICT
    shifts: list[LprShift] = []
    hold_until: IsoDate | None = None


class BudgetChanges(BaseModel):
    model_config = _STRICT
    caps: dict[str, Exact | dict[int, Exact]] = {}
    scale: dict[str, Exact] = {}


class Growth(BaseModel):
    model_config = _STRICT
    projects_per_year: int = Field(ge=0, le=1_000_000)
    from_year: int | None = Field(default=None, ge=2000, le=2100)
    seed: int = Field(default=1, ge=0, le=2**32)


class MonteCarloSettings(BaseModel):
    """Random LPR paths: monthly moves ``N(drift, sigma)`` rounded to 5 bp, both tenors alike."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_assignment=True)
    paths: int = Field(default=1000, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0, le=2**32)
    monthly_sigma_bp: Exact = Field(default=Decimal(10), ge=0, le=500)
    monthly_drift_bp: Exact = Field(default=Decimal(0), ge=-100, le=100)
    floor_pct: Exact = Field(default=Decimal("1.00"), gt=0, lt=20)

    @field_validator("floor_pct")
    @classmethod
    def _on_the_grid(cls, value: Decimal) -> Decimal:
        if (value * 100) % 5:
            raise ValueError(f"{value} is not on the LPR's 5 bp grid (e.g. 1.00 or 1.05)")
        return value

    def with_paths(self, paths: int) -> MonteCarloSettings:
        """The same settings with ``paths`` paths (validated)."""
        try:
            return MonteCarloSettings.model_validate({**self.model_dump(), "paths": paths})
        except ValidationError as exc:
            raise ScenarioError(f"monte_carlo.paths: {validation_messages(exc)[0][1]}") from None


class ScenarioFile(BaseModel):
    model_config = _STRICT
    id: str
    description: str = ""
    lpr: LprChanges | None = None
    parameters: dict[str, Any] = {}
    budget: BudgetChanges | None = None
    growth: Growth | None = None
    monte_carlo: MonteCarloSettings | None = None


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario and the SHA-256 of its file (carried into results)."""

    file: ScenarioFile
    digest: str
    path: str

    @property
    def id(self) -> str:
        return self.file.id

    @classmethod
    def of(cls, data: dict[str, Any], name: str = "<dict>") -> Scenario:
        """A scenario from a mapping shaped like the YAML file."""
        return cls(*validated(ScenarioFile, data, name), name)

    # -- the LPR -------------------------------------------------------------------
    def curve(self, history: LprCurve, hold_until: date = DEFAULT_HOLD_UNTIL) -> LprCurve:
        """The published fixings, then the scenario's path, held flat until ``lpr.hold_until``.

        >>> from subsidy_engine import load_lpr
        >>> s = Scenario.of({"id": "cut", "lpr": {"shifts": [{"from": "2027-01-20", "bp": -25}]}})
        >>> curve = s.curve(load_lpr())
        >>> curve.rate("5Y", date(2027, 1, 19)), curve.rate("5Y", date(2027, 1, 20)), curve.projection_label
        (Decimal('0.035'), Decimal('0.0325'), 'scenario cut')
        """
        until = self.hold_until(hold_until)
        try:
            rows = path_fixings(history, self.shifts_bp())
        except ScenarioError as exc:
            raise ScenarioError(f"{self.path}: {exc}") from None
        last = max([history.coverage_end, *(r["date"] for r in rows)])
        if until < last:
            raise ScenarioError(f"{self.path}: lpr.hold_until {until} is before {last}, the end of the LPR data "
                                "and the scenario's changes")
        return history.with_projection(rows, until=until, label=f"scenario {self.id}")

    def hold_until(self, default: date = DEFAULT_HOLD_UNTIL) -> date:
        """Until when the scenario's last LPR holds: ``lpr.hold_until``, else ``default``."""
        changes = self.file.lpr
        return changes.hold_until if changes is not None and changes.hold_until is not None else default

    def shifts_bp(self) -> list[tuple[date, int, int]]:
        """``(date, 1Y bp, 5Y bp)`` of each change, in date order."""
        merged: dict[date, tuple[int, int]] = {}
        for s in self.file.lpr.shifts if self.file.lpr else []:
            one, five = merged.get(s.from_date, (0, 0))
            merged[s.from_date] = (one + (s.bp if s.tenor != "5Y" else 0), five + (s.bp if s.tenor != "1Y" else 0))
        return [(day, one, five) for day, (one, five) in sorted(merged.items())]

    # -- the parameters ------------------------------------------------------------
    def policy(self, base: Policy) -> Policy:
        """``base`` with the scenario's parameter overrides in every parameter set."""
        overrides = self.file.parameters
        if not overrides:
            return base
        sets = []
        for s in base.sets:
            data = s.model_dump()
            for dotted, value in overrides.items():
                section, _, name = dotted.partition(".")
                if section not in data["parameters"] or name not in data["parameters"][section]:
                    raise ScenarioError(f"{self.path}: parameters.{dotted}: no such parameter in {base.origin} "
                                        f"(write section.name, e.g. insurance_premium.share)")
                old = data["parameters"][section][name]
                data["parameters"][section][name] = {
                    "value": value, "status": "inferred", "source": "scenario",
                    "note": f"scenario {self.id} (was {old['value']})"}
            try:
                sets.append(ParameterSet.model_validate(data))
            except ValidationError as exc:
                # a set's fields are parameters.section.name...: the scenario's own names, said as they are
                raise ScenarioError(f"{self.path}: {one_line(exc)}") from None
        sources = {**base.sources, "scenario": Source(title=f"scenario {self.id}: {self.file.description}",
                                                      url=None)}
        file = PolicyFile(policy=base.name, title=base.title, clauses=base.clauses, sources=sources,
                          covers_until=base.covers_until, parameter_sets=sets)
        digest = hashlib.sha256(f"{base.digest}|{self.digest}".encode()).hexdigest()
        return Policy(file, digest, f"{base.origin} + scenario {self.id}")

    # -- the budget ----------------------------------------------------------------
    def budget(self, base: Budget) -> Budget:
        """``base`` with the scenario's caps replaced or scaled."""
        changes = self.file.budget
        if changes is None or (not changes.caps and not changes.scale):
            return base
        data = base.file.model_dump(mode="json")
        by_id = {s["id"]: s for s in data["sources"]}
        for source_id, caps in changes.caps.items():
            if source_id not in by_id:
                raise ScenarioError(f"{self.path}: budget.caps.{source_id}: no such source in {base.path}")
            if isinstance(caps, dict):
                current = by_id[source_id]["caps"]
                merged = dict(current) if isinstance(current, dict) else {y: current for y in base.years}
                merged.update({y: str(v) for y, v in caps.items()})
                by_id[source_id]["caps"] = merged
            else:
                by_id[source_id]["caps"] = str(caps)
        for pattern, factor in changes.scale.items():
            matched = [s for s in data["sources"] if fnmatch.fnmatchcase(s["id"], pattern)]
            if not matched:
                raise ScenarioError(f"{self.path}: budget.scale.{pattern}: matches no source of {base.path}")
            if factor < 0:
                raise ScenarioError(f"{self.path}: budget.scale.{pattern}: a factor must not be negative")
            for s in matched:
                s["caps"] = ({y: _scaled(v, factor) for y, v in s["caps"].items()} if isinstance(s["caps"], dict)
                             else _scaled(s["caps"], factor))
        return Budget.of(data, f"{base.path} + scenario {self.id}")

    # -- the portfolio -------------------------------------------------------------
    def portfolio(self, base: PortfolioTables, years: tuple[int, ...]) -> PortfolioTables:
        """``base`` plus ``growth.projects_per_year`` synthetic projects starting in each growth year."""
        growth = self.file.growth
        if growth is None or growth.projects_per_year == 0:
            return base
        from subsidy_engine.simulation.synthetic import portfolio

        first = growth.from_year if growth.from_year is not None else years[0] + 1
        if not years[0] <= first <= years[-1] + 1:
            raise ScenarioError(f"{self.path}: growth.from_year {first} is outside the horizon "
                                f"{years[0]}-{years[-1]}: new projects start within it")
        added = [portfolio(growth.projects_per_year, seed=growth.seed * 10_000 + year,
                           start_between=(date(year, 1, 1), date(year, 12, 31)), id_prefix=f"G{year}-")
                 for year in range(first, years[-1] + 1)]
        if not added:
            return base
        new_rows = {name: concat_tables([getattr(t, name) for t in added])
                    for name in ("projects", "loans", "insurance", "events", "awards", "government_investment")}
        digest = hashlib.sha256("|".join([base.digest, self.digest, *(t.digest for t in added)]).encode()
                                ).hexdigest()
        return extend_portfolio(base, new_rows, source=f"{base.source} + {len(added) * growth.projects_per_year:,} "
                                f"new projects ({first}-{years[-1]}, scenario {self.id})", digest=digest)


def _scaled(amount: str, factor: Decimal) -> str:
    return str(quantize_fen(Decimal(amount) * factor))


#: A projected fixing of :func:`path_fixings`: its date and each tenor's LPR in percent.
PathFixing = TypedDict("PathFixing", {"date": date, "lpr_1y_pct": Decimal, "lpr_5y_pct": Decimal})


def path_fixings(history: LprCurve, changes: list[tuple[date, int, int]]) -> list[PathFixing]:
    """Projected fixings: the last published fixing plus the cumulative changes (bp) at each date."""
    last = history.fixings[-1]
    one, five = last.lpr_1y * 10_000, last.lpr_5y * 10_000  # in bp
    rows: list[PathFixing] = []
    problems: list[str] = []
    for when, d1, d5 in changes:
        if when <= history.coverage_end:
            raise ScenarioError(f"an LPR change on {when} is within the published data (to "
                                f"{history.coverage_end}): a scenario changes projected rates only")
        one, five = one + d1, five + d5
        for tenor, bp in (("1Y", one), ("5Y", five)):
            problem = lpr_bound_problem(bp / 100)
            if problem is not None:
                problems.append(f"from {when}: the {tenor} LPR would be {(bp / 100).normalize():f}% a year, {problem}")
        rows.append({"date": when, "lpr_1y_pct": one / 100, "lpr_5y_pct": five / 100})
    if problems:  # every change that takes the LPR out of bounds, at once
        raise ScenarioError(f"lpr.shifts: {len(problems)} problem{'s' if len(problems) > 1 else ''}: "
                            + "; ".join(problems))
    return rows


Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], data: dict[str, Any], name: str) -> tuple[Model, str]:
    """``data`` read by ``model`` (a :class:`ScenarioError` naming ``name`` otherwise) and the SHA-256 of what it
    says (canonical YAML: the same values, the same hash, however written): a scenario's or a sweep's."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{name}: {one_line(exc)}") from None
    canonical = yaml.safe_dump(parsed.model_dump(mode="json", by_alias=True), sort_keys=True, allow_unicode=True)
    return parsed, hashlib.sha256(canonical.encode()).hexdigest()


def read_mapping(path: str | os.PathLike[str], what: str, shape: str) -> tuple[dict[str, Any], str]:
    """A YAML file that must be a mapping (``shape`` says what one holds) and the SHA-256 of its bytes."""
    file = Path(path)
    data, raw = read_yaml(file, ScenarioError, f"{what} file")
    if not isinstance(data, dict):
        raise ScenarioError(f"{file}: a {what} is a mapping with {shape}")
    return data, hashlib.sha256(raw).hexdigest()


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load a scenario file (see the module docstring for its shape)."""
    data, digest = read_mapping(path, "scenario", "at least an id")
    return Scenario(Scenario.of(data, str(Path(path))).file, digest, str(Path(path)))


__all__ = ["DEFAULT_HOLD_UNTIL", "MonteCarloSettings", "Scenario", "ScenarioError", "load_scenario", "path_fixings"]

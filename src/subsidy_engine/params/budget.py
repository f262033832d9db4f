"""Budgets as data: who may pay which claims, and how much a year (closing paragraph of 78號).

78號's closing paragraph says where the money comes from: projects of industry
and software-information-service enterprises may be charged to the
高精尖產業發展資金, the others to the budgets of the competent sector departments,
and each district sets up matching support (配套支持機製); all of it "within the
annual budget" (結合年度預算情況執行). No amount is published,
so a budget is a file the finance bureau writes:

.. code-block:: yaml

    id: budget-2026
    years: [2026, 2030]             # the budget's coverage: a cap for every year
    priority_tiers:                 # waterfall: tiers in order, the rest last
      - {in_library: true}          # measure 2: library projects first
    sources:
      - id: gaojingjian_fund
        level: municipal            # municipal or district
        eligible: {industry_or_software: true}
        caps: "1500000000"          # every year, or {2026: "...", 2027: "..."}
        carry_over: true            # unspent money moves to the next year
        per_project_cap: "30000000" # per project and year (optional)
      - id: district_matching:haidian
        level: district
        eligible: {districts: [haidian]}
        matching_share: "1"         # 1:1 with the municipal part of each claim
        caps: "300000000"

**Eligibility** (``eligible``): every condition given must hold; a condition
left out does not restrict. Conditions read a claim's ``measure``,
``instrument`` and its project's attributes (``industry_or_software``,
``sector``, ``district``, ``in_library``, and the list flags of measures 6,
8 and 9: ``solution_list``, ``scenario_opened``, ``demonstration_case``).
``priority_tiers`` are conditions of the same kind.

**Merit points** (``merit_points``, merit mode only): points added to the
``merit_score`` of a project with the flag, e.g. ``{demonstration_case: "5"}``;
exact to 0.01, not negative. A project without a score keeps none (last in
merit order): the points are a bonus on an expert review, not one.

**Co-funding.** A claim eligible for a district source is split between the
municipal level and the district level in the ratio 1 : ``matching_share`` of
the first district source (in file order) that may pay it, exactly to the fen
by the largest remainder (a tie goes to the municipal part). Each part is then
funded by the sources of its level, in file order: what one source does not
pay passes to the next eligible one.

**Investment budgets** (``investment: true`` on a source): money for the
government's own investment (direct investment and capital injection,
measures 1 and 4; the ``government_investment`` table), never for a subsidy
claim. ``simulate`` charges each year's investment to them in file order,
within their caps and eligibility (``measures``, the project's attributes),
and reports it apart from the subsidies; a subsidy source never pays it.

The loader is strict: an unknown key, a float amount, a duplicate id, a year
without a cap, a matching share on a municipal source are errors that say where.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from subsidy_engine.core.fields import STRICT_MODEL, Money, Score
from subsidy_engine.core.language import id_of_name
from subsidy_engine.core.messages import one_line
from subsidy_engine.core.money import rate_to_units, to_decimal, whole_number
from subsidy_engine.core.vocabulary import LIST_FLAGS, RULE_FLAGS
from subsidy_engine.errors import BudgetError, MoneyError
from subsidy_engine.io.files import read_yaml
from subsidy_engine.params.lpr import schedules_dir
from subsidy_engine.params.policy import INSTRUMENTS, Instrument, Status

Level = Literal["municipal", "district"]
LEVELS: tuple[Level, ...] = ("municipal", "district")


def _share(value: object) -> Decimal:
    """A matching share: an exact number above 0 and at most 100, to 1e-10."""
    try:
        share = to_decimal(value, "matching_share")
        rate_to_units(share, "matching_share")
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("matching_share: ")) from None
    if not 0 < share <= 100:
        raise ValueError(f"{share} is not above 0 and at most 100 (the district's amount for each 1 of municipal)")
    return share


Share = Annotated[Decimal, BeforeValidator(_share)]


def _not_negative(points: Decimal) -> Decimal:
    if points < 0:
        raise ValueError(f"{points} is negative; merit points are added to a score")
    return points


#: Merit points: an exact number of merit score (0.01 steps), not negative.
Points = Annotated[Score, AfterValidator(_not_negative)]


def _as_tuple(value: object) -> object:
    """YAML lists as the tuples the strict models hold."""
    return tuple(value) if isinstance(value, list) else value


class Eligibility(BaseModel):
    """Conditions a claim must meet to draw on a source (all given must hold)."""

    model_config = STRICT_MODEL
    measures: tuple[int, ...] | None = None
    instruments: tuple[Instrument, ...] | None = None
    industry_or_software: bool | None = None
    sectors: tuple[str, ...] | None = None
    districts: tuple[str, ...] | None = None
    in_library: bool | None = None
    # measures 6, 8 and 9: the project is on the frontier-solution list, has an opened application scenario, is a
    # published demonstration case (core.vocabulary.LIST_FLAGS)
    solution_list: bool | None = None
    scenario_opened: bool | None = None
    demonstration_case: bool | None = None

    _lists = field_validator("measures", "instruments", "sectors", "districts", mode="before")(_as_tuple)

    @field_validator("sectors", "districts")
    @classmethod
    def _as_ids(cls, value: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...] | None:
        """A sector or district named in Chinese (海淀区) is its id (haidian), as the projects' are read."""
        return None if value is None else tuple(id_of_name(v, str(info.field_name)) for v in value)

    @field_validator("measures")
    @classmethod
    def _known_measures(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and any(not 1 <= m <= 15 for m in value):
            raise ValueError(f"measures are 1 to 15 (78號 has 15 measures), not {list(value)}")
        return value


class FundingSource(BaseModel):
    """One funding source: what it may pay, and how much each year."""

    model_config = STRICT_MODEL
    id: str = Field(min_length=1)
    name: str | None = None
    level: Level
    eligible: Eligibility = Eligibility()
    caps: dict[int, Money] | Money
    carry_over: bool = False
    per_project_cap: Money | None = None
    per_enterprise_cap: Money | None = None
    matching_share: Share | None = None
    #: an investment budget (政府投資): it pays the government's direct investment and capital injection
    #: (measures 1 and 4), never a subsidy claim; a subsidy source never pays an investment
    investment: bool = False
    note: str | None = None

    @field_validator("caps", mode="before")
    @classmethod
    def _year_keys(cls, value: object) -> object:
        # JSON (and model_dump(mode="json")) writes the years as text, read by the one digit rule: str.isdigit
        # would also take other scripts' digits ("٢٠٢٦") for 2026
        if not isinstance(value, dict):
            return value
        caps: dict[object, object] = {}
        for key, cap in value.items():
            year = whole_number(key) if isinstance(key, str) else key
            if year is None:
                raise ValueError(f"{key!r} is not a year; write the year in the digits 0-9, e.g. 2026")
            if year in caps:
                raise ValueError(f"the year {year} is given twice")
            caps[year] = cap
        return caps

    @field_validator("caps", "per_project_cap", "per_enterprise_cap")
    @classmethod
    def _not_negative(cls, value: dict[int, Decimal] | Decimal | None) -> object:
        amounts = value.values() if isinstance(value, dict) else [value]
        if any(a is not None and a < 0 for a in amounts):
            raise ValueError("a cap must not be negative")
        return value

    @model_validator(mode="after")
    def _matching_is_district(self) -> FundingSource:
        if self.matching_share is not None and self.level != "district":
            raise ValueError("matching_share is for district sources (the district's share for each "
                             "1 of municipal money)")
        if self.matching_share is None and self.level == "district" and not self.investment:
            raise ValueError("a district source needs matching_share (e.g. \"1\" for 1:1 with the municipal part)")
        if self.investment and self.eligible.instruments is not None:
            raise ValueError("an investment source pays the government's investment, which has no instrument: "
                             "its eligible reads measures and the project's attributes, not instruments")
        if self.investment and self.matching_share is not None:
            raise ValueError("an investment source has no matching_share: it pays the government's investment, "
                             "which is not split with a district")
        return self


class BudgetFile(BaseModel):
    model_config = STRICT_MODEL
    id: str = Field(min_length=1)
    name: str | None = None
    status: Status
    basis: str
    years: tuple[int, int]
    priority_tiers: tuple[Eligibility, ...] = ()
    #: merit mode: points added to the merit_score of a project with the flag (a scored project only)
    merit_points: dict[str, Points] = {}
    # at least one, checked in _consistent: pydantic's min_length on a tuple counts only the items it could read,
    # and would add "at least 1 item ..., not 0" to a file whose one source has an error
    sources: tuple[FundingSource, ...]

    _lists = field_validator("years", "priority_tiers", "sources", mode="before")(_as_tuple)

    @field_validator("merit_points")
    @classmethod
    def _flags_with_points(cls, points: dict[str, Decimal]) -> dict[str, Decimal]:
        unknown = sorted(set(points) - set(RULE_FLAGS))
        if unknown:
            raise ValueError(f"{unknown} are not project flags; merit points are for {list(RULE_FLAGS)}")
        return points

    @model_validator(mode="after")
    def _consistent(self) -> BudgetFile:
        first, last = self.years
        if not self.sources:
            raise ValueError("sources: a budget needs at least 1 funding source")
        if all(source.investment for source in self.sources):
            raise ValueError("sources: a budget needs at least 1 funding source for the subsidies (one that is not "
                             "investment: true)")
        if not 2000 <= first <= last <= 2100:
            raise ValueError(f"years must be [first, last] with 2000 <= first <= last <= 2100, not {list(self.years)}")
        seen: set[str] = set()
        for k, source in enumerate(self.sources):
            if source.id in seen:
                raise ValueError(f"sources.{k}.id: {source.id!r} is a duplicate of an earlier source's id")
            seen.add(source.id)
            if isinstance(source.caps, dict):
                missing = [y for y in range(first, last + 1) if y not in source.caps]
                outside = sorted(y for y in source.caps if not first <= y <= last)
                if missing or outside:
                    raise ValueError(f"sources.{k}.caps ({source.id}): a cap for every year {first}-{last}; "
                                     f"missing {missing}, outside the years {outside}")
        return self


def _canonical(parsed: BudgetFile) -> dict[str, object]:
    """The file as its hash reads it: every value, the fields added later (the list flags, ``merit_points``,
    ``investment``) only when given, so that a file that names none of them hashes as it did before them."""
    def rule(eligibility: Eligibility) -> dict[str, object]:
        return eligibility.model_dump(mode="json", exclude={name for name in LIST_FLAGS
                                                          if getattr(eligibility, name) is None})

    data = parsed.model_dump(mode="json", exclude=set() if parsed.merit_points else {"merit_points"})
    data["priority_tiers"] = [rule(tier) for tier in parsed.priority_tiers]
    for source, dumped in zip(parsed.sources, data["sources"]):
        dumped["eligible"] = rule(source.eligible)
        if not source.investment:
            del dumped["investment"]
    return data


@dataclass(frozen=True)
class Budget:
    """A loaded budget file: its sources in order, yearly caps in fen, and its hash."""

    file: BudgetFile
    digest: str
    path: str

    @property
    def id(self) -> str:
        return self.file.id

    @property
    def years(self) -> tuple[int, ...]:
        first, last = self.file.years
        return tuple(range(first, last + 1))

    @property
    def sources(self) -> tuple[FundingSource, ...]:
        """The sources that pay the claims, in file order (the file's investment sources are
        :attr:`investment_sources`)."""
        return tuple(s for s in self.file.sources if not s.investment)

    @property
    def investment_sources(self) -> tuple[FundingSource, ...]:
        """The sources marked ``investment: true``: they pay the government's investment, and no claim."""
        return tuple(s for s in self.file.sources if s.investment)

    def subsidy_part(self) -> Budget:
        """This budget without its investment sources: what pays the claims (the same hash: one file)."""
        if not self.investment_sources:
            return self
        return Budget(self.file.model_copy(update={"sources": self.sources}), self.digest, self.path)

    def investment_part(self) -> Budget | None:
        """The investment sources alone, as a budget that pays the government's investment in file order: every
        source at one level (an investment is not split with a district), no priority tiers (earlier years and
        items first). None when the budget has none."""
        # sources of a budget of investment: plain sources there, which allocate funds as any other
        sources = tuple(s.model_copy(update={"level": "municipal", "matching_share": None, "investment": False})
                        for s in self.investment_sources)
        if not sources:
            return None
        return Budget(self.file.model_copy(update={"sources": sources, "priority_tiers": ()}), self.digest,
                      self.path)

    @classmethod
    def of(cls, data: dict, name: str = "<dict>") -> Budget:
        """A budget from a mapping shaped like the YAML file (scenarios, tests); errors as :func:`load_budget`."""
        try:
            parsed = BudgetFile.model_validate(data)
        except ValidationError as exc:
            raise BudgetError(f"{name}: {one_line(exc)}") from None
        canonical = yaml.safe_dump(_canonical(parsed), sort_keys=True, allow_unicode=True)
        return cls(parsed, hashlib.sha256(canonical.encode()).hexdigest(), name)

    def cap(self, source: FundingSource, year: int) -> Decimal:
        """The source's cap for ``year`` (yuan)."""
        if year not in self.years:
            raise BudgetError(f"budget {self.id} covers {self.file.years[0]}-{self.file.years[1]}, not {year}")
        return source.caps[year] if isinstance(source.caps, dict) else source.caps


def load_budget(path: str | os.PathLike[str] | None = None) -> Budget:
    """Load a budget file (the bundled demo budget, sized for ``demo.portfolio()``, when ``path`` is None).

    >>> budget = load_budget()
    >>> budget.id, budget.years[0], len(budget.sources)
    ('demo-budget', 2026, 27)
    >>> fund = budget.sources[0]
    >>> fund.id, budget.cap(fund, 2026), fund.carry_over
    ('gaojingjian_fund', Decimal('1200000000'), True)
    """
    file = Path(path) if path is not None else schedules_dir() / "budget-demo.yaml"
    data, raw = read_yaml(file, BudgetError, "budget file")
    budget = Budget.of(data, str(file))  # type: ignore[arg-type]
    return Budget(budget.file, hashlib.sha256(raw).hexdigest(), str(file))


__all__ = ["INSTRUMENTS", "LEVELS", "Budget", "BudgetError", "BudgetFile", "Eligibility", "FundingSource",
           "load_budget"]

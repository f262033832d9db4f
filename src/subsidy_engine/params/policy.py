"""The policy's parameters as dated data: ``schedules/policy-78.yaml`` and :func:`load_policy`.

78號 publishes no amounts, so every figure lives in a
parameter file that the finance bureau owns: dated parameter sets, each value
with its status (``official``, ``official-analog``, ``inferred``) and a source
(title, URL). The loader is strict: an unknown key, a value without status or
source, a source key that is not defined, and a gap or an overlap between the
validity periods of the sets are all errors that say where.

Each project is evaluated under the set in force on its own anchor date:
:meth:`Policy.set_index` maps an array of dates to sets in one call.

**Coverage.** The sets cover an unbroken run of dates from the first set's
``valid_from``; the last set may be open-ended (``valid_to: null``). The file may
state how far its figures are meant to hold: ``covers_until`` (a value with its
status and source, like every parameter, at most the last set's ``valid_to``).
An item anchored after it is **rejected**, with a reason naming ``covers_until``,
exactly as one anchored before the first set is (docs/conventions.md,
"Parameter files"): a 2021 parameter set is not silently a 2100 one. A file
that states no end at all (no ``covers_until``, the last set open) is still
evaluated, but every result says so in its notes (:attr:`Policy.notes`), and
``explain`` says so on each claim of the open set.
"""

from __future__ import annotations

import hashlib
import os
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Callable, Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, BeforeValidator, ValidationError, model_validator

from subsidy_engine.core.dates import IsoDate, day_date, epoch_days
from subsidy_engine.core.fields import STRICT_MODEL, Money, Rate
from subsidy_engine.core.language import Sentence
from subsidy_engine.core.memo import IdentityMemo
from subsidy_engine.core.messages import one_line
from subsidy_engine.core.vocabulary import VENUES, ListingStage, SubsidyForm
from subsidy_engine.errors import CoverageError, PolicyError
from subsidy_engine.io.files import read_yaml
from subsidy_engine.params.lpr import schedules_dir
from subsidy_engine.params.rules import (
    GrantRules,
    InterestSubsidyRule,
    InvestmentSubsidyRule,
    ListingGrantRule,
    PremiumSubsidyRule,
    ReitsGrantRule,
)

Status = Literal["official", "official-analog", "inferred"]
#: The money instruments of 78號, as named in claims (measure numbers in :data:`MEASURE_OF`): the five the engine
#: computes, then the decided awards of the ``awards`` table (:mod:`subsidy_engine.measures.awards`).
Instrument = Literal["interest_subsidy", "premium_subsidy", "reits_grant", "listing_grant", "investment_subsidy",
                     "reward", "research_funding", "other_award"]
INSTRUMENTS: tuple[Instrument, ...] = ("interest_subsidy", "premium_subsidy", "reits_grant", "listing_grant",
                                       "investment_subsidy", "reward", "research_funding", "other_award")
#: The measure of 78號 each instrument pays under (the investment subsidy: measure 1, or
#: :data:`QUASI_OPERATING_MEASURE` for a quasi-operating platform; an ``other_award``: the measure its row gives).
MEASURE_OF: dict[Instrument, int] = {"interest_subsidy": 15, "premium_subsidy": 7, "reits_grant": 13,
                                     "listing_grant": 14, "investment_subsidy": 1, "reward": 1, "research_funding": 5}
#: Measure 4: the investment subsidy of a quasi-operating common technology platform.
QUASI_OPERATING_MEASURE = 4
T = TypeVar("T")



def _text_number(value: object) -> object:
    # YAML reads 0.025 as a float; the file writes exact numbers as strings.
    if isinstance(value, float):
        raise ValueError(f"{value!r} must be written as a string in the parameter file "
                         f'("{value!r}"), so that it is read exactly')
    return value


class Source(BaseModel):
    model_config = STRICT_MODEL
    title: str
    url: str | None


class Parameter(BaseModel, Generic[T]):
    """One value with where it comes from."""

    model_config = STRICT_MODEL
    value: T
    status: Status
    source: str
    note: str | None = None


Amount = Annotated[Money, BeforeValidator(_text_number)]
Fraction = Annotated[Rate, BeforeValidator(_text_number)]


class InterestSubsidyParameters(BaseModel):
    """貼息, measures 1 and 15."""

    model_config = STRICT_MODEL
    form: Parameter[Annotated[SubsidyForm, BeforeValidator(SubsidyForm.parse)]]
    points: Parameter[Fraction]
    max_years: Parameter[int]
    total_cap_per_project: Parameter[Amount]
    annual_cap_per_enterprise: Parameter[Amount]


class InsurancePremiumParameters(BaseModel):
    """保費補貼, measure 7."""

    model_config = STRICT_MODEL
    share: Parameter[Fraction]
    premium_rate_cap: Parameter[Fraction]
    annual_cap_per_enterprise: Parameter[Amount]
    max_years: Parameter[int]
    eligible_fields: Parameter[list[Literal["autonomous_driving", "satellite_internet", "network_security",
                                            "common_software", "ai", "blockchain", "other"]]]


class ReitsGrantParameters(BaseModel):
    """一次性補貼 for REITs issuance, measure 13."""

    model_config = STRICT_MODEL
    mode: Parameter[Literal["flat", "share_of_raised"]]
    flat_amount: Parameter[Amount]
    share_of_raised: Parameter[Fraction]
    share_cap: Parameter[Amount]


class ListingGrantParameters(BaseModel):
    """市級補貼 for listings, measure 14: the tranche paid at each stage, by venue."""

    model_config = STRICT_MODEL
    a_share_ipo: Parameter[dict[ListingStage, Amount]]
    overseas_direct: Parameter[dict[ListingStage, Amount]]
    neeq_select: Parameter[dict[ListingStage, Amount]]
    lifetime_cap_per_enterprise: Parameter[Amount]


class InvestmentSubsidyParameters(BaseModel):
    """投資補貼, measures 1, 2 and 4. No rate is published: calculators require one."""

    model_config = STRICT_MODEL
    ceiling_share_of_total_investment: Parameter[Fraction]
    per_project_cap: Parameter[Amount]
    per_project_cap_compute_or_network: Parameter[Amount]


class StackingParameters(BaseModel):
    """How a project's claims combine (docs/conventions.md, "How claims combine")."""

    model_config = STRICT_MODEL
    district_policies: Parameter[Literal["max_single", "stack"]]
    preferential_rate_with_subsidy: Parameter[Literal["allowed", "forbidden"]]
    #: 從優不重複: groups of instruments of which a project keeps only the most favourable
    most_favourable_only: Parameter[list[list[Instrument]]]
    #: the instruments in ``total_cap_instruments`` together at most this share of total investment
    total_cap_share_of_investment: Parameter[Fraction | None]
    total_cap_instruments: Parameter[list[Instrument]]


class Parameters(BaseModel):
    model_config = STRICT_MODEL
    interest_subsidy: InterestSubsidyParameters
    insurance_premium: InsurancePremiumParameters
    reits_grant: ReitsGrantParameters
    listing_grant: ListingGrantParameters
    investment_subsidy: InvestmentSubsidyParameters
    stacking: StackingParameters


#: Each 貼息 section's rule, made once: a quote asks for it four times (by loan, then for each line of
#: the explanation).
_RULES: IdentityMemo[InterestSubsidyRule] = IdentityMemo(1024)


class ParameterSet(BaseModel):
    """The parameters in force from ``valid_from`` to ``valid_to`` (inclusive; None: open)."""

    model_config = STRICT_MODEL
    id: str
    valid_from: IsoDate
    valid_to: IsoDate | None
    note: str | None = None
    parameters: Parameters

    @model_validator(mode="after")
    def _dates_in_order(self) -> ParameterSet:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self

    def interest_subsidy_rule(self, start_date: date | None = None) -> InterestSubsidyRule:
        """The 貼息 rule of this set (window from ``start_date``, the drawdown by default).

        >>> load_policy().at(date(2024, 4, 19)).interest_subsidy_rule().points
        Decimal('0.025')
        """
        p = self.parameters.interest_subsidy
        rate_key = "points" if p.form.value is not SubsidyForm.SHARE_OF_INTEREST else "share"
        return _RULES.get((p,), lambda: InterestSubsidyRule(
            form=p.form.value, max_years=p.max_years.value, start_date=start_date,
            lifetime_cap=p.total_cap_per_project.value, **{rate_key: p.points.value}), also=start_date)

    def premium_subsidy_rule(self) -> PremiumSubsidyRule:
        """The premium-subsidy rule of this set (measure 7)."""
        p = self.parameters.insurance_premium
        return PremiumSubsidyRule(share=p.share.value, premium_rate_cap=p.premium_rate_cap.value,
                                  annual_cap_per_enterprise=p.annual_cap_per_enterprise.value,
                                  max_years=p.max_years.value, eligible_fields=tuple(p.eligible_fields.value))

    def grant_rules(self) -> GrantRules:
        """The REITs and listing grant rules of this set (measures 13 and 14)."""
        r, g = self.parameters.reits_grant, self.parameters.listing_grant
        return GrantRules(
            id=self.id,
            reits=ReitsGrantRule(mode=r.mode.value, flat_amount=r.flat_amount.value,
                                 share_of_raised=r.share_of_raised.value, share_cap=r.share_cap.value),
            listing=ListingGrantRule(
                tranches={v: getattr(g, v).value for v in VENUES},
                lifetime_cap_per_enterprise=g.lifetime_cap_per_enterprise.value))

    def investment_subsidy_rule(self, rate_by_stage: dict[str, str]) -> InvestmentSubsidyRule:
        """Your stage rates with the ceilings of this set (measures 1, 2 and 4)."""
        p = self.parameters.investment_subsidy
        return InvestmentSubsidyRule(rate_by_stage=rate_by_stage,  # type: ignore[arg-type]
                                     ceiling_share_of_total_investment=p.ceiling_share_of_total_investment.value,
                                     per_project_cap=p.per_project_cap.value,
                                     per_project_cap_compute_or_network=p.per_project_cap_compute_or_network.value)

    def parameter(self, dotted: str) -> Parameter[Any]:
        """A parameter by its dotted name, e.g. ``"interest_subsidy.points"``."""
        section, name = dotted.split(".")
        return getattr(getattr(self.parameters, section), name)


class PolicyFile(BaseModel):
    model_config = STRICT_MODEL
    policy: str
    title: str
    #: The last date the file's figures are meant for (see the module docstring, "Coverage").
    covers_until: Parameter[IsoDate] | None = None
    clauses: dict[str, str] = {}
    sources: dict[str, Source]
    parameter_sets: list[ParameterSet]


def _policy_again(data: dict[str, Any], digest: str, origin: str) -> Policy:
    """A policy from its file's values (unpickling: :meth:`Policy.__reduce__`)."""
    return Policy(PolicyFile.model_validate(data), digest, origin)


#: At most this many days, :meth:`Policy.set_index` looks each up alone (:meth:`Policy.index_on`).
FEW_DAYS = 8


class Policy:
    """The dated parameter sets of a policy, with a coverage from the first set's start."""

    def __init__(self, data: PolicyFile, digest: str, origin: str) -> None:
        self._data = data
        self.name, self.sources, self.digest, self.origin = data.policy, data.sources, digest, origin
        self.title = data.title
        self.clauses = data.clauses  # measure number (or "closing") -> the sentence of the policy text
        self.covers_until = data.covers_until
        self.sets = tuple(sorted(data.parameter_sets, key=lambda s: s.valid_from))
        self._check_sources()
        self._check_coverage()
        self._starts = np.array([epoch_days(s.valid_from) for s in self.sets], dtype=np.int64)
        first, last = self.coverage
        # the coverage in days, read once: a quote asks for a handful of days, many times a second
        self._coverage_days = (epoch_days(first), None if last is None else epoch_days(last))
        self._starts_list = self._starts.tolist()

    def _check_sources(self) -> None:
        for s in self.sets:
            for section, values in s.parameters:
                for name, parameter in values:
                    if parameter.source not in self.sources:
                        raise PolicyError(f"{self.origin}: set {s.id!r}, {section}.{name}: source "
                                          f"{parameter.source!r} is not defined under 'sources'")
        if self.covers_until is not None and self.covers_until.source not in self.sources:
            raise PolicyError(f"{self.origin}: covers_until: source {self.covers_until.source!r} is not defined "
                              "under 'sources'")

    def _check_coverage(self) -> None:
        if not self.sets:
            raise PolicyError(f"{self.origin}: no parameter sets")
        for earlier, later in zip(self.sets, self.sets[1:]):
            if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
                raise PolicyError(f"{self.origin}: sets {earlier.id!r} and {later.id!r} overlap "
                                  f"(from {later.valid_from})")
            if earlier.valid_to + timedelta(days=1) != later.valid_from:
                raise PolicyError(f"{self.origin}: no parameters between {earlier.valid_to} "
                                  f"({earlier.id!r}) and {later.valid_from} ({later.id!r})")
        if self.covers_until is not None:
            end, first, last = self.covers_until.value, self.sets[0], self.sets[-1]
            if end < first.valid_from:
                raise PolicyError(f"{self.origin}: covers_until {end} is before {first.valid_from}, the valid_from "
                                  f"of the first set {first.id!r}")
            if last.valid_to is not None and end > last.valid_to:
                raise PolicyError(f"{self.origin}: covers_until {end} is after {last.valid_to}, the valid_to of set "
                                  f"{last.id!r}: no parameters between")

    def __reduce__(self) -> tuple[Any, ...]:
        # a worker of a cluster receives the policy by pickle: a generic pydantic class (Parameter[date]) has no
        # name pickle can find, so the file's values travel and are read again, the same rules as on loading
        return _policy_again, (self._data.model_dump(), self.digest, self.origin)

    @property
    def coverage(self) -> tuple[date, date | None]:
        """The first and last dates an item may be anchored on: from the first set's ``valid_from`` to
        ``covers_until`` when the file states it, else to the last set's ``valid_to`` (None: no end)."""
        end = self.covers_until.value if self.covers_until is not None else self.sets[-1].valid_to
        return self.sets[0].valid_from, end

    def coverage_text(self) -> str:
        """The coverage in words, for the reason an item outside it is rejected (one rule, every path).

        >>> load_policy().coverage_text()
        'the file covers 2021-07-22 to covers_until 2030-12-31 (inferred)'
        """
        first, last = self.coverage
        if self.covers_until is not None:
            return f"the file covers {first} to covers_until {last} ({self.covers_until.status})"
        return f"the file covers {first} to {last or 'open end'}"

    @property
    def notes(self) -> tuple[str, ...]:
        """What every result under this file notes of it: that the last set has no stated end, when so."""
        if self.coverage[1] is not None:
            return ()
        last = self.sets[-1]
        note = Sentence(f"{self.origin} states no end of its coverage (no covers_until, and set {last.id!r} has no "
                        f"valid_to): the parameters in force from {last.valid_from} are applied to every later date, "
                        "however late; state covers_until to have items beyond it rejected", "policy_open_ended",
                        origin=self.origin, set_id=last.id, valid_from=last.valid_from)
        return (note,)

    def open_ended(self, parameters: ParameterSet) -> bool:
        """True when ``parameters`` is the last set of a file that states no end (see :attr:`notes`)."""
        return self.coverage[1] is None and parameters.id == self.sets[-1].id

    def at(self, day: date) -> ParameterSet:
        """The set in force on ``day``; outside the coverage a :class:`CoverageError`."""
        return self.sets[self.index_on(epoch_days(day))]

    def index_on(self, day: int) -> int:
        """:meth:`set_index` of one day (days since 1970-01-01): the same search, without arrays."""
        if self.outside_day(day):
            raise CoverageError(f"{self.origin}: no parameters in force on {day_date(day)}: {self.coverage_text()}")
        return bisect_right(self._starts_list, day) - 1  # np.searchsorted(..., side="right"), as set_index

    def outside_day(self, day: int) -> bool:
        """:meth:`outside` of one day."""
        first, last = self._coverage_days
        return day < first or (last is not None and day > last)

    def outside(self, days_since_epoch: np.ndarray) -> np.ndarray:
        """For each day (days since 1970-01-01), whether no set of the file is in force on it."""
        days = np.asarray(days_since_epoch, dtype=np.int64)
        first, last = self._coverage_days
        outside = days < first
        if last is not None:
            outside |= days > last
        return outside

    def set_index(self, days_since_epoch: np.ndarray) -> np.ndarray:
        """For each day (days since 1970-01-01), the index of the set in force."""
        days = np.asarray(days_since_epoch, dtype=np.int64)
        if days.ndim == 1 and days.shape[0] <= FEW_DAYS:  # a quote's few: one by one, without arrays
            return np.array([self.index_on(day) for day in days.tolist()], np.int64)
        outside = self.outside(days)
        if outside.any():
            self.index_on(int(days[np.argmax(outside)]))  # refuses the first day outside, in its words
        return np.searchsorted(self._starts, days, side="right") - 1


R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class RulesInForce(Generic[R]):
    """The rule each item is evaluated under: ``rules[set_index[i]]``."""

    set_index: np.ndarray
    rules: list[R]
    ids: list[str]
    digest: str

    def per_item(self, get: Callable[[R], object], dtype: type = np.int64) -> np.ndarray:
        """``get(rule)`` of each item's rule, as an array aligned with the items."""
        return np.array([get(r) for r in self.rules], dtype=dtype)[self.set_index]


#: Each policy's rules of one kind (``from_parameters`` of each set) and its sets' ids, made once per policy, its sets
#: and that function (by their identity): see ``once`` of :func:`rules_in_force`.
_RULES_OF_SETS: IdentityMemo[tuple[list[Any], list[str]]] = IdentityMemo(64)


def rules_in_force(source: Policy | R, anchor_days: np.ndarray,
                   from_parameters: Callable[[ParameterSet], R], *, once: bool = False) -> RulesInForce[R]:
    """Each item's rule: from the set in force on its anchor day, or the one rule given.

    ``once``: ``from_parameters`` is a function (not a lambda made at each call) whose rule depends on the frozen
    set alone (:meth:`ParameterSet.interest_subsidy_rule`, itself memoized by its parameters' identity): the
    policy's list of rules is then made once per policy, not at each call (a quote asks for it at each request).
    """
    if isinstance(source, Policy):
        sets = source.sets

        def made() -> tuple[list[R], list[str]]:
            return [from_parameters(s) for s in sets], [s.id for s in sets]

        rules, ids = _RULES_OF_SETS.get((source, sets, from_parameters), made) if once else made()
        return RulesInForce(source.set_index(anchor_days), rules, ids, source.digest)
    digest = hashlib.sha256(source.model_dump_json().encode()).hexdigest()
    return RulesInForce(np.zeros(len(anchor_days), np.int64), [source], ["rule"], digest)


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load a parameter file (the bundled 78號 defaults when ``path`` is None).

    >>> policy = load_policy()
    >>> policy.name, policy.coverage
    ('京經信發〔2021〕78號', (datetime.date(2021, 7, 22), datetime.date(2030, 12, 31)))
    >>> p = policy.at(date(2024, 1, 1)).parameter("insurance_premium.share")
    >>> p.value, p.status, policy.sources[p.source].url
    (Decimal('0.80'), 'official-analog', 'http://one124.com/ba/uladqiqf.html')
    """
    file = Path(path) if path is not None else schedules_dir() / "policy-78.yaml"
    data, raw = read_yaml(file, PolicyError, "parameter file")
    try:
        parsed = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"{file}: {one_line(exc)}") from None
    return Policy(parsed, hashlib.sha256(raw).hexdigest(), str(file))


__all__ = ["INSTRUMENTS", "MEASURE_OF", "QUASI_OPERATING_MEASURE", "Parameter", "ParameterSet", "Policy",
           "PolicyError", "RulesInForce", "Source", "load_policy", "rules_in_force"]

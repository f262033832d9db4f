"""The rules of each money measure, as validated models: what a parameter set says, made usable.

A rule is the figures of one measure (points, shares, caps, years) with the
checks every figure must pass. :class:`~subsidy_engine.params.policy.ParameterSet`
builds each rule from the parameter file (``interest_subsidy_rule()``,
``premium_subsidy_rule()``, ``grant_rules()``, ``investment_subsidy_rule()``);
a user may also build one by hand. The calculators of :mod:`subsidy_engine.measures`
apply them.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Final, Literal, Sequence

import numpy as np
from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from subsidy_engine.core.dates import as_date, day_date, epoch_days
from subsidy_engine.core.fields import STRICT_MODEL, Money, NumberInput, Rate
from subsidy_engine.core.money import rate_to_units, scaled_integer, to_decimal
from subsidy_engine.core.vocabulary import ListingStage, ProductField, Stage, SubsidyForm, Venue
from subsidy_engine.errors import MoneyError
from subsidy_engine.kernels.calendar import add_years

#: A product field of measure 7, read from its name.
ProductFieldName = Annotated[ProductField, BeforeValidator(ProductField.parse)]

_FORM_PARAMETER = {
    SubsidyForm.POINTS_ON_BALANCE: "points",
    SubsidyForm.POINTS_ON_PRINCIPAL: "points",
    SubsidyForm.SHARE_OF_INTEREST: "share",
    SubsidyForm.RATE_GAP: "benchmark_rate",
}


def subsidy_window_days(fixed_start: np.ndarray, years: np.ndarray, loan_start: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The 貼息 window ``[start, end)`` of each loan, in days since 1970-01-01: from the rule's start day
    (``fixed_start``; below 0 for none: the drawdown, ``loan_start``) for ``years`` years (below 0: open),
    ending on the same day that many years later (29 Feb -> 28 Feb); an open window ends at the largest day."""
    window_start = np.where(fixed_start >= 0, fixed_start, loan_start)
    window_end = np.where(years >= 0, add_years(window_start, np.maximum(years, 0)), _OPEN_END)
    return window_start, window_end


#: The end of an open 貼息 window: the largest day (read once: ``np.iinfo`` builds an object at each call).
_OPEN_END = np.iinfo(np.int64).max


#: The longest 貼息 window a rule may set, in years.
MAX_SUBSIDY_YEARS = 100


class InterestSubsidyRule(BaseModel):
    """One interest-subsidy rule. Rates and the share are fractions (0.025 = 2.5 points).

    >>> InterestSubsidyRule(form="points_on_balance", points="0.025", max_years=2)
    InterestSubsidyRule(form=<SubsidyForm.POINTS_ON_BALANCE: 'points_on_balance'>, points=Decimal('0.025'), ...)
    >>> InterestSubsidyRule(form="share_of_interest", points="0.025")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for InterestSubsidyRule
      Value error, form 'share_of_interest' needs share, and takes no points ...
    """

    model_config = STRICT_MODEL

    form: Annotated[SubsidyForm, BeforeValidator(SubsidyForm.parse)]
    points: Rate | None = None
    share: Rate | None = None
    benchmark_rate: Rate | None = None
    start_date: Annotated[date, BeforeValidator(as_date)] | None = None
    max_years: int | None = None
    annual_cap: Money | None = None
    lifetime_cap: Money | None = None

    if TYPE_CHECKING:  # what the validators take ("share_of_interest", "0.5"); the fields above say what they hold
        def __init__(self, *, form: SubsidyForm | str, points: NumberInput | None = None,
                     share: NumberInput | None = None, benchmark_rate: NumberInput | None = None,
                     start_date: date | str | None = None, max_years: int | None = None,
                     annual_cap: NumberInput | None = None, lifetime_cap: NumberInput | None = None) -> None: ...

    @field_validator("max_years")
    @classmethod
    def _years_positive(cls, years: int | None) -> int | None:
        if years is not None and not 1 <= years <= MAX_SUBSIDY_YEARS:
            raise ValueError(f"{years} must be between 1 and {MAX_SUBSIDY_YEARS}")
        return years

    @field_validator("annual_cap", "lifetime_cap")
    @classmethod
    def _cap_not_negative(cls, cap: Decimal | None) -> Decimal | None:
        if cap is not None and cap < 0:
            raise ValueError(f"{cap} must not be negative")
        return cap

    @model_validator(mode="after")
    def _parameter_matches_form(self) -> InterestSubsidyRule:
        needed = _FORM_PARAMETER[self.form]
        given = [name for name in ("points", "share", "benchmark_rate") if getattr(self, name) is not None]
        if given != [needed]:
            extra = [g for g in given if g != needed]
            raise ValueError(f"form {self.form.value!r} needs {needed}"
                             + (f", and takes no {', '.join(extra)}" if extra else ""))
        return self

    def window(self, drawdown: date) -> tuple[date, date | None]:
        """The subsidy window ``[start, end)`` of a loan drawn on ``drawdown``; ``end`` is None when open
        (:func:`subsidy_window_days` for one loan).

        >>> InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2).window(date(2024, 2, 29))
        (datetime.date(2024, 2, 29), datetime.date(2026, 2, 28))
        """
        start, end = subsidy_window_days(np.array([-1 if self.start_date is None else epoch_days(self.start_date)]),
                                         np.array([-1 if self.max_years is None else self.max_years]),
                                         np.array([epoch_days(drawdown)]))
        return day_date(start[0]), None if self.max_years is None else day_date(end[0])

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def _micro(value: Decimal | None) -> Decimal | None:
    if value is not None and scaled_integer(value, 6) is None:
        raise ValueError(f"{value} has more than 6 decimal places")
    return value


class PremiumSubsidyRule(BaseModel):
    """The premium-subsidy parameters (fractions exact to 1e-6, amounts in yuan)."""

    model_config = STRICT_MODEL

    share: Rate
    premium_rate_cap: Rate | None = None
    annual_cap_per_enterprise: Money | None = None
    max_years: int | None = None
    eligible_fields: tuple[ProductFieldName, ...]

    if TYPE_CHECKING:  # what the validators take (the fields by name); the fields above say what they hold
        def __init__(self, *, share: NumberInput, premium_rate_cap: NumberInput | None = None,
                     annual_cap_per_enterprise: NumberInput | None = None, max_years: int | None = None,
                     eligible_fields: Sequence[ProductField | str]) -> None: ...

    @field_validator("share", "premium_rate_cap")
    @classmethod
    def _six_places(cls, value: Decimal | None) -> Decimal | None:
        return _micro(value)


class ReitsGrantRule(BaseModel):
    model_config = STRICT_MODEL
    mode: Literal["flat", "share_of_raised"]
    flat_amount: Money
    share_of_raised: Rate
    share_cap: Money


class ListingGrantRule(BaseModel):
    model_config = STRICT_MODEL
    tranches: dict[Venue, dict[ListingStage, Money]]
    lifetime_cap_per_enterprise: Money | None = None


class GrantRules(BaseModel):
    """The grant rules of one parameter set."""

    model_config = STRICT_MODEL
    id: str = Field(default="rule")
    reits: ReitsGrantRule
    listing: ListingGrantRule


#: A stage's rate is a share of the project's eligible investment: at most the whole of it.
MAX_STAGE_RATE: Final = Decimal(1)


def stage_rate(value: object, what: str) -> Decimal:
    """A stage's investment-subsidy rate (measure 2), read by one rule wherever it is given: ``--rates``, a
    quote's ``rate_by_stage`` and the rule's own model.

    Parameters
    ----------
    value : str, int or Decimal
        A fraction of the eligible investment from 0 to 1 (``"0.3"``) or a percentage (``"30%"``), read by the
        text rule of :func:`subsidy_engine.core.money.to_decimal` (full-width forms such as ``"３０％"`` are read;
        ``"0.3_0"``, ``"0,3"`` and floats are refused), in steps of at least 1e-10 (the kernels' rate unit).
    what : str
        The field, named at the start of an error (``"--rates pilot=1.5"``, ``"rate_by_stage.pilot"``).

    Returns
    -------
    Decimal
        The rate as a fraction, exact.

    Raises
    ------
    MoneyError
        One line starting with ``what``: the value is not a number by the text rule, is finer than 1e-10, or is
        not from 0 to 1.

    Examples
    --------
    >>> stage_rate("30%", "pilot"), stage_rate("0.3", "pilot"), stage_rate("３０％", "pilot")
    (Decimal('0.30'), Decimal('0.3'), Decimal('0.30'))
    >>> stage_rate("1.5", "pilot")
    Traceback (most recent call last):
    ...
    subsidy_engine.errors.MoneyError: pilot: 1.5 is not a fraction between 0 and 1 (0.3 or 30% is 30 percent)
    """
    rate = to_decimal(value, what, percent=True)
    rate_to_units(rate, what)
    if not 0 <= rate <= MAX_STAGE_RATE:
        raise MoneyError(f"{what}: {rate} is not a fraction between 0 and {MAX_STAGE_RATE} "
                         "(0.3 or 30% is 30 percent)")
    return rate


def _stage_rate_field(value: object) -> Decimal:
    # pydantic's error already names the field, so the message drops its own
    try:
        return stage_rate(value, "_")
    except MoneyError as exc:
        raise ValueError(str(exc).removeprefix("_: ")) from None


StageRate = Annotated[Decimal, BeforeValidator(_stage_rate_field)]


class InvestmentSubsidyRule(BaseModel):
    """Rates by stage (required: none is published) and the ceilings."""

    model_config = STRICT_MODEL

    rate_by_stage: dict[Annotated[Stage, BeforeValidator(Stage.parse)], StageRate]
    ceiling_share_of_total_investment: Rate | None = None
    per_project_cap: Money | None = None
    per_project_cap_compute_or_network: Money | None = None

    @field_validator("rate_by_stage")
    @classmethod
    def _every_stage(cls, rates: dict[Stage, Decimal]) -> dict[Stage, Decimal]:
        missing = [s.value for s in Stage if s not in rates]
        if missing:
            raise ValueError(f"no rate for {missing}: 78號 publishes none, so every stage needs one")
        return rates

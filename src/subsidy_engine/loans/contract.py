"""The loan contract as a validated, immutable record (measure 15, 優惠利率信貸).

:class:`Loan` guards the edge: every value is checked once here, with an error
that names the field, and the calculators downstream trust it. Money and rates
accept ``str``, ``int`` or ``Decimal``; floats are refused because a binary
float is not the decimal number the user meant.
"""

from __future__ import annotations

import datetime
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Sequence

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from subsidy_engine.core.dates import EPOCH, as_date, day_date
from subsidy_engine.core.fields import STRICT_MODEL, Money, NumberInput, Rate, SpreadBp
from subsidy_engine.core.money import (
    RATE_DECIMALS,
    bp_to_rate,
    fen_to_yuan,
    rate_to_units,
    scaled_integer,
    split_largest_remainder,
    to_decimal,
    yuan_to_fen,
)
from subsidy_engine.core.vocabulary import (
    BusinessDay,
    Frequency,
    InterestBasis,
    InterestDates,
    Method,
    PlanUnit,
    Recompute,
    Reset,
    Tenor,
)
from subsidy_engine.kernels.calendar import days_from_civil, days_in_month

MAX_TERM_MONTHS = 600  # 50 years of monthly periods: the longest schedule supported
MAX_SPREAD_BP = Decimal(10000)
SPREAD_BEYOND_BOUND = f"is beyond +/-{MAX_SPREAD_BP} bp (100 percentage points)"



def _plan(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError("principal_plan must be a sequence of amounts or fractions")
    return tuple(to_decimal(v, "principal_plan item") for v in value)


#: The most decimal places a plan's fraction may have. The fractions are summed as integers scaled to the
#: finest of them, so the work grows with this; 1E-99999999 (ten characters) would be a hundred-million-digit
#: sum. No split to the fen needs a thousandth of this.
MAX_PLAN_PLACES = 1000


def _places(value: Decimal) -> int:
    """The decimal places ``value`` really has (trailing zeros are not places: 0.5000 has one)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # plans hold finite numbers (to_decimal)
    if not any(digits):
        return 0
    zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(-(exponent + zeros), 0)


def plan_to_fen(plan: tuple[Decimal, ...], unit: PlanUnit, principal_fen: int) -> list[int]:
    """A custom principal plan in fen, checked to add up to the principal.

    Amounts must be exact to the fen and add up to the principal; fractions
    must add up to 1 and are split to the fen by the largest-remainder rule.
    The work is linear in the plan: amounts are summed in fen, fractions as
    integers scaled to the finest of them, which is at most
    :data:`MAX_PLAN_PLACES` decimal places.

    The result of a plan is remembered (a few hundred plans): a loan's plan
    is checked when the loan is read and used again by the schedule kernels.

    >>> plan_to_fen((Decimal("0.5"), Decimal("0.5")), PlanUnit.FRACTION, 10001)
    [5001, 5000]
    """
    return list(_plan_to_fen(plan, unit, principal_fen))


@lru_cache(maxsize=256)
def _plan_to_fen(plan: tuple[Decimal, ...], unit: PlanUnit, principal_fen: int) -> tuple[int, ...]:
    if any(v < 0 for v in plan):
        raise ValueError("entries must not be negative")
    if unit is PlanUnit.FRACTION:
        places = max(map(_places, plan), default=0)
        if places > MAX_PLAN_PLACES:
            raise ValueError(f"an entry has {places:,} decimal places; a fraction has at most {MAX_PLAN_PLACES:,}")
        total = sum(scaled_integer(v, places) or 0 for v in plan)  # exact: every entry has at most `places`
        if total != 10**places:
            raise ValueError(f"fractions add up to {Decimal(f'{total}E-{places}')}, not 1")
        return tuple(split_largest_remainder(principal_fen, list(plan)))
    fen = [yuan_to_fen(v, "principal_plan item") for v in plan]
    if sum(fen) != principal_fen:
        raise ValueError(f"amounts add up to {fen_to_yuan(sum(fen))}, not the principal "
                         f"{fen_to_yuan(principal_fen)}")
    return tuple(fen)


def default_basis(method: Method, interest_dates: InterestDates = InterestDates.PERIOD_END) -> InterestBasis:
    """The interest basis of a loan that names none (docs/conventions.md "Interest basis"): actual/360 for
    先息後本 (interest-only loans, as banks settle them by the day) and for interest settled on calendar
    dates (日利率 = 年利率/360), the monthly basis otherwise.

    >>> default_basis(Method.INTEREST_ONLY).value, default_basis(Method.EQUAL_INSTALLMENT).value
    ('act_360', 'monthly')
    >>> default_basis(Method.EQUAL_PRINCIPAL, InterestDates.CALENDAR).value
    'act_360'
    """
    if method is Method.INTEREST_ONLY or interest_dates is InterestDates.CALENDAR:
        return InterestBasis.ACT_360
    return InterestBasis.MONTHLY


#: The day of the month interest is settled on calendar dates when the contract names none: the 20th, as
#: 《人民幣利率管理規定》第二十條 sets it for loans settled by the quarter (每季末月的20日) and the month.
CALENDAR_SETTLEMENT_DAY = 20

#: The bases on which interest can accrue on each day's balance (calendar settlement): the day-count ones.
DAILY_BASES = (InterestBasis.ACT_360, InterestBasis.ACT_365)


class FloatingRate(BaseModel):
    """An LPR-linked rate: LPR(tenor) + spread, repriced yearly.

    ``spread_bp`` is in basis points (加點 positive, 減點 negative); the
    multiplicative form "LPR x (1 + m%)" is a different contract and is not
    this model.
    """

    model_config = STRICT_MODEL

    tenor: Annotated[Tenor, BeforeValidator(Tenor.parse)]
    spread_bp: SpreadBp
    reset: Annotated[Reset, BeforeValidator(Reset.parse)] = Reset.JANUARY

    if TYPE_CHECKING:  # what the validators take ("5Y", "-30"); the fields above say what they hold
        def __init__(self, *, tenor: Tenor | str, spread_bp: NumberInput, reset: Reset | str = Reset.JANUARY
                     ) -> None: ...

    @field_validator("spread_bp")
    @classmethod
    def _spread_in_range(cls, spread: Decimal) -> Decimal:
        if abs(spread) > MAX_SPREAD_BP:
            raise ValueError(f"{spread} bp {SPREAD_BEYOND_BOUND}")
        rate_to_units(bp_to_rate(spread), "spread")  # exact in kernel units
        return spread

    @property
    def spread(self) -> Decimal:
        """The spread as a fraction of one (100 bp = 0.01)."""
        return bp_to_rate(self.spread_bp)


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValueError(f"{amount} must be positive (at least 0.01 yuan)")
    return amount


#: An amount of a tranche or a prepayment: money, at least a fen.
PositiveMoney = Annotated[Money, AfterValidator(_positive)]


class Drawdown(BaseModel):
    """One tranche of a loan drawn in several (分次提款): it accrues interest from its own date."""

    model_config = STRICT_MODEL

    date: Annotated[datetime.date, BeforeValidator(as_date)]
    amount: PositiveMoney

    if TYPE_CHECKING:
        def __init__(self, *, date: datetime.date | str, amount: NumberInput) -> None: ...  # noqa: A002


class Prepayment(BaseModel):
    """A prepayment (提前還款) of principal on a date, and what it recomputes: the payment over the
    remaining term (``payment``, the default) or the term at the same payment (``term``). An amount equal to
    the balance then closes the loan."""

    model_config = STRICT_MODEL

    date: Annotated[datetime.date, BeforeValidator(as_date)]
    amount: PositiveMoney
    recompute: Annotated[Recompute, BeforeValidator(Recompute.parse)] = Recompute.PAYMENT

    if TYPE_CHECKING:
        def __init__(self, *, date: datetime.date | str, amount: NumberInput,  # noqa: A002
                     recompute: Recompute | str = Recompute.PAYMENT) -> None: ...


def _tranches_fill(data: Any) -> Any:
    """A loan given by its ``drawdowns`` may leave out ``principal`` (their sum) and ``start_date`` (the
    first's date)."""
    if not isinstance(data, dict) or not data.get("drawdowns"):
        return data
    try:
        tranches = [d if isinstance(d, Drawdown) else Drawdown(**d) for d in data["drawdowns"]]
    except (TypeError, ValueError):
        return data  # the drawdowns field reports its own problems
    filled = dict(data)
    filled.setdefault(Loan.FILLED_FROM_DRAWDOWNS[0], sum((d.amount for d in tranches), Decimal(0)))
    filled.setdefault(Loan.FILLED_FROM_DRAWDOWNS[1], min(d.date for d in tranches))
    return filled


def maturity_day(start: date, term_months: int, due_day: int) -> int:
    """The day number (days since 1970-01-01) of the last due date: ``term_months`` after the start's
    month, on ``due_day`` clamped to the month's end."""
    months = start.year * 12 + start.month - 1 + term_months
    year, month = divmod(months, 12)
    return days_from_civil(year, month + 1, min(due_day, days_in_month(year, month + 1)))


class Loan(BaseModel):
    """One loan contract.

    Exactly one of ``annual_rate`` (fixed) and ``floating`` is given.
    ``interest_basis`` defaults to ``monthly`` for amortizing loans and to
    ``act_360`` for ``interest_only`` loans (docs/conventions.md). ``grace_months``
    of interest only come first, then ``method`` over the remaining periods.
    A ``custom`` loan gives ``principal_plan``, one entry per period, as
    amounts adding up to the principal or (with ``principal_plan_unit =
    "fraction"``) fractions adding up to 1, split to the fen by the
    largest-remainder rule. ``drawdowns`` and ``prepayments`` are its tranches
    and early repayments; ``business_day`` moves due dates off days off.
    ``interest_dates = "calendar"`` settles interest on the ``settlement_day``
    (the 20th by default) of every month or of each quarter's last month
    (``interest_frequency``), on each day's balance (``act_360`` by default),
    while the principal follows its plan on the due dates.

    >>> loan = Loan(principal="1000000", annual_rate="0.049", term_months=360,
    ...             start_date="2024-01-15")
    >>> loan.periods, loan.basis.value
    (360, 'monthly')
    >>> Loan(principal=1000.1, annual_rate="0.04", term_months=12, start_date="2024-01-15")
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Loan
    principal
      Value error, floats are not accepted for exact amounts and rates (1000.1 is stored as 1000.1000000000000227...); pass a str, int or Decimal such as "1000.1" ...
    """

    model_config = STRICT_MODEL
    #: Required fields that a loan given by its drawdowns may leave out (their sum, the first's date).
    FILLED_FROM_DRAWDOWNS: ClassVar[tuple[str, ...]] = ("principal", "start_date")

    principal: Money
    annual_rate: Rate | None = None
    floating: FloatingRate | None = None
    term_months: int
    frequency: Annotated[Frequency, BeforeValidator(Frequency.parse)] = Frequency.MONTHLY
    method: Annotated[Method, BeforeValidator(Method.parse)] = Method.EQUAL_INSTALLMENT
    principal_plan_unit: Annotated[PlanUnit, BeforeValidator(PlanUnit.parse)] = PlanUnit.AMOUNT
    grace_months: int = 0
    interest_basis: Annotated[InterestBasis, BeforeValidator(InterestBasis.parse)] | None = None
    start_date: Annotated[date, BeforeValidator(as_date)]
    settlement_day: int | None = None
    # validate_default: a custom loan without a plan must fail here, not later.
    principal_plan: Annotated[tuple[Decimal, ...] | None, BeforeValidator(_plan)] = Field(
        default=None, validate_default=True)
    drawdowns: tuple[Drawdown, ...] = ()
    prepayments: tuple[Prepayment, ...] = ()
    business_day: Annotated[BusinessDay, BeforeValidator(BusinessDay.parse)] = BusinessDay.NONE
    interest_dates: Annotated[InterestDates, BeforeValidator(InterestDates.parse)] = InterestDates.PERIOD_END
    interest_frequency: Annotated[Frequency, BeforeValidator(Frequency.parse)] | None = None

    if TYPE_CHECKING:  # what the validators take ("1000000", "2024-01-15"); the fields above say what they hold
        # principal and start_date may be left out when drawdowns give them (their sum, the first's date)
        def __init__(self, *, principal: NumberInput | None = None, annual_rate: NumberInput | None = None,
                     floating: FloatingRate | dict[str, Any] | None = None, term_months: int,
                     frequency: Frequency | str = Frequency.MONTHLY, method: Method | str = Method.EQUAL_INSTALLMENT,
                     principal_plan_unit: PlanUnit | str = PlanUnit.AMOUNT, grace_months: int = 0,
                     interest_basis: InterestBasis | str | None = None, start_date: date | str | None = None,
                     settlement_day: int | None = None, principal_plan: Sequence[NumberInput] | None = None,
                     drawdowns: Sequence[Drawdown | dict[str, Any]] = (),
                     prepayments: Sequence[Prepayment | dict[str, Any]] = (),
                     business_day: BusinessDay | str = BusinessDay.NONE,
                     interest_dates: InterestDates | str = InterestDates.PERIOD_END,
                     interest_frequency: Frequency | str | None = None) -> None: ...

    @model_validator(mode="before")
    @classmethod
    def _from_tranches(cls, data: Any) -> Any:
        return _tranches_fill(data)

    @field_validator("drawdowns", "prepayments", mode="before")
    @classmethod
    def _events_from_mappings(cls, value: Any, info: ValidationInfo) -> Any:
        # events may arrive as plain mappings (from JSON or a table), in any sequence
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ValueError(f"{info.field_name} must be a list of events")
        model = Drawdown if info.field_name == "drawdowns" else Prepayment
        return tuple(model(**v) if isinstance(v, dict) else v for v in value)

    @field_validator("floating", mode="before")
    @classmethod
    def _floating_from_mapping(cls, value: Any) -> Any:
        # A nested contract may arrive as a plain mapping (from JSON or a table).
        if isinstance(value, dict):
            return FloatingRate(**value)
        return value

    @field_validator("principal")
    @classmethod
    def _principal_range(cls, principal: Decimal) -> Decimal:
        if principal <= 0:
            raise ValueError(f"{principal} must be positive (at least 0.01 yuan)")
        return principal  # at most 1e12 yuan: every Money field (core.fields)

    @field_validator("term_months")
    @classmethod
    def _term_range(cls, term: int) -> int:
        if not 1 <= term <= MAX_TERM_MONTHS:
            raise ValueError(f"{term} must be between 1 and {MAX_TERM_MONTHS} months")
        return term

    @field_validator("frequency")
    @classmethod
    def _term_fits_frequency(cls, frequency: Frequency, info: ValidationInfo) -> Frequency:
        term = info.data.get("term_months")
        if term is not None and term % frequency.months:
            raise ValueError(
                f"term_months {term} is not a whole number of {frequency.value} periods"
            )
        return frequency

    @field_validator("grace_months")
    @classmethod
    def _grace_fits(cls, grace: int, info: ValidationInfo) -> int:
        term = info.data.get("term_months")
        frequency = info.data.get("frequency")
        method = info.data.get("method")
        if grace < 0:
            raise ValueError(f"{grace} must not be negative")
        if term is not None and grace >= term:
            raise ValueError(f"{grace} must be less than term_months ({term})")
        if frequency is not None and grace % frequency.months:
            raise ValueError(f"{grace} is not a whole number of {frequency.value} periods")
        if grace and method is Method.CUSTOM:
            raise ValueError("a custom loan writes its grace as zeros in principal_plan")
        return grace

    @field_validator("start_date")
    @classmethod
    def _schedule_within_calendar(cls, start: date, info: ValidationInfo) -> date:
        term = info.data.get("term_months")
        if term is not None and start.year * 12 + start.month - 1 + term > 9999 * 12 + 11:
            raise ValueError(f"{start} plus {term} months ends after the year 9999")
        return start

    @field_validator("settlement_day")
    @classmethod
    def _settlement_day_range(cls, day: int | None) -> int | None:
        if day is not None and not 1 <= day <= 31:
            raise ValueError(f"{day} must be a day of month, 1 to 31")
        return day

    @field_validator("principal_plan")
    @classmethod
    def _plan_matches(cls, plan: tuple[Decimal, ...] | None, info: ValidationInfo) -> tuple[Decimal, ...] | None:
        method = info.data.get("method")
        if method is not Method.CUSTOM:
            if plan is not None:
                raise ValueError("is only given for method 'custom'")
            return None
        if plan is None:
            raise ValueError("method 'custom' needs a principal_plan")
        term, frequency = info.data.get("term_months"), info.data.get("frequency")
        if term is not None and frequency is not None and len(plan) != term // frequency.months:
            raise ValueError(
                f"has {len(plan)} entries; the loan has {term // frequency.months} periods"
            )
        unit, principal = info.data.get("principal_plan_unit"), info.data.get("principal")
        if unit is not None and principal is not None:
            plan_to_fen(plan, unit, yuan_to_fen(principal))
        return plan

    @model_validator(mode="after")
    def _one_rate(self) -> Loan:
        if (self.annual_rate is None) == (self.floating is None):
            raise ValueError("annual_rate, floating: give exactly one (a fixed or an LPR-linked rate)")
        return self

    @model_validator(mode="after")
    def _calendar_settlement_fits(self) -> Loan:
        """Interest settled on calendar dates names how often, and accrues by the day (docs/conventions.md
        "Calendar settlement")."""
        if self.interest_dates is InterestDates.PERIOD_END:
            if self.interest_frequency is not None:
                raise ValueError("interest_frequency: is only given with interest_dates 'calendar'")
            return self
        if self.interest_frequency is None:
            raise ValueError("interest_frequency: interest_dates 'calendar' needs it ('monthly' or 'quarterly')")
        if self.basis not in DAILY_BASES:
            raise ValueError(f"interest_basis: interest_dates 'calendar' accrues each day's balance, on "
                             f"{' or '.join(b.value for b in DAILY_BASES)}, not {self.basis.value}")
        return self

    @model_validator(mode="after")
    def _events_fit(self) -> Loan:
        """Tranches and prepayments fall in the loan's life, in order (docs/conventions.md "Drawdowns and
        prepayments"); whether a prepayment exceeds the balance is known when the loan is amortized. Every
        problem is listed, one a line."""
        problems: list[str] = []
        maturity = maturity_day(self.start_date, self.term_months, self.due_day)
        named: tuple[tuple[str, Sequence[Drawdown | Prepayment]], ...] = (
            ("drawdowns", self.drawdowns), ("prepayments", self.prepayments))
        for name, events in named:
            for k, (before, after) in enumerate(zip(events, events[1:])):
                if after.date <= before.date:
                    problems.append(f"{name}[{k + 1}]: {after.date} is not after the one before ({before.date}); "
                                    "list them in date order, one a day (give a day's amounts as their sum)")
            for k, event in enumerate(events):
                if (event.date - EPOCH).days >= maturity:
                    problems.append(f"{name}[{k}]: {event.date} is not before the loan's last due date "
                                    f"{day_date(maturity)}")
        if self.drawdowns:
            if self.drawdowns[0].date != self.start_date:
                problems.append(f"drawdowns: the first is on {self.drawdowns[0].date}, but start_date is "
                                f"{self.start_date}; the loan starts with its first drawdown")
            drawn = sum((d.amount for d in self.drawdowns), Decimal(0))
            if drawn != self.principal:
                problems.append(f"drawdowns add up to {drawn}, but principal is {self.principal}; the principal "
                                "is the sum of the drawdowns")
        for k, prepayment in enumerate(self.prepayments):
            if prepayment.date <= self.start_date:
                problems.append(f"prepayments[{k}]: {prepayment.date} is not after the first drawdown "
                                f"({self.start_date})")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- derived facts ------------------------------------------------------
    @property
    def periods(self) -> int:
        """Number of schedule periods."""
        return self.term_months // self.frequency.months

    @property
    def grace_periods(self) -> int:
        """Interest-only periods at the start."""
        return self.grace_months // self.frequency.months

    @property
    def basis(self) -> InterestBasis:
        """The interest basis in force, with the conventions' default (:func:`default_basis`)."""
        return self.interest_basis if self.interest_basis is not None else default_basis(self.method,
                                                                                          self.interest_dates)

    @property
    def due_day(self) -> int:
        """The day of the month its periods end on (clamped to the month's end): the settlement day, else the
        drawdown's day."""
        return self.settlement_day if self.settlement_day is not None else self.start_date.day

    @property
    def interest_day(self) -> int:
        """The day of the month interest is settled on calendar dates: the settlement day, else the 20th
        (:data:`CALENDAR_SETTLEMENT_DAY`)."""
        return self.settlement_day if self.settlement_day is not None else CALENDAR_SETTLEMENT_DAY

    @property
    def interest_months(self) -> int:
        """Months between calendar settlements: 1 or 3, 0 when interest is settled on the due dates."""
        return 0 if self.interest_frequency is None else self.interest_frequency.months

    @property
    def has_events(self) -> bool:
        """Whether the loan is drawn in tranches (more than one) or prepaid: the kernels' events."""
        return bool(self.prepayments) or len(self.drawdowns) > 1

    @property
    def first_drawdown_fen(self) -> int:
        """What is drawn on the start date: the first tranche, or the whole principal."""
        return yuan_to_fen(self.drawdowns[0].amount) if self.drawdowns else self.principal_fen

    @property
    def principal_fen(self) -> int:
        return yuan_to_fen(self.principal)

    @property
    def plan_fen(self) -> list[int] | None:
        """The custom principal plan in fen per period (None for other methods)."""
        if self.principal_plan is None:
            return None
        return plan_to_fen(self.principal_plan, self.principal_plan_unit, self.principal_fen)


__all__ = ["CALENDAR_SETTLEMENT_DAY", "DAILY_BASES", "Drawdown", "FloatingRate", "Loan", "MAX_TERM_MONTHS", "Prepayment",
           "RATE_DECIMALS", "maturity_day"]

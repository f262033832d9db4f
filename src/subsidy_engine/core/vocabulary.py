"""The vocabulary of loan contracts, each user string mapped once to an enum.

Every enum parses the user's string with :meth:`parse`, which raises a
:class:`ValueError` that lists the accepted spellings. The integer ``code`` of
each member is what the numba kernels see.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal, Self

_CODES: dict[Enum, int] = {}


class _Vocabulary(str, Enum):
    """A closed set of user-facing strings."""

    @classmethod
    def parse(cls, value: object) -> Self:
        """Map a user string (or a member) to the member; unknown strings fail clearly."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if member.value == key:
                    return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"{value!r} is not one of {allowed}")

    @property
    def code(self) -> int:
        """The member's position, used as an integer code in kernels (found once per member: a single loan's
        arrays read a few codes, and a quote's time is counted in microseconds)."""
        found = _CODES.get(self)
        if found is None:
            found = _CODES[self] = list(type(self)).index(self)
        return found

    @classmethod
    def of_code(cls, code: int) -> Self:
        """The member whose :attr:`code` is ``code``."""
        return list(cls)[int(code)]

    def __str__(self) -> str:
        return self.value


class Lang(_Vocabulary):
    """The language of people-facing text: ``zh`` (Simplified Chinese, the default) or ``en``
    (:mod:`subsidy_engine.core.language`)."""

    ZH = "zh"
    EN = "en"


class Frequency(_Vocabulary):
    """How often a loan pays (還款頻率)."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"

    @property
    def months(self) -> int:
        """Months in one period."""
        return 1 if self is Frequency.MONTHLY else 3

    @property
    def periods_per_year(self) -> int:
        """Periods in one year: the divisor of the ``monthly`` interest basis."""
        return 12 // self.months


class Method(_Vocabulary):
    """Repayment method (還款方式), docs/conventions.md "Repayment methods"."""

    EQUAL_INSTALLMENT = "equal_installment"  # 等額本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等額本金
    INTEREST_ONLY = "interest_only"  # 先息後本
    CUSTOM = "custom"  # a principal plan given by the user


class InterestBasis(_Vocabulary):
    """How much interest one period accrues (docs/conventions.md "Interest basis")."""

    MONTHLY = "monthly"  # balance x rate / periods per year
    ACT_360 = "act_360"  # balance x rate x actual days / 360
    ACT_365 = "act_365"  # balance x rate x actual days / 365
    THIRTY_360 = "30_360"  # balance x rate x 30/360 days / 360


class Tenor(_Vocabulary):
    """LPR tenor: 1-year or over-5-year (5年期以上)."""

    ONE_YEAR = "1y"
    FIVE_YEAR = "5y"

    @classmethod
    def parse(cls, value: object) -> Tenor:
        # "1Y" and "5Y" are how the tenors are written in contracts.
        if isinstance(value, str) and value.strip().upper() in ("1Y", "5Y"):
            return cls(value.strip().lower())
        return super().parse(value)

    def __str__(self) -> str:
        return self.value.upper()


class Reset(_Vocabulary):
    """When a floating rate reprices (重定價日)."""

    JANUARY = "january"  # every 1 January
    ANNIVERSARY = "anniversary"  # every drawdown anniversary


class BusinessDay(_Vocabulary):
    """How a due date on a day that is not a business day moves (docs/conventions.md "Business days")."""

    NONE = "none"  # the due date stands
    FOLLOWING = "following"  # the next business day
    MODIFIED_FOLLOWING = "modified_following"  # the next business day, unless it is in the next month: then the one before


class InterestDates(_Vocabulary):
    """When a loan settles its interest (結息日, docs/conventions.md "Calendar settlement")."""

    PERIOD_END = "period_end"  # on each repayment due date, for the period that ends there
    CALENDAR = "calendar"  # on a calendar day (the 20th) of every month or quarter's last month, apart from principal


class LedgerKind(_Vocabulary):
    """What a row of a bank's ledger records (docs/conventions.md "A bank's ledger"), in the order a day's rows
    take effect."""

    INTEREST_SETTLED = "interest_settled"  # the interest the bank settled for the days before
    REPAYMENT = "repayment"  # principal repaid, from that day
    DRAWDOWN = "drawdown"  # principal drawn, from that day (the first one gives the rate)
    RATE_CHANGE = "rate_change"  # the annual rate from that day


class Recompute(_Vocabulary):
    """What a prepayment (提前還款) recomputes."""

    PAYMENT = "payment"  # the payment over the remaining term (the term is kept)
    TERM = "term"  # the term (the payment is kept; the loan ends sooner)


class PlanUnit(_Vocabulary):
    """How a custom principal plan is written."""

    AMOUNT = "amount"  # yuan per period, adding up to the principal
    FRACTION = "fraction"  # fractions per period, adding up to 1


class SubsidyForm(_Vocabulary):
    """How an interest subsidy (貼息) accrues (docs/conventions.md, "Interest subsidy forms")."""

    POINTS_ON_BALANCE = "points_on_balance"  # balance x min(points, rate) x fraction
    POINTS_ON_PRINCIPAL = "points_on_principal"  # original principal x min(points, rate) x fraction
    SHARE_OF_INTEREST = "share_of_interest"  # share x interest charged
    RATE_GAP = "rate_gap"  # balance x (benchmark - rate) x fraction


class ProductField(_Vocabulary):
    """The product fields of measure 7's premium subsidy (and ``other``)."""

    AUTONOMOUS_DRIVING = "autonomous_driving"
    SATELLITE_INTERNET = "satellite_internet"
    NETWORK_SECURITY = "network_security"
    COMMON_SOFTWARE = "common_software"
    AI = "ai"
    BLOCKCHAIN = "blockchain"
    OTHER = "other"


class Domain(_Vocabulary):
    """Measure 1: where the market cannot (public) or can (economic) allocate resources."""

    PUBLIC = "public"
    ECONOMIC = "economic"


class Stage(_Vocabulary):
    """Measure 2: a project's stage (試點 / 示範 / 推廣); no ordering is assumed."""

    PILOT = "pilot"
    DEMONSTRATION = "demonstration"
    PROMOTION = "promotion"


class PlatformType(_Vocabulary):
    """Measure 4: a common-technology platform's type, or none."""

    NONE = "none"
    NON_PROFIT = "non_profit"
    QUASI_OPERATING = "quasi_operating"


#: Stages of a listing (measure 14), in the order an enterprise passes them.
ListingStage = Literal["shareholding_reform", "counselling", "acceptance", "listing"]
STAGES: tuple[ListingStage, ...] = ("shareholding_reform", "counselling", "acceptance", "listing")
#: Where an enterprise lists (measure 14).
Venue = Literal["a_share_ipo", "neeq_select", "overseas_direct"]
VENUES: tuple[Venue, ...] = ("a_share_ipo", "neeq_select", "overseas_direct")


#: Measures 6, 8 and 9, by the flag that stands for each: a project's membership of the frontier-solution list
#: (前沿技术方案清单), an opened application scenario (应用场景) and a published demonstration case (应用示范案例).
#: No money of their own; a budget ranks claims by them (priority tiers, merit points).
LIST_FLAG_MEASURE = {"solution_list": 6, "scenario_opened": 8, "demonstration_case": 9}
LIST_FLAGS = tuple(LIST_FLAG_MEASURE)
#: The projects' yes/no attributes a budget's rules read: eligibility, priority tiers and merit points.
RULE_FLAGS = ("industry_or_software", "in_library", *LIST_FLAGS)

"""subsidy_engine: exact, vectorized calculators for 京經信發〔2021〕78號.

The public API (everything else is internal and may change):

* :class:`Loan`, :class:`FloatingRate` - a validated loan contract (measure 15).
* :func:`amortize` -> :class:`Schedule` - one loan's schedule, exact to the fen.
* :func:`amortize_portfolio` -> :class:`PortfolioResult` - every loan of a table at once.
* :func:`load_lpr`, :class:`LprCurve`, :class:`CoverageError` - LPR data with a horizon.
* :class:`InterestSubsidyRule`, :func:`interest_subsidy` -> :class:`SubsidySchedule` -
  interest subsidy (貼息, measures 1 and 15) on a schedule.
* :func:`load_policy` -> :class:`Policy` - the dated, sourced parameters of 78號.
* :class:`InsurancePolicy`, :func:`premium_subsidy` - premium subsidy (保費補貼, measure 7).
* :class:`Event`, :func:`event_grants` - REITs (measure 13) and listing (measure 14) grants.
* :class:`Project`, :func:`investment_subsidy` - investment subsidy (measures 1, 2 and 4).
* :func:`load_portfolio` -> :class:`PortfolioTables` - projects, loans, insurance and events.
* :func:`evaluate` -> :class:`Claims` - every claim of a portfolio per project, measure and year,
  with stacking and funding sources; :func:`explain` - one project's amounts in words.
* :mod:`subsidy_engine.demo` - ``portfolio(n_projects, seed)``, a seeded synthetic portfolio.
"""

from .allocation import Allocation, allocate
from .budget import Budget, BudgetError, load_budget
from .claims import ClaimsResult
from .errors import SubsidyEngineError
from .evaluate import Claims, EvaluationError, evaluate
from .explain import explain
from .grants import Event, GrantRules, event_grants
from .insurance import InsurancePolicy, PremiumSubsidyRule, premium_subsidy
from .interest_subsidy import InterestSubsidyRule, SubsidySchedule, interest_subsidy, interest_subsidy_portfolio
from .investment import InvestmentSubsidyRule, Project, investment_subsidy
from .loans import FloatingRate, Loan
from .money import MoneyError
from .policy import Policy, PolicyError, load_policy
from .portfolio import PortfolioResult, PortfolioSchemaError, PortfolioValidationError, amortize_portfolio
from .provenance import Provenance, engine_version
from .rates import CoverageError, LprCurve, load_lpr
from .reference import ScheduleRow
from .schedule import Schedule, amortize
from .tables import PortfolioTables, load_portfolio

__version__ = engine_version()

__all__ = [
    "Allocation",
    "SubsidyEngineError",
    "Budget",
    "BudgetError",
    "Claims",
    "CoverageError",
    "EvaluationError",
    "Event",
    "ClaimsResult",
    "FloatingRate",
    "GrantRules",
    "InsurancePolicy",
    "InterestSubsidyRule",
    "InvestmentSubsidyRule",
    "Loan",
    "LprCurve",
    "MoneyError",
    "Policy",
    "PolicyError",
    "PortfolioResult",
    "Project",
    "PremiumSubsidyRule",
    "PortfolioSchemaError",
    "PortfolioTables",
    "PortfolioValidationError",
    "Provenance",
    "Schedule",
    "ScheduleRow",
    "SubsidySchedule",
    "allocate",
    "amortize",
    "amortize_portfolio",
    "evaluate",
    "explain",
    "event_grants",
    "interest_subsidy",
    "interest_subsidy_portfolio",
    "investment_subsidy",
    "load_budget",
    "load_lpr",
    "load_policy",
    "load_portfolio",
    "premium_subsidy",
]

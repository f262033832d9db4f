"""subsidy_engine: exact, vectorized calculators for 京經信發〔2021〕78號.

The public API (everything else is internal and may change):

* :class:`Loan`, :class:`FloatingRate` - a validated loan contract (measure 15), drawn in
  :class:`Drawdown` tranches and repaid early by :class:`Prepayment`.
* :func:`amortize` -> :class:`Schedule` - one loan's schedule, exact to the fen.
* :func:`amortize_portfolio` -> :class:`PortfolioResult` - every loan of a table at once.
* :func:`load_lpr`, :class:`LprCurve`, :class:`CoverageError` - LPR data with a horizon.
* :func:`china_calendar`, :class:`BusinessCalendar` - the business days a loan's ``business_day`` rule moves
  its due dates to, with a horizon and an explicit weekend projection.
* :class:`InterestSubsidyRule`, :func:`interest_subsidy` -> :class:`SubsidySchedule` -
  interest subsidy (貼息, measures 1 and 15) on a schedule.
* :func:`ledger_settlements` -> :class:`LedgerResult` - a bank's own ledger of its loans: each settlement's
  interest and 貼息 rebuilt from what happened; ``subsidy_engine.service.ledger_reconcile.reconcile_ledger``
  names the event behind a difference.
* :func:`load_policy` -> :class:`Policy` - the dated, sourced parameters of 78號.
* :class:`InsurancePolicy`, :func:`premium_subsidy` - premium subsidy (保費補貼, measure 7).
* :class:`Event`, :func:`event_grants` - REITs (measure 13) and listing (measure 14) grants.
* :class:`Project`, :func:`investment_subsidy` - investment subsidy (measures 1, 2 and 4).
* :func:`load_portfolio` -> :class:`PortfolioTables` - projects, loans, insurance and events.
* :func:`evaluate` -> :class:`Claims` - every claim of a portfolio per project, measure and year,
  with stacking and funding sources; :func:`explain` - one project's amounts in words.
* :func:`allocate` -> :class:`Allocation` - the claims funded under a :class:`Budget`.
* every error the engine raises on purpose is a :class:`SubsidyEngineError` (:mod:`subsidy_engine.errors`).
* :mod:`subsidy_engine.simulation.synthetic` - ``portfolio(n_projects, seed)``, a seeded synthetic portfolio.

The package is layered (the README's "Architecture"): ``core`` -> ``kernels`` -> ``io`` -> ``params`` ->
``loans`` -> ``measures`` -> ``pipeline`` -> ``budgeting`` -> ``simulation`` -> ``reports`` -> ``service``;
``reference`` stands beside them as independent evidence for the tests.
"""

from __future__ import annotations

from subsidy_engine.budgeting.allocation import Allocation, allocate
from subsidy_engine.core.process_memory import use_small_pages, use_system_allocator
from subsidy_engine.core.provenance import Provenance, engine_version
from subsidy_engine.errors import (
    BudgetError,
    CoverageError,
    DateError,
    EvaluationError,
    MissingExtraError,
    MoneyError,
    OptimalError,
    OutputBusyError,
    OutputLockError,
    PolicyError,
    PortfolioSchemaError,
    PortfolioValidationError,
    RequestRefused,
    RowsRejectedError,
    ScenarioError,
    SubsidyEngineError,
    TimeLimitReached,
)
from subsidy_engine.loans.contract import Drawdown, FloatingRate, Loan, Prepayment
from subsidy_engine.loans.portfolio import PortfolioResult, amortize_portfolio
from subsidy_engine.loans.schedule import Schedule, ScheduleRow, amortize
from subsidy_engine.measures.claims import ClaimsResult
from subsidy_engine.measures.grants import Event, event_grants
from subsidy_engine.measures.interest_subsidy import SubsidySchedule, interest_subsidy, interest_subsidy_portfolio
from subsidy_engine.measures.investment import Project, investment_subsidy
from subsidy_engine.measures.ledger import LedgerResult, ledger_settlements
from subsidy_engine.measures.premium_subsidy import InsurancePolicy, premium_subsidy
from subsidy_engine.params.budget import Budget, load_budget
from subsidy_engine.params.business_days import BusinessCalendar, china_calendar
from subsidy_engine.params.lpr import LprCurve, load_lpr
from subsidy_engine.params.policy import Policy, load_policy
from subsidy_engine.params.rules import GrantRules, InterestSubsidyRule, InvestmentSubsidyRule, PremiumSubsidyRule
from subsidy_engine.pipeline.evaluate import Claims, evaluate
from subsidy_engine.pipeline.explain import explain
from subsidy_engine.pipeline.inputs import PortfolioTables, load_portfolio

__version__ = engine_version()

use_system_allocator()  # before any table is read: see core.process_memory
use_small_pages()

__all__ = [
    "Allocation",
    "Budget",
    "BudgetError",
    "BusinessCalendar",
    "Claims",
    "ClaimsResult",
    "CoverageError",
    "DateError",
    "EvaluationError",
    "Event",
    "Drawdown",
    "FloatingRate",
    "GrantRules",
    "InsurancePolicy",
    "InterestSubsidyRule",
    "LedgerResult",
    "InvestmentSubsidyRule",
    "Loan",
    "LprCurve",
    "MissingExtraError",
    "MoneyError",
    "OptimalError",
    "OutputBusyError",
    "OutputLockError",
    "Policy",
    "PolicyError",
    "PortfolioResult",
    "PortfolioSchemaError",
    "PortfolioTables",
    "PortfolioValidationError",
    "Prepayment",
    "PremiumSubsidyRule",
    "Project",
    "Provenance",
    "RequestRefused",
    "RowsRejectedError",
    "Schedule",
    "ScheduleRow",
    "ScenarioError",
    "SubsidyEngineError",
    "SubsidySchedule",
    "TimeLimitReached",
    "allocate",
    "amortize",
    "amortize_portfolio",
    "china_calendar",
    "evaluate",
    "event_grants",
    "explain",
    "interest_subsidy",
    "interest_subsidy_portfolio",
    "investment_subsidy",
    "ledger_settlements",
    "load_budget",
    "load_lpr",
    "load_policy",
    "load_portfolio",
    "premium_subsidy",
]

"""subsidy_engine: exact, vectorized calculators for 京經信發〔2021〕78號.

The public API (everything else is internal and may change):

* :class:`Loan`, :class:`FloatingRate` - a validated loan contract (measure 15).
* :func:`amortize` -> :class:`Schedule` - one loan's schedule, exact to the fen.
* :func:`amortize_portfolio` -> :class:`PortfolioResult` - every loan of a table at once.
* :func:`load_lpr`, :class:`LprCurve`, :class:`CoverageError` - LPR data with a horizon.
"""

from .loans import FloatingRate, Loan
from .money import MoneyError
from .portfolio import PortfolioResult, PortfolioSchemaError, PortfolioValidationError, amortize_portfolio
from .provenance import Provenance, engine_version
from .rates import CoverageError, LprCurve, load_lpr
from .reference import ScheduleRow
from .schedule import Schedule, amortize

__version__ = engine_version()

__all__ = [
    "CoverageError",
    "FloatingRate",
    "Loan",
    "LprCurve",
    "MoneyError",
    "PortfolioResult",
    "PortfolioSchemaError",
    "PortfolioValidationError",
    "Provenance",
    "Schedule",
    "ScheduleRow",
    "amortize",
    "amortize_portfolio",
    "load_lpr",
]

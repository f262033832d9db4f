"""Every error the engine raises on purpose, under one base.

``except SubsidyEngineError`` catches them all; each is also the built-in kind it
always was (a :class:`MoneyError` is a ``ValueError``, a :class:`CoverageError` a
``LookupError``, an :class:`OutputLockError` an ``OSError``), so code that caught those
keeps working. Each stays importable from the module that raises it. This module
imports nothing of the package: every layer can raise its errors.

>>> issubclass(MoneyError, SubsidyEngineError) and issubclass(MoneyError, ValueError)
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SubsidyEngineError(Exception):
    """The base of every error the engine raises on purpose."""


class MoneyError(SubsidyEngineError, ValueError):
    """A value that cannot be an exact amount or rate."""


class DateError(SubsidyEngineError, ValueError):
    """A text that is not a date written YYYY-MM-DD; the message says which and why."""


class CoverageError(SubsidyEngineError, LookupError):
    """A rate was asked for outside the dates the data covers."""


class PolicyError(SubsidyEngineError, ValueError):
    """A parameter file that breaks the file's rules; the message says where."""


class BudgetError(SubsidyEngineError, ValueError):
    """A budget file that cannot be used, or claims outside the budget's years."""


class ScenarioError(SubsidyEngineError, ValueError):
    """A scenario file that cannot be applied; the message says where."""


class PortfolioSchemaError(SubsidyEngineError, ValueError):
    """The table as a whole cannot be read (a missing or float column, an unknown column, a file past a limit)."""


class RowsRejectedError(SubsidyEngineError, ValueError):
    """Strict mode: rows were rejected. ``rejections`` is the report (file, table, row, id, field, reason)."""

    def __init__(self, message: str, rejections: Any) -> None:
        super().__init__(message)
        self.rejections = rejections


class PortfolioValidationError(RowsRejectedError):
    """Raised by ``amortize_portfolio(strict=True)`` when any loan row is rejected; carries the report."""


class EvaluationError(RowsRejectedError):
    """Raised by ``evaluate(strict=True)`` when any row of the portfolio is rejected; carries the report."""


class OptimalError(SubsidyEngineError, RuntimeError):
    """HiGHS did not find an optimum (it always should: x = 0 is feasible)."""


class TimeLimitReached(SubsidyEngineError, RuntimeError):
    """HiGHS stopped at the time limit, or the limit was over before a solve could start (caught by
    ``allocate``, which falls back and says so; never reaches a user)."""


class RequestRefused(SubsidyEngineError, ValueError):
    """An HTTP request the service refuses with ``status`` and a detail per problem; ``close`` asks to close
    the connection (after a 413 or 408 the rest of the body is not read, so the connection cannot serve
    another request)."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 422, close: bool = False) -> None:
        super().__init__(errors[0]["msg"] if errors else "bad request")
        self.errors, self.status, self.close = errors, status, close


class OutputLockError(SubsidyEngineError, OSError):
    """The output folder's lock cannot be taken: the lock file is not a plain file of its own."""


class OutputBusyError(OutputLockError):
    """The output folder is being written by another run that is still alive."""


class ClusterError(SubsidyEngineError, RuntimeError):
    """A Dask cluster could not do the work: its scheduler cannot be reached, or a worker kept dying on a task."""


class MissingExtraError(SubsidyEngineError, ImportError):
    """A feature whose optional dependencies (an extra of the package: ``reports``, ``serve``, ``optimal``) are not
    installed: the message says what the feature needs and the command that installs the extra; ``name`` is the
    module that was missing."""

    def __init__(self, needs: str, extra: str, module: str | None = None) -> None:
        super().__init__(f'{needs}: pip install "subsidy-engine[{extra}]"', name=module)
        self.extra = extra


@contextmanager
def needs_extra(extra: str, needs: str) -> Iterator[None]:
    """The imports of an extra's packages, made where the feature runs (``needs`` says what it needs): a package
    missing is a :class:`MissingExtraError` naming the extra to install, not a bare ``ModuleNotFoundError``.

    >>> with needs_extra("reports", "the charts need matplotlib"):
    ...     import no_such_package_here
    Traceback (most recent call last):
    subsidy_engine.errors.MissingExtraError: the charts need matplotlib: pip install "subsidy-engine[reports]"
    """
    try:
        yield
    except ImportError as exc:
        module = (exc.name or "").split(".")[0]
        if isinstance(exc, MissingExtraError) or module in ("", "subsidy_engine"):  # not a package missing
            raise
        raise MissingExtraError(needs, extra, exc.name) from exc


__all__ = ["BudgetError", "ClusterError", "CoverageError", "DateError", "EvaluationError", "MissingExtraError", "MoneyError",
           "OptimalError", "OutputBusyError", "OutputLockError", "PolicyError", "PortfolioSchemaError",
           "PortfolioValidationError", "RequestRefused", "RowsRejectedError", "ScenarioError", "SubsidyEngineError",
           "TimeLimitReached", "needs_extra"]

"""Every loan of a portfolio at once: :func:`amortize_portfolio` (measure 15).

The table is validated column by column (:mod:`batch`), rows with problems
go to a rejection report, and the rest run through one numba kernel over
int64 fen in chunks of loans, with no Python loop per row. Asking only for
yearly totals never materialises the long per-period table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Iterable, Literal

import numpy as np
import pandas as pd

from . import engine
from .batch import PortfolioSchemaError, arrays_from_frame, empty_rejections
from .frames import date_series, money_series, rate_series
from .provenance import Provenance
from .rates import EPOCH, LprCurve, default_lpr

Output = Literal["both", "schedule", "yearly"]
DEFAULT_CHUNK = 65_536

__all__ = ["PortfolioResult", "PortfolioSchemaError", "PortfolioValidationError", "amortize_portfolio"]


class PortfolioValidationError(ValueError):
    """Raised in strict mode when any row is rejected; carries the report."""

    def __init__(self, rejections: pd.DataFrame) -> None:
        self.rejections = rejections
        head = "; ".join(f"row {r.row} (loan_id {r.loan_id!r}) {r.field}: {r.reason}"
                         for r in rejections.head(5).itertuples())
        more = f" and {len(rejections) - 5} more" if len(rejections) > 5 else ""
        super().__init__(f"{len(rejections)} problem(s) in the loan table: {head}{more}")


@dataclass
class _Parts:
    """Per-chunk kernel outputs, concatenated once at the end."""

    positions: list[np.ndarray] = field(default_factory=list)
    periods: list[np.ndarray] = field(default_factory=list)
    start_day: list[np.ndarray] = field(default_factory=list)
    end_day: list[np.ndarray] = field(default_factory=list)
    rate: list[np.ndarray] = field(default_factory=list)
    opening: list[np.ndarray] = field(default_factory=list)
    interest: list[np.ndarray] = field(default_factory=list)
    principal: list[np.ndarray] = field(default_factory=list)
    year_count: list[np.ndarray] = field(default_factory=list)
    first_year: list[np.ndarray] = field(default_factory=list)
    year_interest: list[np.ndarray] = field(default_factory=list)
    year_principal: list[np.ndarray] = field(default_factory=list)
    projected_from: list[np.ndarray] = field(default_factory=list)

    @staticmethod
    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


@dataclass
class PortfolioResult:
    """Schedules of the computed loans, the rejected rows, and provenance.

    Attributes
    ----------
    rejections : DataFrame
        ``row, loan_id, field, reason`` for every problem; ``row`` is the
        0-based position in the input table. Empty when every row computed.
    projections : DataFrame
        ``loan_id, projected_from``: loans priced partly from a projected LPR.
    provenance : Provenance
        Engine version and the hash of the rate data and scenario used.
    exact_fallbacks : int
        Loans whose annuity payment was settled by the exact reference path.
    fen : dict of ndarray
        The kernel's int64 fen arrays (``interest``, ``principal``, ...), for
        callers that stay in fen; the public frames are built from them.
    """

    rejections: pd.DataFrame
    projections: pd.DataFrame
    provenance: Provenance
    exact_fallbacks: int
    loan_ids: pd.Series  # of the computed loans, in input order
    periods: np.ndarray
    year_count: np.ndarray
    fen: dict[str, np.ndarray]
    has_schedule: bool
    has_yearly: bool

    @property
    def computed(self) -> int:
        """Number of loans computed."""
        return len(self.loan_ids)

    @cached_property
    def schedule(self) -> pd.DataFrame:
        """The long table: ``loan_id`` plus the columns of ``Schedule.to_frame()``."""
        if not self.has_schedule:
            raise ValueError("the schedule was not computed; call with output='schedule' or 'both'")
        f = self.fen
        row_loan = np.repeat(np.arange(self.computed), self.periods)
        starts = np.cumsum(self.periods) - self.periods
        return pd.DataFrame({
            "loan_id": self.loan_ids.take(row_loan).reset_index(drop=True),
            "period": (np.arange(row_loan.shape[0]) - np.repeat(starts, self.periods) + 1).astype(np.int32),
            "start_date": date_series(f["start_day"]),
            "end_date": date_series(f["end_day"]),
            "days": (f["end_day"] - f["start_day"]).astype(np.int32),
            "annual_rate": rate_series(f["rate"]),
            "opening_balance": money_series(f["opening"]),
            "interest": money_series(f["interest"]),
            "principal": money_series(f["principal"]),
            "payment": money_series(f["interest"] + f["principal"]),
            "closing_balance": money_series(f["opening"] - f["principal"]),
        })

    @cached_property
    def yearly(self) -> pd.DataFrame:
        """Per loan and calendar year (of the due date): ``loan_id, year, interest, principal``."""
        if not self.has_yearly:
            raise ValueError("yearly totals were not computed; call with output='yearly' or 'both'")
        f = self.fen
        row_loan = np.repeat(np.arange(self.computed), self.year_count)
        starts = np.cumsum(self.year_count) - self.year_count
        offset = np.arange(row_loan.shape[0]) - np.repeat(starts, self.year_count)
        return pd.DataFrame({
            "loan_id": self.loan_ids.take(row_loan).reset_index(drop=True),
            "year": (np.repeat(f["first_year"], self.year_count) + offset).astype(np.int32),
            "interest": money_series(f["year_interest"]),
            "principal": money_series(f["year_principal"]),
        })


def amortize_portfolio(
    loans: pd.DataFrame,
    *,
    lpr: LprCurve | None = None,
    output: Output = "both",
    strict: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    ignore_columns: Iterable[str] = (),
) -> PortfolioResult:
    """Amortize every loan of a table.

    Parameters
    ----------
    loans : DataFrame
        One row per loan: ``loan_id`` plus the ``Loan`` fields (see
        :mod:`subsidy_engine.batch` for the column forms).
    lpr : LprCurve, optional
        LPR data for floating loans; the bundled history by default.
    output : {"both", "schedule", "yearly"}
        What to compute. ``"yearly"`` streams chunks through the kernel and
        never builds the per-period table.
    strict : bool
        Raise :class:`PortfolioValidationError` if any row is rejected,
        instead of computing the good rows and reporting the bad ones.
    chunk_size : int
        Loans per kernel call (bounds the memory of intermediate arrays).
    ignore_columns : iterable of str
        Columns of the table that are not loan fields and are to be left aside.

    Returns
    -------
    PortfolioResult

    Examples
    --------
    >>> table = pd.DataFrame({
    ...     "loan_id": ["A", "B", "C"],
    ...     "principal": ["300000", "1000000", "-5"],
    ...     "annual_rate": ["0.049", "0.049", "0.04"],
    ...     "term_months": [240, 360, 12],
    ...     "method": ["equal_principal", "equal_installment", "equal_installment"],
    ...     "start_date": ["2024-01-15"] * 3})
    >>> result = amortize_portfolio(table)
    >>> result.schedule.groupby("loan_id")["payment"].first().tolist()
    [Decimal('2475.00'), Decimal('5307.27')]
    >>> result.rejections[["row", "loan_id", "field"]].values.tolist()
    [[2, 'C', 'principal']]
    """
    if output not in ("both", "schedule", "yearly"):
        raise ValueError(f"output {output!r} is not one of 'both', 'schedule', 'yearly'")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    arrays, positions, rejections = arrays_from_frame(loans, ignore_columns)
    curve = lpr if lpr is not None else (default_lpr() if arrays.is_floating.any() else None)
    want_rows = output in ("both", "schedule")
    want_years = output in ("both", "yearly")

    parts = _Parts()
    priced_rejections = []
    fallbacks = 0
    for lo in range(0, len(arrays), chunk_size):
        chunk_index = np.arange(lo, min(lo + chunk_size, len(arrays)))
        chunk = arrays.take(chunk_index)
        res = engine.run(chunk, curve, rows=want_rows, years=want_years)
        fallbacks += res.exact_fallbacks
        for k, reason in res.errors.items():
            row = int(positions[lo + k])
            field_name = "floating" if reason.startswith("floating") else "loan"
            priced_rejections.append((row, field_name, reason.removeprefix("floating: ")))
        done = chunk.take(res.computed)
        parts.positions.append(positions[lo + res.computed])
        parts.periods.append(done.periods)
        parts.projected_from.append(res.projected_from)
        if want_rows:
            assert res.end_day is not None and res.row_ptr is not None
            start = np.empty_like(res.end_day)
            start[1:] = res.end_day[:-1]
            start[res.row_ptr[:-1]] = done.start_days().astype(np.int32)
            parts.start_day.append(start)
            parts.end_day.append(res.end_day)
            # derived columns stay int64 fen; the exact decimal form is built on demand
            parts.rate.append(res.rate_units())
            parts.opening.append(res.opening_fen())
            parts.interest.append(res.interest_fen)  # type: ignore[arg-type]
            parts.principal.append(res.principal_fen)  # type: ignore[arg-type]
        if want_years:
            assert res.year_ptr is not None
            parts.year_count.append(np.diff(res.year_ptr))
            parts.first_year.append(res.first_year)  # type: ignore[arg-type]
            parts.year_interest.append(res.year_interest_fen)  # type: ignore[arg-type]
            parts.year_principal.append(res.year_principal_fen)  # type: ignore[arg-type]

    if priced_rejections:
        ids = loans["loan_id"].reset_index(drop=True)
        extra = pd.DataFrame(priced_rejections, columns=["row", "field", "reason"])
        extra.insert(1, "loan_id", ids.iloc[extra["row"].to_numpy()].to_numpy(dtype=object))
        rejections = pd.concat([rejections, extra], ignore_index=True).sort_values(
            ["row", "field"], kind="stable", ignore_index=True)
    if strict and len(rejections):
        raise PortfolioValidationError(rejections)

    cat = _Parts.cat
    computed_positions = cat(parts.positions, np.int64)
    loan_ids = loans["loan_id"].reset_index(drop=True).take(computed_positions).reset_index(drop=True)
    projected = cat(parts.projected_from, np.int64)
    is_projected = projected >= 0
    projections = pd.DataFrame({
        "loan_id": loan_ids[is_projected].reset_index(drop=True),
        "projected_from": [EPOCH + timedelta(days=int(d)) for d in projected[is_projected]],
    })
    fen: dict[str, np.ndarray] = {}
    names = (("start_day", np.int32), ("end_day", np.int32), ("rate", np.int64), ("opening", np.int64),
             ("interest", np.int64), ("principal", np.int64)) if want_rows else ()
    for name, dtype in names:
        fen[name] = cat(getattr(parts, name), dtype)
        getattr(parts, name).clear()
    if want_years:
        fen["first_year"] = cat(parts.first_year, np.int64)
        fen["year_interest"] = cat(parts.year_interest, np.int64)
        parts.year_interest.clear()
        fen["year_principal"] = cat(parts.year_principal, np.int64)
        parts.year_principal.clear()
    digest = curve.digest if curve is not None else "fixed-rate"
    return PortfolioResult(
        rejections=rejections if len(rejections) else empty_rejections(),
        projections=projections,
        provenance=Provenance.of(digest, scenario=curve.projection_label if curve else None),
        exact_fallbacks=fallbacks,
        loan_ids=loan_ids,
        periods=cat(parts.periods, np.int64),
        year_count=cat(parts.year_count, np.int64),
        fen=fen,
        has_schedule=want_rows,
        has_yearly=want_years,
    )

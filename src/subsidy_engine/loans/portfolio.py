"""Every loan of a portfolio at once: :func:`amortize_portfolio` (measure 15).

The table is validated column by column (:mod:`subsidy_engine.loans.arrays`), rows with problems
go to a rejection report, and the rest run through one numba kernel over
int64 fen in chunks of loans, with no Python loop per row. Asking only for
yearly totals never materialises the long per-period table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from subsidy_engine.core.columns import date_series, money_series, rate_series
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.errors import PortfolioSchemaError, PortfolioValidationError
from subsidy_engine.io.column_readers import Read, empty_rejections, problems_message
from subsidy_engine.loans import amortization
from subsidy_engine.loans.arrays import arrays_from_frame
from subsidy_engine.loans.event_tables import attach_events, name_event_rows
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve, LprPaths, default_lpr

Output = Literal["both", "schedule", "yearly"]
DEFAULT_CHUNK = 262_144

#: The per-row arrays of a schedule (``settles`` only when a loan settles interest on calendar dates).
ROW_ARRAYS = ("end_day", "segment", "interest", "principal", "settles")

__all__ = ["PortfolioResult", "PortfolioSchemaError", "PortfolioValidationError", "amortize_portfolio"]


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
        Loans whose annuity payment was settled exactly in integers
        (:func:`subsidy_engine.loans.amortization.annuity_payment_fen`).
    fen : dict of ndarray
        The kernel's int64 fen arrays (``interest``, ``principal``, ...), for
        callers that stay in fen; the public frames are built from them.
    calendar_projection : str or None
        The business-day calendar's projection note, when a loan's due dates were moved on days past its
        data (:meth:`~subsidy_engine.params.business_days.BusinessCalendar.projection_note`).
    """

    rejections: pd.DataFrame
    projections: pd.DataFrame
    provenance: Provenance
    exact_fallbacks: int
    loan_ids: pd.Series  # of the computed loans, in input order
    positions: np.ndarray  # their 0-based rows in the input table
    periods: np.ndarray
    year_count: np.ndarray
    fen: dict[str, np.ndarray]
    has_schedule: bool
    has_yearly: bool
    calendar_projection: str | None = None  # the business-day calendar's projection note, when relied on
    calendar_digest: str | None = None  # the business-day calendar's digest, when a loan moved its dates on it

    @property
    def computed(self) -> int:
        """Number of loans computed."""
        return len(self.loan_ids)

    @cached_property
    def schedule(self) -> pd.DataFrame:
        """The long table: ``loan_id`` plus the columns of ``Schedule.to_frame()`` (``settles`` when a loan of
        the book settles interest on calendar dates)."""
        if not self.has_schedule:
            raise ValueError("the schedule was not computed; call with output='schedule' or 'both'")
        f = self.fen
        row_ptr = amortization.pointers(self.periods)
        row_loan = np.repeat(np.arange(self.computed, dtype=np.int32), self.periods)
        end_day = f["end_day"]
        settling = (f["settles"] & np.repeat(f["loan_interest_months"] > 0, self.periods) if "settles" in f
                    else None)
        start_day, days = amortization.row_spans(end_day, row_ptr, f["loan_start_day"].astype(end_day.dtype),
                                                 settling)
        opening = amortization.opening_balances(f["loan_opening"], row_ptr, f["principal"], end_day,
                                                f["event_ptr"], f["event_day"], f["event_amount"])
        # the closing balance is the next period's opening (0 after a loan's last); drawn is what makes it so
        closing = np.zeros_like(opening)
        closing[:-1] = opening[1:]
        closing[row_ptr[1:][self.periods > 0] - 1] = 0
        drawn = closing - opening + f["principal"]
        settles = {"settles": f["settles"]} if "settles" in f else {}
        return pd.DataFrame({
            "loan_id": self.loan_ids.take(row_loan).reset_index(drop=True),
            "period": (np.arange(row_loan.shape[0], dtype=np.int64)
                       - np.repeat(row_ptr[:-1], self.periods) + 1).astype(np.int32),
            "start_date": date_series(start_day),
            "end_date": date_series(end_day),
            "days": days.astype(np.int32),
            "annual_rate": rate_series(f["segment_rate"][f["segment"]]),
            "opening_balance": money_series(opening),
            "drawn": money_series(drawn),
            "interest": money_series(f["interest"]),
            "principal": money_series(f["principal"]),
            "payment": money_series(f["interest"] + f["principal"]),
            "closing_balance": money_series(closing),
            **settles,
        })

    @cached_property
    def yearly(self) -> pd.DataFrame:
        """Per loan and calendar year (of the due date): ``loan_id, year, interest, principal``."""
        if not self.has_yearly:
            raise ValueError("yearly totals were not computed; call with output='yearly' or 'both'")
        f = self.fen
        year_ptr = amortization.pointers(self.year_count)
        row_loan = np.repeat(np.arange(self.computed, dtype=np.int32), self.year_count)
        year = np.arange(row_loan.shape[0], dtype=np.int64)
        year -= np.repeat(year_ptr[:-1] - f["first_year"], self.year_count)
        return pd.DataFrame({
            "loan_id": self.loan_ids.take(row_loan).reset_index(drop=True),
            "year": year.astype(np.int32),
            "interest": money_series(f["year_interest"]),
            "principal": money_series(f["year_principal"]),
        })


def amortize_portfolio(
    loans: pd.DataFrame,
    *,
    lpr: LprCurve | LprPaths | None = None,
    output: Output = "both",
    strict: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    ignore_columns: Iterable[str] = (),
    read: Read | None = None,
    drawdowns: pd.DataFrame | None = None,
    prepayments: pd.DataFrame | None = None,
    event_rows: Mapping[str, np.ndarray] | None = None,
    calendar: BusinessCalendar | None = None,
    buffers: amortization.Outputs | None = None,
) -> PortfolioResult:
    """Amortize every loan of a table.

    Parameters
    ----------
    loans : DataFrame
        One row per loan: ``loan_id`` plus the ``Loan`` fields (see
        :mod:`subsidy_engine.io.column_readers` for the column forms).
    lpr : LprCurve or LprPaths, optional
        LPR data for floating loans; the bundled history by default. With a batch of paths, each loan is
        priced on the path its ``lpr_path`` names (``read``'s arrays carry it).
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
    read : Read, optional
        The table as :func:`~subsidy_engine.loans.arrays.arrays_from_frame` read it already (the pipeline
        reads each table once); ``loans`` then gives only the ``loan_id`` column.
    drawdowns, prepayments : DataFrame, optional
        The loans' tranches (``loan_id, date, amount``: every tranche, the first on the loan's start date)
        and prepayments (``loan_id, date, amount``, optional ``recompute``), keyed by ``loan_id``
        (:mod:`subsidy_engine.loans.event_tables`). A bad event row rejects its loan, named by the
        rejection's ``field`` (``drawdowns.amount``) and, in its reason, the event table's row: its 0-based
        position, or ``event_rows[table][position]`` (the row a file shows).
    calendar : BusinessCalendar, optional
        The business days the loans with a ``business_day`` rule move their due dates to; China's by
        default. A loan whose dates it does not cover is rejected (field ``business_day``), unless the
        calendar carries the weekend projection (then ``calendar_projection`` reports it).
    buffers : Outputs, optional
        Arrays the kernel writes into when they hold enough rows (``amortization.Outputs.within``): a caller
        pricing a book in batches passes the same ones each time. The result's schedule arrays are then views of
        them, overwritten by the next call: read them before it.

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
    arrays, positions, rejections = read if read is not None else arrays_from_frame(loans, ignore_columns)
    event_labels: dict[int, dict[str, list[str]]] = {}
    if drawdowns is not None or prepayments is not None:
        arrays, refused, event_rejections, event_labels = attach_events(arrays, loans["loan_id"], positions,
                                                                        drawdowns, prepayments, event_rows)
        if refused.size:
            keep = np.setdiff1d(np.arange(len(arrays)), refused)
            arrays, positions = arrays.take(keep), positions[keep]
        rejections = pd.concat([rejections, event_rejections], ignore_index=True).sort_values(
            ["row", "field"], kind="stable", ignore_index=True) if len(event_rejections) else rejections
    curve = lpr if lpr is not None else (default_lpr() if arrays.is_floating.any() else None)
    want_rows = output in ("both", "schedule")
    want_years = output in ("both", "yearly")

    count = len(arrays)
    capacity = amortization.row_capacity(arrays)
    row_ptr = amortization.pointers(capacity)
    calendar = amortization.business_calendar(arrays, calendar)
    rules = amortization.kernel_rules(arrays, calendar)  # how the kernel moves each loan's dates, found once
    year_ptr = amortization.pointers(amortization.year_counts(arrays, calendar=calendar, rules=rules))
    # The kernel writes every chunk straight into these: no per-chunk copies.
    out = amortization.Outputs.within(buffers, int(row_ptr[-1]) if want_rows else 0,
                                      int(year_ptr[-1]) if want_years else 0,
                                      settles=want_rows and bool((arrays.interest_months > 0).any()))
    failed = np.zeros(count, dtype=bool)
    written = capacity.copy()
    years_written = np.diff(year_ptr)
    projected = np.full(count, -1, dtype=np.int64)
    segment_rates: list[np.ndarray] = []
    segment_base = 0
    priced_rejections = []
    fallbacks = 0
    calendar_projection = None
    for lo in range(0, count, chunk_size):
        hi = min(lo + chunk_size, count)
        r0, r1 = (row_ptr[lo], row_ptr[hi]) if want_rows else (0, 0)
        y0, y1 = (year_ptr[lo], year_ptr[hi]) if want_years else (0, 0)
        view = out.view(r0, r1, y0, y1)
        res = amortization.run(arrays.slice(lo, hi), curve, rows=want_rows, years=want_years, out=view,
                               calendar=calendar)
        calendar_projection = calendar_projection or res.calendar_projection
        fallbacks += res.exact_fallbacks
        failed[lo:hi] = res.failed
        written[lo:hi] = res.written
        years_written[lo:hi] = res.years_written
        projected[lo:hi] = res.projected_from
        if want_rows:
            view.segment += segment_base  # chunk-local -> global segment index
            segment_rates.append(res.segment_rate)
            segment_base += res.segment_rate.shape[0]
        for k, reason in res.errors.items():
            field_name = next((name for name in ("floating", "business_day") if reason.startswith(f"{name}: ")),
                              "loan")
            labels = event_labels.get(int(positions[lo + k]))
            if labels:  # an event of a loan book's table: named by its row there
                reason = name_event_rows(reason, labels)
            priced_rejections.append((int(positions[lo + k]), field_name, reason.removeprefix(f"{field_name}: ")))

    if priced_rejections:
        ids = loans["loan_id"].reset_index(drop=True)
        extra = pd.DataFrame(priced_rejections, columns=["row", "field", "reason"])
        extra.insert(1, "loan_id", ids.iloc[extra["row"].to_numpy()].to_numpy(dtype=object))
        rejections = pd.concat([rejections, extra], ignore_index=True).sort_values(
            ["row", "field"], kind="stable", ignore_index=True)
    if strict and len(rejections):
        raise PortfolioValidationError(problems_message(rejections, "the loan table",
                                                        lambda r: f"row {r.row} (loan_id {r.loan_id!r})" if r.row >= 0
                                                        else f"an event of loan_id {r.loan_id!r}, in no row"),
                                       rejections)

    # a loan repaid before its term has the rows it wrote and the years up to its last row's (one that failed
    # keeps its spans, dropped below)
    periods, year_count = np.where(failed, capacity, written), np.where(failed, np.diff(year_ptr), years_written)
    fen: dict[str, np.ndarray] = {}
    if want_rows:
        fen.update(amortization.schedule_arrays(
            arrays, out, np.concatenate(segment_rates) if segment_rates else np.zeros(0, np.int64)))
        _, keep_rows = amortization.keep_written(row_ptr, periods)
        if keep_rows is not None:
            for name in ROW_ARRAYS:
                if name in fen:
                    fen[name] = fen[name][keep_rows]
    if want_years:
        fen.update(first_year=amortization.first_year(arrays, calendar, rules), year_interest=out.year_interest,
                   year_principal=out.year_principal)
        _, keep_years = amortization.keep_written(year_ptr, year_count)
        if keep_years is not None:  # the zeros written for the years after a loan's last row are not shown
            fen.update(year_interest=out.year_interest[keep_years], year_principal=out.year_principal[keep_years])
    if failed.any():  # drop the loans that could not be priced (one copy, only then)
        keep = ~failed
        row_keep, year_keep = np.repeat(keep, periods), np.repeat(keep, year_count)
        for name in ROW_ARRAYS:
            if name in fen:
                fen[name] = fen[name][row_keep]
        for name in ("year_interest", "year_principal"):
            if name in fen:
                fen[name] = fen[name][year_keep]
        for name in ("loan_principal", "loan_opening", "loan_start_day", "first_year", "loan_basis",
                     "loan_due_day", "loan_interest_months"):
            if name in fen:
                fen[name] = fen[name][keep]
        if "event_ptr" in fen:
            fen.update(amortization.event_arrays(arrays.events_csr().take(np.flatnonzero(keep))))
        positions, periods, year_count, projected = (positions[keep], periods[keep],
                                                     year_count[keep], projected[keep])
    loan_ids = loans["loan_id"].reset_index(drop=True).take(positions).reset_index(drop=True)
    is_projected = projected >= 0
    projections = pd.DataFrame({
        "loan_id": loan_ids[is_projected].reset_index(drop=True),
        "projected_from": projected[is_projected].astype("datetime64[D]").astype(object),  # dates, as day_date
    })
    digest = curve.digest if curve is not None else "fixed-rate"
    return PortfolioResult(
        rejections=rejections if len(rejections) else empty_rejections(),
        projections=projections,
        provenance=Provenance.of(digest, *(() if calendar is None else (calendar.digest,)),
                                 scenario=curve.projection_label if curve else None),
        exact_fallbacks=fallbacks,
        calendar_projection=calendar_projection,
        calendar_digest=None if calendar is None else calendar.digest,
        loan_ids=loan_ids,
        positions=positions,
        periods=periods,
        year_count=year_count,
        fen=fen,
        has_schedule=want_rows,
        has_yearly=want_years,
    )

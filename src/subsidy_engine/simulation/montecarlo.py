"""Monte Carlo over LPR paths: the spread of each year's outlay and the budget at risk.

:func:`monte_carlo` draws ``paths`` random LPR paths around a scenario's own
path (:class:`subsidy_engine.simulation.scenario.MonteCarloSettings`), evaluates and
allocates the portfolio under each, and returns, per year, the distribution of
what the funding sources pay, and per source and year the probability that its
cap is exceeded.

**The path model** (an assumption, reported with the results, status
``inferred``): from the first fixing after the published data (the 20th of each
month), the LPR moves each month by ``N(drift, sigma)`` basis points rounded to
5 bp (the LPR is quoted in steps of 5 bp), both tenors by the same move, never
below ``floor_pct``. The walk runs through December of the horizon's last year
plus the longest 貼息 window (30 years if a parameter set has none), or to the
LPR's ``hold_until`` if that comes first, and the last value holds after it.

**A cap is exceeded** in a path when a source's money for a year ran short: a
claim part was cut or passed on because that year's money did not cover it
(:func:`subsidy_engine.budgeting.plan.cap_exceeded`, the rule of every run). The
probability is the share of paths in which that happens.

**How it stays fast.** Only the 貼息 of floating-rate loans whose subsidy
window reaches past the LPR data depends on the path; everything else (fixed
loans, insurance, grants, investment subsidies, and every order and cap of
stacking and allocation) is computed once, and so is which loan-years are
claims (their dates do not move with the rates; a path on which a prepayment
moves them, or refuses a loan the flat curve priced, is the full pipeline's).
The paths are priced in
batches (:data:`ROWS_A_BATCH`): the loans they reprice are taken once a path,
each copy priced on its own path (:class:`~subsidy_engine.params.lpr.LprPaths`),
in one call of the schedule and 貼息 kernels. Then each path has its stacking
cuts and its allocation, the same code :func:`subsidy_engine.evaluate` and
:func:`subsidy_engine.allocate` run; tests check paths against the full pipeline
on each path's own curve, to the fen, whatever the batch size. The optimal mode is not
offered: its linear program takes seconds per path.
"""

from __future__ import annotations

import contextlib
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

import numba
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from subsidy_engine.budgeting.allocation import Mode, allocate
from subsidy_engine.budgeting.plan import (
    Plan,
    Records,
    build_plan,
    claims_for,
    per_source_year,
    plan_rules,
    run_plan,
    source_years_exceeded,
)
from subsidy_engine.core.dates import epoch_days
from subsidy_engine.core.money import fen_to_yuan, quantize_fen, yuan_to_fen
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.errors import BudgetError
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.calendar import due_days
from subsidy_engine.loans.amortization import periods_through, row_capacity
from subsidy_engine.loans.portfolio import amortize_portfolio
from subsidy_engine.measures.claims import ClaimRows
from subsidy_engine.measures.interest_subsidy import interest_subsidy_rows, subsidy_window
from subsidy_engine.params.budget import Budget
from subsidy_engine.params.lpr import FIXING_DAY, UNITS_A_BP, LprCurve, LprPaths
from subsidy_engine.params.policy import Policy
from subsidy_engine.pipeline.evaluate import evaluate
from subsidy_engine.pipeline.inputs import PortfolioTables
from subsidy_engine.pipeline.steps import (
    ATTRIBUTE_COLUMNS,
    FavourableAgain,
    Rows,
    add_loans,
    add_other_instruments,
    build_context,
    claims_table,
    shown_order,
    stack,
    stacked_total,
    stacking_of,
)
from subsidy_engine.simulation.scenario import MonteCarloSettings

if TYPE_CHECKING:
    from distributed import Client

#: Schedule rows (the periods of the loans a path reprices, summed over the paths) priced in one call of the kernels.
#: Paths priced together share each call's work in Python (about two thirds of a path priced alone), and a batch of
#: more than ``FEW_ITEMS["loans"]`` loans runs the threaded kernels; the bound keeps a batch's arrays (a dozen of
#: int64 per row) in a few hundred MB. Measured on the demo's 1,000 paths x 10,000 projects (45,084 rows a path):
#: 1M rows a batch 4.9-5.0 s (peak 0.41 GB); 4M rows (64 paths) 4.6-4.7 s; 8M rows (256 paths) 4.6-4.7 s (1.09 GB).
ROWS_A_BATCH = 4_000_000
#: Paths in a batch at most: a batch holds each of its paths' plan and records until it is funded, however few rows
#: a path prices (none, when no loan moves with the LPR): about 16 MB a path at 100,000 projects, so 128 paths took a
#: mostly fixed-rate book of 100,000 projects from 1.5 GB to 2.5 GB at its peak, for no gain in time.
PATHS_A_BATCH = 64


def fixing_dates(first_after: date, through: date) -> list[date]:
    """The fixing day (the 20th) of each month after ``first_after`` through ``through`` (publication days,
    unadjusted)."""
    y, m = first_after.year, first_after.month
    if first_after.day >= FIXING_DAY:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    days = []
    while date(y, m, FIXING_DAY) <= through:
        days.append(date(y, m, FIXING_DAY))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return days


def lpr_paths(history: LprCurve, changes: list[tuple[date, int, int]], settings: MonteCarloSettings,
              through: date) -> tuple[list[date], np.ndarray, np.ndarray]:
    """Fixing dates and the 1Y and 5Y LPR of each path on them, in bp (paths x dates).

    The dates are the 20th of each month after the data, plus the scenario's change dates; a path
    moves once a month, and never below ``floor_pct`` unless the scenario's own path is lower.

    Examples
    --------
    >>> from subsidy_engine import load_lpr
    >>> days, one, five = lpr_paths(load_lpr(), [], MonteCarloSettings(paths=3, seed=1), date(2027, 6, 30))
    >>> days[0], len(days), one.shape, bool((one % 5 == 0).all())
    (datetime.date(2026, 6, 20), 13, (3, 13), True)
    """
    monthly = fixing_dates(history.coverage_end, through)
    # the scenario's change dates are fixings too, so that every path moves on the day the scenario does
    days = sorted(set(monthly) | {when for when, _, _ in changes if history.coverage_end < when <= through})
    grid = np.array(days, dtype="datetime64[D]")
    last = history.fixings[-1]
    base = np.array([[int(last.lpr_1y * 10_000)], [int(last.lpr_5y * 10_000)]], np.int64) + np.zeros(
        (2, len(days)), np.int64)
    for when, d1, d5 in changes:  # the scenario's own path
        since = np.searchsorted(grid, np.datetime64(when, "D"))
        base[0, since:] += d1
        base[1, since:] += d5
    rng = np.random.default_rng(settings.seed)
    moves = rng.normal(float(settings.monthly_drift_bp), float(settings.monthly_sigma_bp),
                       (settings.paths, len(monthly)))
    walk = np.cumsum(np.rint(moves / 5).astype(np.int64) * 5, axis=1)
    # on a change date between two publications, the walk stands where the last publication left it
    month = np.searchsorted(np.array(monthly, dtype="datetime64[D]"), grid, side="right") - 1
    walk = np.where(month >= 0, walk[:, np.maximum(month, 0)], 0) if len(days) else walk
    floor = int(settings.floor_pct * 100)
    # the floor bounds the random moves, not the scenario's own path
    return days, np.maximum(base[0] + walk, np.minimum(base[0], floor)), np.maximum(
        base[1] + walk, np.minimum(base[1], floor))


@dataclass(frozen=True)
class MonteCarlo:
    """What :func:`monte_carlo` returns. Amounts are int64 fen arrays; the tables show yuan as Decimals.

    Attributes
    ----------
    settings : MonteCarloSettings
    years : tuple of int
    source_ids : tuple of str
    awarded_fen : ndarray (paths, sources, years)
        What each source pays in each year, per path.
    exceeded : ndarray of bool (paths, sources, years)
        Whether the claims asking the source for that year's money asked for more than it had.
    lpr_5y_bp : ndarray (paths, years)
        The 5-year LPR of each path on the last fixing of each year (bp), to read the paths by.
    loans_repriced : int
        The floating loans recomputed in every path (the others do not depend on it).
    provenance : Provenance
    """

    settings: MonteCarloSettings
    years: tuple[int, ...]
    source_ids: tuple[str, ...]
    awarded_fen: np.ndarray
    exceeded: np.ndarray
    lpr_5y_bp: np.ndarray
    loans_repriced: int
    provenance: Provenance

    def outlay_by_year(self) -> pd.DataFrame:
        """Per year: the mean and the 5th, 50th and 95th percentiles of the total paid, and min and max.

        Percentiles are amounts of actual paths (the lower of two neighbours), so exact to the fen.
        """
        total = self.awarded_fen.sum(axis=1)  # (paths, years)
        rows = []
        for k, year in enumerate(self.years):
            values = np.sort(total[:, k])
            rows.append({"year": year, "mean": _mean(values),
                         **{f"p{q}": fen_to_yuan(int(np.quantile(values, q / 100, method="lower")))
                            for q in (5, 50, 95)},
                         "min": fen_to_yuan(int(values[0])), "max": fen_to_yuan(int(values[-1])),
                         "lpr_5y_p50_pct": Decimal(int(np.quantile(self.lpr_5y_bp[:, k], 0.5, method="lower"))) / 100})
        return pd.DataFrame(rows)

    def budget_at_risk(self) -> pd.DataFrame:
        """Per source and year: the probability that its cap is exceeded, and the 50th/95th percentile paid."""
        n_sources, n_years = len(self.source_ids), len(self.years)
        probability = self.exceeded.mean(axis=0)
        rows = []
        for s in range(n_sources):
            for k in range(n_years):
                paid = self.awarded_fen[:, s, k]
                rows.append({"source_id": self.source_ids[s], "year": self.years[k],
                             "p_cap_exceeded": round(float(probability[s, k]), 4),
                             "awarded_p50": fen_to_yuan(int(np.quantile(paid, 0.5, method="lower"))),
                             "awarded_p95": fen_to_yuan(int(np.quantile(paid, 0.95, method="lower")))})
        return pd.DataFrame(rows)


def _mean(values: np.ndarray) -> Decimal:
    return quantize_fen(fen_to_yuan(int(values.sum(dtype=np.int64))) / values.shape[0])


class _Prepared:
    """Everything that does not depend on the LPR path, computed once."""

    def __init__(self, tables: PortfolioTables, policy: Policy, years: tuple[int, ...],
                 rate_by_stage: dict[str, str] | None, budget: Budget, mode: Mode, curve: LprCurve) -> None:
        budget = budget.subsidy_part()  # the claims' sources, as allocate funds them
        self.policy, self.budget, self.mode = policy, budget, mode
        # what the full pipeline reads, for a path whose loans come out otherwise than the structure's (only a
        # prepayment can make one: without, the tables are not kept, nor sent to a cluster's workers)
        self.tables: PortfolioTables | None = tables
        self.years, self.rate_by_stage = years, rate_by_stage
        self.n_sources = len(budget.sources)
        ctx = build_context(tables, policy)
        loans = ctx.loans
        read = ctx.table_read("loans") if len(loans) else None
        sensitive = (_path_dependent(read, len(loans), policy, curve.history_end) if read is not None
                     else np.zeros(0, bool))
        rows = Rows()
        fixed, moving = np.flatnonzero(~sensitive), np.flatnonzero(sensitive)
        if fixed.shape[0]:
            assert read is not None
            add_loans(ctx, rows, loans.take(fixed).reset_index(drop=True), ctx.loan_project[fixed],
                       ctx.kept_rows["loans"][fixed], curve, read=read.subset(fixed))
        self.moving = loans.take(moving).reset_index(drop=True)
        self.moving_read = read.subset(moving) if read is not None else None
        later = _repriced_later(read, len(loans), curve.history_end) if read is not None else np.zeros(0, bool)
        # the lowest spread of a loan repriced after the data (its claims may not move, but a rate of zero or less
        # on a reset refuses the loan): what the paths' lowest LPR is checked against
        spreads = read.arrays.spread_units[later[read.positions]] // UNITS_A_BP if read is not None else []
        self.lowest_spread_bp = int(np.min(spreads)) if len(spreads) else 0
        start = sum(part["year"].shape[0] for part in rows.parts)
        self.window, self.dates_move = np.zeros(0, bool), False
        # loans whose refusal may depend on the path: (loans, their read, whether the structure's curve prices each)
        self.watched: tuple[pd.DataFrame, column_readers.Read, np.ndarray] | None = None
        watch = [np.zeros(0, np.int64)]  # positions in the loan table
        if fixed.shape[0]:  # a prepayment after the data is within the balance a path's rates leave, or not
            assert read is not None
            events = read.arrays.events_csr()
            prepaid_later = np.zeros(len(loans), bool)
            has = np.repeat(np.arange(len(read.arrays)), np.diff(events.ptr))[
                (events.amount < 0) & (events.day > epoch_days(curve.history_end))]
            prepaid_later[read.positions[has]] = True
            watch.append(np.flatnonzero(prepaid_later & later & ~sensitive))
        if moving.shape[0]:
            structure = add_loans(ctx, rows, self.moving, ctx.loan_project[moving], ctx.kept_rows["loans"][moving],
                                   curve, keep_window=True, read=self.moving_read)
            # a loan that cannot be priced at all (its resets run past the LPR horizon...) is rejected in
            # every path, as in evaluate: it leaves the loans that each path reprices
            rejected = structure.rejections["row"].to_numpy(dtype=np.int64)
            # one refused for a prepayment above its balance may have a balance that covers it on a path
            by_balance = np.unique(rejected[(structure.rejections["field"] == "loan").to_numpy()])
            watch.append(moving[by_balance])
            if rejected.shape[0]:
                priced = np.setdiff1d(np.arange(len(self.moving)), rejected)
                self.moving = self.moving.take(priced).reset_index(drop=True)
                assert self.moving_read is not None
                self.moving_read = self.moving_read.subset(priced)
            self._stop_at_the_window(structure, curve)
        watched = np.unique(np.concatenate(watch))
        if watched.shape[0]:
            assert read is not None
            frame, watched_read = loans.take(watched).reset_index(drop=True), read.subset(watched)
            priced = np.zeros(watched.shape[0], bool)
            priced[amortize_portfolio(frame, lpr=curve, output="yearly", read=watched_read).positions] = True
            self.watched = (frame, watched_read, priced)
        self.part = slice(start, sum(part["year"].shape[0] for part in rows.parts))
        if not self.dates_move and self.watched is None:
            self.tables = None
        add_other_instruments(ctx, rows, {}, rate_by_stage)
        if sum(part["year"].shape[0] for part in rows.parts) == 0:
            raise ValueError("the portfolio has no claims to simulate")
        self.stacking = stacking_of(rows, ctx.policy, ctx.project_arrays, ctx.n_projects)
        # a path changes the repriced loan-years' 貼息 only: 從優不重複 decided again for their projects alone
        self.favourable = FavourableAgain(self.stacking, np.arange(self.part.start, self.part.stop))
        self.order = shown_order(self.stacking, years)
        table, attributes, _ = claims_table(rows, ctx, self.stacking, stack(self.stacking, self.stacking.computed),
                                   self.order)
        frame = pd.concat([table, attributes[[c for c in ATTRIBUTE_COLUMNS]]], axis=1)
        self.claims = claims_for(frame, budget, mode)
        # who may pay, the tiers, the groups and the caps do not move with the LPR: read once, not each path
        self.rules = plan_rules(self.claims, budget, mode)
        # the allocation reads claims in its own order: each of its claims as a row of the stacking (where it is in
        # ``order``, then that row: one take a path, not two)
        found = pc.index_in(self.claims.claim_id, value_set=column_readers.arrow_text(table["claim_id"]))
        self.allocation_rows = self.order[np.asarray(found.to_numpy(zero_copy_only=False), np.int64)]
        self.digest = hashlib.sha256(f"{tables.digest}|{policy.digest}|{curve.digest}|{rate_by_stage}|"
                                     f"{budget.digest}|{mode}|{years}".encode()).hexdigest()

    def _stop_at_the_window(self, structure: ClaimRows, curve: LprCurve) -> None:
        """Ask each repriced loan for its periods up to its 貼息 window's end only: the rest of its schedule pays no
        貼息 on any path. On the structure's own curve, the stopped loans must pay what the whole schedules paid.
        Keeps which of their loan-years are claims (:attr:`window`), and whether a path can move them
        (:attr:`dates_move`)."""
        assert self.moving_read is not None
        arrays = self.moving_read.arrays
        stop = periods_through(arrays, subsidy_window(arrays.start_days(), self.policy)[1])
        self.moving_read = self.moving_read._replace(arrays=replace(arrays, stop_period=stop))
        stopped = interest_subsidy_rows(self.moving, self.policy, lpr=curve, window_rows=True, read=self.moving_read)
        window = np.asarray(stopped.internal["in_window"], bool)
        whole = np.asarray(structure.columns["amount"], np.int64)[structure.internal["in_window"]]
        if not np.array_equal(np.asarray(stopped.columns["amount"], np.int64)[window], whole):
            raise RuntimeError("a loan stopped at its 貼息 window's end pays another 貼息 than its whole schedule "
                               "(report this with the scenario)")
        self.window = window
        # which loan (of the repriced) and year each claim is, to hold each path's to them
        self.claim_loan = np.asarray(stopped.internal["loan_row"], np.int64)[window]
        self.claim_year = np.asarray(stopped.columns["year"], np.int64)[window]
        # a prepayment may end a loan, or shorten its term, by as much as the balance the rates left: then which of
        # its loan-years are claims is found on each path. Without one, the dates of every row are the contract's.
        self.dates_move = bool((self.moving_read.arrays.events_csr().amount < 0).any())

    @property
    def width(self) -> int:
        """The loan-years of the repriced loans: the claims each path recomputes."""
        return self.part.stop - self.part.start

    def rows_a_path(self) -> int:
        """The schedule rows a path may price: those of the loans it reprices, stopped at their windows' ends."""
        return int(row_capacity(self.moving_read.arrays).sum()) if self.moving_read is not None else 0

    def subsidies(self, paths: LprPaths, names: list[str]) -> tuple[np.ndarray, set[int]]:
        """The 貼息 of the repriced loan-years on each of ``paths`` (paths x :attr:`width`, fen), priced in one call:
        the loans are taken once a path, each on its own (``lpr_path``). ``names``: the paths' names.

        Also the paths (of ``paths``) whose loans come out otherwise than the structure's: a prepayment above the
        balance the path's rates left (refused, or no longer), or a loan ending on another date (so with other
        loan-years). Their rows of the 貼息 mean nothing: such a path is the full pipeline's (:meth:`full`).
        """
        assert self.moving_read is not None
        n, count = len(self.moving_read.arrays), paths.count
        copies, batch = _on_paths(self.moving, self.moving_read, count)
        subsidy = interest_subsidy_rows(copies, self.policy, lpr=paths, window_rows=self.dates_move, read=batch)
        otherwise = self._watched_priced(paths)
        refused = subsidy.rejections
        if len(refused):
            path_of = refused["row"].to_numpy(dtype=np.int64) // max(n, 1)
            by_rate = (refused["field"] != "loan").to_numpy()
            for p in np.unique(path_of[by_rate]).tolist():  # a rate no loan can have: the model's, named
                self._priced_alone(paths.curve(p, names[p]))
            otherwise |= set(np.unique(path_of).tolist())
        # each path's loan-years must be the structure's, loan by loan: without a prepayment, every loan-year's
        # dates are the contract's (read through the structure's mask); with one, those in the window, path by path
        amount = np.asarray(subsidy.columns["amount"], np.int64)
        row = np.asarray(subsidy.internal["loan_row"], np.int64)
        year = np.asarray(subsidy.columns["year"], np.int64)
        in_window = np.asarray(subsidy.internal["in_window"], bool) if self.dates_move else None
        ends = np.cumsum(np.bincount(row // max(n, 1), minlength=count))
        out = np.zeros((count, self.width), np.int64)
        for p in range(count):
            if p in otherwise:
                continue
            mine = slice(ends[p - 1] if p else 0, ends[p])
            if in_window is None:
                if mine.stop - mine.start != self.window.shape[0]:
                    raise RuntimeError("a path changed the loans' years: the path-independent rows are wrong "
                                       "(report this with the scenario)")
                out[p] = amount[mine][self.window]
                continue
            claims = in_window[mine]
            if int(claims.sum()) == self.width and np.array_equal(row[mine][claims] % max(n, 1), self.claim_loan) \
                    and np.array_equal(year[mine][claims], self.claim_year):
                out[p] = amount[mine][claims]
            else:
                otherwise.add(p)
        return out, otherwise

    def _watched_priced(self, paths: LprPaths) -> set[int]:
        """The paths of ``paths`` on which a loan whose prepayment comes after the data is priced where the
        structure's curve refused it, or refused where that curve priced it (a prepayment above the balance the
        path's rates left, or within it)."""
        if self.watched is None:
            return set()
        frame, read, expected = self.watched
        n = len(read.arrays)
        copies, batch = _on_paths(frame, read, paths.count)
        priced = np.zeros(paths.count * n, bool)
        priced[amortize_portfolio(copies, lpr=paths, output="yearly", read=batch).positions] = True
        return set(np.flatnonzero((priced.reshape(paths.count, n) != expected).any(axis=1)).tolist())

    def full(self, curve: LprCurve) -> tuple[np.ndarray, np.ndarray]:
        """Awarded (sources x years, fen) and whether each source-year's cap was exceeded, of the full pipeline on
        ``curve``: for a path whose loans come out otherwise than the structure's."""
        if self.tables is None:
            raise RuntimeError("a path's loans came out otherwise than the structure's, without a prepayment (report "
                               "this with the scenario)")
        allocation = allocate(evaluate(self.tables, self.policy, self.years, rate_by_stage=self.rate_by_stage,
                                       lpr=curve), self.budget, self.mode)
        by_source, shape = allocation.by_source, (self.n_sources, len(self.budget.years))
        awarded = np.array([yuan_to_fen(v) for v in by_source["awarded"]], np.int64).reshape(shape)
        return awarded, by_source["cap_exceeded"].to_numpy(dtype=bool).reshape(shape)

    def _priced_alone(self, curve: LprCurve) -> None:
        """Raise the error of a loan whose rate ``curve`` (one path) cannot give (not a prepayment's)."""
        refused = interest_subsidy_rows(self.moving, self.policy, lpr=curve, read=self.moving_read).rejections
        refused = refused[refused["field"] != "loan"]
        if len(refused):  # e.g. a rate of zero or less
            first = refused.iloc[0]
            raise ValueError(f"{curve.projection_label}: loan {first.loan_id}: {first.field} {first.reason} "
                             "(on this path only; raise monte_carlo.floor_pct if its rate went below zero)")

    def plan(self, subsidy: np.ndarray | None) -> Plan:
        """The allocation's plan of a path whose repriced loan-years' 貼息 is ``subsidy`` (:meth:`subsidies`;
        None: as the structure priced them): its stacking cuts, then the claims read against the budget."""
        computed = self.stacking.computed
        if subsidy is not None and self.width:
            computed = computed.copy()
            computed[self.part] = subsidy
        amount = stacked_total(self.stacking, computed, self.favourable)[self.allocation_rows]
        return build_plan(replace(self.claims, amount=amount), self.budget, self.mode, self.rules)


def _on_paths(loans: pd.DataFrame, read: column_readers.Read, count: int) -> tuple[pd.DataFrame, column_readers.Read]:
    """The loans ``read`` holds, taken once for each of ``count`` paths (path-major), each copy on its path
    (``lpr_path``) and a row of its own (its ``loan_id`` again), so that every row priced says its path."""
    n = len(read.arrays)
    copies = pd.DataFrame({"loan_id": loans["loan_id"].take(np.tile(read.positions, count)).to_numpy()})
    return copies, read._replace(arrays=replace(read.arrays.take(np.tile(np.arange(n), count)),
                                                lpr_path=np.repeat(np.arange(count), n)),
                                 positions=np.arange(count * n))


def _outcome(plan: Plan, records: Records) -> tuple[np.ndarray, np.ndarray]:
    """Awarded (sources x years, fen) and whether each source-year's cap was exceeded, of a funded plan."""
    return per_source_year(plan, records, records.award), source_years_exceeded(plan, records)


@dataclass(frozen=True)
class _Paths:
    """What pricing any path needs, sent once to each worker of a cluster."""

    prepared: _Prepared
    history: LprCurve
    days: tuple[date, ...]
    hold_until: date
    label: str
    year_index: tuple[int, ...]

    def price(self, first: int, one: np.ndarray, five: np.ndarray, progress: Callable[[int], None] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Awarded (paths, sources, years) and whether each cap was exceeded, of the paths ``first`` on whose 1Y
        and 5Y LPR (bp) on :attr:`days` are the rows of ``one`` and ``five``: priced in batches of
        :data:`ROWS_A_BATCH` schedule rows, then each path allocated."""
        prepared = self.prepared
        n_paths, n_sources, n_years = one.shape[0], prepared.n_sources, len(self.year_index)
        awarded = np.zeros((n_paths, n_sources, n_years), np.int64)
        exceeded = np.zeros((n_paths, n_sources, n_years), bool)
        columns = list(self.year_index)
        size = max(1, min(PATHS_A_BATCH, ROWS_A_BATCH // max(prepared.rows_a_path(), 1)))
        # the allocation kernel of each path on a thread of its own (it holds no lock), the next path's plan built
        # meanwhile; a batch's pricing (whose kernels run their own threads) waits for the batch before it
        threads = min(numba.get_num_threads(), n_paths)
        with ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext() as pool:
            for lo in range(0, n_paths, size):
                hi = min(lo + size, n_paths)
                subsidies: np.ndarray | None = None
                otherwise: set[int] = set()
                names = [f"{self.label} Monte Carlo path {first + k}" for k in range(lo, hi)]
                paths = LprPaths(self.history, self.days, one[lo:hi], five[lo:hi], coverage_end=self.hold_until,
                                 projection_label=f"{self.label} Monte Carlo paths {first + lo}-{first + hi - 1}")
                if prepared.width or prepared.watched is not None:
                    subsidies, otherwise = prepared.subsidies(paths, names)
                plans: list[Plan | None] = []
                funded: list[Future[Records] | None] = []
                for k in range(lo, hi):
                    plans.append(None if k - lo in otherwise else
                                 prepared.plan(None if subsidies is None else subsidies[k - lo]))
                    funded.append(pool.submit(run_plan, plans[-1]) if pool is not None and plans[-1] else None)
                for k, plan, future in zip(range(lo, hi), plans, funded):
                    if plan is None:  # its loans came out otherwise than the structure's
                        paid, over = prepared.full(paths.curve(k - lo, names[k - lo]))
                    else:
                        paid, over = _outcome(plan, future.result() if future is not None else run_plan(plan))
                    awarded[k], exceeded[k] = paid[:, columns], over[:, columns]
                    if progress is not None:
                        progress(k + 1)
        return awarded, exceeded


def _price_chunk(chunk: tuple[int, np.ndarray, np.ndarray], paths: _Paths) -> tuple[np.ndarray, np.ndarray]:
    """One task of a cluster: the paths of ``chunk`` (its first path's number, and their 1Y and 5Y LPR)."""
    first, one, five = chunk
    return paths.price(first, one, five)


def _repriced_later(read: column_readers.Read, n: int, history_end: date) -> np.ndarray:
    """Floating loans of the ``n`` loans ``read`` that run past the published LPR (due dates after it, so rates
    reset on the paths': a rate of zero or less, or a prepayment above the balance, refuses such a loan on a path)."""
    later = np.zeros(n, bool)
    arrays = read.arrays
    if arrays.is_floating.any():
        last_due = due_days(arrays.start_y, arrays.start_m, arrays.periods * arrays.months_per_period, arrays.due_day)
        later[read.positions] = arrays.is_floating & (last_due > epoch_days(history_end))
    return later


def _path_dependent(read: column_readers.Read, n: int, policy: Policy, history_end: date) -> np.ndarray:
    """Floating loans whose 貼息 window may reach past the published LPR (so its rates can change), of the
    ``n`` loans ``read`` (a rejected row is not path-dependent: no path prices it)."""
    sensitive = np.zeros(n, bool)
    floating = read.arrays.is_floating
    if floating.any():
        window_end = subsidy_window(read.arrays.start_days(), policy)[1]
        sensitive[read.positions] = floating & (window_end > epoch_days(history_end))
    return sensitive


def monte_carlo(tables: PortfolioTables, years: tuple[int, ...], *, policy: Policy, budget: Budget,
                history: LprCurve, changes: list[tuple[date, int, int]], settings: MonteCarloSettings,
                hold_until: date, rate_by_stage: dict[str, str] | None = None, mode: Mode = "waterfall",
                label: str = "baseline", progress: Callable[[int], None] | None = None,
                client: Client | None = None) -> MonteCarlo:
    """Evaluate and allocate ``tables`` under ``settings.paths`` random LPR paths.

    Parameters
    ----------
    tables, years, policy, budget, rate_by_stage, mode
        As for :func:`subsidy_engine.simulation.simulate.simulate` (the scenario's, when one is run).
    history : LprCurve
        The published LPR data (no projection): the paths start after it.
    changes : list of (date, 1Y bp, 5Y bp)
        The scenario's own LPR changes (:meth:`Scenario.shifts_bp`); the paths move around them.
    settings : MonteCarloSettings
    hold_until : date
        The last value of each path holds until this date.
    progress : callable, optional
        Called with the number of paths done after each path (on a cluster: after each chunk of paths).
    client : distributed.Client, optional
        Price the paths on this cluster's workers, in chunks (:mod:`subsidy_engine.simulation.cluster`); the
        results are the same to the fen.

    Returns
    -------
    MonteCarlo

    Notes
    -----
    Path ``p``'s LPR on fixing date ``m`` is ``max(min(floor, L0 + S[m]), L0 + S[m] + W[p, m])`` with
    ``W[p, m] = sum 5 round(e[p, j] / 5)`` over the monthly publications ``j`` up to ``m``,
    ``e ~ N(drift, sigma)``, ``L0`` the last published fixing and ``S`` the scenario's shifts.

    Examples
    --------
    >>> from subsidy_engine import load_budget, load_lpr, load_policy
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> mc = monte_carlo(portfolio(300, seed=5), (2026, 2027, 2028), policy=load_policy(), budget=load_budget(),
    ...                  history=load_lpr(), changes=[], settings=MonteCarloSettings(paths=20, seed=1),
    ...                  hold_until=date(2045, 12, 31))
    >>> mc.awarded_fen.shape, list(mc.outlay_by_year().columns[:4])
    ((20, 27, 3), ['year', 'mean', 'p5', 'p50'])
    """
    if mode not in ("waterfall", "merit"):
        raise ValueError(f"Monte Carlo runs the waterfall or merit mode, not {mode!r}: the optimal mode's "
                         "linear program takes seconds per path")
    if settings.paths < 1:
        raise ValueError("Monte Carlo needs at least one path")
    years = tuple(sorted(set(years)))
    outside = [y for y in years if y not in budget.years]
    if not years or outside:
        raise BudgetError(f"years {outside or '(none)'} are not within budget {budget.id}'s years "
                          f"{budget.years[0]}-{budget.years[-1]}")
    longest = max((s.parameters.interest_subsidy.max_years.value or 30) for s in policy.sets)
    # no rate after hold_until is asked for: loans that would need one are rejected, as in evaluate
    through = min(date(years[-1] + longest, 12, 31), hold_until)
    days, one, five = lpr_paths(history, changes, settings, through)
    flat = history.with_projection([], until=hold_until, label=f"{label} (Monte Carlo structure)")
    prepared = _Prepared(tables, policy, years, rate_by_stage, budget, mode, flat)
    floor_bp = int(settings.floor_pct * 100)
    lowest_bp = min(int(one.min()), int(five.min())) if one.size else floor_bp
    if floor_bp + prepared.lowest_spread_bp > 0 and lowest_bp + prepared.lowest_spread_bp <= 0:
        raise ValueError(f"the LPR paths go down to {Decimal(lowest_bp) / 100}% (the scenario's own path is below "
                         f"monte_carlo.floor_pct): with a floating loan's spread of {prepared.lowest_spread_bp} bp, "
                         "its rate would be zero or less on a reset; the full pipeline would refuse the loan on such a "
                         "path, which the paths cannot follow")
    if floor_bp + prepared.lowest_spread_bp <= 0:
        raise ValueError(f"monte_carlo.floor_pct {settings.floor_pct}% with a floating loan's spread of "
                         f"{prepared.lowest_spread_bp} bp gives a rate of zero or less: raise floor_pct above "
                         f"{Decimal(-prepared.lowest_spread_bp) / 100}%")
    year_index = [budget.years.index(y) for y in years]
    common = _Paths(prepared, history, tuple(days), hold_until, label, tuple(year_index))
    if client is None:
        awarded, exceeded = common.price(0, one, five, progress)
    else:
        from subsidy_engine.simulation.cluster import map_in_order, workers

        # a few chunks a worker: enough to balance them, few enough that each carries its share of the setup
        size = max(1, -(-settings.paths // (4 * workers(client))))
        starts = list(range(0, settings.paths, size))
        chunks = [(first, one[first:first + size], five[first:first + size]) for first in starts]
        priced = map_in_order(client, _price_chunk, chunks, common,
                              progress=None if progress is None else lambda k: progress(min(k * size, settings.paths)))
        awarded = np.concatenate([a for a, _ in priced])
        exceeded = np.concatenate([e for _, e in priced])
    last_fixing = [max((k for k, d in enumerate(days) if d.year <= y), default=-1) for y in years]
    lpr_5y = np.stack([five[:, k] if k >= 0 else np.full(settings.paths, int(history.fixings[-1].lpr_5y * 10_000))
                       for k in last_fixing], axis=1)
    model = f"{settings.model_dump_json()}|changes={changes}|hold_until={hold_until}"
    return MonteCarlo(settings, tuple(years), tuple(s.id for s in budget.subsidy_part().sources), awarded, exceeded,
                      lpr_5y,
                      len(prepared.moving),
                      Provenance.of(prepared.digest, model, scenario=f"{label}: Monte Carlo, {settings.paths} paths"))


__all__ = ["MonteCarlo", "fixing_dates", "lpr_paths", "monte_carlo"]

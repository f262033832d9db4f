"""The finance bureau's main job: what the policy costs per year, fund, measure and district.

:func:`simulate` evaluates a portfolio's claims over a horizon of calendar years
(:func:`subsidy_engine.evaluate`) and allocates them to the budget's funding
sources (:func:`subsidy_engine.allocate`); :func:`write_outputs` writes the
results to a folder:

* ``summary.json``: ``engine_version``, ``inputs_sha256`` (the portfolio, the
  parameter file, the LPR data and its projection, the rates, the budget and
  the mode), the horizon, the notes (of the claims and of the allocation: the
  optimal mode's time limit reached), and ``by_year_source`` rows
  ``year, source_id, claimed, awarded, cap`` (amounts as decimal strings);
* ``report.xlsx``: sheets ``summary`` (per year), ``by source``, ``by measure``,
  ``by district``, ``project detail`` (per project and year) and ``rejected rows``.

``claimed`` of a source is what its claims asked of it first: a part that one
source does not pay in full and passes to the next is counted once, at the
first source it asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from subsidy_engine.budgeting.allocation import TIME_LIMIT, Allocation, Mode, allocate
from subsidy_engine.core.columns import money_fen, money_series
from subsidy_engine.core.money import fen_to_yuan
from subsidy_engine.core.vocabulary import RULE_FLAGS
from subsidy_engine.errors import BudgetError
from subsidy_engine.io import column_readers
from subsidy_engine.params.budget import Budget, load_budget
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import Policy, load_policy
from subsidy_engine.pipeline.evaluate import Claims, evaluate
from subsidy_engine.pipeline.inputs import PortfolioTables, load_portfolio

if TYPE_CHECKING:
    from distributed import Client

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Simulation:
    """Claims and their allocation over ``years``, with the tables a bureau reads."""

    claims: Claims
    allocation: Allocation
    years: tuple[int, ...]
    label: str = "baseline"
    #: the government's investment charged to the budget's investment sources (None: the budget has none)
    investment: Allocation | None = None
    _by: dict[str, pd.DataFrame] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def inputs_sha256(self) -> str:
        """The claims' inputs, the budget file and the mode (the allocation's provenance)."""
        return self.allocation.provenance.parameters_sha256

    @cached_property
    def awards(self) -> pd.DataFrame:
        """The awards with each claim's district and sector (computed once; an award of no claim: blank)."""
        awards, claim_ids = self.allocation.awards, self.claims.table["claim_id"]
        # each award's claim by position (a claim's id is its own): a merge of 2.8M awards on their ids took 1.1 s
        at = pc.index_in(pa.array(awards["claim_id"].array, pa.string()),
                         value_set=pa.array(claim_ids.array, pa.string()))
        at = np.asarray(at.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
        attributes = self.claims.attributes
        return awards.assign(**{name: attributes[name].array.take(at, allow_fill=True)
                                for name in ("district", "sector")})

    @cached_property
    def government_investment(self) -> pd.DataFrame:
        """The government's direct investment and capital injection (measures 1 and 4), apart from every subsidy:
        ``year, source_id, measure, kind, amount`` per year, investment source (blank: charged to none, for want
        of an investment source or of its money), measure and kind."""
        rows = self.claims.government_investment
        keys = ["year", "source_id", "measure", "kind"]
        if rows.empty:
            return pd.DataFrame({"year": pd.Series(dtype=np.int64), "source_id": pd.Series(dtype=object),
                                 "measure": pd.Series(dtype=np.int64), "kind": pd.Series(dtype=object),
                                 "amount": money_series(np.zeros(0, np.int64))})
        fen = money_fen(rows.amount)
        claim_ids = _investment_claim_ids(rows)
        parts = []
        charged = np.zeros(len(rows), np.int64)
        if self.investment is not None:
            awards = self.investment.awards
            paid = awards[awards.source_id.notna()]
            at = pd.Index(claim_ids).get_indexer(pd.Index(paid.claim_id.astype(str)))
            by_source = money_fen(paid.awarded)
            np.add.at(charged, at, by_source)
            parts.append(pd.DataFrame({"year": rows.year.to_numpy()[at], "source_id": paid.source_id.astype(object)
                                       .to_numpy(), "measure": rows.measure.to_numpy()[at],
                                       "kind": rows.kind.to_numpy()[at], "fen": by_source}))
        parts.append(pd.DataFrame({"year": rows.year.to_numpy(), "source_id": None, "measure": rows.measure.to_numpy(),
                                   "kind": rows.kind.to_numpy(), "fen": fen - charged}))
        frame = pd.concat(parts, ignore_index=True)
        frame = frame[frame.fen > 0]
        totals = frame.groupby(keys, dropna=False, sort=True)["fen"].sum().reset_index()
        totals["source_id"] = totals.source_id.astype(object).where(totals.source_id.notna(), None)
        return totals.assign(amount=money_series(totals.fen.to_numpy(np.int64))).drop(columns="fen")

    def by_year_source(self) -> pd.DataFrame:
        """``year, source_id, claimed, awarded, cap`` (claimed: counted at the first source asked)."""
        return self._by_year_source.copy()

    @cached_property
    def _by_year_source(self) -> pd.DataFrame:
        awards = self.allocation.awards
        asked = awards[awards.source_id.notna()]
        first_ask = asked[_first_of_part(asked)]
        claimed = first_ask.groupby(["year", "source_id"], observed=True)["claimed"].sum()
        frame = self.allocation.by_source[["year", "source_id", "cap", "awarded"]].copy()
        keys = pd.MultiIndex.from_arrays([frame.year, frame.source_id])
        frame["claimed"] = claimed.reindex(keys, fill_value=ZERO).to_numpy()  # type: ignore[arg-type]  # pandas-stubs: a fill value is no Decimal (an object scalar)
        return frame[["year", "source_id", "claimed", "awarded", "cap"]].sort_values(
            ["year", "source_id"], kind="stable", ignore_index=True)

    def by_year(self) -> pd.DataFrame:
        """Per year: claimed (after evaluate's cuts), awarded, unfunded."""
        return self._by_year.copy()

    @cached_property
    def _by_year(self) -> pd.DataFrame:
        claimed = self.claims.table.groupby("year")["amount"].sum()
        awarded = self.allocation.awards.groupby("year")["awarded"].sum()
        frame = pd.DataFrame({"year": list(self.years)})
        frame["claimed"] = [claimed.get(y, ZERO) for y in self.years]
        frame["awarded"] = [awarded.get(y, ZERO) for y in self.years]
        frame["unfunded"] = frame.claimed - frame.awarded
        return frame

    def by(self, column: str) -> pd.DataFrame:
        """Per year and ``column`` (``measure``, ``district``...): claimed and awarded.

        A claim part passed from one source to the next counts once in ``claimed`` (awards are in
        the order the sources were asked, so its first row holds the whole part); ``(none)``
        stands for claims without the attribute (e.g. no project, so no district).
        """
        if column not in self._by:  # the report and the comparison both ask for it
            self._by[column] = self._by_column(column)
        return self._by[column].copy()

    def _by_column(self, column: str) -> pd.DataFrame:
        awards = self.awards
        if awards.empty:
            return pd.DataFrame({"year": pd.Series(dtype=np.int32), column: pd.Series(dtype=object),
                                 "claimed": pd.Series(dtype=object), "awarded": pd.Series(dtype=object)})
        key = awards[column]
        if not pd.api.types.is_integer_dtype(key):
            key = key.astype(object).where(key.notna(), "(none)").astype(str)
        frame = awards.assign(**{column: key})
        first = _first_of_part(frame)
        claimed = frame[first].groupby(["year", column], sort=True)["claimed"].sum()
        awarded = frame.groupby(["year", column], sort=True)["awarded"].sum()
        return pd.concat([claimed, awarded], axis=1).reset_index()[["year", column, "claimed", "awarded"]]


def _first_of_part(awards: pd.DataFrame) -> np.ndarray:
    """True on each claim part's first row of ``awards`` (an allocation's, or rows of it in their order): allocate
    writes them by claim, level, then source, so a part's rows are one run and its first row is where the run
    starts (``~duplicated(["claim_id", "level"])`` hashed 2.8M ids in 0.5 s)."""
    return column_readers.group_starts(pa.array(awards["claim_id"].array, pa.string()),
                                       np.asarray(pd.Categorical(awards["level"]).codes))


def simulate(portfolio: PortfolioTables | str | os.PathLike[str], years: range | tuple[int, ...], *,
             policy: Policy | None = None, budget: Budget | None = None, mode: Mode = "waterfall",
             lpr: LprCurve | None = None, rate_by_stage: dict[str, str] | None = None,
             label: str = "baseline", time_limit: float = TIME_LIMIT,
             calendar: BusinessCalendar | None = None, client: Client | None = None) -> Simulation:
    """Evaluate and allocate a portfolio over ``years``.

    ``client``: evaluate in partitions by enterprise on this Dask cluster's workers
    (:func:`subsidy_engine.simulation.partitions.evaluate_on`), then allocate here; the figures and hashes are those
    of one process.

    ``calendar``: the business days due dates move to (:func:`subsidy_engine.evaluate`).
    ``time_limit``: seconds the optimal mode's solver may take (:func:`subsidy_engine.allocate`; what it
    decides at the limit is in ``allocation.notes``).

    Examples
    --------
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> run = simulate(portfolio(300, seed=5), range(2026, 2031))
    >>> run.by_year_source().columns.tolist()
    ['year', 'source_id', 'claimed', 'awarded', 'cap']
    >>> bool((run.by_year_source().awarded <= run.by_year_source().cap).all())
    True
    """
    chosen = tuple(years)
    budget = budget or load_budget()
    outside = [y for y in chosen if y not in budget.years]
    if outside:
        raise BudgetError(f"years {outside} are beyond budget {budget.id}'s years {budget.years[0]}-"
                          f"{budget.years[-1]}: shorten the horizon or give a budget that covers it")
    if client is not None:
        from subsidy_engine.simulation.partitions import evaluate_on

        tables = portfolio if isinstance(portfolio, PortfolioTables) else load_portfolio(portfolio)
        claims = evaluate_on(client, tables, policy or load_policy(), chosen, rate_by_stage=rate_by_stage, lpr=lpr,
                             calendar=calendar)
    else:
        claims = evaluate(portfolio, policy or load_policy(), chosen, rate_by_stage=rate_by_stage, lpr=lpr,
                          calendar=calendar)
    allocation = allocate(claims, budget, mode, time_limit=time_limit)
    return Simulation(claims, allocation, chosen, label, charged_investment(claims, budget))


def _investment_claim_ids(rows: pd.DataFrame) -> pd.Series:
    """Each government investment row's id as the allocation of the investment budgets names it."""
    return "government_investment:" + rows.investment_id.astype(str)


def charged_investment(claims: Claims, budget: Budget) -> Allocation | None:
    """The government's investment (measures 1 and 4) charged to the budget's investment sources, in file order
    within their caps and eligibility (waterfall, earlier years and items first); None when the budget has no
    investment source or there is no investment. Never a claim: its sources pay no subsidy, and the subsidies'
    pay none of it."""
    invested = budget.investment_part()
    rows = claims.government_investment
    if invested is None or rows.empty:
        return None
    table = rows.assign(claim_id=_investment_claim_ids(rows))
    return allocate(table[["claim_id", "project_id", "enterprise_id", "measure", "year", "amount", "district",
                           "sector", *RULE_FLAGS]], invested, "waterfall")


def _money_frame(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Amount columns as plain Decimal objects (sums of several runs add without Arrow's fixed scale)."""
    return frame.astype({c: object for c in frame.columns if c not in keys})


def _side_by_side(base: pd.DataFrame, other: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """``base`` and ``other`` joined on ``keys``: ``baseline_<v>``, ``scenario_<v>`` (0.00 where absent),
    and ``delta_<v>`` for each value."""
    left = _money_frame(base[keys + values], keys).rename(columns={v: f"baseline_{v}" for v in values})
    right = _money_frame(other[keys + values], keys).rename(columns={v: f"scenario_{v}" for v in values})
    merged = left.merge(right, on=keys, how="outer", sort=True)
    for v in values:
        for side in ("baseline", "scenario"):
            column = merged[f"{side}_{v}"]
            merged[f"{side}_{v}"] = column.where(column.notna(), ZERO)
        merged[f"delta_{v}"] = merged[f"scenario_{v}"] - merged[f"baseline_{v}"]
    return merged.reset_index(drop=True)


@dataclass(frozen=True)
class Comparison:
    """A scenario against the baseline: the deltas per year, source, measure and district, and their drivers.

    Every ``delta_*`` is ``scenario - baseline``, exact.
    """

    baseline: Simulation
    scenario: Simulation

    def by_year(self) -> pd.DataFrame:
        """``year``, then ``baseline_/scenario_/delta_`` of ``claimed`` and ``awarded``."""
        return _side_by_side(self.baseline.by_year(), self.scenario.by_year(), ["year"], ["claimed", "awarded"])

    def by_year_source(self) -> pd.DataFrame:
        """``year, source_id``, then ``claimed``, ``awarded`` and ``cap`` of each run and their deltas."""
        base, other = [r.by_year_source().assign(source_id=lambda f: f.source_id.astype(str))
                       for r in (self.baseline, self.scenario)]
        return _side_by_side(base, other, ["year", "source_id"], ["claimed", "awarded", "cap"])

    def by(self, column: str) -> pd.DataFrame:
        """Per year and ``column`` (``measure``, ``district``...): claimed and awarded, each run and the deltas."""
        return _side_by_side(self.baseline.by(column), self.scenario.by(column), ["year", column],
                             ["claimed", "awarded"])

    def drivers(self, top: int = 20, *, existing_only: bool = False) -> pd.DataFrame:
        """The projects whose awards changed most (by the size of the change), over the horizon.

        ``existing_only`` leaves out the scenario's new projects (growth), to see what the
        other changes (rates, parameters, budget) do to the projects already in the portfolio.

        ``project_id`` (an item without a project: ``enterprise <id>``), ``enterprise_id``,
        ``district``, ``sector``, ``new`` (only in the scenario: growth), the awards of each run,
        ``delta_awarded`` and ``share_of_delta`` (of the total change; ties by id).
        """
        projects = self._per_project
        delta = projects.scenario_fen - projects.baseline_fen
        total = int(delta.sum())  # of every project, so that the shares compare across lists
        picked = projects.assign(delta=delta, size=delta.abs())
        if existing_only:
            picked = picked[~picked.new]
        picked = picked.sort_values(["size", "project_id"], ascending=[False, True], kind="stable").head(top)
        out = picked[["project_id", "enterprise_id", "district", "sector", "new"]].reset_index(drop=True)
        for name, column in (("baseline_awarded", "baseline_fen"), ("scenario_awarded", "scenario_fen"),
                             ("delta_awarded", "delta")):
            out[name] = [fen_to_yuan(int(v)) for v in picked[column]]  # type: ignore[assignment]  # pandas-stubs: no column of Decimals
        out["share_of_delta"] = [(Decimal(int(d)) / total).quantize(Decimal("0.0001")) if total else None  # type: ignore[assignment]  # pandas-stubs: no column of Decimals
                                 for d in picked.delta]
        return out

    @cached_property
    def _per_project(self) -> pd.DataFrame:
        """Per project (or enterprise, for items without one): awards of each run in fen, and who it is."""
        sides = []
        for run in (self.baseline, self.scenario):
            awards = run.awards
            key = item_key(awards)
            encoded = pc.dictionary_encode(key)
            codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
            fen = np.zeros(len(encoded.dictionary), np.int64)
            np.add.at(fen, codes, money_fen(awards.awarded))
            first = np.unique(codes, return_index=True)[1]
            sides.append(pd.DataFrame({"project_id": encoded.dictionary.to_numpy(zero_copy_only=False), "fen": fen,
                                       **{c: awards[c].astype(object).to_numpy()[first]
                                          for c in ("enterprise_id", "district", "sector")}}))
        base, other = sides
        merged = base.merge(other, on="project_id", how="outer", suffixes=("_b", "_s"))
        # new: a project (or enterprise) the baseline's portfolio does not have (the scenario's growth)
        tables = self.baseline.claims.portfolio
        known = [column_readers.arrow_text(tables.projects.project_id)] + [
            pc.binary_join_element_wise("enterprise ", column_readers.arrow_text(getattr(tables, name).enterprise_id), "")
            for name in ("projects", "insurance", "events", "awards") if "enterprise_id" in getattr(tables, name)]
        found = pc.is_in(pa.array(merged.project_id.to_numpy(dtype=object), pa.string()),
                         value_set=pc.drop_null(pa.concat_arrays([pc.cast(k, pa.string()) for k in known])))
        out = pd.DataFrame({"project_id": merged.project_id,
                            "baseline_fen": merged.fen_b.fillna(0).astype(np.int64),
                            "scenario_fen": merged.fen_s.fillna(0).astype(np.int64),
                            "new": ~np.asarray(found.to_numpy(zero_copy_only=False), bool)})
        for c in ("enterprise_id", "district", "sector"):
            out[c] = merged[f"{c}_s"].where(merged[f"{c}_s"].notna(), merged[f"{c}_b"])
        return out


def item_key(frame: pd.DataFrame) -> pa.Array:
    """Each row's project, or ``enterprise <id>`` for an item without one (Arrow text)."""
    project, enterprise = column_readers.arrow_text(frame.project_id), column_readers.arrow_text(frame.enterprise_id)
    return pc.if_else(pc.is_null(project), pc.binary_join_element_wise("enterprise ", enterprise, ""), project)


__all__ = ["Comparison", "Simulation", "item_key", "simulate"]

"""The finance bureau's main job: what the policy costs per year, fund, measure and district.

:func:`simulate` evaluates a portfolio's claims over a horizon of calendar years
(:func:`subsidy_engine.evaluate`) and allocates them to the budget's funding
sources (:func:`subsidy_engine.allocate`); :func:`write_outputs` writes the
results to a folder:

* ``summary.json``: ``engine_version``, ``inputs_sha256`` (the portfolio, the
  parameter file, the LPR data and its projection, the rates, the budget and
  the mode), the horizon, the notes, and ``by_year_source`` rows
  ``year, source_id, claimed, awarded, cap`` (amounts as decimal strings);
* ``report.xlsx``: sheets ``summary`` (per year), ``by source``, ``by measure``,
  ``by district``, ``project detail`` (per project and year) and ``rejected rows``.

``claimed`` of a source is what its claims asked of it first: a part that one
source does not pay in full and passes to the next is counted once, at the
first source it asked.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from decimal import Decimal
from pathlib import Path

import pandas as pd

from .allocation import Allocation, Mode, allocate
from .budget import Budget, BudgetError, load_budget
from .evaluate import Claims, evaluate
from .policy import Policy, load_policy
from .rates import LprCurve
from .tables import PortfolioTables

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Simulation:
    """Claims and their allocation over ``years``, with the tables a bureau reads."""

    claims: Claims
    allocation: Allocation
    years: tuple[int, ...]

    @property
    def inputs_sha256(self) -> str:
        """The claims' inputs, the budget file and the mode (the allocation's provenance)."""
        return self.allocation.provenance.parameters_sha256

    @cached_property
    def awards(self) -> pd.DataFrame:
        """The awards with each claim's district and sector (computed once)."""
        attributes = self.claims.attributes.assign(claim_id=self.claims.table.claim_id)[
            ["claim_id", "district", "sector"]]
        return self.allocation.awards.merge(attributes, on="claim_id", how="left")

    def by_year_source(self) -> pd.DataFrame:
        """``year, source_id, claimed, awarded, cap`` (claimed: counted at the first source asked)."""
        awards = self.allocation.awards
        first_ask = awards[awards.source_id.notna()].drop_duplicates(["claim_id", "level"], keep="first")
        claimed = first_ask.groupby(["year", "source_id"], observed=True)["claimed"].sum()
        frame = self.allocation.by_source[["year", "source_id", "cap", "awarded"]].copy()
        keys = pd.MultiIndex.from_arrays([frame.year, frame.source_id])
        frame["claimed"] = claimed.reindex(keys, fill_value=ZERO).to_numpy()
        return frame[["year", "source_id", "claimed", "awarded", "cap"]].sort_values(
            ["year", "source_id"], kind="stable", ignore_index=True)

    def by_year(self) -> pd.DataFrame:
        """Per year: claimed (after evaluate's cuts), awarded, unfunded."""
        claimed = self.claims.table.groupby("year")["amount"].sum()
        awarded = self.allocation.awards.groupby("year")["awarded"].sum()
        frame = pd.DataFrame({"year": list(self.years)})
        frame["claimed"] = [claimed.get(y, ZERO) for y in self.years]
        frame["awarded"] = [awarded.get(y, ZERO) for y in self.years]
        frame["unfunded"] = frame.claimed - frame.awarded
        return frame

    def by(self, column: str) -> pd.DataFrame:
        """Per year and ``column`` (``measure``, ``district``...): claimed parts and awarded."""
        return self.awards.assign(**{column: lambda f: f[column].astype(str)}).pivot_table(
            index=["year", column], values=["claimed", "awarded"], aggfunc="sum", observed=True).reset_index()[
            ["year", column, "claimed", "awarded"]]


def simulate(portfolio: PortfolioTables | str | os.PathLike[str], years: range | tuple[int, ...], *,
             policy: Policy | None = None, budget: Budget | None = None, mode: Mode = "waterfall",
             lpr: LprCurve | None = None, rate_by_stage: dict[str, str] | None = None) -> Simulation:
    """Evaluate and allocate a portfolio over ``years``.

    Examples
    --------
    >>> from subsidy_engine.demo import portfolio
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
    claims = evaluate(portfolio, policy or load_policy(), chosen, rate_by_stage=rate_by_stage, lpr=lpr)
    allocation = allocate(claims, budget, mode)
    return Simulation(claims, allocation, chosen)


def _text(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def write_outputs(run: Simulation, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``summary.json`` and ``report.xlsx`` to ``out``; return the paths written."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    claims, allocation = run.claims, run.allocation
    summary = {
        "engine_version": allocation.provenance.engine_version,
        "inputs_sha256": run.inputs_sha256,
        "portfolio": claims.portfolio.source,
        "budget": {"id": allocation.budget.id, "path": allocation.budget.path, "status": allocation.budget.file.status},
        "mode": allocation.mode,
        "years": list(run.years),
        "lpr_projection": claims.provenance.scenario,
        "notes": list(claims.notes),
        "rejected_rows": int(len(claims.rejections)),
        "by_year": [{k: _text(v) for k, v in row.items()} for row in run.by_year().to_dict("records")],
        "by_year_source": [{k: _text(v) for k, v in row.items()} for row in run.by_year_source().to_dict("records")],
    }
    paths = [folder / "summary.json", folder / "report.xlsx"]
    paths[0].write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    detail = claims.table.groupby(["project_id", "year"])[["gross", "amount"]].sum().reset_index().merge(
        allocation.awards.groupby(["project_id", "year"])["awarded"].sum().reset_index(),
        on=["project_id", "year"], how="left")
    sheets = {"summary": run.by_year(), "by source": allocation.by_source, "by measure": run.by("measure"),
              "by district": run.by("district"), "project detail": detail, "rejected rows": claims.rejections}
    with pd.ExcelWriter(paths[1], engine="openpyxl") as book:
        for name, frame in sheets.items():
            # Decimal objects: openpyxl writes their exact digits as the cell's number
            frame.astype({c: object for c in frame.columns}).to_excel(book, sheet_name=name, index=False)
    return paths


__all__ = ["Simulation", "simulate", "write_outputs"]

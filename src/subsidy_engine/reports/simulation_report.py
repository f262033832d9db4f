"""A simulation's outputs, written whole or not at all: ``summary.json``, ``report.xlsx``, charts.

:func:`write_outputs` takes what :func:`subsidy_engine.simulation.simulate.simulate`
returns (and a comparison, Monte Carlo and the scenario, when run) and writes
the folder through :class:`~subsidy_engine.reports.outputs.OutputFolder`.
"""


from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Hashable

import pandas as pd
import pyarrow as pa

from subsidy_engine.reports.outputs import OutputFolder, write_csv
from subsidy_engine.reports.xlsx import write_xlsx

if TYPE_CHECKING:
    from subsidy_engine.simulation.montecarlo import MonteCarlo
    from subsidy_engine.simulation.scenario import Scenario
from subsidy_engine.reports.charts import outlay_chart, risk_chart
from subsidy_engine.simulation.montecarlo import MonteCarlo
from subsidy_engine.simulation.scenario import Scenario
from subsidy_engine.simulation.simulate import Comparison, Simulation, item_key


def _text(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _records(frame: pd.DataFrame) -> list[dict[Hashable, object]]:
    """Rows for JSON: amounts as decimal strings, numpy scalars as Python ones."""
    return [{k: _text(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def write_outputs(run: Simulation, out: str | os.PathLike[str], *, comparison: Comparison | None = None,
                  monte_carlo: MonteCarlo | None = None, scenario: Scenario | None = None,
                  charts: bool = True) -> list[Path]:
    """Write ``summary.json``, ``report.xlsx`` and the PNG charts to ``out``; return the paths written.

    ``run`` is the baseline. With ``comparison`` (and its ``scenario``), the scenario's results and the
    deltas are added; with ``monte_carlo``, the outlay distribution and the budget at risk.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    claims, allocation = run.claims, run.allocation
    summary: dict[str, object] = {
        "engine_version": allocation.provenance.engine_version,
        "inputs_sha256": run.inputs_sha256,
        "portfolio": claims.portfolio.source,
        "budget": {"id": allocation.budget.id, "path": allocation.budget.path, "status": allocation.budget.file.status},
        "mode": allocation.mode,
        "years": list(run.years),
        "lpr_projection": claims.provenance.scenario,
        "notes": [*claims.notes, *allocation.notes],
        "rejected_rows": int(len(claims.rejections)),
        "by_year": _records(run.by_year()),
        "by_year_source": _records(run.by_year_source()),
    }
    # every assumption the figures rest on (a projected LPR, an open-ended parameter file, a solver's time
    # limit), in the report as in summary.json: a reader of the workbook alone sees them too
    notes = pd.DataFrame({"run": run.label, "note": summary["notes"]}, columns=["run", "note"])
    sheets = {"summary": run.by_year(), "notes": notes, "by source": allocation.by_source, "by measure": run.by("measure"),
              "by district": run.by("district"), "project detail": _project_detail(run),
              "rejected rows": claims.rejections}
    if comparison is not None:
        other = comparison.scenario
        summary["scenario"] = {
            "id": other.label, "path": scenario.path if scenario else None,
            "sha256": scenario.digest if scenario else None,
            "description": scenario.file.description if scenario else "",
            "inputs_sha256": other.inputs_sha256, "portfolio": other.claims.portfolio.source,
            "budget": other.allocation.budget.path, "lpr_projection": other.claims.provenance.scenario,
            "rejected_rows": int(len(other.claims.rejections)),
            "notes": list(other.allocation.notes),
            "by_year_source": _records(other.by_year_source()),
            "deltas_by_year": _records(comparison.by_year()),
            "drivers": _records(comparison.drivers(20)),
            "drivers_existing_projects": _records(comparison.drivers(20, existing_only=True)),
        }
        sheets["notes"] = pd.concat([notes, pd.DataFrame({"run": other.label, "note": [
            *other.claims.notes, *other.allocation.notes]}, columns=["run", "note"])], ignore_index=True)
        sheets |= {"scenario summary": comparison.by_year(), "scenario by source": comparison.by_year_source(),
                   "scenario by measure": comparison.by("measure"),
                   "scenario by district": comparison.by("district"),
                   "scenario drivers": pd.concat([comparison.drivers(20).assign(list="all projects"),
                                                  comparison.drivers(20, existing_only=True).assign(
                                                      list="existing projects")], ignore_index=True),
                   "scenario rejected rows": other.claims.rejections}
    if monte_carlo is not None:
        risk = monte_carlo.budget_at_risk()
        summary["monte_carlo"] = {
            "run": monte_carlo.provenance.scenario, "inputs_sha256": monte_carlo.provenance.parameters_sha256,
            "model": "monthly LPR moves N(drift, sigma) bp rounded to 5 bp, both tenors alike, floored "
                     "(status inferred)",
            "settings": monte_carlo.settings.model_dump(mode="json"),
            "loans_repriced_per_path": monte_carlo.loans_repriced,
            "outlay_by_year": _records(monte_carlo.outlay_by_year()),
            "budget_at_risk": _records(risk[risk.p_cap_exceeded > 0]),
        }
        sheets |= {"monte carlo outlay": monte_carlo.outlay_by_year(), "budget at risk": risk}
    # written whole or not at all, one run at a time (outputs.OutputFolder): a killed run leaves the last
    # complete set
    with OutputFolder(folder) as output:
        output.path("summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
        write_xlsx(output.path("report.xlsx"), sheets)  # amounts as their exact decimal digits
        if len(claims.rejections):
            write_csv(claims.rejections, output.path("rejected_rows.csv"))
        if charts:
            outlay_chart(run, output.path("outlay_by_year_source.png"), comparison=comparison,
                         monte_carlo=monte_carlo)
            if monte_carlo is not None:
                risk_chart(monte_carlo, output.path("budget_at_risk.png"))
        names = list(output.names)
    return [folder / name for name in names]


def _project_detail(run: Simulation) -> pd.DataFrame:
    """Per project and year: gross and claimed (after evaluate's cuts), awarded."""
    def keyed(frame: pd.DataFrame) -> pd.DataFrame:  # an item without a project: its enterprise
        return frame.assign(project_id=pd.Series(item_key(frame), dtype=pd.ArrowDtype(pa.string())))

    claims, allocation = run.claims, run.allocation
    return keyed(claims.table).groupby(["project_id", "year"])[["gross", "amount"]].sum().reset_index().merge(
        keyed(allocation.awards).groupby(["project_id", "year"])["awarded"].sum().reset_index(),
        on=["project_id", "year"], how="left").rename(columns={"amount": "claimed"})


__all__ = ["write_outputs"]

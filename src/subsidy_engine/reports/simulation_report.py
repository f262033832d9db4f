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
from typing import Hashable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from subsidy_engine.core.language import Lang, column_kind
from subsidy_engine.reports.charts import caps_chart, outlay_chart, risk_chart, sweep_chart
from subsidy_engine.reports.outputs import OutputFolder, write_csv
from subsidy_engine.reports.workbook import (
    report_tables,
    rows_rejected,
    source_names,
    with_cover,
    written_apart,
)
from subsidy_engine.reports.xlsx import rows_a_sheet_holds, write_xlsx
from subsidy_engine.simulation.montecarlo import MonteCarlo
from subsidy_engine.simulation.scenario import Scenario
from subsidy_engine.simulation.simulate import Comparison, Simulation
from subsidy_engine.simulation.sweep import Sweep

#: Where ``write_outputs`` puts the per-project detail (``simulate --detail``).
DETAIL_CHOICES = ("auto", "xlsx", "parquet", "csv")


def _text(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _records(frame: pd.DataFrame) -> list[dict[Hashable, object]]:
    """Rows for JSON: amounts as decimal strings, numpy scalars as Python ones."""
    return [{k: _text(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def write_outputs(run: Simulation, out: str | os.PathLike[str], *, comparison: Comparison | None = None,
                  monte_carlo: MonteCarlo | None = None, scenario: Scenario | None = None,
                  charts: bool = True, lang: Lang | str = "zh", detail: str = "auto",
                  sweep: Sweep | None = None) -> list[Path]:
    """Write ``summary.json``, ``report.xlsx`` and the PNG charts to ``out``; return the paths written.

    ``run`` is the baseline. With ``comparison`` (and its ``scenario``), the scenario's results and the
    deltas are added; with ``monte_carlo``, the outlay distribution and the budget at risk; with ``sweep``, a
    row per scenario of the grid (``sweep`` in ``summary.json``, three sheets and ``sweep.png``).

    ``detail``: where the per-project detail goes: ``auto`` (its sheet when it fits, else
    ``project_detail.parquet``), ``xlsx`` (its sheet, an error when longer than a sheet), ``parquet`` or
    ``csv``. Any other table longer than a sheet goes to its own Parquet file (``unfunded.parquet``,
    ``rejected_rows.parquet``...). A table written apart keeps its column ids and exact decimals; its sheet and
    the cover say where it went, and ``summary.json``'s ``tables_apart`` lists it.
    """
    if detail not in DETAIL_CHOICES:
        raise ValueError(f"detail {detail!r} is not one of {', '.join(map(repr, DETAIL_CHOICES))}")
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
        "rejected_rows": rows_rejected(claims),
        "by_year": _records(run.by_year()),
        "by_year_source": _records(run.by_year_source()),
        # measures 1 and 4: never in a subsidy total; source_id null: charged to no investment budget
        "government_investment": _records(run.government_investment),
    }
    if comparison is not None:
        other = comparison.scenario
        summary["scenario"] = {
            "id": other.label, "path": scenario.path if scenario else None,
            "sha256": scenario.digest if scenario else None,
            "description": scenario.file.description if scenario else "",
            "inputs_sha256": other.inputs_sha256, "portfolio": other.claims.portfolio.source,
            "budget": other.allocation.budget.path, "lpr_projection": other.claims.provenance.scenario,
            "rejected_rows": rows_rejected(other.claims),
            "notes": list(other.allocation.notes),
            "by_year_source": _records(other.by_year_source()),
            "government_investment": _records(other.government_investment),
            "deltas_by_year": _records(comparison.by_year()),
            "drivers": _records(comparison.drivers(20)),
            "drivers_existing_projects": _records(comparison.drivers(20, existing_only=True)),
        }
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
    if sweep is not None:
        scenarios = sweep.scenarios()
        scenarios["inputs_sha256"] = [r.inputs_sha256 for r in sweep.results]
        scenarios["lpr_projection"] = pd.Series([r.lpr_projection for r in sweep.results], dtype=object)
        summary["sweep"] = {
            "id": sweep.spec.id, "path": sweep.spec.path, "sha256": sweep.spec.digest,
            "description": sweep.spec.file.description, "inputs_sha256": sweep.provenance.parameters_sha256,
            "axes": sweep.spec.axes(),
            "monte_carlo": (sweep.monte_carlo.model_dump(mode="json") if sweep.monte_carlo is not None else None),
            "scenarios": _records(scenarios),
            "by_year": _records(sweep.by_year()),
            "by_year_source": _records(sweep.by_year_source()),
        }
    # written whole or not at all, one run at a time (outputs.OutputFolder): a killed run leaves the last
    # complete set
    with OutputFolder(folder) as output:
        tables = report_tables(run, comparison=comparison, monte_carlo=monte_carlo, lang=lang, sweep=sweep)
        apart, files = {}, {}
        for key, sheet in tables.items():  # a table too long for its sheet (or the detail asked apart): a file
            frame, limit = sheet.frame, rows_a_sheet_holds(sheet)
            too_long = len(frame) > limit
            if too_long and key == "project_detail" and detail == "xlsx":
                raise ValueError(f"the project detail has {len(frame):,} rows, more than a sheet holds ({limit:,}): "
                                 "--detail auto, parquet or csv writes it to a file of its own")
            if not too_long and not (key == "project_detail" and detail in ("parquet", "csv")):
                continue
            if key == "project_detail" and detail == "csv":
                files[key] = write_csv(frame, output.path(f"{key}.csv")).name
            else:
                files[key] = _write_parquet(frame, output.path(f"{key}.parquet")).name
            apart[key] = written_apart(files[key], len(frame), lang, limit if too_long else None)
        summary["tables_apart"] = files
        output.path("summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
        sheets = with_cover(tables, run, comparison=comparison, monte_carlo=monte_carlo, scenario=scenario,
                            lang=lang, apart=apart, sweep=sweep)
        write_xlsx(output.path("report.xlsx"), sheets)  # amounts as their exact decimal digits
        if len(claims.rejections):
            write_csv(claims.rejections, output.path("rejected_rows.csv"))
        if charts:
            outlay_chart(run, output.path("outlay_by_year_source.png"), comparison=comparison,
                         monte_carlo=monte_carlo, lang=lang)
            caps_chart(run, output.path("caps_by_source.png"), lang=lang)
            if sweep is not None:
                sweep_chart(sweep, output.path("sweep.png"), lang=lang)
            if monte_carlo is not None:
                risk_chart(monte_carlo, output.path("budget_at_risk.png"), lang=lang,
                           names_of=source_names(run.allocation.budget, lang))
        names = list(output.names)
    return [folder / name for name in names]


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as Parquet at ``path`` (the caller's staging path): its amounts as exact decimals, and a column
    of text as text whatever it holds (a column of names with none in it is not a column of numbers)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for k, column in enumerate(frame.columns):
        values = frame[column]
        # a yes/no column is words by now (with_names: 是/否, yes/no)
        text = column_kind(str(column)) in ("text", "long_text", "boolean") or (
            values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"))
        kind = table.schema.field(k).type
        if text and not pa.types.is_string(kind):
            texts = (table.column(k).cast(pa.string()) if pa.types.is_large_string(kind) or pa.types.is_null(kind)
                     else pa.array([v if isinstance(v, str) else None for v in values], pa.string()))
            table = table.set_column(k, str(column), texts)
    pq.write_table(table, path)
    return path


__all__ = ["DETAIL_CHOICES", "write_outputs"]

"""PNG charts of a simulation: outlay by year and funding source, with the scenario and its band.

The amounts are exact Decimals everywhere else; a chart converts them to
floats only to draw them (100 million yuan, 亿, on the axis). Labels are in
English so that the charts render without a CJK font.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from subsidy_engine.simulation.montecarlo import MonteCarlo
    from subsidy_engine.simulation.simulate import Comparison, Simulation

YI = 1e8  # yuan per 亿
GROUPS = (("gaojingjian_fund", "Gaojingjian fund (high-end industry)", "#1f4e79"),
          ("sector_budget", "Sector budgets", "#7fa7d6"),
          ("district_matching", "District matching", "#f0a35e"),
          (None, "Other sources", "#9e9e9e"))  # a budget's sources of other names


def _by_group(run: Simulation) -> np.ndarray:
    """Awarded per source group (rows) and year (columns), in 亿."""
    frame = run.by_year_source()
    kind = frame.source_id.astype(str).str.split(":").str[0]
    named = kind.isin([prefix for prefix, _, _ in GROUPS if prefix is not None])
    out = np.zeros((len(GROUPS), len(run.years)))
    for g, (prefix, _, _) in enumerate(GROUPS):
        picked = frame[kind == prefix] if prefix is not None else frame[~named]
        for k, year in enumerate(run.years):
            out[g, k] = float(sum(picked.awarded[picked.year == year])) / YI
    return out


def outlay_chart(baseline: Simulation, path: Path, *, comparison: Comparison | None = None,
                 monte_carlo: MonteCarlo | None = None) -> Path:
    """Stacked bars of the outlay by year and source group; the scenario beside them; the Monte Carlo
    band (5th to 95th percentile of the yearly total, and its median) over the run it was drawn for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    years = np.array(baseline.years)
    runs: list[tuple[Simulation, str, str | None]] = [(baseline, "baseline", None)]  # run, label, hatch
    if comparison is not None:
        runs.append((comparison.scenario, f"scenario {comparison.scenario.label}", "//"))
    width = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(10, 5.6), dpi=120)
    for r, (run, _, hatch) in enumerate(runs):
        x = years - 0.4 + width * (r + 0.5)
        bottom = np.zeros(len(years))
        groups = _by_group(run)
        for g, (_, label, colour) in enumerate(GROUPS):
            values = groups[g]
            if GROUPS[g][0] is None and not values.any():
                continue
            ax.bar(x, values, width * 0.95, bottom=bottom, color=colour, hatch=hatch, edgecolor="white",
                   label=label if r == 0 else None)
            bottom += values
        for xi, total in zip(x, bottom):
            ax.annotate(f"{total:,.1f}", (xi, total), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    if monte_carlo is not None:
        table = monte_carlo.outlay_by_year()
        x = years - 0.4 + width * (len(runs) - 0.5)
        low, mid, high = (np.array([float(v) / YI for v in table[c]]) for c in ("p5", "p50", "p95"))
        ax.fill_between(x, low, high, color="#c0392b", alpha=0.18, step=None,
                        label=f"{runs[-1][1]}: 5-95% over {monte_carlo.settings.paths:,} random LPR paths")
        ax.plot(x, mid, color="#c0392b", marker="o", linewidth=1.5, label=f"{runs[-1][1]}: median path")
        ax.errorbar(x, mid, yerr=[mid - low, high - mid], fmt="none", ecolor="#c0392b", capsize=4)
    ax.set_xticks(years, [str(y) for y in years])
    ax.set_xlabel("calendar year")
    ax.set_ylabel("awarded (100 million yuan)")
    budget = baseline.allocation.budget
    ax.set_title(f"Outlay by year and funding source: budget {budget.id} ({budget.file.status}), "
                 f"mode {baseline.allocation.mode}", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if len(runs) > 1:
        from matplotlib.patches import Patch

        handles += [Patch(facecolor="white", edgecolor="grey"), Patch(facecolor="white", edgecolor="grey", hatch="//")]
        labels += ["plain bars: baseline", f"hatched bars: {runs[1][1]}"]
    ax.legend(handles, labels, fontsize=8, loc="upper right", ncol=2)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
    fig.text(0.01, 0.01, f"engine {baseline.allocation.provenance.engine_version}; inputs sha256 "
                         f"{baseline.inputs_sha256[:16]}; parameters are illustrative (official-analog or inferred)",
             fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path


def risk_chart(monte_carlo: MonteCarlo, path: Path, top: int = 20) -> Path:
    """A heat map of the probability that each source's cap is exceeded, per year (the riskiest sources)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probability = monte_carlo.exceeded.mean(axis=0)  # (sources, years)
    order = np.lexsort((np.arange(probability.shape[0]), -probability.mean(axis=1)))[:top]
    shown = probability[order]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.8), dpi=120)
    image = ax.imshow(shown, cmap="Reds", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(monte_carlo.years)), [str(y) for y in monte_carlo.years])
    ax.set_yticks(range(len(order)), [monte_carlo.source_ids[k] for k in order], fontsize=8)
    for i in range(shown.shape[0]):
        for j in range(shown.shape[1]):
            ax.text(j, i, f"{shown[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > 0.6 else "black")
    ax.set_title(f"Budget at risk: probability that claims exceed a source's money\n"
                 f"({monte_carlo.settings.paths:,} LPR paths; the {len(order)} riskiest sources)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, label="probability")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ["outlay_chart", "risk_chart"]

"""PNG charts of a simulation, in Simplified Chinese by default (English with ``lang="en"``).

* :func:`outlay_chart`: the outlay by year, stacked by group of funding sources, with the money available
  (caps plus carry-over) of each year, the scenario beside it and the Monte Carlo band;
* :func:`caps_chart`: each funding source's awards over the horizon against its caps, and what was claimed;
* :func:`risk_chart`: the probability that each source's money runs short, per year.

The amounts are exact Decimals everywhere else; a chart converts them to floats only to draw them. Each chart's
unit is chosen from its largest amount (:func:`unit_for`: 亿元 from 1亿, 万元 from 1万, else 元), and a label
too small to show in it is written in its own unit (:func:`amount_label`), so no amount that is not zero reads 0.
Sources are named as the report names them (:func:`subsidy_engine.core.language.source_name`).

The text is drawn with the font the package carries, ``fonts/NotoSansCJKsc-Regular-GB2312.otf`` (a subset of
Noto Sans CJK SC, SIL Open Font License 1.1, made by ``scripts/subset_cjk_font.py``); no system font is assumed.
A character outside it falls back to matplotlib's DejaVu Sans.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from subsidy_engine.core.chinese import to_simplified
from subsidy_engine.core.language import DEFAULT_LANG, Lang, name, source_name, text
from subsidy_engine.errors import needs_extra

if TYPE_CHECKING:
    from subsidy_engine.simulation.montecarlo import MonteCarlo
    from subsidy_engine.simulation.simulate import Comparison, Simulation
    from subsidy_engine.simulation.sweep import Sweep

FONT_FILE = "NotoSansCJKsc-Regular-GB2312.otf"
#: Units of money on a chart, largest first: (vocabulary key, yuan per unit).
UNITS = (("yi", 100_000_000), ("wan", 10_000), ("yuan", 1))
#: Source groups of the outlay chart (by the kind before a source id's colon), with their colours.
GROUPS = (("gaojingjian_fund", "#1f4e79"), ("sector_budget", "#7fa7d6"), ("district_matching", "#f0a35e"),
          ("other", "#9e9e9e"))  # a budget's sources of other names


def can_draw() -> bool:
    """Whether the charts can be drawn here: matplotlib (the ``reports`` extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


@functools.lru_cache(maxsize=1)
def font_family() -> str:
    """The family name of the packaged CJK font, registered with matplotlib once."""
    with needs_extra("reports", "the charts need matplotlib"):
        from matplotlib import font_manager

    path = str(resources.files("subsidy_engine.reports").joinpath("fonts", FONT_FILE))
    font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def _pyplot() -> Any:
    with needs_extra("reports", "the charts need matplotlib"):
        import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _style() -> dict[str, object]:
    """matplotlib settings for a chart (in a ``rc_context``: the caller's own settings are left alone)."""
    return {"font.family": [font_family(), "DejaVu Sans"], "axes.unicode_minus": False}


def unit_for(largest_yuan: float) -> tuple[str, int]:
    """The unit an axis whose largest amount is ``largest_yuan`` is drawn in: (vocabulary key, yuan per unit).

    >>> unit_for(5_963_986_609.19), unit_for(1_867_708.33), unit_for(950)
    (('yi', 100000000), ('wan', 10000), ('yuan', 1))
    """
    return next(((key, size) for key, size in UNITS if abs(largest_yuan) >= size), UNITS[-1])


def amount_label(yuan: float, unit: tuple[str, int], lang: Lang | str = DEFAULT_LANG) -> str:
    """A bar's label in the chart's ``unit``: one decimal; an amount that would read 0.0 there (but is not 0)
    in its own unit, named (in English: in yuan).

    >>> amount_label(5_963_986_609.19, ("yi", 10**8)), amount_label(1_867_708.33, ("yi", 10**8))
    ('59.6', '186.8万元')
    >>> amount_label(0.0, ("yi", 10**8)), amount_label(1_867_708.33, ("yi", 10**8), "en")
    ('0', '1,867,708 yuan')
    >>> amount_label(0.01, ("wan", 10**4)), amount_label(0.01, ("wan", 10**4), "en")
    ('0.01元', '0.01 yuan')
    """
    if yuan == 0:
        return "0"
    shown = yuan / unit[1]
    if abs(shown) >= 0.05:
        return f"{shown:,.1f}"
    if Lang.parse(lang) is Lang.EN:  # 万 has no English word: the yuan themselves
        return f"{yuan:,.{0 if abs(yuan) >= 1 else 2}f} {name('units', 'yuan', lang)}"
    own = unit_for(yuan)
    return f"{yuan / own[1]:,.{2 if own[0] == 'yuan' else 1}f}{name('units', own[0], lang)}"


def _group_of(source_id: str) -> str:
    kind = source_id.split(":", 1)[0]
    return kind if kind in {g for g, _ in GROUPS} else "other"


def _yuan(values: Any) -> np.ndarray:
    return np.array([float(Decimal(v)) for v in values], dtype=np.float64)


def _by_group(run: Simulation) -> np.ndarray:
    """Awarded per source group (rows, :data:`GROUPS`) and year (columns), in yuan."""
    frame = run.by_year_source()
    group = np.array([_group_of(str(s)) for s in frame.source_id])
    year = frame.year.to_numpy()
    awarded = _yuan(frame.awarded)
    out = np.zeros((len(GROUPS), len(run.years)))
    for g, (key, _) in enumerate(GROUPS):
        for k, y in enumerate(run.years):
            out[g, k] = awarded[(group == key) & (year == y)].sum()
    return out


def _investment_by_year(run: Simulation) -> np.ndarray:
    """The government's investment (measures 1 and 4) per year of the run, in yuan, charged or not."""
    invested = run.government_investment
    by_year: dict[int, Decimal] = {}
    for year, amount in zip(invested.year.tolist(), invested.amount.tolist()):
        by_year[year] = by_year.get(year, Decimal(0)) + amount
    return np.array([float(by_year.get(y, Decimal(0))) for y in run.years])


def _available_by_year(run: Simulation) -> np.ndarray:
    """The money every source had each year (its cap plus what it carried in), in yuan."""
    by_source = run.allocation.by_source
    year, available = by_source.year.to_numpy(), _yuan(by_source.available)
    return np.array([available[year == y].sum() for y in run.years])


def outlay_chart(baseline: Simulation, path: Path, *, comparison: Comparison | None = None,
                 monte_carlo: MonteCarlo | None = None, lang: Lang | str = DEFAULT_LANG) -> Path:
    """Stacked bars of the outlay by year and source group; the money available each year drawn over them; the
    scenario beside them; the Monte Carlo band (5th to 95th percentile of the yearly total, and its median)
    over the run it was drawn for."""
    plt = _pyplot()
    lang = Lang.parse(lang)
    say = functools.partial(text, "charts", lang=lang)
    years = np.array(baseline.years)
    runs: list[tuple[Simulation, str, str | None]] = [(baseline, say("baseline"), None)]  # run, label, hatch
    if comparison is not None:
        runs.append((comparison.scenario, say("scenario", name=comparison.scenario.label), "//"))
    groups = [_by_group(run) for run, _, _ in runs]
    available = [_available_by_year(run) for run, _, _ in runs]
    band = None
    if monte_carlo is not None:
        table = monte_carlo.outlay_by_year()
        band = [_yuan(table[c]) for c in ("p5", "p50", "p95")]
    invested = _investment_by_year(baseline)  # measures 1 and 4: a series of its own, never in the bars
    largest = max([g.sum(axis=0).max(initial=0) for g in groups] + [a.max(initial=0) for a in available]
                  + ([band[2].max(initial=0)] if band is not None else []) + [invested.max(initial=0)])
    unit = unit_for(largest)
    width = 0.8 / len(runs)
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(10, 5.8), dpi=120)
        for r, ((_, _, hatch), by_group) in enumerate(zip(runs, groups)):
            x = years - 0.4 + width * (r + 0.5)
            bottom = np.zeros(len(years))
            for g, (key, colour) in enumerate(GROUPS):
                values = by_group[g]
                if key == "other" and not values.any():
                    continue
                ax.bar(x, values / unit[1], width * 0.95, bottom=bottom / unit[1], color=colour, hatch=hatch,
                       edgecolor="white", label=name("source_groups", key, lang) if r == 0 else None)
                bottom += values
            for xi, total, money in zip(x, bottom, available[r]):
                # above the dashed line of the money available when it runs just over the bar: not struck through
                at = money if 0 <= money - total < 0.06 * largest else total
                ax.annotate(amount_label(total, unit, lang), (xi, at / unit[1]), ha="center", va="bottom",
                            fontsize=8, xytext=(0, 2), textcoords="offset points")
            # the money this run's sources had each year, over its own bars
            ax.hlines(available[r] / unit[1], x - width * 0.5, x + width * 0.5, colors="black", linestyles="--",
                      linewidth=1.2, label=say("available_total") if r == 0 else None)
        if band is not None:
            assert monte_carlo is not None
            low, mid, high = (b / unit[1] for b in band)
            x = years - 0.4 + width * (len(runs) - 0.5)
            paths = f"{monte_carlo.settings.paths:,}"
            ax.fill_between(x, low, high, color="#c0392b", alpha=0.18,
                            label=say("band", name=runs[-1][1], paths=paths))
            ax.plot(x, mid, color="#c0392b", marker="o", linewidth=1.5, label=say("median", name=runs[-1][1]))
            ax.errorbar(x, mid, yerr=[mid - low, high - mid], fmt="none", ecolor="#c0392b", capsize=4)
        if invested.any():
            ax.plot(years, invested / unit[1], color="#34495e", marker="D", linestyle=":", linewidth=1.2,
                    label=say("government_investment"))
        ax.set_xticks(years, [str(y) for y in years])
        ax.set_xlabel(say("year_axis"))
        ax.set_ylabel(say("amount_axis", unit=name("units", unit[0], lang)))
        budget = baseline.allocation.budget
        ax.set_title(say("outlay_title", budget=budget.id, status=name("statuses", budget.file.status, lang),
                         mode=name("modes", baseline.allocation.mode, lang)), fontsize=11)
        ax.grid(axis="y", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if len(runs) > 1:
            from matplotlib.patches import Patch

            handles += [Patch(facecolor="white", edgecolor="grey"),
                        Patch(facecolor="white", edgecolor="grey", hatch="//")]
            labels += [say("plain_bars"), say("hatched_bars", name=runs[1][1])]
        ax.legend(handles, labels, fontsize=8, loc="upper right", ncol=2)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.18)
        _footer(fig, baseline, lang)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        fig.savefig(path)
        plt.close(fig)
    return path


def caps_chart(run: Simulation, path: Path, *, lang: Lang | str = DEFAULT_LANG) -> Path:
    """Per funding source and year (a panel a year), against its cap: what it awarded (a bar), what was first
    asked of it (a diamond) and what it carried in from the year before (a dotted outline past the cap), each as
    a share of the year's cap, so that a district's 0.2亿 and the 高精尖 fund's 12亿 read alike: where money binds,
    and in which year. A claim beyond three times the cap is drawn at the edge with its share written."""
    plt = _pyplot()
    lang = Lang.parse(lang)
    say = functools.partial(text, "charts", lang=lang)
    budget = run.allocation.budget
    ids = [s.id for s in budget.sources]
    position = {source: k for k, source in enumerate(ids)}

    def grid(frame: Any, column: str) -> np.ndarray:  # (sources, years of the run) in yuan
        out = np.zeros((len(ids), len(run.years)))
        frame = frame[frame.year.isin(run.years)]  # the budget's table covers all its years
        rows = [position[str(s)] for s in frame.source_id]
        cols = [run.years.index(int(y)) for y in frame.year]
        np.add.at(out, (rows, cols), _yuan(frame[column]))
        return out

    by_source = run.allocation.by_source
    cap, carried, awarded = (grid(by_source, c) for c in ("cap", "carried_in", "awarded"))
    claimed = grid(run.by_year_source(), "claimed")
    with np.errstate(divide="ignore", invalid="ignore"):  # a source without a cap that year: not drawn
        share = {k: np.where(cap > 0, v / cap, np.nan) for k, v in
                 (("carried", carried), ("awarded", awarded), ("claimed", claimed))}
    edge = 3.0
    labels = [_drawn(source_name(s.id, s.name, lang)) for s in budget.sources]
    y = np.arange(len(ids))[::-1]  # the budget's first source at the top
    n_years = len(run.years)
    with plt.rc_context(_style()):
        fig, axes = plt.subplots(1, n_years, figsize=(3.2 + 2.4 * n_years, 0.3 * len(ids) + 2.4), dpi=120,
                                 sharey=True, sharex=True, squeeze=False)
        for k, (ax, year) in enumerate(zip(axes[0], run.years)):
            drawn = ~np.isnan(share["awarded"][:, k])
            ax.barh(y[drawn], np.minimum(share["carried"][drawn, k], edge - 1), 0.8, left=1.0, facecolor="none",
                    edgecolor="#1f4e79", linewidth=0.8, linestyle=":", label=say("carried_in"))
            ax.barh(y[drawn], np.minimum(share["awarded"][drawn, k], edge), 0.55, color="#7fa7d6",
                    label=say("awarded"))
            ax.scatter(np.minimum(share["claimed"][drawn, k], edge), y[drawn], marker="D", s=16, color="#c0392b",
                       zorder=3, label=say("claimed"))
            # what runs past the edge is drawn to it and its share written there: the money available (cap and
            # carry-over), what was awarded, what was claimed
            for shown, colour, offset in ((1 + np.nan_to_num(share["carried"][:, k]), "#1f4e79", 7),
                                          (np.nan_to_num(share["awarded"][:, k]), "#1f4e79", -7),
                                          (np.nan_to_num(share["claimed"][:, k]), "#c0392b", 0)):
                beyond = shown > edge
                for yi, value in zip(y[beyond], shown[beyond]):
                    ax.annotate(f"{value:.0%}", (edge, yi + offset / 40), va="center", ha="right", fontsize=6,
                                color=colour, xytext=(-5, 0), textcoords="offset points")
            ax.axvline(1.0, color="#1f4e79", linewidth=1.4, label=say("cap"))
            ax.set_xlim(0, edge)
            ax.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0, decimals=0))
            ax.set_title(str(year), fontsize=10)
            ax.grid(axis="x", alpha=0.3)
            ax.tick_params(axis="x", labelsize=8)
            if k == 0:
                ax.set_yticks(y, labels, fontsize=8)
        fig.supxlabel(say("share_of_cap"), fontsize=9)
        fig.suptitle(say("caps_title_years", first=run.years[0], last=run.years[-1]), fontsize=11, y=0.995)
        handles, names_shown = axes[0][0].get_legend_handles_labels()
        height = fig.get_size_inches()[1]
        fig.legend(handles, names_shown, fontsize=8, loc="upper center", ncol=4,  # under the title, not over it
                   bbox_to_anchor=(0.5, 1 - 0.32 / height))
        _footer(fig, run, lang)
        fig.tight_layout(rect=(0, 0.25 / height, 1, 1 - 0.62 / height))
        fig.savefig(path)
        plt.close(fig)
    return path


def risk_chart(monte_carlo: MonteCarlo, path: Path, top: int = 20, *, names_of: dict[str, str] | None = None,
               lang: Lang | str = DEFAULT_LANG) -> Path:
    """A heat map of the probability that each source's cap is exceeded, per year (the riskiest sources);
    ``names_of``: each source id's name (default: from its id)."""
    plt = _pyplot()
    lang = Lang.parse(lang)
    probability = monte_carlo.exceeded.mean(axis=0)  # (sources, years)
    order = np.lexsort((np.arange(probability.shape[0]), -probability.mean(axis=1)))[:top]
    shown = probability[order]
    names_of = names_of or {}
    labels = [_drawn(names_of.get(monte_carlo.source_ids[k]) or source_name(monte_carlo.source_ids[k], None, lang))
              for k in order]
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(8.5, 0.35 * len(order) + 1.9), dpi=120)
        image = ax.imshow(shown, cmap="Reds", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(monte_carlo.years)), [str(y) for y in monte_carlo.years])
        ax.set_yticks(range(len(order)), labels, fontsize=8)
        for i in range(shown.shape[0]):
            for j in range(shown.shape[1]):
                ax.text(j, i, f"{shown[i, j]:.0%}", ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > 0.6 else "black")
        ax.set_title(text("charts", "risk_title", lang, paths=f"{monte_carlo.settings.paths:,}", count=len(order)),
                     fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.04, label=text("charts", "probability", lang))
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
    return path


def sweep_chart(sweep: Sweep, path: Path, *, lang: Lang | str = DEFAULT_LANG) -> Path:
    """A bar per scenario of a sweep: what it awards over the horizon and, beyond it, what stays unfunded (the
    whole bar: what was claimed), labelled by the scenario's values; the footer carries the sweep's hash."""
    plt = _pyplot()
    lang = Lang.parse(lang)
    say = functools.partial(text, "charts", lang=lang)
    table = sweep.scenarios()
    awarded, unfunded = _yuan(table.awarded), _yuan(table.unfunded)
    unit = unit_for(float((awarded + unfunded).max(initial=0)))
    axes = list(sweep.spec.axes())
    labels = [_drawn(f"{row['scenario_id']}  " + " / ".join(str(row[a]) for a in axes)) for _, row in table.iterrows()]
    n = len(table)
    with plt.rc_context(_style()):
        fig, ax = plt.subplots(figsize=(9.5, min(0.28 * n + 2.2, 60)), dpi=110)
        y = np.arange(n)[::-1]  # the first scenario on top
        ax.barh(y, awarded / unit[1], 0.75, color="#2e86c1", label=say("awarded"))
        ax.barh(y, unfunded / unit[1], 0.75, left=awarded / unit[1], color="#e59866", label=say("unfunded"))
        ax.set_yticks(y, labels, fontsize=7 if n > 30 else 8)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(say("cap_axis", unit=name("units", unit[0], lang)))
        ax.set_ylabel(say("scenario_axis") + "  (" + " / ".join(
            _drawn(name("columns", a, lang, default=name("parameters", a, lang))) for a in axes) + ")", fontsize=8)
        ax.set_title(say("sweep_title", id=_drawn(sweep.spec.id), first=sweep.years[0], last=sweep.years[-1],
                         count=f"{n:,}"), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(0, ax.get_xlim()[1] * 1.22)  # room for the legend beside the longest bar
        ax.legend(fontsize=8, loc="lower right")
        fig.text(0.01, 0.005, text("charts", "footer", lang, version=sweep.provenance.engine_version,
                                  sha=sweep.provenance.parameters_sha256[:16]), fontsize=7, color="grey")
        fig.tight_layout(rect=(0, 0.02, 1, 1))
        fig.savefig(path)
        plt.close(fig)
    return path


def _drawn(label: str) -> str:
    """A name of the user's data as a chart draws it: in Simplified characters (the packaged font holds GB 2312;
    the report keeps the name as given)."""
    return to_simplified(label)


def _footer(fig: Any, run: Simulation, lang: Lang) -> None:
    fig.text(0.01, 0.005, text("charts", "footer", lang, version=run.allocation.provenance.engine_version,
                              sha=run.inputs_sha256[:16]), fontsize=7, color="grey")


__all__ = ["amount_label", "can_draw", "caps_chart", "font_family", "outlay_chart", "risk_chart", "sweep_chart",
           "unit_for"]

"""The sheets of ``report.xlsx``, in the reader's language: names beside ids, a cover, the parameters, the cuts.

:func:`report_sheets` turns a simulation (and its scenario and Monte Carlo, when run) into the workbook's
tables, each a :class:`~subsidy_engine.reports.xlsx.Sheet` whose headers, sheet name and cell formats come
from the vocabulary file (:mod:`subsidy_engine.core.language`). An id column keeps its ids (to filter and
join on) and gets its name beside it: ``measure`` then ``measure_name``, ``source_id`` then ``source_name``,
``district`` then ``district_name``, ``sector`` then ``sector_name``, ``stage`` then ``stage_name``. Levels,
statuses and flags are shown in words; the allocation's reasons in the reader's language.

The sheets: a **cover** (what was run, when, on what inputs, engine version and hashes, the totals, and the
caveat that illustrative parameters are not entitlements), the yearly **summary**, the **notes** the figures
rest on, **by source**, **by measure**, **by district**, the **project detail** (name, enterprise, district,
sector, stage; gross, claimed, awarded and unfunded per year), the **unfunded** claims with the amount cut
and the reason in words, the **parameters** (every value with its status and source; the illustrative ones
shaded) and the **rejected rows**; then the scenario's, the Monte Carlo's and the sweep's sheets when they were
run.
The rejected rows' reasons and the notes are in the reader's language too: the engine writes them in
English, and :func:`~subsidy_engine.core.language.reason_in` and
:func:`~subsidy_engine.core.language.in_language` word them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from subsidy_engine.core.columns import MONEY_TYPE, money_fen, money_series
from subsidy_engine.core.language import (
    Lang,
    column_kind,
    in_language,
    joined,
    name,
    names,
    reason_in,
    source_name,
    text,
)
from subsidy_engine.core.vocabulary import LIST_FLAGS
from subsidy_engine.pipeline.inputs import rejected_counts
from subsidy_engine.reports.xlsx import Sheet

if TYPE_CHECKING:
    from subsidy_engine.params.budget import Budget
    from subsidy_engine.params.policy import Policy
    from subsidy_engine.pipeline.evaluate import Claims
    from subsidy_engine.simulation.montecarlo import MonteCarlo
    from subsidy_engine.simulation.scenario import Scenario
    from subsidy_engine.simulation.simulate import Comparison, Simulation
    from subsidy_engine.simulation.sweep import Sweep

#: An id column, the column of names put beside it, and the vocabulary section its names come from.
NAMED_IDS = (("measure", "measure_name", "measures"), ("instrument", "instrument_name", "instruments"),
             ("district", "district_name", "districts"), ("sector", "sector_name", "sectors"),
             ("stage", "stage_name", "stages"))
#: Columns whose values are words of the vocabulary, shown in the reader's language in place.
WORDS_IN_PLACE = (("level", "levels"), ("status", "statuses"), ("investment_kind", "investment_kinds"))
STATUS_SHOWN_AS_OFFICIAL = "official"
MONEY_DTYPE = pd.ArrowDtype(MONEY_TYPE)


def source_names(budget: Budget, lang: Lang | str) -> dict[str, str]:
    """Each source id of ``budget`` with its name in ``lang``."""
    return {s.id: source_name(s.id, s.name, lang) for s in budget.sources}


class _ByValue(NamedTuple):
    """A column as its distinct values (found by equality) and its blank rows (None, NaN, NA: each row's own, a
    table has few), as one small object column, and each row's position in it: what is said of a million rows of a
    few districts, stages, yes/no flags or reasons is said once a value (a national project detail took 2.7 s a
    row at a time)."""

    small: pd.Series
    positions: np.ndarray

    @classmethod
    def of(cls, values: pd.Series) -> _ByValue:
        codes, distinct = pd.factorize(values)  # a blank: -1
        blank = np.flatnonzero(codes < 0)
        small = np.array([*distinct.tolist(), *values.iloc[blank].astype(object).tolist(), None], dtype=object)[:-1]
        positions = codes.astype(np.int64)
        positions[blank] = len(distinct) + np.arange(blank.shape[0])
        return cls(pd.Series(small, dtype=object), positions)

    def said(self, say: Mapping[Any, Any] | Callable[[Any], Any], like: pd.Series) -> pd.Series:
        """``like.astype(object).map(say)``, for a ``say`` that says equal values alike: the small column mapped
        (its dtype the one pandas infers from the same values), then taken row by row."""
        said = self.small.map(say).take(self.positions)
        said.index, said.name = like.index, like.name
        return said


def _passed_on(values: pd.Series, say: Callable[[Any], Any]) -> pd.Series:
    """``values.astype(object).map(say)`` for a ``say`` of text that passes anything else on as it is: by value
    when the column holds text and blanks only; row by row otherwise, where values equal but not alike (1, True
    and 1.0) each stay their own."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return values.astype(object).map(say)
    return _ByValue.of(values).said(say, values)


def _no_name(value: object) -> bool:
    """A blank id, which has no name (as a mapping's missing key: NaN)."""
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def with_names(frame: pd.DataFrame, lang: Lang | str, sources: dict[str, str] | None = None) -> pd.DataFrame:
    """``frame`` with a name column beside each id column it has, and words in the reader's language."""
    out = frame.copy()
    if "source_id" in out.columns and sources is not None:
        ids = out["source_id"].astype(object)
        out.insert(list(out.columns).index("source_id") + 1, "source_name",
                   [sources.get(v, v) if isinstance(v, str) else None for v in ids])
    for column, named, section in NAMED_IDS:
        if column in out.columns and named not in out.columns:
            by_value = _ByValue.of(out[column])
            shown = {v: name(section, v, lang) for v in pd.unique(by_value.small) if not _no_name(v)}
            out.insert(list(out.columns).index(column) + 1, named, by_value.said(shown, out[column]))
    for column, section in WORDS_IN_PLACE:
        if column in out.columns:
            def in_words(value: Any, section: str = section) -> Any:
                return name(section, value, lang) if isinstance(value, str) else value

            out[column] = _passed_on(out[column], in_words)
    yes_no = names("booleans", lang)
    for column in out.columns:
        if column_kind(str(column)) == "boolean":
            # a blank (None, NA, or NaN from a merge's row without a match) stays blank, never a yes
            out[column] = _ByValue.of(out[column]).said(lambda v: None if pd.isna(v) else
                                                        yes_no[str(bool(v)).lower()], out[column])
    return out


def table(frame: pd.DataFrame, lang: Lang | str, marked: np.ndarray | None = None) -> Sheet:
    """A table with its headers and cell formats from the vocabulary (a column it does not name: the parameter's
    name, else its id)."""
    kinds = [column_kind(str(c)) for c in frame.columns]
    # a column named by a parameter (a sweep's axis, insurance_premium.share): the parameter's name
    return Sheet(frame, headers=[name("columns", c, lang, default=name("parameters", c, lang)) for c in frame.columns],
                 kinds=[None if k == "boolean" else k for k in kinds], marked=marked)


def _worded(frame: pd.DataFrame, column: str, say: Callable[[Any], Any]) -> pd.DataFrame:
    """``frame`` with each text of ``column`` said by ``say`` (the same frame without the column or rows)."""
    if column not in frame or not len(frame):
        return frame
    return frame.assign(**{column: _passed_on(frame[column], lambda v: say(v) if isinstance(v, str) else v)})


def reasons_in_words(rejections: pd.DataFrame, lang: Lang | str) -> pd.DataFrame:
    """Rejected rows with the readers' reasons in ``lang`` where the vocabulary words them, and the field of a
    problem that is no column (the whole table, a row, something set aside) in words."""
    markers = names("field_markers", lang)
    return _worded(_worded(rejections, "reason", lambda r: reason_in(r, lang)), "field",
                   lambda f: markers.get(f, f))


def reconcile_in_words(frame: pd.DataFrame, lang: Lang | str) -> pd.DataFrame:
    """A reconcile table (rows or totals, of claims or of a ledger) with its statuses, likely causes and details
    in ``lang``'s words."""
    statuses, causes = names("reconcile_statuses", lang), names("likely_causes", lang)
    worded = _worded(_worded(frame, "status", lambda v: statuses.get(v, v)), "likely_cause",
                     lambda v: causes.get(v, v))
    return _worded(worded, "detail", lambda v: reason_in(v, lang))


def project_detail(run: Simulation, lang: Lang | str) -> pd.DataFrame:
    """Per project (or enterprise, for an item without a project) and year: who it is, gross, claimed
    (after evaluate's cuts), awarded and unfunded."""
    claims, allocation = run.claims, run.allocation
    keys = ["project_id", "enterprise_id", "year"]

    def grouped(frame: pd.DataFrame, values: list[str]) -> pd.DataFrame:
        sums = frame.groupby(keys, dropna=False, sort=True, observed=True)[values].sum().reset_index()
        # Arrow widens a sum to 38 digits; a project's amounts fit the engine's money type (a checked cast)
        return sums.astype({v: MONEY_DTYPE for v in values})

    detail = grouped(claims.table, ["gross", "amount"]).rename(columns={"amount": "claimed"})
    awarded = grouped(allocation.awards, ["awarded"])
    detail = detail.merge(awarded, on=keys, how="left")
    claimed_fen = money_fen(detail["claimed"])
    awarded_fen = money_fen(detail["awarded"].fillna(Decimal(0)))  # type: ignore[arg-type]  # pandas-stubs: no Decimal fill; a claim of 0.00 has no award
    detail["awarded"] = money_series(awarded_fen)
    detail["unfunded"] = money_series(claimed_fen - awarded_fen)
    projects = claims.portfolio.projects
    wanted = [c for c in ("project_id", "name", "district", "sector", "stage") if c in projects.columns]
    about = projects[wanted].rename(columns={"name": "project_name"}).drop_duplicates("project_id")
    detail = detail.merge(about, on="project_id", how="left")
    # the flags a budget ranks by (measures 2, 6, 8, 9), as evaluate read them (blank is no)
    ranked_by = ("in_library", *LIST_FLAGS)
    flags = pd.concat([claims.table[["project_id"]].reset_index(drop=True),
                       claims.attributes[list(ranked_by)].reset_index(drop=True)], axis=1)
    detail = detail.merge(flags.dropna(subset=["project_id"]).drop_duplicates("project_id"), on="project_id",
                          how="left")
    order = ["project_id", "project_name", "enterprise_id", "district", "sector", "stage", *ranked_by, "year",
             "gross", "claimed", "awarded", "unfunded"]
    return with_names(detail[[c for c in order if c in detail.columns]], lang)


def unfunded(run: Simulation, lang: Lang | str) -> pd.DataFrame:
    """The claims not paid in full: who, what, the amount cut and the reason in words."""
    allocation = run.allocation
    words = allocation.reasons(lang)
    frame = _worded(allocation.unfunded, "reason", lambda r: words.get(r, r))
    projects = run.claims.portfolio.projects
    if "name" in projects.columns:
        about = projects[["project_id", "name"]].rename(columns={"name": "project_name"}).drop_duplicates(
            "project_id")
        frame = frame.merge(about, on="project_id", how="left")
        frame.insert(2, "project_name", frame.pop("project_name"))
    return with_names(frame, lang)


def rows_rejected(claims: Claims) -> int:
    """The input rows left out of ``claims`` (a row with two bad cells is one row; a table that cannot be read,
    all its rows), as the command line counts them."""
    return sum(rejected_counts(claims.rejections, claims.portfolio.sizes()).values())


def _shown_value(value: Any) -> str:
    """A parameter's value as one line of text: lists joined, a mapping as ``key: value``."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown_value(v) for v in value)
    if hasattr(value, "value") and not isinstance(value, Decimal):  # an enum member
        return str(value.value)
    return "" if value is None else str(value)


def parameters(policy: Policy, budget: Budget, lang: Lang | str, investment: Budget | None = None
               ) -> tuple[pd.DataFrame, np.ndarray]:
    """Every value the figures rest on, with its status and source; and which rows are illustrations
    (``investment``: the budget of the government's investment, whose caps are listed too)."""
    rows: list[dict[str, object]] = []

    def source_text(key: str) -> tuple[str, str | None]:
        found = policy.sources.get(key)
        return (found.title, found.url) if found is not None else (key, None)

    if policy.covers_until is not None:
        title, url = source_text(policy.covers_until.source)
        rows.append({"parameter_set": name("policy", "short", lang), "valid_from": None, "valid_to": None,
                     "parameter": "covers_until", "parameter_name": name("parameters", "covers_until", lang),
                     "value": _shown_value(policy.covers_until.value), "status": policy.covers_until.status,
                     "source": title, "url": url, "note": policy.covers_until.note})
    for parameter_set in policy.sets:
        for section, values in parameter_set.parameters:
            for key, parameter in values:
                dotted = f"{section}.{key}"
                title, url = source_text(parameter.source)
                rows.append({"parameter_set": parameter_set.id, "valid_from": parameter_set.valid_from,
                             "valid_to": parameter_set.valid_to, "parameter": dotted,
                             "parameter_name": name("parameters", dotted, lang),
                             "value": _shown_value(parameter.value), "status": parameter.status,
                             "source": title, "url": url, "note": parameter.note})
    for of in (budget, *((investment,) if investment is not None else ())):  # the investment budget's too
        sources = source_names(of, lang)
        for s in of.sources:
            rows.append({"parameter_set": of.id, "valid_from": None, "valid_to": None,
                         "parameter": f"budget.{s.id}.caps",
                         "parameter_name": text("parameters", "budget_cap", lang, source=sources[s.id]),
                         "value": _shown_value(s.caps), "status": of.file.status, "source": of.file.basis,
                         "url": None, "note": s.note})
    frame = pd.DataFrame(rows, columns=["parameter_set", "valid_from", "valid_to", "parameter", "parameter_name",
                                        "value", "status", "source", "url", "note"])
    marked = (frame["status"] != STATUS_SHOWN_AS_OFFICIAL).to_numpy()
    return with_names(frame, lang), marked


def cover(run: Simulation, lang: Lang | str, sheet_keys: Iterable[str], *, comparison: Comparison | None,
          monte_carlo: MonteCarlo | None, scenario: Scenario | None, generated: datetime,
          apart: Mapping[str, str] | None = None, sweep: Sweep | None = None) -> Sheet:
    """What was run, when, on what, with which engine and hashes; the totals; the caveat; what each sheet holds."""
    allocation, claims = run.allocation, run.claims
    budget = allocation.budget
    totals = run.by_year()

    def say(key: str, **fields: object) -> str:
        return text("cover", key, lang, **fields)

    rows: list[tuple[str, object]] = [
        (say("policy"), f"{name('policy', 'short', lang)} {name('policy', 'title', lang)}"),
        (say("generated"), generated.strftime("%Y-%m-%d %H:%M")),
        (say("portfolio"), claims.portfolio.source),
        (say("projects"), len(claims.portfolio.projects)),
        (say("horizon"), f"{run.years[0]}-{run.years[-1]}"),
        (say("budget"), joined([budget.id, name("statuses", budget.file.status, lang), budget.path], lang)),
        (say("mode"), name("modes", allocation.mode, lang)),
        (say("lpr"), claims.provenance.scenario or say("none")),
        (say("scenario"), f"{scenario.id}: {scenario.file.description}" if scenario is not None
         else comparison.scenario.label if comparison is not None else say("none")),
        (say("monte_carlo"), say("monte_carlo_paths", paths=f"{monte_carlo.settings.paths:,}")
         if monte_carlo is not None else say("none")),
        (say("sweep"), say("sweep_scenarios", id=sweep.spec.id, count=f"{len(sweep.points):,}",
                           axes=axes_said(sweep.spec.axes(), lang)) if sweep is not None else say("none")),
        (say("rejected"), rows_rejected(claims)),
        (say("claimed_total"), sum(totals["claimed"], Decimal(0))),
        (say("awarded_total"), sum(totals["awarded"], Decimal(0))),
        (say("unfunded_total"), sum(totals["unfunded"], Decimal(0))),
        (say("engine"), allocation.provenance.engine_version),
        (say("inputs_sha256"), run.inputs_sha256),
        (say("policy_sha256"), claims.policy.digest),
        (say("budget_sha256"), budget.digest),
        (say("caveat_label"), say("caveat")),
        (say("sheets"), ""),
    ]
    apart = apart or {}
    rows += [(name("sheets", key, lang), name("sheet_notes", key, lang) + (
        name("separators", "clauses", lang) + apart[key] if key in apart else "")) for key in sheet_keys]
    frame = pd.DataFrame({"item": [r[0] for r in rows], "detail": pd.Series([r[1] for r in rows], dtype=object)})
    kinds = ["text", "long_text"]
    marked = np.array([r[0] == say("caveat_label") for r in rows])
    return Sheet(frame, kinds=kinds, marked=marked, table=False, title=say("title"))


def report_sheets(run: Simulation, *, comparison: Comparison | None = None, monte_carlo: MonteCarlo | None = None,
                  scenario: Scenario | None = None, lang: Lang | str = "zh",
                  generated: datetime | None = None, sweep: Sweep | None = None) -> dict[str, Sheet]:
    """The sheets of ``report.xlsx`` in ``lang``, by their shown names, the cover first."""
    tables = report_tables(run, comparison=comparison, monte_carlo=monte_carlo, lang=lang, sweep=sweep)
    return with_cover(tables, run, comparison=comparison, monte_carlo=monte_carlo, scenario=scenario, lang=lang,
                      generated=generated, sweep=sweep)


def axes_said(axes: Mapping[str, list[str]], lang: Lang | str) -> str:
    """A sweep's axes and their values in words: ``LPR shift (bp): -25, 0; budget scale: 0.8, 1``."""
    colon, items = name("separators", "colon", lang), "items"
    return joined([name("columns", axis, lang, default=name("parameters", axis, lang)) + colon
                   + joined(values, lang, items) for axis, values in axes.items()], lang, "clauses")


def written_apart(file: str, rows: int, lang: Lang | str, limit: int | None = None) -> str:
    """What the workbook says of a table written to ``file`` instead of its sheet: where, and why when the
    table was longer than a sheet (``limit``, the rows a sheet holds)."""
    said = text("cover", "written_apart", lang, rows=f"{rows:,}", file=file)
    return said + (text("cover", "too_long", lang, limit=f"{limit:,}") if limit is not None else "")


def with_cover(tables: Mapping[str, Sheet], run: Simulation, *, comparison: Comparison | None = None,
               monte_carlo: MonteCarlo | None = None, scenario: Scenario | None = None, lang: Lang | str = "zh",
               generated: datetime | None = None, apart: Mapping[str, str] | None = None,
               sweep: Sweep | None = None) -> dict[str, Sheet]:
    """``tables`` (by key, :func:`report_tables`) by their shown names, the cover first. ``apart``: for each
    table written to a file of its own, where (:func:`written_apart`); its sheet and the cover say so."""
    lang = Lang.parse(lang)
    apart = apart or {}
    tables = {key: table(pd.DataFrame({"note": [apart[key]]}), lang) if key in apart else sheet
              for key, sheet in tables.items()}
    front = cover(run, lang, tables, comparison=comparison, monte_carlo=monte_carlo, scenario=scenario,
                  generated=generated or datetime.now(), apart=apart or {}, sweep=sweep)
    return {name("sheets", key, lang): sheet for key, sheet in {"cover": front, **tables}.items()}


def report_tables(run: Simulation, *, comparison: Comparison | None = None, monte_carlo: MonteCarlo | None = None,
                  lang: Lang | str = "zh", sweep: Sweep | None = None) -> dict[str, Sheet]:
    """The tables of ``report.xlsx`` in ``lang``, by key (``project_detail``...), without the cover."""
    lang = Lang.parse(lang)
    claims, allocation = run.claims, run.allocation
    sources = source_names(allocation.budget, lang)
    said = functools.partial(in_language, lang=lang)
    notes = pd.DataFrame({"run": run.label, "note": [*map(said, claims.notes), *map(said, allocation.notes)]},
                         columns=["run", "note"])
    if comparison is not None:
        other = comparison.scenario
        notes = pd.concat([notes, pd.DataFrame({"run": other.label, "note": [
            *map(said, other.claims.notes), *map(said, other.allocation.notes)]}, columns=["run", "note"])],
            ignore_index=True)
    detail = project_detail(run, lang)
    listed, marked = parameters(claims.policy, allocation.budget, lang,
                                run.investment.budget if run.investment is not None else None)
    sheets: dict[str, Sheet] = {
        "summary": table(run.by_year(), lang),
        "notes": table(notes, lang),
        "by_source": table(with_names(allocation.by_source, lang, sources), lang),
        "by_measure": table(with_names(run.by("measure"), lang), lang),
        "by_district": table(with_names(run.by("district"), lang), lang),
        "project_detail": table(detail, lang),
        "unfunded": table(unfunded(run, lang), lang),
        "parameters": table(listed, lang, marked),
        "rejected_rows": table(reasons_in_words(claims.rejections, lang), lang),
    }
    for key, of in (("government_investment", run),
                    ("scenario_government_investment", comparison.scenario if comparison is not None else None)):
        invested = of.government_investment if of is not None else pd.DataFrame()
        if of is not None and len(invested):  # measures 1 and 4: apart from every subsidy, the sources named
            names_of = source_names(of.investment.budget, lang) if of.investment is not None else {}
            sheets[key] = table(with_names(invested.rename(columns={"kind": "investment_kind"}), lang, names_of),
                                lang)
    if comparison is not None and len(comparison.scenario.claims.rejections):
        sheets["scenario_rejected_rows"] = table(reasons_in_words(comparison.scenario.claims.rejections, lang), lang)
    if comparison is not None:
        drivers = pd.concat([comparison.drivers(20).assign(list=name("driver_lists", "all_projects", lang)),
                             comparison.drivers(20, existing_only=True).assign(
                                 list=name("driver_lists", "existing_projects", lang))],
                            ignore_index=True)
        sheets |= {"scenario_summary": table(comparison.by_year(), lang),
                   "scenario_by_source": table(with_names(comparison.by_year_source(), lang, sources), lang),
                   "scenario_by_measure": table(with_names(comparison.by("measure"), lang), lang),
                   "scenario_by_district": table(with_names(comparison.by("district"), lang), lang),
                   "scenario_drivers": table(with_names(drivers, lang), lang)}
    if monte_carlo is not None:
        sheets |= {"monte_carlo_outlay": table(monte_carlo.outlay_by_year(), lang),
                   "budget_at_risk": table(with_names(monte_carlo.budget_at_risk(), lang, sources), lang)}
    if sweep is not None:
        sheets |= {"sweep_scenarios": table(sweep.scenarios(), lang), "sweep_by_year": table(sweep.by_year(), lang),
                   "sweep_by_source": table(with_names(sweep.by_year_source(), lang, sources), lang)}
    return sheets


def reconcile_sheets(rows: pd.DataFrame, totals: pd.DataFrame, lang: Lang | str = "zh") -> dict[str, Sheet]:
    """``reconcile.xlsx``: each row of the bank's file against the engine's figure, and the totals, in ``lang``:
    the statuses and likely causes in words (the detail is the engine's English), ``row`` the 0-based position
    beside ``file_row``, the row the bank's file shows."""
    lang = Lang.parse(lang)

    def worded(frame: pd.DataFrame) -> Sheet:
        shown = reconcile_in_words(frame, lang)
        sheet = table(shown, lang)
        own = {"status": "reconcile_status", "row": "position"}  # what these columns mean here
        headers = [name("columns", own.get(str(c), c), lang) for c in shown.columns]
        return Sheet(sheet.frame, headers=headers, kinds=sheet.kinds)

    return {name("sheets", "reconcile_rows", lang): worded(rows), name("sheets", "reconcile_totals", lang):
            worded(totals)}


def ledger_sheets(settlements: pd.DataFrame, rejections: pd.DataFrame, lang: Lang | str = "zh") -> dict[str, Sheet]:
    """``ledger_reconcile.xlsx``: each settlement of a bank's ledger against the engine's, with its status,
    likely cause and detail in ``lang``'s words, and the ledger's rejected rows with their reasons."""
    lang = Lang.parse(lang)
    shown = reconcile_in_words(settlements, lang)
    sheet = table(shown, lang)
    headers = [name("columns", "reconcile_status" if c == "status" else c, lang) for c in shown.columns]
    return {name("sheets", "ledger_settlements", lang): Sheet(sheet.frame, headers=headers, kinds=sheet.kinds),
            name("sheets", "rejected_rows", lang): table(reasons_in_words(rejections, lang), lang)}


__all__ = ["axes_said", "ledger_sheets", "project_detail", "report_tables", "with_cover", "written_apart", "reasons_in_words", "reconcile_in_words", "reconcile_sheets", "report_sheets", "unfunded",
           "with_names"]

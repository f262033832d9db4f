"""Command line: the finance bureau's budget simulation and the engine's parts.

``simulate`` (the main job) evaluates and allocates a portfolio over a horizon,
with an optional scenario and Monte Carlo over LPR paths, and writes its
reports; ``explain`` shows one project's amounts clause by clause; ``validate``
lists every problem of input files; ``reconcile`` checks a bank's 貼息 claims
loan by loan; ``serve`` runs the portal's HTTP service (quotes); ``demo`` shows
the parts one by one;
``amortize`` amortizes a loan table of yours into CSV with exact amounts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

import pandas as pd

from subsidy_engine.budgeting.allocation import TIME_LIMIT, check_time_limit
from subsidy_engine.core.dates import parse_date
from subsidy_engine.core.language import DEFAULT_LANG, LANGUAGES, Lang, in_language, joined, name, names, text
from subsidy_engine.core.messages import one_line
from subsidy_engine.core.provenance import engine_version
from subsidy_engine.errors import MissingExtraError, PortfolioSchemaError, SubsidyEngineError
from subsidy_engine.io.cells import Limits
from subsidy_engine.io.files import demo_loans_path
from subsidy_engine.kernels.threads import compile_report
from subsidy_engine.loans.contract import Loan
from subsidy_engine.loans.portfolio import PortfolioResult, amortize_portfolio
from subsidy_engine.loans.schedule import amortize
from subsidy_engine.params.business_days import BusinessCalendar, china_calendar
from subsidy_engine.params.lpr import LprCurve, load_lpr
from subsidy_engine.pipeline.inputs import PortfolioTables, load_portfolio
from subsidy_engine.reports.outputs import OutputFolder, write_csv
from subsidy_engine.reports.workbook import (
    reasons_in_words,
    reconcile_in_words,
    reconcile_sheets,
    source_names,
    with_names,
)

if TYPE_CHECKING:
    from distributed import Client

    from subsidy_engine.params.budget import Budget
    from subsidy_engine.params.policy import Policy
    from subsidy_engine.pipeline.evaluate import Claims
    from subsidy_engine.simulation.montecarlo import MonteCarlo
    from subsidy_engine.simulation.scenario import MonteCarloSettings
    from subsidy_engine.simulation.simulate import Simulation
    from subsidy_engine.simulation.sweep import Built, Sweep, SweepInputs, SweepSpec


def _calendar(args: argparse.Namespace) -> BusinessCalendar | None:
    """The business-day calendar of ``--business-days-beyond``: China's with the weekend projection past its
    data (reported in the notes), or None (China's, refusing a loan whose moved dates go past it)."""
    if getattr(args, "business_days_beyond", "refuse") == "weekends":
        return china_calendar().with_weekend_projection()
    return None


def _curve(args: argparse.Namespace) -> LprCurve:
    """The LPR curve of ``--lpr`` and ``--hold-lpr-until``; a file or a date that cannot be read is a
    ``ValueError`` of one line naming the option (the commands print it and exit 2)."""
    curve = _history(args)
    until = _hold_until(args)
    if until is not None:
        try:
            curve = curve.hold_flat(until=until)
        except ValueError as exc:
            raise ValueError(f"--hold-lpr-until {until}: {one_line(exc)}") from None
    return curve


def _hold_until(args: argparse.Namespace) -> date | None:
    """``--hold-lpr-until`` as a date (None when not given); a ``ValueError`` naming the option."""
    if not args.hold_lpr_until:
        return None
    return parse_date(args.hold_lpr_until, "--hold-lpr-until")


def _history(args: argparse.Namespace) -> LprCurve:
    """The LPR data of ``--lpr`` (the bundled file without it); a ``ValueError`` naming the option."""
    what = f"--lpr {args.lpr}" if args.lpr else "the bundled LPR file"
    try:
        curve = load_lpr(args.lpr)
    except OSError as exc:
        raise ValueError(f"{what}: cannot read the file ({exc.strerror or exc})") from None
    except (ValueError, IndexError) as exc:  # IndexError: a header without fixings
        text = " ".join(str(exc).split()) if isinstance(exc, ValueError) else "no fixings, only a header"
        origin = str(Path(args.lpr)) if args.lpr else ""
        # load_lpr's messages start with the file ("<file>: ..." or "<file>, line 3: ..."): named once
        raise ValueError(f"{what}{text[len(origin):]}" if origin and text.startswith(origin)
                         else f"{what}: {text}") from None
    return curve


def _table_text(frame: pd.DataFrame, **options: Any) -> str:
    """``frame`` as text for the terminal, a Chinese character two columns wide (so headers and cells line up)."""
    with pd.option_context("display.unicode.east_asian_width", True):
        return frame.to_string(**options)


def _label(label: str, width: int = 22) -> str:
    """``label`` padded to ``width`` columns as a terminal shows it (a Chinese character is two wide)."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)
    return label + " " * max(width - shown, 1)


def _print_sample_loan(lang: Lang) -> None:
    loan = Loan(principal="1000000", annual_rate="0.049", term_months=360, start_date="2024-01-15")
    s = amortize(loan)
    first, last = s.rows[0], s.rows[-1]

    def line(key: str, amount: Decimal, after: str = "") -> None:
        print(f"  {_label(text('cli', key, lang))} {amount:>14,}" + (f"   {after}" if after else ""))

    print(text("cli", "sample_title", lang))
    line("sample_payment", first.payment)
    line("sample_first_interest", first.interest, text("cli", "sample_principal", lang, amount=f"{first.principal:,}"))
    line("sample_last_payment", last.payment,
         text("cli", "sample_last_note", lang, period=last.period, balance=last.closing_balance))
    line("sample_total_interest", s.total_interest, text("cli", "sample_total_note", lang))
    line("sample_quoted_rounded", s.quoted_total_interest("rounded_payment"))
    line("sample_quoted_exact", s.quoted_total_interest("unrounded_payment"))
    print()


def _report(result: PortfolioResult, total_rows: int, seconds: float, lang: Lang) -> None:
    loan_rows = result.rejections.row[result.rejections.row >= 0]  # -1: an event row of no loan
    orphans = len(result.rejections) - len(loan_rows)
    print(text("cli", "loans_line", lang, total=total_rows, computed=result.computed, rejected=loan_rows.nunique(),
               seconds=f"{seconds:.2f}") + (text("cli", "orphan_events", lang, count=orphans) if orphans else ""))
    if len(result.rejections):
        print(text("cli", "rejected_loans", lang))
        shown = reasons_in_words(result.rejections, lang)
        if lang is Lang.ZH:
            shown.columns = [name("columns", c, lang) for c in shown.columns]
        print(_table_text(shown, index=False))
    if len(result.projections):
        print(text("cli", "projected_loans", lang, count=len(result.projections), scenario=result.provenance.scenario,
                   first=min(result.projections.projected_from)))
    if result.has_yearly and result.computed:
        totals = result.yearly.groupby("year")[["interest", "principal"]].sum()
        print("\n" + text("cli", "yearly_totals", lang))
        totals.index.name = name("columns", "year", lang)
        shown_totals = totals.rename(columns={c: text("cli", c, lang) for c in totals.columns})
        print(_table_text(shown_totals, formatters={c: "{:,}".format for c in shown_totals.columns}))
    p = result.provenance
    print("\n" + text("cli", "rate_data", lang, version=p.engine_version, sha=p.parameters_sha256[:16]))


def _print_claims(curve: LprCurve, lang: Lang, n_projects: int = 5_000) -> None:
    from subsidy_engine.pipeline.evaluate import evaluate
    from subsidy_engine.simulation.synthetic import portfolio

    tables = portfolio(n_projects, seed=78)
    started = time.perf_counter()
    claims = evaluate(tables, years=range(2026, 2031), lpr=curve)
    seconds = time.perf_counter() - started
    print("\n" + text("cli", "demo_claims", lang, source=tables.source, projects=f"{len(tables.projects):,}",
                      loans=f"{len(tables.loans):,}", insurance=f"{len(tables.insurance):,}",
                      events=f"{len(tables.events):,}", seconds=f"{seconds:.2f}"))
    by = claims.summary(("year", "measure")).pivot(index="year", columns="measure", values="amount")
    by.columns = [text("cli", "measure_n", lang, measure=m) for m in by.columns]
    by[text("cli", "total", lang)] = by.sum(axis=1)
    by.index.name = name("columns", "year", lang)
    print(_table_text(by.fillna(0), formatters={c: "{:,}".format for c in by.columns}))
    cuts = claims.summary(("instrument",))
    rules = ("item_rules", "most_favourable", "enterprise_cap", "project_cap", "total_cap")
    print(text("cli", "cuts_by_rule", lang, cuts=joined(
        (text("cli", "cut_amount", lang, rule=text("cli", f"cut_{rule}", lang), amount=f"{cuts[f'cut_by_{rule}'].sum():,}")
         for rule in rules), lang, "clauses")))
    print(text("cli", "demo_claims_counts", lang, rejected=len(claims.rejections), not_paid=f"{len(claims.not_paid):,}",
               projected=f"{len(claims.projections):,}"))
    for note in claims.notes:
        print(text("cli", "note", lang, note=in_language(note, lang)))
    print(text("cli", "illustrative", lang))
    print(text("cli", "inputs_line", lang, version=claims.provenance.engine_version,
               sha=claims.provenance.parameters_sha256[:16]))
    _print_allocation(claims, lang)


def _print_allocation(claims: Claims, lang: Lang) -> None:
    from subsidy_engine.budgeting.allocation import allocate
    from subsidy_engine.params.budget import load_budget

    budget = load_budget()
    started = time.perf_counter()
    result = allocate(claims, budget, "waterfall")
    seconds = time.perf_counter() - started
    by = result.by_source.assign(kind=result.by_source.source_id.astype(str).str.split(":").str[0])
    awarded = result.awards.groupby("year")["awarded"].sum()
    print("\n" + text("cli", "demo_allocation", lang, budget=budget.path.rsplit("/", 1)[-1], sources=len(budget.sources),
                      status=name("statuses", budget.file.status, lang), seconds=f"{seconds:.2f}",
                      awarded=joined((text("cli", "year_amount", lang, year=y, amount=f"{v:,}")
                                      for y, v in awarded.items()), lang, "clauses")))
    for kind in ("gaojingjian_fund", "sector_budget", "district_matching"):
        rows = by[by.kind == kind].groupby("year")[["available", "awarded", "remaining"]].sum()
        print(f"  {_label(name('source_groups', kind, lang), 24)}" + joined(
            (text("cli", "awarded_of", lang, year=y, awarded=f"{r.awarded:,}", available=f"{r.available:,}")
             for y, r in rows.iterrows() if r.available or r.awarded), lang, "clauses"))
    print(text("cli", "demo_unfunded", lang, count=f"{len(result.unfunded):,}", awarded=f"{result.total_awarded:,}",
               claimed=f"{claims.total:,}"))


def _run(args: argparse.Namespace, path: Path) -> int:
    from pyarrow import ArrowException

    from subsidy_engine.io.cells import read_table_file

    try:
        curve = _curve(args)  # the options first: a bad one is named before the table is read
        if path.is_dir():
            raise ValueError(f"{path}: cannot read the loan table (it is a folder; give a CSV, Parquet or "
                             ".xlsx file)")
        try:
            # cells as people's files hold them
            read = read_table_file(path, id_column="loan_id", limits=_limits(args), table="loans")
        except OSError as exc:
            raise ValueError(f"{path}: cannot read the loan table ({exc.strerror or exc})") from None
        except (ArrowException, PortfolioSchemaError) as exc:
            raise ValueError(f"cannot read the loan table: {one_line(exc)}") from None
        table = read.frame
        events, event_rows = {}, {}
        for name in ("drawdowns", "prepayments"):  # a loan book's tranches and prepayments, keyed by loan_id
            event_path = getattr(args, name, None)
            if event_path:
                try:
                    event_read = read_table_file(event_path, id_column="loan_id", limits=_limits(args), table=name)
                except OSError as exc:
                    raise ValueError(f"{event_path}: cannot read the {name} table ({exc.strerror or exc})") from None
                except (ArrowException, PortfolioSchemaError) as exc:
                    raise ValueError(f"cannot read the {name} table: {one_line(exc)}") from None
                events[name], event_rows[name] = event_read.frame, event_read.rows
        started = time.perf_counter()
        result = amortize_portfolio(table, lpr=curve, output=args.output, strict=args.strict,
                                    drawdowns=events.get("drawdowns"), prepayments=events.get("prepayments"),
                                    event_rows=event_rows)
    except (SubsidyEngineError, ValueError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    if len(result.rejections):  # the row the user's file shows, beside the 0-based position (-1: no loan row)
        positions = result.rejections["row"].to_numpy(dtype="int64")
        result.rejections.insert(1, "file_row", pd.Series(
            [int(read.rows[k]) if k >= 0 else None for k in positions], dtype="Int64", index=result.rejections.index))
    lang = Lang.parse(args.lang)
    _report(result, len(table), time.perf_counter() - started, lang)
    if getattr(args, "out", None):
        try:
            with OutputFolder(args.out) as output:  # whole or not at all, formula-safe
                if result.has_yearly:
                    write_csv(result.yearly, output.path("yearly.csv"))
                if result.has_schedule:
                    write_csv(result.schedule, output.path("schedule.csv"))
                write_csv(result.rejections, output.path("rejections.csv"))
        except OSError as exc:
            print(f"error: --out {args.out}: {one_line(exc)}", file=sys.stderr)
            return 2
        print(text("cli", "wrote_to", lang, files=joined(sorted(output.names), lang, "items"), folder=args.out))
    return 1 if len(result.rejections) else 0


def _limits(args: argparse.Namespace) -> Limits:
    """The readers' limits, with the ``--limit NAME=VALUE`` options over the defaults."""
    return Limits.parse(getattr(args, "limit", None))


def _tables(args: argparse.Namespace) -> PortfolioTables:
    from subsidy_engine.simulation.synthetic import portfolio

    if args.portfolio:
        tables = load_portfolio(args.portfolio, strict=getattr(args, "strict", False), limits=_limits(args))
        if getattr(args, "strict", False) and len(tables.problems) and args.command != "simulate":
            raise ValueError(f"--strict: {len(tables.problems)} problem(s) in {tables.source}; nothing computed "
                             f"(subsidy-engine validate {tables.source} lists them)")
        return tables
    return portfolio(args.projects, seed=args.seed)


def _rejected_text(problems: pd.DataFrame, tables: PortfolioTables, lang: Lang | str = "en") -> tuple[str, bool]:
    """``N of M rows rejected (projects 3 of 30, loans 5 of 22)``, and whether every row was."""
    from subsidy_engine.pipeline.inputs import rejected_counts

    sizes = tables.sizes()
    counts = rejected_counts(problems, sizes)
    total, rejected = sum(sizes.values()), sum(counts.values())
    parts = joined((text("cli", "rejected_part", lang, table=name("tables", table, lang), count=f"{n:,}",
                         size=f"{sizes[table]:,}") for table, n in counts.items()), lang)
    said = (text("cli", "rejected_rows", lang, rejected=f"{rejected:,}", total=f"{total:,}", parts=parts) if counts
            else text("cli", "rejected_rows_plain", lang, rejected=f"{rejected:,}", total=f"{total:,}"))
    return said, total > 0 and rejected >= total


def _problems_table(problems: pd.DataFrame, lang: Lang | str = "en") -> str:
    """The problems as the user reads them: file, table, row, id, field, reason (no 0-based position); the
    headers in ``lang`` (the reasons are the readers' own, in English)."""
    shown = problems.drop(columns=["position"], errors="ignore").astype(object)
    shown = shown.where(shown.notna(), "")
    if "file" in shown and shown.file.nunique() == 1:  # one file: said once above the table
        shown = shown.drop(columns="file")
    shown = reasons_in_words(shown, lang)  # where the vocabulary words the reader's reason
    shown.columns = [name("columns", c, lang) if Lang.parse(lang) is Lang.ZH else c for c in shown.columns]
    return _table_text(shown, index=False)





def _simulate(args: argparse.Namespace) -> int:
    """``simulate``, saying on standard error when the kernels it needs are compiled (a fresh install's first run
    spends most of its time there: issue 19, point 5)."""
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))  # noqa: E731
    lang = Lang.parse(args.lang)
    tell = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))  # noqa: E731
    with compile_report(lambda: tell(text("cli", "compiling", lang))) as report:
        code = _simulate_run(args, say, lang)
    if report.kernels:
        tell(text("cli", "compiled", lang, count=report.kernels, seconds=f"{report.seconds:.1f}"))
    return code


def _say_government_investment(run: Simulation, say: Callable[[str], None], lang: Lang) -> None:
    """A run's government investment (measures 1 and 4) on a line of its own, apart from its subsidies."""
    invested = run.government_investment
    if not len(invested):
        return
    charged = invested[invested.source_id.notna()]
    by_year = invested.groupby("year").amount.sum()
    say(text("cli", "government_investment", lang, total=f"{sum(invested.amount, Decimal(0)):,.2f}",
             charged=f"{sum(charged.amount, Decimal(0)):,.2f}",
             years=joined((f"{y}: {v:,.2f}" for y, v in by_year.items()), lang, "items")))


def _simulate_run(args: argparse.Namespace, say: Callable[..., None], lang: Lang) -> int:
    with contextlib.ExitStack() as stack:
        return _simulate_on(args, say, lang, stack)


def _simulate_on(args: argparse.Namespace, say: Callable[..., None], lang: Lang, stack: contextlib.ExitStack) -> int:
    """simulate; a cluster it starts (--cluster local:N) is closed with ``stack``."""
    from subsidy_engine.params.budget import load_budget
    from subsidy_engine.params.policy import load_policy
    from subsidy_engine.reports.simulation_report import write_outputs
    from subsidy_engine.simulation.cluster import check_address, connect, workers
    from subsidy_engine.simulation.cluster import require as require_cluster
    from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL, MonteCarloSettings, load_scenario
    from subsidy_engine.simulation.simulate import Comparison, simulate
    from subsidy_engine.simulation.sweep import SweepInputs, load_sweep
    from subsidy_engine.simulation.sweep import build as build_sweep

    started = time.perf_counter()
    try:
        time_limit = check_time_limit(args.time_limit, "--time-limit")  # the options first
        if args.cluster is not None:
            check_address(args.cluster)
            require_cluster()
        tables = _tables(args)
        if args.strict and len(tables.problems):
            print(f"error: --strict: {len(tables.problems)} problem(s) in {tables.source}; nothing computed:",
                  file=sys.stderr)
            print(_problems_table(tables.problems), file=sys.stderr)
            return 2
        years = tuple(range(args.start, args.start + args.years))
        if args.years < 1:
            raise ValueError(f"--years must be at least 1, not {args.years}")
        policy, budget, rates = load_policy(), load_budget(args.budget), _rates(args.rates)
        history = _history(args)
        hold_until = _hold_until(args) or DEFAULT_HOLD_UNTIL
        # the scenario and the Monte Carlo settings are checked before anything runs
        scenario = load_scenario(args.scenario) if args.scenario else None
        if args.sweep and scenario is not None:
            raise ValueError("--sweep and --scenario: give one (a sweep's axes are scenario values; put the "
                             "scenario's changes in the sweep file as axes of one value)")
        spec = load_sweep(args.sweep) if args.sweep else None
        # every scenario of the sweep built, and so checked, before the baseline and any cluster
        built = build_sweep(spec, policy, budget, history, hold_until) if spec is not None else None
        settings = scenario.file.monte_carlo if scenario is not None else None
        sweep_paths = spec.file.monte_carlo if spec is not None else None
        if args.paths is not None and spec is not None:  # a sweep's paths: each of its scenarios
            sweep_paths = (sweep_paths or MonteCarloSettings()).with_paths(args.paths) if args.paths > 0 else None
        elif args.paths is not None:
            settings = (settings or MonteCarloSettings()).with_paths(args.paths) if args.paths > 0 else None
        if (settings is not None or sweep_paths is not None) and args.mode == "optimal":
            raise ValueError("Monte Carlo runs the waterfall or merit mode: the optimal mode's linear program "
                             "takes seconds per path (--paths 0 to run without it)")
        client = None
        if args.cluster is not None:
            client = stack.enter_context(connect(args.cluster))
            say(text("cli", "cluster", lang, address=args.cluster, workers=workers(client)))
        baseline = simulate(tables, years, policy=policy, budget=budget, mode=args.mode,
                            lpr=history.hold_flat(until=hold_until), rate_by_stage=rates, time_limit=time_limit,
                            calendar=_calendar(args), client=client)
        rejections = baseline.claims.rejections
        rejected, every = _rejected_text(rejections, tables, lang)
        if every:  # said first: a run of nothing but rejections is not a budget of zeros
            with OutputFolder(args.out) as output:
                write_csv(rejections, output.path("rejected_rows.csv"))
            listed = output.final("rejected_rows.csv")
            print(f"error: every row of the portfolio was rejected ({rejected}); nothing was computed. "
                  f"The problems are listed in {listed} (subsidy-engine validate {tables.source} shows them)",
                  file=sys.stderr)
            return 2
        say(text("cli", "run_header", lang, source=tables.source, projects=f"{len(tables.projects):,}",
                 first=years[0], last=years[-1], budget=budget.id, status=name("statuses", budget.file.status, lang),
                 mode=name("modes", args.mode, lang), seconds=f"{time.perf_counter() - started:.2f}"))
        say(_frame_text(baseline.by_year(), lang))
        empty = [int(cast(int, r.year)) for r in baseline.by_year().itertuples() if r.claimed == 0]  # an int column
        if empty and not len(rejections):
            say(text("cli", "no_claims", lang, years=joined(empty, lang, "items")))
        _say_government_investment(baseline, say, lang)
        comparison, run_for_paths = None, baseline
        inputs: tuple[PortfolioTables, Policy, Budget, list[tuple[date, int, int]]] = (tables, policy, budget, [])
        if scenario is not None:
            grown, s_policy, s_budget = (scenario.portfolio(tables, years), scenario.policy(policy),
                                         scenario.budget(budget))
            other = simulate(grown, years, policy=s_policy, budget=s_budget, mode=args.mode,
                             lpr=scenario.curve(history, hold_until), rate_by_stage=rates, label=scenario.id,
                             time_limit=time_limit, calendar=_calendar(args), client=client)
            comparison, run_for_paths = Comparison(baseline, other), other
            inputs = (grown, s_policy, s_budget, scenario.shifts_bp())
            say("\n" + text("cli", "scenario", lang, id=scenario.id,
                            description=scenario.file.description or text("cli", "no_description", lang)))
            say(_frame_text(comparison.by_year()[["year", "baseline_awarded", "scenario_awarded", "delta_awarded"]],
                            lang))
            drivers = comparison.drivers(5, existing_only=True)
            if len(drivers):
                say(text("cli", "drivers", lang))
                say(_frame_text(with_names(drivers[["project_id", "district", "sector", "delta_awarded"]], lang)
                                .drop(columns=["district", "sector"]), lang))
            _say_government_investment(other, say, lang)
        mc = None
        if settings is not None:
            held = scenario.hold_until(hold_until) if scenario is not None else hold_until
            mc = _monte_carlo(args, inputs, years, history, held, settings, rates, run_for_paths.label, client)
            say("\n" + text("cli", "monte_carlo", lang, paths=f"{settings.paths:,}", run=run_for_paths.label,
                            loans=f"{mc.loans_repriced:,}"))
            say(_frame_text(mc.outlay_by_year()[["year", "p5", "p50", "p95"]], lang))
            risk = mc.budget_at_risk()
            uncertain = risk[(risk.p_cap_exceeded > 0) & (risk.p_cap_exceeded < 1)]
            names_of = source_names(run_for_paths.allocation.budget, lang)
            say(text("cli", "at_risk", lang, always=int((risk.p_cap_exceeded == 1).sum()), some=len(uncertain))
                + (name("separators", "colon", lang) + joined((
                    text("cli", "at_risk_some", lang, source=names_of.get(str(r.source_id), str(r.source_id)),
                         year=r.year, probability=f"{r.p_cap_exceeded:.1%}") for r in uncertain.head(8).itertuples()),
                    lang, "clauses") if len(uncertain) else ""))
        ran_sweep = None
        if spec is not None:
            ran_sweep = _sweep(args, spec, SweepInputs(tables, years, policy, budget, history, hold_until, args.mode,
                                                       rates, _calendar(args), time_limit), sweep_paths, client, built)
            _say_sweep(say, ran_sweep, lang)
        from subsidy_engine.reports.charts import can_draw

        charts = can_draw()  # without the reports extra: the figures, summary.json and report.xlsx, no charts
        if not charts:
            print(text("cli", "no_charts", lang), file=sys.stderr)
        paths = write_outputs(baseline, args.out, comparison=comparison, monte_carlo=mc, scenario=scenario,
                              lang=lang, charts=charts, detail=args.detail, sweep=ran_sweep)
    except (SubsidyEngineError, ValueError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    for note in (*baseline.claims.notes, *baseline.allocation.notes):
        say(text("cli", "note", lang, note=in_language(note, lang)))
    if comparison is not None:
        for note in comparison.scenario.allocation.notes:
            say(text("cli", "scenario_note", lang, id=comparison.scenario.label, note=in_language(note, lang)))
    if len(rejections):  # printed even with --quiet: the run is incomplete, and exits 1
        print(text("cli", "rejected", lang, rejected=rejected, csv=Path(args.out) / "rejected_rows.csv"),
              file=sys.stderr)
    say("\n" + text("cli", "wrote", lang, files=joined(paths, lang, "items"),
                    seconds=f"{time.perf_counter() - started:.1f}", sha=baseline.inputs_sha256[:16]))
    if scenario is None and spec is None:
        from subsidy_engine.params.lpr import schedules_dir

        say(text("cli", "try_scenario", lang, command=f"subsidy-engine simulate --scenario "
                                                      f"{schedules_dir() / 'scenario-demo.yaml'} --paths 200"))
    return 1 if len(rejections) else 0


def _frame_text(frame: pd.DataFrame, lang: Lang | str | None = None) -> str:
    """A table of exact amounts as text: thousands separated, a blank where a row has no amount; with ``lang``,
    the headers in its words (the report's column names)."""
    def is_money(column: pd.Series) -> bool:
        given = [v for v in column if v is not None]
        return bool(given) and all(isinstance(v, Decimal) for v in given)

    def amount(value: Decimal | None) -> str:
        return "" if value is None else f"{value:,}"

    # formatted before printing: pandas hands a formatter no missing value, and would print "None"
    shown = frame.copy()
    for column in frame.columns:
        if is_money(frame[column]):
            shown[column] = frame[column].map(amount)
    if lang is not None:
        shown.columns = [name("columns", c, lang) for c in shown.columns]
    return _table_text(shown, index=False)


def _monte_carlo(args: argparse.Namespace, inputs: tuple[PortfolioTables, Policy, Budget, list[tuple[date, int, int]]],
                 years: tuple[int, ...], history: LprCurve, hold_until: date, settings: MonteCarloSettings,
                 rates: dict[str, str] | None, label: str, client: Client | None = None) -> MonteCarlo:
    """The Monte Carlo run, with a progress bar on a terminal (none with --quiet or when piped)."""
    from tqdm import tqdm

    from subsidy_engine.simulation.montecarlo import monte_carlo

    tables, policy, budget, changes = inputs
    with tqdm(total=settings.paths, desc="Monte Carlo paths", unit="path", file=sys.stderr,
              disable=True if args.quiet else None, leave=False) as bar:
        return monte_carlo(tables, years, policy=policy, budget=budget, history=history, changes=changes,
                           settings=settings, hold_until=hold_until, rate_by_stage=rates,
                           mode=args.mode, label=label, progress=lambda done: bar.update(done - bar.n), client=client)


def _sweep(args: argparse.Namespace, spec: SweepSpec, inputs: SweepInputs, paths: MonteCarloSettings | None,
           client: Client | None = None, built: Built | None = None) -> Sweep:
    """The sweep's scenarios, with a progress bar on a terminal (none with --quiet or when piped)."""
    from tqdm import tqdm

    from subsidy_engine.simulation.sweep import sweep

    with tqdm(total=spec.size, desc="sweep scenarios", unit="scenario", file=sys.stderr,
              disable=True if args.quiet else None, leave=False) as bar:
        return sweep(spec, inputs, monte_carlo=paths, progress=lambda done: bar.update(done - bar.n), client=client,
                     built=built)


def _say_sweep(say: Callable[..., None], ran: Sweep, lang: Lang) -> None:
    """The sweep's scenarios, one line each, and the lowest and highest outlay."""
    from subsidy_engine.reports.workbook import axes_said

    table = ran.scenarios()
    axes = ran.spec.axes()
    evaluations = len({p.evaluation.id for p in ran.points})
    say("\n" + text("cli", "sweep", lang, id=ran.spec.id, count=f"{len(table):,}", axes=axes_said(axes, lang),
                    evaluations=f"{evaluations:,}"))
    shown = table.drop(columns=["claimed"]).rename(
        columns={a: name("columns", a, lang, default=name("parameters", a, lang)) for a in axes})
    say(_frame_text(shown, lang))
    outlay = [int(r.awarded_fen.sum()) for r in ran.results]
    low, high = outlay.index(min(outlay)), outlay.index(max(outlay))  # the first of equals
    said = table.to_dict("records")
    say(text("cli", "sweep_extremes", lang, low=said[low]["scenario_id"], low_amount=f"{said[low]['awarded']:,}",
             high=said[high]["scenario_id"], high_amount=f"{said[high]['awarded']:,}"))


def _rates(text: str | None) -> dict[str, str] | None:
    """``pilot=0.3,demonstration=0.2,promotion=0.1`` -> a dict (no rate is published, so none by default).

    Read in full before anything runs, so that every command says the same of the same option: each
    stage known and given once, every stage given, each rate a decimal fraction from 0 to 1 ("30%" is
    0.30) in steps of at most 1e-10. A problem is a ``ValueError`` of one line naming ``--rates``.

    >>> _rates("pilot=0.3, Demonstration=20%, promotion=0.1")
    {'pilot': '0.3', 'demonstration': '0.20', 'promotion': '0.1'}
    """
    if text is None:
        return None
    from subsidy_engine.core.vocabulary import Stage
    from subsidy_engine.params.rules import stage_rate

    stages = ", ".join(s.value for s in Stage)
    usage = f"give stage=rate for each of {stages}, e.g. --rates pilot=0.3,demonstration=0.2,promotion=0.1"
    rates: dict[str, str] = {}
    bad: list[str] = []
    for part in text.split(","):
        stage_text, equals, value_text = part.partition("=")
        if not equals or not stage_text.strip():
            raise ValueError(f"--rates {text!r}: {usage}")
        given = f"--rates {stage_text.strip()}={value_text.strip()}"
        try:
            stage = Stage.parse(stage_text).value
        except ValueError:
            raise ValueError(f"--rates: {stage_text.strip()!r} is not a stage; {usage}") from None
        if stage in rates:
            raise ValueError(f"--rates: {stage} is given twice")
        value = value_text.strip()
        rates[stage] = value
        if not value:
            bad.append(f"{given}: no rate; {usage}")
            continue
        try:  # the rule's own reading, as a quote's rate_by_stage is read
            rates[stage] = f"{stage_rate(value, given):f}"  # plain digits: 1E-10 as 0.0000000001
        except ValueError as exc:
            bad.append(str(exc))
    if bad:  # every bad rate at once (issue 16, row 2)
        raise ValueError("; ".join(bad))
    missing = [s.value for s in Stage if s.value not in rates]
    if missing:
        raise ValueError(f"--rates: no rate for {'stage' if len(missing) == 1 else 'stages'} "
                         f"{', '.join(map(repr, missing))}; {usage.split(', e.g.')[0]}")
    return rates


def _validate(args: argparse.Namespace) -> int:
    """Every row that evaluating the portfolio would reject, at once; exit 0 when there is none, 1 when
    there are, 2 when the portfolio or an option cannot be read at all.

    The portfolio is evaluated (as simulate and explain evaluate it, with the same ``--lpr``,
    ``--hold-lpr-until`` and ``--rates``) and its rejections listed: the tables' own problems, dates no
    parameter set covers, and what each calculator refuses. A clean validate is then no rejection later.
    """
    from subsidy_engine.pipeline.evaluate import evaluate

    try:
        rates, curve = _rates(args.rates), _curve(args)  # the options first, before the portfolio is read
        tables = load_portfolio(args.portfolio, strict=args.strict, limits=_limits(args))
        claims = evaluate(tables, lpr=curve, rate_by_stage=rates)
    except (SubsidyEngineError, ValueError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    problems = claims.rejections
    lang = Lang.parse(args.lang)
    counts = joined((text("cli", "table_rows", lang, table=name("tables", t, lang), count=f"{n:,}")
                     for t, n in tables.sizes().items()), lang)
    for note in claims.notes:
        print(text("cli", "note", lang, note=in_language(note, lang)))
    if problems.empty:
        print(text("cli", "validate_clean", lang, portfolio=args.portfolio, counts=counts))
        return 0
    rejected, every = _rejected_text(problems, tables, lang)
    files = problems.file.unique()
    where = text("cli", "validate_where", lang, file=files[0]) if len(files) == 1 and files[0] else ""
    print(text("cli", "validate_problems", lang, portfolio=args.portfolio, counts=counts, problems=len(problems),
               where=where, rejected=rejected, every=text("cli", "validate_every", lang) if every else ""))
    print(_problems_table(problems, lang))
    return 1


def _reconcile(args: argparse.Namespace) -> int:
    from subsidy_engine.reports.xlsx import write_xlsx
    from subsidy_engine.service.reconcile import read_bank_claims, reconcile, reconcile_totals

    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))  # noqa: E731
    if args.ledger:
        return _reconcile_ledger(args, say)
    started = time.perf_counter()
    lang = Lang.parse(args.lang)
    try:
        tables, curve = _tables(args), _curve(args)
        if args.claims:
            claims = read_bank_claims(args.claims, limits=_limits(args))
            source = args.claims
        else:
            from subsidy_engine.service.bank_file import bank_claims

            claims = bank_claims(tables, curve)
            source = text("cli", "demo_bank_claims", lang, source=tables.source)
        report = reconcile(claims, tables, lpr=curve)
        totals = reconcile_totals(report)
        out = Path(args.out)
        shown = report.assign(bank_note=claims["bank_note"].to_numpy()) if "bank_note" in claims else report
        if "row_numbers" in claims.attrs:  # the row the bank's file shows, beside the 0-based position
            shown.insert(1, "file_row", pd.array(claims.attrs["row_numbers"][shown["row"].to_numpy(dtype="int64")],
                                                dtype="Int64"))
        with OutputFolder(out) as output:  # whole or not at all, formula-safe; the CSV keeps the ids, for programs
            write_csv(shown, output.path("reconcile.csv"))
            write_xlsx(output.path("reconcile.xlsx"), reconcile_sheets(shown, totals, lang))
    except (SubsidyEngineError, ValueError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    say(text("cli", "reconcile_rows", lang, source=source, rows=f"{len(report):,}", portfolio=tables.source,
             seconds=f"{time.perf_counter() - started:.2f}"))
    say(_frame_text(reconcile_in_words(totals, lang).rename(columns={"status": "reconcile_status"}), lang))
    causes = report[report.status == "mismatch"].likely_cause.fillna("(none found)").value_counts()
    if len(causes):
        said = names("likely_causes", lang)
        say(text("cli", "reconcile_causes", lang, causes=joined(
            (f"{said.get(str(cause), cause)} {n}" for cause, n in causes.items()), lang, "clauses")))
    say(text("cli", "reconcile_wrote", lang, files=joined([out / "reconcile.csv", out / "reconcile.xlsx"], lang, "items")))
    return 0 if (report.status == "match").all() else 1


def _reconcile_ledger(args: argparse.Namespace, say: Callable[..., None]) -> int:
    """``reconcile --ledger FILE``: a bank's ledger, each settlement against the engine's, under the bundled
    policy's 貼息 rule in force on each loan's first drawdown."""
    from pyarrow import ArrowException

    from subsidy_engine.io.cells import read_table_file
    from subsidy_engine.params.policy import load_policy
    from subsidy_engine.reports.workbook import ledger_sheets
    from subsidy_engine.reports.xlsx import write_xlsx
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    started = time.perf_counter()
    lang = Lang.parse(args.lang)
    try:
        try:
            read = read_table_file(args.ledger, id_column="loan_id", limits=_limits(args), table="ledger")
        except OSError as exc:
            raise ValueError(f"{args.ledger}: cannot read the ledger ({exc.strerror or exc})") from None
        except (ArrowException, PortfolioSchemaError) as exc:
            raise ValueError(f"cannot read the ledger: {one_line(exc)}") from None
        result = reconcile_ledger(read.frame, load_policy(), file_rows=read.rows)
        out = Path(args.out)
        with OutputFolder(out) as output:  # whole or not at all, formula-safe
            write_csv(result.settlements, output.path("ledger_reconcile.csv"))
            write_xlsx(output.path("ledger_reconcile.xlsx"), ledger_sheets(result.settlements, result.rejections, lang))
    except (SubsidyEngineError, ValueError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    s = result.settlements
    mismatched = s[s.status == "mismatch"]
    say(text("cli", "ledger_rows", lang, file=args.ledger, settlements=f"{len(s):,}", loans=f"{s.loan_id.nunique():,}",
             mismatched=f"{len(mismatched):,}", rejected=f"{len(result.rejections):,}",
             seconds=f"{time.perf_counter() - started:.2f}"))
    causes = mismatched.likely_cause.fillna("(none found)").value_counts()
    if len(causes):
        said = names("likely_causes", lang)
        say(text("cli", "reconcile_causes", lang, causes=joined(
            (f"{said.get(str(cause), cause)} {n}" for cause, n in causes.items()), lang, "clauses")))
    for r in reasons_in_words(result.rejections.head(5), lang).itertuples():
        say(text("cli", "ledger_rejected_row", lang, row=r.row, loan=repr(r.loan_id), field=r.field, reason=r.reason))
    for note in result.notes:
        say(text("cli", "note", lang, note=in_language(note, lang)))
    say(text("cli", "reconcile_wrote", lang, files=joined([out / "ledger_reconcile.csv", out / "ledger_reconcile.xlsx"],
                                                        lang, "items")))
    return 0 if not len(mismatched) and not len(result.rejections) else 1


def _explain(args: argparse.Namespace) -> int:
    from zipfile import BadZipFile

    from subsidy_engine.pipeline.evaluate import evaluate
    from subsidy_engine.pipeline.explain import explain

    def named(exc: Exception) -> ValueError:
        """A portfolio file's problem, naming the file (or the --portfolio option) once."""
        said = (f"cannot read {exc.filename or 'it'} ({exc.strerror or exc})" if isinstance(exc, OSError)
                else one_line(exc))
        folder = str(Path(args.portfolio))
        return ValueError(f"--portfolio {said}" if said.startswith(folder) else said if folder in said
                          else f"--portfolio {args.portfolio}: {said}")

    try:
        rates, curve = _rates(args.rates), _curve(args)  # the options first, before the portfolio is built
        if args.years < 1:
            raise ValueError(f"--years must be at least 1, not {args.years}")
        try:
            tables = _tables(args)
        except (OSError, ValueError, KeyError, BadZipFile) as exc:  # a file that is not what its name says
            if not args.portfolio:
                raise
            raise named(exc) from None
        try:
            claims = evaluate(tables, years=range(args.start, args.start + args.years), lpr=curve,
                              rate_by_stage=rates, calendar=_calendar(args))
        except PortfolioSchemaError as exc:  # a table without its columns
            if not args.portfolio:
                raise
            raise named(exc) from None
        try:
            said = explain(claims, args.project_id, lang=args.lang)
        except KeyError as exc:  # no such project
            raise ValueError(one_line(exc)) from None
    except (SubsidyEngineError, ValueError) as exc:  # ValueError: pydantic's ValidationError
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    print(said)
    return 0


def _quote(args: argparse.Namespace) -> int:
    """``subsidy-engine quote request.json``: the JSON the service's ``POST /quote`` answers, read and refused by
    the same rules (:func:`subsidy_engine.service.quote.parse_request`), printed in UTF-8 with an indent for
    people. Exit 0, or 1 when the engine rejected a loan (the response's ``rejections``), 2 when it could not
    quote."""
    import json

    from subsidy_engine.errors import CoverageError, RequestRefused
    from subsidy_engine.service.quote import MAX_BODY_BYTES, parse_request, quote, too_large

    name = "standard input" if args.request == "-" else args.request
    try:
        if args.request == "-":
            if sys.stdin is None:
                raise OSError("standard input is closed")
            body = sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
        else:
            with open(args.request, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size > MAX_BODY_BYTES:  # the file's size, as the service says a body's, before reading it
                    raise too_large(MAX_BODY_BYTES, size)
                body = file.read(MAX_BODY_BYTES + 1)
        response = quote(parse_request(body)).made()  # its words and schedules too: an error making them is said
    except OSError as exc:
        print(f"error: {name}: {exc.strerror or one_line(exc)}", file=sys.stderr)
        return 2
    except RequestRefused as exc:
        for problem in exc.errors:
            field = ".".join(str(part) for part in problem["loc"][1:])
            print(f"error: {name}: {field + ': ' if field else ''}{one_line(problem['msg'])}", file=sys.stderr)
        return 2
    except (CoverageError, ValueError, ArithmeticError) as exc:  # the engine's refusal of a valid request
        print(f"error: {name}: {one_line(exc)}", file=sys.stderr)
        return 2
    text = json.dumps(response.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))  # JSON is UTF-8, whatever the terminal's encoding
    return 1 if response.rejections else 0


def _template(args: argparse.Namespace) -> int:
    """``subsidy-engine template FILE.xlsx``: the portfolio template (exit 0), or why it could not be written
    (exit 2: not an .xlsx name, the file exists without --force, a folder that cannot be written)."""
    from subsidy_engine.reports.template import write_template

    try:
        written = write_template(args.file, lang=args.lang, overwrite=args.force)
    except (ValueError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    lang = Lang.parse(args.lang)
    print(text("cli", "template_written", lang, file=written,
               validate=f"subsidy-engine validate {written}", simulate=f"subsidy-engine simulate --portfolio {written}"))
    return 0


#: Each command's examples, shown at the end of its --help (a test parses every one).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "demo": (
        "subsidy-engine demo",
    ),
    "amortize": (
        "subsidy-engine amortize loans.csv --out schedules-out --output both",
        "subsidy-engine amortize loans.xlsx --drawdowns drawdowns.csv --prepayments prepayments.csv --out out",
    ),
    "simulate": (
        "subsidy-engine simulate",
        "subsidy-engine simulate --portfolio my-portfolio.xlsx --rates pilot=0.3,demonstration=0.2,promotion=0.1",
        "subsidy-engine simulate --portfolio tables-folder --mode merit --out simulation-merit",
        "subsidy-engine simulate --scenario schedules/scenario-demo.yaml --paths 200",
    ),
    "explain": (
        "subsidy-engine explain P46  # a project of the synthetic portfolio",
        "subsidy-engine explain P-7 --portfolio my-portfolio.xlsx",
    ),
    "reconcile": (
        "subsidy-engine reconcile",
        "subsidy-engine reconcile bank-claims.xlsx --portfolio my-portfolio.xlsx --out reconcile",
        "subsidy-engine reconcile --ledger bank-ledger.csv",
    ),
    "serve": (
        "subsidy-engine serve --port 8000",
    ),
    "quote": (
        "subsidy-engine quote request.json",
        "subsidy-engine quote -  # the request on standard input",
    ),
    "validate": (
        "subsidy-engine validate my-portfolio.xlsx",
        "subsidy-engine validate portfolio-folder --strict",
    ),
    "template": (
        "subsidy-engine template my-portfolio.xlsx",
        "subsidy-engine template my-portfolio-en.xlsx --lang en --force",
    ),
}


def _command(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A command's parser, its :data:`EXAMPLES` at the end of its help."""
    examples = "\n".join(f"  {line}" for line in EXAMPLES[name])
    return cast(argparse.ArgumentParser, sub.add_parser(name, help=help, epilog=f"Examples:\n{examples}",
                                                        formatter_class=argparse.RawDescriptionHelpFormatter))


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser: every command, its options with their help, and its examples."""
    parser = argparse.ArgumentParser(prog="subsidy-engine", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"subsidy_engine {engine_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def limit_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--limit", action="append", metavar="NAME=VALUE",
                       help="raise a reader's limit (repeatable): file_bytes, rows, columns, cell_chars, "
                            "sheet_cells, part_bytes, inflate_ratio, table_bytes; see the README's limits and guarantees")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--lpr", help="an LPR CSV file instead of the bundled schedules/lpr.csv")
        p.add_argument("--hold-lpr-until", metavar="YYYY-MM-DD",
                       help="project the last LPR fixing unchanged until this date (an explicit, "
                            "reported scenario); without it, resets beyond the data are rejected")
        p.add_argument("--output", choices=("both", "schedule", "yearly"), default="yearly",
                       help="what to compute: each loan's yearly totals (default), its schedule, or both")
        p.add_argument("--strict", action="store_true", help="fail on any bad row")
        p.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANG.value,
                       help="the language of the summary: zh (Simplified Chinese, the default) or en (the CSV files "
                            "keep the engine's ids and words, for programs)")
        limit_option(p)

    demo = _command(sub, "demo", "a sample loan and the bundled demo portfolio")
    common(demo)
    demo.set_defaults(hold_lpr_until="2045-12-31")
    run = _command(sub, "amortize", "amortize a loan table (CSV or Parquet)")
    run.add_argument("loans", type=Path, help="the loan table: a CSV, Parquet or .xlsx file, a loan a row "
                                              "(columns in the README's \"Files people make\")")
    run.add_argument("--out", "--out-dir", dest="out", metavar="FOLDER",
                     help="write yearly.csv / schedule.csv / rejections.csv to this folder (--out-dir, the old "
                          "spelling, still works); without it, only the summary is printed")
    run.add_argument("--drawdowns", type=Path, help="the loans' tranches: loan_id, date, amount (every tranche, "
                                                    "the first on the loan's start_date)")
    run.add_argument("--prepayments", type=Path, help="the loans' prepayments: loan_id, date, amount and an "
                                                      "optional recompute (payment or term)")
    common(run)

    def portfolio_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--portfolio", help="a folder of CSV/Parquet tables or an .xlsx workbook "
                                           "(default: the seeded synthetic Beijing portfolio)")
        p.add_argument("--projects", type=int, default=5_000, help="size of the synthetic portfolio (default 5000)")
        p.add_argument("--seed", type=int, default=78, help="seed of the synthetic portfolio (default 78)")
        p.add_argument("--start", type=int, default=2026, help="first calendar year (default 2026)")
        p.add_argument("--years", type=int, default=5, help="horizon in calendar years (default 5)")
        p.add_argument("--rates", help="investment-subsidy rate of every stage, a fraction from 0 to 1 or a "
                                       "percentage, e.g. pilot=0.3,demonstration=20%%,promotion=0.1 "
                                       "(78號 publishes none)")
        p.add_argument("--lpr", help="an LPR CSV file instead of the bundled schedules/lpr.csv")
        p.add_argument("--hold-lpr-until", metavar="YYYY-MM-DD", default="2045-12-31",
                       help="project the last LPR fixing unchanged until this date (an explicit, reported "
                            "scenario; default 2045-12-31)")
        p.add_argument("--strict", action="store_true",
                       help="refuse a portfolio with any problem, set-aside column or sheet (exit 2, nothing "
                            "computed) instead of computing the good rows")
        p.add_argument("--business-days-beyond", choices=("refuse", "weekends"), default="refuse",
                       help="a loan with a business_day rule whose due dates go past China's published calendar "
                            "(2026): refuse it (default) or take later days as Monday to Friday business days, an "
                            "explicit projection the notes report")
        limit_option(p)

    sim = _command(sub, "simulate", "claims and their allocation per year, fund, measure and district")
    portfolio_options(sim)
    sim.add_argument("--budget", help="a budget YAML file (default: the bundled demo budget)")
    sim.add_argument("--mode", choices=("waterfall", "merit", "optimal"), default="waterfall",
                     help="how claims share a capped source: in priority order (waterfall, default), by merit "
                          "score, or the optimal split that funds the most")
    sim.add_argument("--time-limit", type=float, default=TIME_LIMIT, metavar="SECONDS",
                     help=f"seconds the optimal mode's solver may take (default {TIME_LIMIT:g}); at the limit the "
                          "awards keep the largest total without the fairness rule, or are the waterfall's, and "
                          "a note says so")
    sim.add_argument("--out", default="simulation", help="output folder (default ./simulation)")
    sim.add_argument("--scenario", help="a scenario YAML file (LPR path, parameter overrides, budget changes, "
                                        "growth, Monte Carlo); e.g. schedules/scenario-demo.yaml")
    sim.add_argument("--paths", type=int, help="Monte Carlo LPR paths (overrides the scenario's or the sweep's; "
                                               "0: none); without either, around the baseline")
    sim.add_argument("--cluster", metavar="ADDRESS",
                     help="run on Dask: evaluate in partitions by enterprise, the sweep's scenarios and the Monte "
                          "Carlo paths on the workers; local:N starts N worker processes here, tcp://host:8786 joins "
                          "a running scheduler (the distributed extra); the figures are the same as in one process")
    sim.add_argument("--sweep", help="a sweep YAML file: a grid of scenario values (LPR shifts x budget scalings x "
                                     "parameter values), one row of results per scenario; e.g. "
                                     "schedules/sweep-demo.yaml")
    sim.add_argument("--quiet", action="store_true", help="print nothing but errors (no progress bar)")
    sim.add_argument("--detail", choices=("auto", "xlsx", "parquet", "csv"), default="auto",
                     help="where the per-project detail goes: auto (its sheet of report.xlsx when it fits, else "
                          "project_detail.parquet; the default), xlsx, parquet or csv (project_detail.csv)")
    sim.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANG.value,
                     help="the language of the summary, report.xlsx and the charts: zh (Simplified Chinese, the "
                          "default) or en")
    exp = _command(sub, "explain", "every amount of one project, clause by clause")
    exp.add_argument("project_id", help="the project to explain, as its project_id in the portfolio")
    portfolio_options(exp)
    exp.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANG.value,
                     help="the language of the explanation: zh (Simplified Chinese, the default) or en")
    rec = _command(sub, "reconcile", "check a bank's 貼息 claims loan by loan; name the likely cause of each "
                                     "difference (exit 1 if any row is not a match)")
    rec.add_argument("claims", nargs="?", help="CSV, .xlsx or Parquet: loan_id, period or from_date/to_date, "
                                               "subsidy_claimed[, interest_charged] (default: demo claims)")
    portfolio_options(rec)
    rec.add_argument("--ledger", type=Path, help="instead of claims: a bank's ledger (CSV, .xlsx or Parquet: "
                                                 "loan_id, date, kind, amount, rate[, subsidy]), each settlement "
                                                 "checked and the event behind a difference named")
    rec.add_argument("--out", default="reconcile", help="output folder (default ./reconcile)")
    rec.add_argument("--quiet", action="store_true", help="print nothing but errors")
    rec.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANG.value,
                     help="the language of the summary and reconcile.xlsx: zh (the default) or en (reconcile.csv "
                          "keeps the engine's ids, for programs)")
    srv = _command(sub, "serve", "the portal's HTTP service: POST /quote, POST /explain, docs at /docs")
    srv.add_argument("--host", default="127.0.0.1",
                     help="the address to listen on (default 127.0.0.1: this machine only)")
    srv.add_argument("--port", type=int, default=8000, help="the port to listen on (default 8000)")
    # the service's limits (serve.py's docstring says what each bounds); not given: serve's own defaults
    srv.add_argument("--max-body-bytes", type=int, help="the largest request body read; 413 above it "
                                                         "(default 1,000,000)")
    srv.add_argument("--read-timeout", type=float, help="seconds a request's head, or a pause in its body, may "
                                                         "take; 408 or closed after (default 10)")
    srv.add_argument("--body-timeout", type=float, help="seconds a whole request body may take; 408 after "
                                                         "(default 30)")
    srv.add_argument("--limit-concurrency", type=int, help="connections open at once; 503 beyond (default 64, "
                                                           "per worker)")
    srv.add_argument("--workers", type=int, default=1,
                     help="processes answering requests (default 1); about one per core when several clients call "
                          "at once; each warms its kernels before it accepts")
    quo = _command(sub, "quote", "every amount of one project from a JSON request, the JSON the service's "
                                 "POST /quote answers")
    quo.add_argument("request", help="a JSON file of the request (the service's QuoteRequest: /docs shows it), "
                                     "or - to read standard input")
    val = _command(sub, "validate", "list every row of a portfolio that evaluating it would reject, at once "
                                    "(exit 0: none, so simulate and explain reject nothing)")
    val.add_argument("portfolio", help="a folder of CSV/Parquet tables or an .xlsx workbook")
    val.add_argument("--strict", action="store_true", help="count set-aside columns, sheets and files as problems")
    val.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANG.value,
                     help="the language of the summary and the table's headers: zh (the default) or en (the "
                          "problems' reasons are in English)")
    val.add_argument("--rates", help="the investment-subsidy rates simulate will be given (see simulate --rates)")
    val.add_argument("--lpr", help="an LPR CSV file instead of the bundled schedules/lpr.csv")
    val.add_argument("--hold-lpr-until", metavar="YYYY-MM-DD", default="2045-12-31",
                     help="the LPR projection simulate will use (default 2045-12-31, as simulate's)")
    limit_option(val)
    tpl = _command(sub, "template", "write an .xlsx template of the input tables to fill in (Chinese and "
                                    "English headers, each column described, drop-downs, two example rows)")
    tpl.add_argument("file", type=Path, help="the workbook to write, a name ending in .xlsx")
    tpl.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANG.value,
                     help="the language of the column descriptions and the guide sheet (default zh; the column "
                          "names are in both)")
    tpl.add_argument("--force", action="store_true", help="replace the file if it exists (it may be a filled-in "
                                                          "portfolio: by default it is kept and the command exits 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try, not at exit
        return code
    except MissingExtraError as exc:  # a command whose extra is not installed (serve without "[serve]")
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: before the renames the last set is kept; one held back until
        # they are done comes once this run's set is in place: either way the manifest lists a whole set
        print("interrupted: the output folder holds the last complete run (its manifest.json lists it)",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`... | head`): stop quietly, as a Unix filter does, not with a traceback;
        # 141 is a shell's code for a pipe closed under the writer (128 + SIGPIPE), apart from 1 and 2
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _dispatch(args: argparse.Namespace) -> int:
    pd.set_option("display.width", 160)
    if args.command == "demo":
        try:
            curve = _curve(args)
        except ValueError as exc:
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return 2
        lang = Lang.parse(args.lang)
        _print_sample_loan(lang)
        print(text("cli", "demo_portfolio", lang, file=demo_loans_path().name, until=args.hold_lpr_until,
                   data_end=_history(args).coverage_end))
        code = _run(args, demo_loans_path())
        if code == 2:
            return code
        _print_claims(curve, lang)
        return 0  # the demo's loan table has rows rejected on purpose, to show the report
    if args.command == "simulate":
        return _simulate(args)
    if args.command == "explain":
        return _explain(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "reconcile":
        return _reconcile(args)
    if args.command == "quote":
        return _quote(args)
    if args.command == "template":
        return _template(args)
    if args.command == "serve":
        from subsidy_engine.service.serve import serve

        limits = {name: getattr(args, name) for name in ("max_body_bytes", "read_timeout", "body_timeout",
                                                          "limit_concurrency") if getattr(args, name) is not None}
        serve(args.host, args.port, workers=args.workers, **limits)
        return 0
    return _run(args, args.loans)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``explain(claims, project_id)``: each amount of a project in words a loan officer can follow.

For every claim of the project (in the years evaluated): the 78號 clause it rests
on (quoted from the parameter file's ``clauses``), the formula with the values
used, each parameter with its status and source, and every cut from the gross
amount to the amount paid, with the rule that made it. The funding sources
quote the policy's closing paragraph. What a figure assumes beyond the data is
said on the claim it touches: a loan priced on a projected LPR (from the first
projected reset on), and a parameter set the file gives no end (no
``covers_until``); the result's notes, shown at the top, say what each is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from subsidy_engine.core.chinese import to_simplified
from subsidy_engine.core.dates import day_date
from subsidy_engine.core.language import DEFAULT_LANG, Lang, in_language, joined, sentences, source_name
from subsidy_engine.core.language import name as word
from subsidy_engine.core.money import fen_to_yuan, units_to_rate
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.core.vocabulary import LIST_FLAG_MEASURE, STAGES, VENUES, SubsidyForm
from subsidy_engine.io import column_readers
from subsidy_engine.measures.claims import ClaimRows
from subsidy_engine.measures.investment import TRUE_WORDS
from subsidy_engine.params.policy import ParameterSet, Policy
from subsidy_engine.pipeline.evaluate import Claims

#: The vocabulary key of each 貼息 form's formula (``explain`` section of ``core/names.yaml``).
FORMULAS = {form: f"form_{form.value}" for form in SubsidyForm}


#: At most this many rows of a calculator, an item's row is found in Python rather than with numpy's masks.
FEW_ROWS = 64
#: The kernel's day for "no end" of a 貼息 window.
NO_DAY = int(np.iinfo(np.int64).max)


def _yuan(value: Any) -> str:
    return f"{Decimal(value):,}"


#: The clauses cited together, as said in each language.
_CLAUSES_SAID: dict[tuple[tuple[int | str, ...], Lang], str] = {}


class _References:
    """The parameters' sources and the clauses cited, each listed once at the end; and the language."""

    def __init__(self, policy: Policy, lang: Lang | str = "en") -> None:
        self.policy = policy
        self.lang = Lang.parse(lang)
        self.sources: list[str] = []
        self.clauses: list[str] = []
        self._sentences = sentences("explain", self.lang)
        self._source_names: dict[str, str] = {}

    def say(self, key: str, **fields: object) -> str:
        """The sentence ``key`` of the vocabulary's ``explain`` section, in this explanation's language (as
        :func:`~subsidy_engine.core.language.text` says it, from the section read once)."""
        return self._sentences.get(key, key).format(**fields)

    def named(self, section: str, key: object) -> str:
        """An id in English (as the engine's wording always gave it), its name of the vocabulary otherwise."""
        return str(key) if self.lang is Lang.EN else word(section, key, self.lang)

    def cite(self, parameters: ParameterSet, dotted: str) -> str:
        """``name = value (status) [n]``, with source n listed at the end."""
        p = parameters.parameter(dotted)  # read each time: a list value may have been changed in place
        if p.source not in self.sources:
            self.sources.append(p.source)
        value = ", ".join(f"{k}: {v}" for k, v in p.value.items()) if isinstance(p.value, dict) else p.value
        status = p.status if self.lang is Lang.EN else word("statuses", p.status, self.lang)
        return self.say("cite", name=dotted, value=value, status=status, n=self.sources.index(p.source) + 1)

    def clause(self, *measures: int | str) -> str:
        for m in measures:
            if str(m) not in self.clauses:
                self.clauses.append(str(m))
        said = _CLAUSES_SAID.get((measures, self.lang))
        if said is None:  # a few measures, two languages: said once
            said = _CLAUSES_SAID[measures, self.lang] = joined(
                (self.say("clause_closing") if m == "closing" else self.say("clause_measure", measure=m)
                 for m in measures), self.lang, "items")
        return said

    def source(self, source_id: str) -> str:
        """A funding source as the claims name it: by its id in English, else by its name."""
        if self.lang is Lang.EN:
            return source_id
        said = self._source_names.get(source_id)
        if said is None:
            said = self._source_names[source_id] = source_name(source_id, None, self.lang)
        return said

    def lines(self) -> list[str]:
        out = ["", self.say("clauses_title")]
        for m in sorted(self.clauses, key=lambda m: (m == "closing", int(m) if m.isdigit() else 0)):
            quoted = self.policy.clauses.get(m)
            label = self.say("label_closing") if m == "closing" else self.say("label_measure", measure=m)
            # quoted in Simplified characters; the parameter file keeps the source's text (core.chinese)
            out.append(self.say("quoted_clause", label=label, text=to_simplified(quoted)) if quoted else
                       self.say("no_clause", label=label))
        if self.sources:  # a decided award cites no parameter: no empty list of sources
            out.append(self.say("sources_title"))
        for k, key in enumerate(self.sources, start=1):
            source = self.policy.sources[key]
            out.append(f"  [{k}] {source.title}" + (f", {source.url}" if source.url else ""))
        return out


#: One of a loan's tranches or prepayments as an explanation shows it: its table, date, amount, recompute.
LoanEventFact = tuple[str, Any, Any, "str | None"]


@dataclass(frozen=True)
class Facts:
    """What an explanation reads: the project, its claims and the calculators' rows behind them.

    :func:`explain` takes them from :class:`~subsidy_engine.Claims`; :func:`subsidy_engine.service.quote`
    from its own arrays, so both say the same words.

    Attributes
    ----------
    project : mapping or Series
        The project's row (``enterprise_id``, ``sector``, ``district``, the flags).
    rows : sequence
        The project's claims, each with the claims table's columns as attributes.
    details : dict of ClaimRows
        The calculators' rows (``interest_subsidy``, ``premium_subsidy``, ``grants``, ``investment_subsidy``).
    item : callable
        ``item(table, id_column, item_id)``: the item's row of its input table (a mapping or Series).
    loan_events : callable
        ``loan_events(loan_id)``: the loan's tranches and prepayments, each ``(table, date, amount,
        recompute)`` (``table`` is ``drawdowns`` or ``prepayments``; ``recompute`` None for a tranche).
    projected_from : mapping
        The first reset priced on a projected LPR, by loan id, of the loans that have one.
    government_investment : sequence
        The government's investment in the project, ``(year, kind, measure, amount)``: not a claim.
    """

    project_id: str
    project: Mapping[str, Any] | pd.Series
    rows: Sequence[Any]
    details: Mapping[str, ClaimRows]
    item: Callable[[str, str, str], Mapping[str, Any] | pd.Series]
    policy: Policy
    notes: Sequence[str]
    years: tuple[int, ...] | None
    provenance: Provenance
    loan_events: Callable[[str], Sequence[LoanEventFact]] = lambda _: ()
    projected_from: Mapping[str, date] = field(default_factory=dict)
    #: the government's investment in the project (measures 1 and 4), each ``(year, kind, measure, amount)``: said
    #: apart from the claims, which it is not
    government_investment: Sequence[tuple[int, str, int, Decimal]] = ()


def _detail(facts: Facts, key: str, id_column: str, item: str, year: int | None) -> dict[str, Any]:
    """The calculator's row of an item (and year): its columns and internal arrays, one value each."""
    rows = facts.details[key]
    ids, years = rows.columns[id_column], rows.columns.get("year") if year is not None else None
    if isinstance(ids, np.ndarray) and ids.shape[0] <= FEW_ROWS:  # a quote's: looked at one by one
        k = next(j for j, found in enumerate(ids.tolist()) if found == item and (years is None or years[j] == year))
    else:
        match = np.asarray(ids, dtype=object) == item
        if years is not None:
            match &= np.asarray(years) == year
        k = int(np.flatnonzero(match)[0])
    out = {name: (value[k] if hasattr(value, "__getitem__") and not isinstance(value, str) else value)
           for name, value in rows.columns.items() if value is not None}
    out.update({name: value[k] for name, value in rows.internal.items() if isinstance(value, np.ndarray)})
    for name in rows.money:
        out[name] = fen_to_yuan(out[name])
    return out




def projected_from_of(projections: pd.DataFrame, loans: Iterable[str]) -> dict[str, date]:
    """The first reset priced on a projected LPR of each of ``loans`` that has one, from ``projections``
    (``loan_id, projected_from``, as :attr:`subsidy_engine.Claims.projections`: a national portfolio's million)."""
    if not len(projections):
        return {}
    mine = projections[projections["loan_id"].astype(str).isin(list(loans)).to_numpy()]
    found: dict[str, date] = {}
    for loan, day in zip(mine["loan_id"].tolist(), mine["projected_from"].tolist()):
        found.setdefault(str(loan), day)
    return found


def _event_lines(events: Sequence[LoanEventFact], refs: _References) -> list[str]:
    """The loan's tranches and prepayments, in date order, as lines of its explanation."""
    tranches = [f"{day} {_yuan(amount)}" for table, day, amount, _ in events if table == "drawdowns"]
    prepaid = [f"{day} {_yuan(amount)} ({refs.say('recomputed_' + str(recompute or 'payment'))})"
               for table, day, amount, recompute in events if table == "prepayments"]
    return ([refs.say("tranches", count=len(tranches), items=joined(tranches, refs.lang, "clauses"))]
            if tranches else []) + ([refs.say("prepaid", items=joined(prepaid, refs.lang, "clauses"))] if prepaid
                                    else [])


def _interest_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "interest_subsidy", "loan_id", row.item_id, row.year)
    parameters = facts.policy.sets[int(d["set_index"])]
    rule = parameters.interest_subsidy_rule()
    start = day_date(d["loan_start_day"])
    window_start, window_end = (None if day == NO_DAY else day_date(day)  # as the kernel applied it
                                for day in (d["window_start_day"], d["window_end_day"]))
    loan = facts.item("loans", "loan_id", row.item_id)
    rate = loan.get("annual_rate")
    say = refs.say
    rate_text = (say("rate_fixed", rate=f"{Decimal(rate).normalize():f}") if rate is not None and not pd.isna(rate)
                 else say("rate_floating", tenor=loan.get("floating_tenor"), spread=loan.get("floating_spread_bp")))

    projected = facts.projected_from.get(row.item_id)
    assumed = ([say("projected_rate", day=projected, scenario=facts.provenance.scenario)]
               if projected is not None and row.year >= projected.year else [])
    return [
        say("rule", clauses=refs.clause(15, 1)),
        say("loan", loan=row.item_id, principal=_yuan(loan["principal"]), rate=rate_text, start=start),
        *_event_lines(facts.loan_events(row.item_id), refs),
        *assumed,
        say("interest_formula", year=row.year, formula=say(FORMULAS[rule.form])),
        say("values", value=refs.cite(parameters, "interest_subsidy.points")),
        say("more_values", value=refs.cite(parameters, "interest_subsidy.form")),
        say("more_values", value=say("window", cite=refs.cite(parameters, "interest_subsidy.max_years"),
                                     start=window_start, end=window_end)),
        say("more_values", value=say("interest_year", year=row.year, interest=_yuan(d["interest"]),
                                     gross=_yuan(d["gross"]))),
        say("interest_caps", interest=_yuan(d["cut_by_interest"]), annual=_yuan(d["cut_by_annual_cap"]),
            lifetime=_yuan(d["cut_by_lifetime_cap"])),
    ], parameters


def _premium_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "premium_subsidy", "policy_id", row.item_id, row.year)
    parameters = facts.policy.sets[int(d["set_index"])]
    insurance = facts.item("insurance", "policy_id", row.item_id)
    say = refs.say
    return [
        say("rule", clauses=refs.clause(7)),
        say("policy", policy=row.item_id, field=refs.named("product_fields", insurance["product_field"]),
            policy_year=d["policy_year"],
            start=day_date(d["start_date"]), premium=_yuan(d["premium"]), insured=_yuan(insurance["insured_amount"])),
        say("premium_formula"),
        say("values", value=refs.cite(parameters, "insurance_premium.share")),
        say("more_values", value=refs.cite(parameters, "insurance_premium.premium_rate_cap")),
        say("more_values", value=refs.cite(parameters, "insurance_premium.annual_cap_per_enterprise")),
        say("more_values", value=refs.cite(parameters, "insurance_premium.max_years")),
    ], parameters


def _grant_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "grants", "event_id", row.item_id, None)
    parameters = facts.policy.sets[int(d["set_index"])]
    event = facts.item("events", "event_id", row.item_id)
    say = refs.say
    if row.instrument == "reits_grant":
        mode = parameters.parameters.reits_grant.mode.value
        values = ([refs.cite(parameters, "reits_grant.flat_amount")] if mode == "flat" else
                  [refs.cite(parameters, "reits_grant.share_of_raised"), refs.cite(parameters, "reits_grant.share_cap"),
                   say("amount_raised", amount=_yuan(event["amount_raised"]))])
        formula = say("reits_flat") if mode == "flat" else say("reits_share")
        lines = [say("rule", clauses=refs.clause(13)), say("reits", event=row.item_id, date=event["date"]),
                 say("formula", formula=formula, cite=refs.cite(parameters, "reits_grant.mode"))]
    else:
        venue, stage = VENUES[int(d["venue"])], STAGES[int(d["stage"])]
        values = [refs.cite(parameters, f"listing_grant.{venue}"),
                  refs.cite(parameters, "listing_grant.lifetime_cap_per_enterprise")]
        lines = [say("rule", clauses=refs.clause(14)),
                 say("listing", event=row.item_id, venue=refs.named("venues", venue),
                     stage=refs.named("listing_stages", stage), date=event["date"]),
                 say("listing_formula")]
    return lines + [say("values", value=values[0]), *(say("more_values", value=v) for v in values[1:])], parameters


def _investment_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "investment_subsidy", "project_id", row.item_id, None)
    parameters = facts.policy.sets[int(d["set_index"])]
    project = facts.item("projects", "project_id", row.item_id)
    rate = units_to_rate(d["rate"]).normalize()
    say = refs.say
    return [
        say("rule", clauses=refs.clause(row.measure)),
        say("project_stage", stage=refs.named("stages", project["stage"]),
            eligible=_yuan(project["eligible_investment"]),
            total=_yuan(project["total_investment"])),
        say("investment_formula"),
        say("values", value=say("stage_rate", rate=rate, stage=refs.named("stages", project["stage"]))),
        say("more_values", value=refs.cite(parameters, "investment_subsidy.ceiling_share_of_total_investment")),
        say("more_values", value=refs.cite(parameters, "investment_subsidy.per_project_cap")),
        say("more_values", value=refs.cite(parameters, "investment_subsidy.per_project_cap_compute_or_network")),
        say("investment_caps", ceiling=_yuan(d["cut_by_investment_ceiling"]), cap=_yuan(d["cut_by_project_cap"])),
    ], parameters


def _award_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    """A decided award's payment: the decision (no formula: the amount is decided) and its plan."""
    d = _detail(facts, "awards", "award_id", row.item_id, row.year)
    parameters = facts.policy.sets[int(d["set_index"])]
    say = refs.say
    return [say("rule", clauses=refs.clause(row.measure)),
            say("award", award=row.item_id, kind=refs.named("award_kinds", d["kind"]),
                amount=_yuan(fen_to_yuan(int(d["award_fen"]))), date=day_date(int(d["decision_date"]))),
            say("award_plan", years=int(d["payment_years"]), year=row.year, part=_yuan(row.gross))], parameters


LINES = {"interest_subsidy": _interest_lines, "premium_subsidy": _premium_lines, "reits_grant": _grant_lines,
         "listing_grant": _grant_lines, "investment_subsidy": _investment_lines, "reward": _award_lines,
         "research_funding": _award_lines, "other_award": _award_lines}


def _cut_lines(row: Any, parameters: ParameterSet, refs: _References, project_set: ParameterSet) -> list[str]:
    """The cuts of a claim, each with the value that made it: the instrument's own caps of the claim's set
    (``parameters``), 從優不重複 and the total cap of the set in force on the project's start (``project_set``),
    which stacking reads for every claim of the project."""
    stacking = project_set.parameters.stacking
    say = refs.say
    lines = [say("gross", amount=_yuan(row.gross))]
    if row.cut_by_item_rules:
        lines.append(say("cut_item", amount=_yuan(row.cut_by_item_rules)))
    if row.cut_by_most_favourable:
        kept = [i for g in stacking.most_favourable_only.value if row.instrument in g for i in g
                if i != row.instrument]
        lines.append(say("cut_favourable", amount=_yuan(row.cut_by_most_favourable),
                         kept=say("or").join(refs.named("instruments", i) for i in kept),
                         cite=refs.cite(project_set, "stacking.most_favourable_only")))
    if row.cut_by_enterprise_cap:
        lines.append(say("cut_enterprise", amount=_yuan(row.cut_by_enterprise_cap), year=row.year,
                         cite=refs.cite(parameters, "interest_subsidy.annual_cap_per_enterprise")))
    if row.cut_by_project_cap:
        lines.append(say("cut_project", amount=_yuan(row.cut_by_project_cap),
                         cite=refs.cite(parameters, "interest_subsidy.total_cap_per_project")))
    if row.cut_by_total_cap:
        lines.append(say("cut_total", amount=_yuan(row.cut_by_total_cap),
                         instruments=say("and").join(refs.named("instruments", i)
                                                     for i in stacking.total_cap_instruments.value),
                         cite=refs.cite(project_set, "stacking.total_cap_share_of_investment")))
    lines.append(say("amount", amount=_yuan(row.amount)))
    return lines


def explain(claims: Claims, project_id: str, lang: Lang | str = DEFAULT_LANG) -> str:
    """Each claim of a project: clause, formula, values with their sources, and every cut; in Simplified Chinese
    by default, ``lang="en"`` for English.

    Examples
    --------
    >>> from subsidy_engine import evaluate
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> claims = evaluate(portfolio(50, seed=2), years=range(2024, 2027))
    >>> said = explain(claims, "P46", lang="en").splitlines()
    >>> print(said[0])
    Project P46 of enterprise E2 (sector smart_city, district dongcheng, industry or software: no, in the library: yes)
    >>> print(said[6])
    interest_subsidy:L29:2024: 貼息 (interest subsidy), measure 15, 2024: 22,145.83
    >>> print(explain(claims, "P46").splitlines()[6])
    interest_subsidy:L29:2024：贷款贴息，措施15，2024年：22,145.83元
    """
    return explain_facts(facts_of(claims, project_id), lang)


def facts_of(claims: Claims, project_id: str) -> Facts:
    """What :func:`explain` reads of a project in ``claims``."""
    table = claims.table
    if not claims.details and len(table):
        raise ValueError("these claims were evaluated in partitions on a cluster (simulation.partitions), whose "
                         "per-item rows stay on the workers: explain an evaluation made in one process (evaluate)")
    projects = claims.portfolio.projects
    rejected = claims.rejections[claims.rejections.table == "projects"]
    own = rejected[rejected.id.astype(str) == project_id]
    if len(own):  # a rejected project has no claims to explain: say why it was rejected instead
        reasons = "; ".join(f"{r.field}: {r.reason}" for r in own.itertuples())
        raise KeyError(f"project {project_id!r} is rejected (row {own.row.iloc[0]}): {reasons}")
    whole = rejected[rejected.field == "(table)"]
    if len(whole):
        raise KeyError(f"no project {project_id!r}: the projects table cannot be read: {whole.reason.iloc[0]}")
    known = projects["project_id"].astype(str) == project_id
    if not known.any():
        raise KeyError(f"no project {project_id!r} in the portfolio")
    tables = {"loans": claims.portfolio.loans, "insurance": claims.portfolio.insurance,
              "events": claims.portfolio.events, "awards": claims.portfolio.awards, "projects": projects}

    def item(name: str, id_column: str, item_id: str) -> pd.Series:
        frame = tables[name]
        return frame.loc[frame[id_column].astype(str) == item_id].iloc[0]

    def loan_events(loan_id: str) -> list[LoanEventFact]:
        found: list[LoanEventFact] = []
        for name in ("drawdowns", "prepayments"):
            frame = getattr(claims.portfolio, name)
            if len(frame) and "loan_id" in frame:  # an evaluated loan's event rows were all accepted
                mine = frame[frame["loan_id"].astype(str) == loan_id]
                found.extend((name, day_date(day), amount, recompute if isinstance(recompute, str) else None)
                             for day, amount, recompute in zip(
                                 column_readers.date_column(mine["date"], "date", column_readers.Rejections(
                                     len(mine)))[0].tolist(), mine["amount"].tolist(),
                                 mine["recompute"].tolist() if "recompute" in mine else [None] * len(mine)))
        return sorted(found, key=lambda e: (e[1], e[0]))

    rows = list(table[table.project_id == project_id].itertuples())
    return Facts(
        project_id=project_id, project=projects.loc[known].iloc[0], rows=rows, details=claims.details, item=item,
        policy=claims.policy, notes=claims.notes, years=claims.years, provenance=claims.provenance,
        loan_events=loan_events, projected_from=projected_from_of(
            claims.projections, {str(r.item_id) for r in rows if r.instrument == "interest_subsidy"}),
        government_investment=_invested_in(claims.government_investment, project_id))


def _invested_in(invested: pd.DataFrame, project_id: str) -> list[tuple[int, str, int, Decimal]]:
    """The government's investment in ``project_id``, by year and kind, as the explanation says it."""
    if invested.empty:
        return []
    mine = invested[invested.project_id.astype(str) == project_id]
    return [(int(year), str(kind), int(measure), Decimal(str(amount))) for year, kind, measure, amount in zip(
        mine.year.tolist(), mine.kind.tolist(), mine.measure.tolist(), mine.amount.tolist())]


def _project_set(facts: Facts) -> ParameterSet | None:
    """The parameter set in force on the project's start: the one stacking reads (None without a start date)."""
    start = facts.project.get("start_date")
    if isinstance(start, date) and not isinstance(start, datetime):  # a model's date (a quote): no pandas to ask
        return facts.policy.at(start)
    if start is None or (pd.api.types.is_scalar(start) and pd.isna(start)):
        return None
    return facts.policy.at(pd.Timestamp(str(start)).date())


def explain_facts(facts: Facts, lang: Lang | str = DEFAULT_LANG) -> str:
    """:func:`explain` of the facts gathered (see :class:`Facts`)."""
    project_id, project, rows = facts.project_id, facts.project, facts.rows
    refs = _References(facts.policy, lang)
    say = refs.say

    def flag(name: str) -> bool:
        return str(project.get(name)).strip().lower() in TRUE_WORDS

    def attribute(name: str, section: str) -> str:
        value = project.get(name)
        missing = value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or not str(value).strip()
        if missing:
            return say("not_given")  # a blank cell, not the words None, nan or <NA>
        return str(value) if refs.lang is Lang.EN else word(section, str(value), refs.lang)  # its name, or its id

    years = (f"{facts.years[0]}-{facts.years[-1]}" if facts.years else say("all_years"))
    project_set = _project_set(facts)
    out = [say("header", project=project_id, enterprise=project["enterprise_id"],
               sector=attribute("sector", "sectors"), district=attribute("district", "districts"), industry=say("yes" if flag("industry_or_software") else "no"),
               library=say("yes" if flag("in_library") else "no")),
           say("claims", count=len(rows), years=years, total=_yuan(sum((row.amount for row in rows), Decimal(0))),
               engine=facts.provenance.engine_version, inputs=facts.provenance.parameters_sha256[:12]),
           say("funding", clause=refs.clause("closing"))]
    if flag("in_library"):
        out.append(say("library", clause=refs.clause(2)))
    lists = [measure for flag_name, measure in LIST_FLAG_MEASURE.items() if flag(flag_name)]
    if lists:  # measures 6, 8, 9: no money of their own, what a budget's tiers and merit points may read
        out.append(say("lists", lists=joined((word("measures", str(m), refs.lang) for m in lists), refs.lang, "items"),
                       clause=refs.clause(*lists)))
    for year, kind, measure, amount in facts.government_investment:  # measures 1 and 4: not a subsidy
        out.append(say("government_investment", year=year, kind=refs.named("investment_kinds", kind),
                       amount=_yuan(amount), clause=refs.clause(measure)))
    for note in facts.notes:
        out.append(say("note", note=in_language(note, refs.lang)))
    for row in rows:
        out.append("")
        out.append(say("claim", claim=row.claim_id, instrument=say(f"instrument_{row.instrument}"),
                       measure=row.measure, year=row.year, amount=_yuan(row.amount)))
        lines, parameters = LINES[row.instrument](facts, row, refs)
        out.extend(lines)
        out.extend(_cut_lines(row, parameters, refs, project_set if project_set is not None else parameters))
        # by name (the budget's own names are the report's; these are the ids')
        sources = [refs.source(source) for source in row.funding_sources.split("|")] if row.funding_sources else []
        out.append(say("may_draw_on", sources=joined(sources, refs.lang, "items"),
                       set=row.parameter_set))
        if facts.policy.open_ended(parameters):
            out.append(say("open_ended", set=parameters.id))
    return "\n".join(out + refs.lines())


__all__ = ["Facts", "explain", "explain_facts", "facts_of"]

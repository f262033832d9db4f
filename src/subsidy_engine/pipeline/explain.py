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

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from subsidy_engine.core.chinese import to_simplified
from subsidy_engine.core.dates import day_date
from subsidy_engine.core.money import fen_to_yuan, units_to_rate
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.core.vocabulary import STAGES, VENUES, SubsidyForm
from subsidy_engine.io import column_readers
from subsidy_engine.measures.claims import ClaimRows
from subsidy_engine.measures.investment import TRUE_WORDS
from subsidy_engine.params.policy import ParameterSet, Policy
from subsidy_engine.pipeline.evaluate import Claims

INSTRUMENT_NAMES = {"interest_subsidy": "貼息 (interest subsidy)", "premium_subsidy": "保費補貼 (premium subsidy)",
                    "reits_grant": "REITs 一次性補貼 (one-off grant)", "listing_grant": "上市掛牌市級補貼 (listing grant)",
                    "investment_subsidy": "投資補貼 (investment subsidy)"}
FORMULAS = {
    SubsidyForm.POINTS_ON_BALANCE: "outstanding balance x min(points, loan rate) x accrual fraction",
    SubsidyForm.POINTS_ON_PRINCIPAL: "original principal x min(points, loan rate) x accrual fraction",
    SubsidyForm.SHARE_OF_INTEREST: "share x interest charged",
    SubsidyForm.RATE_GAP: "outstanding balance x max(benchmark rate - loan rate, 0) x accrual fraction",
}


def _yuan(value: Any) -> str:
    return f"{Decimal(value):,}"


class _References:
    """The parameters' sources and the clauses cited, each listed once at the end."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.sources: list[str] = []
        self.clauses: list[str] = []

    def cite(self, parameters: ParameterSet, dotted: str) -> str:
        """``name = value (status) [n]``, with source n listed at the end."""
        p = parameters.parameter(dotted)
        if p.source not in self.sources:
            self.sources.append(p.source)
        value = ", ".join(f"{k}: {v}" for k, v in p.value.items()) if isinstance(p.value, dict) else p.value
        return f"{dotted} = {value} ({p.status}) [{self.sources.index(p.source) + 1}]"

    def clause(self, *measures: int | str) -> str:
        for m in measures:
            if str(m) not in self.clauses:
                self.clauses.append(str(m))
        return ", ".join("78號 closing paragraph" if m == "closing" else f"78號 measure {m}" for m in measures)

    def lines(self) -> list[str]:
        out = ["", "Clauses of 京經信發〔2021〕78號 cited:"]
        for m in sorted(self.clauses, key=lambda m: (m == "closing", int(m) if m.isdigit() else 0)):
            text = self.policy.clauses.get(m)
            label = "closing paragraph" if m == "closing" else f"measure {m}"
            # quoted in Simplified characters; the parameter file keeps the source's text (core.chinese)
            out.append(f"  {label}: 「{to_simplified(text)}」" if text else
                       f"  {label}: (no clause text in the parameter file)")
        out.append("Sources of the parameters:")
        for k, key in enumerate(self.sources, start=1):
            source = self.policy.sources[key]
            out.append(f"  [{k}] {source.title}" + (f", {source.url}" if source.url else ""))
        return out


#: One of a loan's tranches or prepayments as an explanation shows it: its table, date, amount, recompute.
LoanEventFact = tuple[str, Any, Any, "str | None"]
#: How a prepayment changes the rest of the loan, in words.
_RECOMPUTED = {"payment": "the term kept, the payment recomputed", "term": "the payment kept, the term shortened"}


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


def _detail(facts: Facts, key: str, id_column: str, item: str, year: int | None) -> dict[str, Any]:
    """The calculator's row of an item (and year): its columns and internal arrays, one value each."""
    rows = facts.details[key]
    ids = np.asarray(rows.columns[id_column], dtype=object)
    match = ids == item
    if year is not None and "year" in rows.columns:
        match &= np.asarray(rows.columns["year"]) == year
    k = int(np.flatnonzero(match)[0])
    out = {name: (value[k] if hasattr(value, "__getitem__") and not isinstance(value, str) else value)
           for name, value in rows.columns.items() if value is not None}
    out.update({name: value[k] for name, value in rows.internal.items() if isinstance(value, np.ndarray)})
    for name in rows.money:
        out[name] = fen_to_yuan(out[name])
    return out




def _projected_from(facts: Facts, loan_id: str) -> date | None:
    """The first reset of the loan priced on a projected LPR (``internal["projections"]``), or None."""
    frame = facts.details["interest_subsidy"].internal.get("projections")
    if frame is None or not len(frame):
        return None
    hit = frame.projected_from[frame.loan_id.astype(str).to_numpy() == loan_id]
    return hit.iloc[0] if len(hit) else None


def _event_lines(events: Sequence[LoanEventFact]) -> list[str]:
    """The loan's tranches and prepayments, in date order, as lines of its explanation."""
    tranches = [f"{day} {_yuan(amount)}" for table, day, amount, _ in events if table == "drawdowns"]
    prepaid = [f"{day} {_yuan(amount)} ({_RECOMPUTED[str(recompute or 'payment')]})"
               for table, day, amount, recompute in events if table == "prepayments"]
    return ([f"  Drawn in {len(tranches)} tranches, each accruing from its own date: {'; '.join(tranches)}."]
            if tranches else []) + ([f"  Prepaid: {'; '.join(prepaid)}."] if prepaid else [])


def _interest_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "interest_subsidy", "loan_id", row.item_id, row.year)
    parameters = facts.policy.sets[int(d["set_index"])]
    rule = parameters.interest_subsidy_rule()
    start = day_date(d["loan_start_day"])
    window_start, window_end = (None if day == np.iinfo(np.int64).max else day_date(day)  # as the kernel applied it
                                for day in (d["window_start_day"], d["window_end_day"]))
    loan = facts.item("loans", "loan_id", row.item_id)
    rate = loan.get("annual_rate")
    rate_text = (f"fixed {Decimal(rate).normalize():f}" if rate is not None and not pd.isna(rate)
                 else f"floating {loan.get('floating_tenor')} LPR {loan.get('floating_spread_bp')} bp")

    projected = _projected_from(facts, row.item_id)
    assumed = ([(f"  Rate: from {projected} the LPR of this loan is not published data: the LPR projection "
                 f"{facts.provenance.scenario!r} (see the note above).")]
               if projected is not None and row.year >= projected.year else [])
    return [
        f"  Rule: {refs.clause(15, 1)}",
        f"  Loan {row.item_id}: principal {_yuan(loan['principal'])}, rate {rate_text}, drawn {start}.",
        *_event_lines(facts.loan_events(row.item_id)),
        *assumed,
        f"  Formula: each period due in {row.year}: {FORMULAS[rule.form]} (days inside the window / days of "
        "the period), rounded half-up to the fen, at most the interest charged; summed over the year.",
        f"  Values: {refs.cite(parameters, 'interest_subsidy.points')}",
        f"          {refs.cite(parameters, 'interest_subsidy.form')}",
        f"          {refs.cite(parameters, 'interest_subsidy.max_years')}: window {window_start} to {window_end}",
        f"          interest charged in {row.year}: {_yuan(d['interest'])}; subsidy accrued: {_yuan(d['gross'])}",
        f"  Own caps: above the interest charged {_yuan(d['cut_by_interest'])}; the loan's annual cap "
        f"{_yuan(d['cut_by_annual_cap'])}; the loan's lifetime cap {_yuan(d['cut_by_lifetime_cap'])}",
    ], parameters


def _premium_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "premium_subsidy", "policy_id", row.item_id, row.year)
    parameters = facts.policy.sets[int(d["set_index"])]
    insurance = facts.item("insurance", "policy_id", row.item_id)
    return [
        f"  Rule: {refs.clause(7)}",
        f"  Policy {row.item_id} ({insurance['product_field']}), policy-year {d['policy_year']} from "
        f"{day_date(d['start_date'])}: premium {_yuan(d['premium'])}, "
        f"insured {_yuan(insurance['insured_amount'])}.",
        "  Formula: share x min(premium, premium rate cap x insured amount), rounded half-up to the fen; "
        "then the enterprise's annual cap, earlier policy-years first.",
        f"  Values: {refs.cite(parameters, 'insurance_premium.share')}",
        f"          {refs.cite(parameters, 'insurance_premium.premium_rate_cap')}",
        f"          {refs.cite(parameters, 'insurance_premium.annual_cap_per_enterprise')}",
        f"          {refs.cite(parameters, 'insurance_premium.max_years')}",
    ], parameters


def _grant_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "grants", "event_id", row.item_id, None)
    parameters = facts.policy.sets[int(d["set_index"])]
    event = facts.item("events", "event_id", row.item_id)
    if row.instrument == "reits_grant":
        mode = parameters.parameters.reits_grant.mode.value
        values = ([refs.cite(parameters, "reits_grant.flat_amount")] if mode == "flat" else
                  [refs.cite(parameters, "reits_grant.share_of_raised"), refs.cite(parameters, "reits_grant.share_cap"),
                   f"amount raised {_yuan(event['amount_raised'])}"])
        formula = "the flat amount" if mode == "flat" else "min(share x amount raised, cap), rounded half-up"
        lines = [f"  Rule: {refs.clause(13)}", f"  REITs issuance {row.item_id} on {event['date']}.",
                 f"  Formula: {formula} ({refs.cite(parameters, 'reits_grant.mode')})"]
    else:
        venue, stage = VENUES[int(d["venue"])], STAGES[int(d["stage"])]
        values = [refs.cite(parameters, f"listing_grant.{venue}"),
                  refs.cite(parameters, "listing_grant.lifetime_cap_per_enterprise")]
        lines = [f"  Rule: {refs.clause(14)}", f"  Listing step {row.item_id}: {venue}, stage {stage}, on {event['date']}.",
                 "  Formula: the tranche of this stage of this venue, once per enterprise; an enterprise's "
                 "listing grants together within the lifetime cap, earliest first."]
    return lines + ["  Values: " + "\n          ".join(values)], parameters


def _investment_lines(facts: Facts, row: Any, refs: _References) -> tuple[list[str], ParameterSet]:
    d = _detail(facts, "investment_subsidy", "project_id", row.item_id, None)
    parameters = facts.policy.sets[int(d["set_index"])]
    project = facts.item("projects", "project_id", row.item_id)
    rate = units_to_rate(d["rate"]).normalize()
    return [
        f"  Rule: {refs.clause(row.measure)}",
        f"  Project stage {project['stage']}: eligible investment {_yuan(project['eligible_investment'])}, "
        f"total investment {_yuan(project['total_investment'])}.",
        "  Formula: rate of the stage x eligible investment, rounded half-up; at most the ceiling share x total "
        "investment (rounded down) and the per-project cap.",
        f"  Values: rate {rate} for stage {project['stage']} [given by the caller: 78號 publishes no rate]",
        f"          {refs.cite(parameters, 'investment_subsidy.ceiling_share_of_total_investment')}",
        f"          {refs.cite(parameters, 'investment_subsidy.per_project_cap')}",
        f"          {refs.cite(parameters, 'investment_subsidy.per_project_cap_compute_or_network')}",
        f"  Own caps: ceiling {_yuan(d['cut_by_investment_ceiling'])}; per-project cap "
        f"{_yuan(d['cut_by_project_cap'])}",
    ], parameters


LINES = {"interest_subsidy": _interest_lines, "premium_subsidy": _premium_lines, "reits_grant": _grant_lines,
         "listing_grant": _grant_lines, "investment_subsidy": _investment_lines}


def _cut_lines(row: Any, parameters: ParameterSet, refs: _References) -> list[str]:
    stacking = parameters.parameters.stacking
    lines = [f"  Gross {_yuan(row.gross)}"]
    if row.cut_by_item_rules:
        lines.append(f"  - {_yuan(row.cut_by_item_rules)} by the instrument's own caps (above)")
    if row.cut_by_most_favourable:
        kept = [i for g in stacking.most_favourable_only.value if row.instrument in g for i in g
                if i != row.instrument]
        lines.append(f"  - {_yuan(row.cut_by_most_favourable)} by 從優不重複 (most favourable only): the project "
                     f"keeps {' or '.join(kept)}, whose total over the project's life after its own rules is "
                     f"larger (given up before any cap, so it uses no cap's room); "
                     f"{refs.cite(parameters, 'stacking.most_favourable_only')}")
    if row.cut_by_enterprise_cap:
        lines.append(f"  - {_yuan(row.cut_by_enterprise_cap)} by the enterprise's 貼息 cap for {row.year}, all its "
                     f"loans' kept 貼息 together, earlier drawdowns first, counting only what was paid: "
                     f"{refs.cite(parameters, 'interest_subsidy.annual_cap_per_enterprise')}")
    if row.cut_by_project_cap:
        lines.append(f"  - {_yuan(row.cut_by_project_cap)} by the project's 貼息 cap over its loans' lives: "
                     f"{refs.cite(parameters, 'interest_subsidy.total_cap_per_project')}")
    if row.cut_by_total_cap:
        lines.append(f"  - {_yuan(row.cut_by_total_cap)} by the total cap on the project's "
                     f"{' and '.join(stacking.total_cap_instruments.value)}, earliest years first: "
                     f"{refs.cite(parameters, 'stacking.total_cap_share_of_investment')}")
    lines.append(f"  = Amount {_yuan(row.amount)}")
    return lines


def explain(claims: Claims, project_id: str) -> str:
    """Each claim of a project: clause, formula, values with their sources, and every cut.

    Examples
    --------
    >>> from subsidy_engine import evaluate
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> claims = evaluate(portfolio(50, seed=2), years=range(2024, 2027))
    >>> text = explain(claims, "P46").splitlines()
    >>> print(text[0])
    Project P46 of enterprise E2 (sector smart_city, district dongcheng, industry or software: no, in the library: yes)
    >>> print(text[6])
    interest_subsidy:L29:2024: 貼息 (interest subsidy), measure 15, 2024: 22,145.83
    """
    return explain_facts(facts_of(claims, project_id))


def facts_of(claims: Claims, project_id: str) -> Facts:
    """What :func:`explain` reads of a project in ``claims``."""
    table = claims.table
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
              "events": claims.portfolio.events, "projects": projects}

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

    return Facts(
        project_id=project_id, project=projects.loc[known].iloc[0],
        rows=list(table[table.project_id == project_id].itertuples()), details=claims.details, item=item,
        policy=claims.policy, notes=claims.notes, years=claims.years, provenance=claims.provenance,
        loan_events=loan_events)


def explain_facts(facts: Facts) -> str:
    """:func:`explain` of the facts gathered (see :class:`Facts`)."""
    project_id, project, rows = facts.project_id, facts.project, facts.rows

    def flag(name: str) -> str:
        value = project.get(name)
        return "yes" if str(value).strip().lower() in TRUE_WORDS else "no"

    def attribute(name: str) -> str:
        value = project.get(name)
        missing = value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or not str(value).strip()
        return "not given" if missing else str(value)  # a blank cell, not the words None, nan or <NA>

    refs = _References(facts.policy)
    years = (f"{facts.years[0]}-{facts.years[-1]}" if facts.years else "all years")
    out = [f"Project {project_id} of enterprise {project['enterprise_id']} (sector {attribute('sector')}, "
           f"district {attribute('district')}, industry or software: {flag('industry_or_software')}, "
           f"in the library: {flag('in_library')})",
           f"{len(rows)} claim(s) in {years}, total {_yuan(sum((row.amount for row in rows), Decimal(0)))}; engine "
           f"{facts.provenance.engine_version}, inputs {facts.provenance.parameters_sha256[:12]}",
           f"Funding: {refs.clause('closing')}"]
    if flag("in_library") == "yes":
        out.append(f"Library priority: {refs.clause(2)}")
    for note in facts.notes:
        out.append(f"Note: {note}")
    for row in rows:
        out.append("")
        out.append(f"{row.claim_id}: {INSTRUMENT_NAMES[row.instrument]}, measure {row.measure}, {row.year}: "
                   f"{_yuan(row.amount)}")
        lines, parameters = LINES[row.instrument](facts, row, refs)
        out.extend(lines)
        out.extend(_cut_lines(row, parameters, refs))
        out.append(f"  May draw on: {row.funding_sources.replace('|', ', ')} (parameter set {row.parameter_set})")
        if facts.policy.open_ended(parameters):
            out.append(f"  Parameter set {parameters.id} has no stated end (the parameter file gives no "
                       "covers_until): it is applied here however late the item is (see the note above).")
    return "\n".join(out + refs.lines())


__all__ = ["Facts", "explain", "explain_facts", "facts_of"]

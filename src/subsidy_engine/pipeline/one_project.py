"""One project's claims straight from its validated models: the fast path of :func:`subsidy_engine.service.quote`.

A quote reads one project while an applicant waits. Building the four tables
(pandas) of one project and reading them back costs some thirty times more
than computing it, so this module hands the models' values to the batch
engine's own pieces instead:

* the amortization kernel (:func:`subsidy_engine.loans.amortization.run`, via
  :func:`subsidy_engine.loans.arrays.arrays_from_loans`, as :func:`subsidy_engine.amortize` does);
* the 貼息 kernel per loan and year (:func:`subsidy_engine.measures.interest_subsidy.subsidy_by_loan_year`,
  which the table path :func:`subsidy_engine.measures.interest_subsidy.interest_subsidy_rows` runs too);
* the premium subsidy and the grants from their arrays (:func:`~subsidy_engine.measures.premium_subsidy.premium_rows`,
  :func:`~subsidy_engine.measures.grants.grant_rows`, which the table readers feed too),
  the investment subsidy (measures 1, 2, 4), and evaluate's parts, stacking and
  cross-item caps (``add_subsidy``, ``add_premium``, ``add_grants``,
  ``add_investment``, ``stacking_of``, ``stack``, ``shown_order``, ``cut_columns``);
* the explanation's words (:func:`subsidy_engine.pipeline.explain.explain_facts`).

The figures are therefore the batch engine's, row for row; a hypothesis test
compares the two paths on generated requests, to the fen and word for word.

**What it takes.** Requests the batch engine computes without a word to say: a
project with its loans, insurance policies and events. :func:`project_claims`
returns ``None`` (and :func:`~subsidy_engine.service.quote` takes the batch path, which
reports the problem) for a request with a blank id, an investment the projects
table refuses (zero total, eligible above total, a negative amount), an event
the events table refuses (a listing step without venue or stage, an issuance
with them, an amount raised not positive), an anchor date no parameter set
covers, or a loan the rate data cannot price; :func:`~subsidy_engine.service.quote` also
takes the batch path when this one meets an amount too large for an int64
column (``ArithmeticError``), so the tables' checks name it.

**What it assumes.** The guarantees of :class:`~subsidy_engine.QuoteRequest`:
ids unique within each kind of item, one enterprise (every insurance policy and
event is the project's enterprise's), items of this project or of none, and
the request's bounds on terms, amounts and dates. Called with items that break
them, it does not check and its figures are not the batch engine's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from subsidy_engine.core.dates import day_date, epoch_days
from subsidy_engine.core.money import fen_to_yuan
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.loans import amortization
from subsidy_engine.loans.arrays import arrays_from_loans
from subsidy_engine.loans.contract import Loan
from subsidy_engine.loans.schedule import Schedule
from subsidy_engine.measures.claims import model_cells
from subsidy_engine.measures.grants import Event, event_arrays, grant_rows
from subsidy_engine.measures.interest_subsidy import subsidy_by_loan_year
from subsidy_engine.measures.investment import Project, project_arrays
from subsidy_engine.measures.premium_subsidy import InsurancePolicy, insurance_arrays, premium_rows
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import INSTRUMENTS, Policy
from subsidy_engine.pipeline.explain import Facts
from subsidy_engine.pipeline.steps import (
    Context,
    Rows,
    add_grants,
    add_investment,
    add_premium,
    add_subsidy,
    claim_id,
    claims_provenance,
    cut_columns,
    funding_sources_of,
    not_paid_columns,
    requested_years,
    shown_order,
    stack,
    stacking_of,
)

NO_REJECTIONS = pd.DataFrame({c: pd.Series(dtype=object) for c in ("row", "id", "field", "reason")})
#: the loans table of a one-project context: its loans are models, read by the steps as arrays
NO_LOANS = pd.DataFrame()


class ClaimRow(NamedTuple):
    """A row of the claims table (:data:`subsidy_engine.pipeline.evaluate.CLAIM_COLUMNS`), money as exact yuan."""

    claim_id: str
    project_id: str | None
    enterprise_id: str
    measure: int
    instrument: str
    item_id: str
    year: int
    gross: Decimal
    cut_by_item_rules: Decimal
    cut_by_most_favourable: Decimal
    cut_by_enterprise_cap: Decimal
    cut_by_project_cap: Decimal
    cut_by_total_cap: Decimal
    amount: Decimal
    funding_sources: str
    parameter_set: str
    parameter: str


@dataclass(frozen=True)
class ProjectClaims:
    """What :func:`project_claims` returns: :class:`~subsidy_engine.Claims` for one project, without tables."""

    rows: list[ClaimRow]  # the years asked for, in the claims table's order
    not_paid: list[tuple[str, str, str]]  # instrument, item_id, reason
    notes: list[str]
    provenance: Provenance
    schedules: Mapping[str, Schedule]  # by loan_id, the loans computed (made when first read, on the fast path)
    #: by loan_id, the loans computed: their periods and interest in fen (what a response says without its rows)
    loan_totals: dict[str, tuple[int, int]]
    facts: Callable[[], Facts]  # what the explanation reads, made when called (a quote's words are made when read)
    rejections: list[tuple[str, str | None, str, str]] = field(default_factory=list)  # table, id, field, reason


class _KernelSchedules(Mapping[str, Schedule]):
    """Each loan's :class:`~subsidy_engine.Schedule`, cut from the kernel's one pass when one is first asked for
    (a quote's response reads them when its schedule columns are read)."""

    def __init__(self, loans: Sequence[Loan], loan_ids: np.ndarray, run: amortization.KernelResult,
                 curve: LprCurve) -> None:
        self._made: dict[str, Schedule] | None = None
        self._ids = [str(loan_id) for loan_id in loan_ids.tolist()]
        self._make = lambda: _schedules(loans, loan_ids, run, curve)

    def __getitem__(self, loan_id: str) -> Schedule:
        if self._made is None:
            self._made = self._make()
        return self._made[loan_id]

    def __contains__(self, loan_id: object) -> bool:
        return loan_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def loan_totals_of(schedules: Mapping[str, Schedule]) -> dict[str, tuple[int, int]]:
    """Each schedule's periods and interest in fen (:attr:`ProjectClaims.loan_totals`)."""
    return {loan_id: (schedule.periods, int(schedule.interest_fen.sum())) for loan_id, schedule in schedules.items()}


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def takes_the_fast_path(project: Project, loans: Sequence[Any], insurance: Sequence[Any], events: Sequence[Any],
                        policy: Policy) -> bool:
    """True when the tables would hold no problem: the checks of the table readers and of the policy's
    coverage that validated models can still fail (pydantic has checked types, words and the rest; the
    request, that ids are unique and items are the project's)."""
    ids = [project.project_id, project.enterprise_id, *(x.loan_id for x in loans),
           *(x.policy_id for x in insurance), *(x.enterprise_id for x in insurance),
           *(x.event_id for x in events), *(x.enterprise_id for x in events)]
    if any(_blank(text) for text in ids):
        return False
    amounts = (project.total_investment, project.eligible_investment, project.expected_returns,
               project.merit_score)
    if any(value is not None and value < 0 for value in amounts):
        return False
    if project.total_investment == 0 or project.eligible_investment > project.total_investment:
        return False
    for event in events:  # read_events: a listing step names its venue and stage, an issuance neither
        listing = event.kind == "listing"
        if (listing and (event.venue is None or event.stage is None)) or (
                not listing and (event.venue is not None or event.stage is not None)):
            return False
        if event.amount_raised is not None and event.amount_raised <= 0:
            return False
    days = (project.start_date, *(x.start_date for x in loans), *(x.start_date for x in insurance),
            *(x.date for x in events))
    return not any(policy.outside_day(epoch_days(day)) for day in days)


def _texts(values: Iterable[str | None]) -> np.ndarray:
    return np.array(list(values), dtype=object)


def _yuan(fen: Iterable[int]) -> list[Decimal]:
    return [fen_to_yuan(v) for v in fen]


def project_claims(project: Project, project_loans: Sequence[Any], insurance: Sequence[InsurancePolicy],
                   events: Sequence[Event], policy: Policy, curve: LprCurve, *, years: Iterable[int] | None,
                   rate_by_stage: dict[str, str] | None, digest: str) -> ProjectClaims | None:
    """The claims of one project, its loans (each a :class:`~subsidy_engine.Loan` with a ``loan_id``), and
    its enterprise's insurance policies and events (of the project, or of no project).

    ``digest`` names the request (the hash a one-project portfolio of it carries). ``None`` when the
    request is not one this path takes (see the module docstring): the batch path then answers. The items
    are taken as a :class:`~subsidy_engine.QuoteRequest` guarantees them (the module docstring, "What it assumes").
    """
    if not takes_the_fast_path(project, project_loans, insurance, events, policy):
        return None
    chosen_years = requested_years(years)
    parr = project_arrays([project])
    project_id, enterprise_id = project.project_id, project.enterprise_id
    ids = np.array([project_id], dtype=object)
    sources = funding_sources_of(project.industry_or_software, project.sector, project.district)
    # the same context evaluate builds, for one project: its columns as arrays (a table would cost a tenth of
    # the quote), its funding sources, and no loans table (its loans are models, read by the steps as arrays)
    columns = {"project_id": ids, "enterprise_id": np.array([enterprise_id], dtype=object)}
    ctx = Context(
        policy=policy, frames={}, kept_rows={}, problems=[], notes=list(policy.notes),
        project_rejections=NO_REJECTIONS, project_arrays=parr, projects=columns,
        project_id_text=ids, project_enterprise=columns["enterprise_id"], sources_of_project=_texts([sources]),
        loans=NO_LOANS, loan_project=np.zeros(len(project_loans), np.int64))
    rows, details = Rows(), {}
    schedules: Mapping[str, Schedule] = {}
    loan_totals: dict[str, tuple[int, int]] = {}
    projected_from: dict[str, date] = {}
    if project_loans:
        arrays = arrays_from_loans(project_loans)
        run = amortization.run(arrays, curve, rows=True, years=False).keep_written()
        if run.errors:
            return None
        by_year = subsidy_by_loan_year(amortization.schedule_arrays(arrays, run.out, run.segment_rate), run.written,
                                       policy)
        loan_ids = np.array([x.loan_id for x in project_loans], dtype=object)
        projected_from = {str(loan_ids[j]): day_date(day) for j, day in enumerate(run.projected_from.tolist())
                          if day >= 0}
        subsidy = by_year.claim_rows(loan_ids[by_year.loan_of_year], by_year.loan_of_year, NO_REJECTIONS, {})
        if projected_from:  # as evaluate notes it, in the same place among the notes
            ctx.notes.append(curve.projection_note(len(projected_from), min(projected_from.values())))
        details["interest_subsidy"] = subsidy
        add_subsidy(ctx, rows, subsidy, ctx.loan_project)
        schedules = _KernelSchedules(project_loans, loan_ids, run, curve)
        ptr, interest = run.row_ptr.tolist(), run.out.interest
        loan_totals = {str(loan_id): (ptr[j + 1] - ptr[j], int(interest[ptr[j]:ptr[j + 1]].sum()))
                       for j, loan_id in enumerate(loan_ids.tolist())}
    if insurance:
        premium = premium_rows(insurance_arrays(insurance), {
            "policy_id": _texts(x.policy_id for x in insurance), "enterprise_id": _texts(x.enterprise_id for x in insurance),
            "project_id": _texts(x.project_id for x in insurance),
            "product_field": _texts(x.product_field.value for x in insurance)}, NO_REJECTIONS, policy)
        add_premium(ctx, rows, details, premium)
    if events:
        grants = grant_rows(event_arrays(events), {
            "event_id": _texts(x.event_id for x in events), "enterprise_id": _texts(x.enterprise_id for x in events),
            "project_id": _texts(x.project_id for x in events)}, NO_REJECTIONS, policy)
        add_grants(ctx, rows, details, grants)
    add_investment(ctx, rows, details, rate_by_stage)
    shown: list[ClaimRow] = []
    if rows.parts and sum(part["year"].shape[0] for part in rows.parts):
        shown = _claim_rows_shown(rows, policy, parr, sources, project_id, enterprise_id, chosen_years)
    provenance = claims_provenance(digest, policy, curve, rate_by_stage)
    items = {("projects", project_id): project, **{("loans", x.loan_id): x for x in project_loans},
             **{("insurance", x.policy_id): x for x in insurance}, **{("events", x.event_id): x for x in events}}
    read: dict[tuple[str, str], dict[str, Any]] = {}  # each item's cells, made when the explanation asks

    def item(table: str, _: str, item_id: str) -> dict[str, Any]:
        if (table, item_id) not in read:  # a loan's tranches and prepayments are not cells: loan_events says them
            read[table, item_id] = model_cells(items[table, item_id], events_elsewhere=True)
        return read[table, item_id]

    def loan_events(loan_id: str) -> list[tuple[str, Any, Any, str | None]]:
        loan = items["loans", loan_id]
        return sorted([*(("drawdowns", d.date, d.amount, None) for d in loan.drawdowns),
                       *(("prepayments", p.date, p.amount, p.recompute.value) for p in loan.prepayments)],
                      key=lambda e: (e[1], e[0]))

    def facts() -> Facts:
        return Facts(project_id=project_id, project=model_cells(project),
                     rows=[r for r in shown if r.project_id == project_id], details=details, item=item, policy=policy,
                     notes=ctx.notes, years=chosen_years, provenance=provenance, loan_events=loan_events,
                     projected_from=projected_from)
    # a calculator's instrument is its name (one str) or an array of them (grants, awards)
    not_paid = [(instrument, str(item), str(reason)) for _, part in not_paid_columns(details)
                for instrument, item, reason in zip(
                    [part["instrument"]] * len(part["item_id"]) if isinstance(part["instrument"], str)
                    else part["instrument"], part["item_id"], part["reason"])]
    return ProjectClaims(rows=shown, not_paid=not_paid, notes=ctx.notes, provenance=provenance,
                         schedules=schedules, loan_totals=loan_totals, facts=facts)


def _claim_rows_shown(rows: Rows, policy: Policy, parr: dict[str, np.ndarray], sources: str, project_id: str,
           enterprise_id: str, years: tuple[int, ...] | None) -> list[ClaimRow]:
    """Stacking over the parts, then the rows of ``years`` in the table's order (every row of the enterprise is
    described by the project, the enterprise's only one here)."""
    st = stacking_of(rows, policy, parr, 1)
    after = stack(st, st.computed)
    order = shown_order(st, years)
    money = [_yuan(values[order].tolist()) for values in (st.gross, *cut_columns(st, after).values(), after[-1])]
    gross, by_item_rules, by_most_favourable, by_enterprise_cap, by_project_cap, by_total_cap, amount = money
    instrument = [INSTRUMENTS[k] for k in st.instrument[order].tolist()]
    items = st.item.tolist() if isinstance(st.item, np.ndarray) else st.item.to_pylist()
    item = [items[k] for k in order.tolist()]
    year = st.year[order].tolist()
    measure = rows.column("measure")[order].tolist()
    set_ids = [s.id for s in policy.sets]
    parameter_set = [set_ids[k] for k in rows.column("set_index")[order].tolist()]
    parameter = [rows.parameter_names[k] for k in rows.column("parameter")[order].tolist()]
    own = st.has_project[order].tolist()  # else an item of the enterprise without a project: shown without one
    ids = list(map(claim_id, instrument, item, year))
    return [ClaimRow(ids[k], project_id if own[k] else None, enterprise_id,
                     measure[k], instrument[k],
                     item[k], year[k], gross[k], by_item_rules[k], by_most_favourable[k], by_enterprise_cap[k],
                     by_project_cap[k], by_total_cap[k], amount[k], sources, parameter_set[k], parameter[k])
            for k in range(order.shape[0])]


def _schedules(loans: Sequence[Loan], loan_ids: np.ndarray, run: amortization.KernelResult, curve: LprCurve
               ) -> dict[str, Schedule]:
    """Each loan's :class:`~subsidy_engine.Schedule`, cut from the kernel's one pass over them all."""
    rate, opening, ptr, out = run.rate_units(), run.opening_fen(), run.row_ptr, run.out
    provenance = Provenance.of(curve.digest, *run.calendar_digests(), scenario=curve.projection_label)
    schedules = {}
    for j, loan in enumerate(loans):
        lo, hi = int(ptr[j]), int(ptr[j + 1])
        projected = int(run.projected_from[j])
        schedules[str(loan_ids[j])] = Schedule(
            loan=loan, end_day=out.end_day[lo:hi], rate_units=rate[lo:hi], opening_fen=opening[lo:hi],
            interest_fen=out.interest[lo:hi], principal_fen=out.principal[lo:hi],
            projected_from=None if projected < 0 else day_date(projected),
            provenance=provenance, calendar_projection=run.calendar_projection,
            settles=out.settles[lo:hi] if loan.interest_months else None)
    return schedules


__all__ = ["ClaimRow", "ProjectClaims", "loan_totals_of", "project_claims", "takes_the_fast_path"]

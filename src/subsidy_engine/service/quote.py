"""One project's figures while an applicant waits: :func:`quote` (JSON in, JSON out).

A :class:`QuoteRequest` is one project with its loans, insurance policies and
events, as the portal's form gives them; :func:`quote` returns a
:class:`QuoteResponse`: each claim per instrument, item and calendar year with
every cut, the totals by year and measure, the one-off grants, the caps that
bit, what is not paid and why, each loan's schedule, and the explanation of
:func:`subsidy_engine.explain`. Both export their JSON Schema
(``QuoteRequest.model_json_schema()``); amounts travel as decimal strings.

The figures are the batch engine's. An ordinary request goes from its
validated models straight into the batch engine's kernels, stacking and caps
(:mod:`subsidy_engine.pipeline.one_project`, the fast path); one with something to
report (a row the tables' checks would reject, dates no parameter set covers,
a loan the rate data cannot price, a value an int64 column cannot hold)
becomes a one-project portfolio and goes through
:func:`subsidy_engine.evaluate`, which says what it is. Either way a quote
equals that project's rows of a batch run to the fen (a hypothesis test
compares the fast path, the batch path and the batch run).

**Bounds** (a clear error each, never a silent cut): at most 100 loans, 100
insurance policies and 100 events; terms up to 50 years (600 months), a
custom plan at most one entry a period; at most :data:`MAX_PERIODS` (36,000)
periods over all the loans, a hundred 30-year monthly loans, which bounds a
quote's work (these counts are checked on the request as sent, before any
item is read); amounts up to 1e12 yuan; ids up to 64 characters; dates and
years 2000-2100; insurance and events of the project's own enterprise.
Floats, NaN and infinities are refused for amounts (write ``"1000000.00"`` or
an integer); the JSON Schema shows amounts and rates as decimal strings (or
integers). A row the engine's table checks reject (e.g. an eligible
investment above the total) is an error, not a partial quote.

**Ids** are read by :func:`subsidy_engine.core.ids.normalise_id`: Unicode NFC,
surrounding spaces trimmed, a control or format character refused, so that
``"L0"`` and ``"L0 "`` are one id (a duplicate, refused) and a NUL never
reaches the engine's string columns. Responses name the normalised ids.

**Years.** A quote's claims are those of 2000-2100, its stated years. A loan
or policy running past 2100 is computed whole (its caps count every earlier
year), but its claims after 2100 are left out, with a note, as a window of
``years`` leaves out the years outside it.

**LPR.** Floating loans reset on published fixings and, after the data, on the
last fixing held flat until the last loan matures (an explicit projection, named
in ``lpr_projection``), unless the caller passes a curve.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from itertools import accumulate
from typing import Annotated, Any, Callable, TypeVar, cast

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import (
    DEFAULT_REF_TEMPLATE,
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
)
from pydantic_core import core_schema

from subsidy_engine.core.deferred import Deferred
from subsidy_engine.core.ids import normalise_id
from subsidy_engine.core.language import Sentence, reason_in, text
from subsidy_engine.core.language import name as named_in
from subsidy_engine.core.messages import one_line, validation_messages
from subsidy_engine.core.money import (
    ABOVE_MAX_AMOUNT,
    MAX_AMOUNT_YUAN,
    ONE_FEN,
    PLAIN_NUMBER,
    fen_to_yuan,
    units_to_rate,
)
from subsidy_engine.core.provenance import engine_version
from subsidy_engine.core.vocabulary import LIST_FLAGS, Frequency, Lang, Stage
from subsidy_engine.errors import RequestRefused
from subsidy_engine.loans.contract import MAX_TERM_MONTHS, Loan
from subsidy_engine.loans.schedule import Schedule, amortize
from subsidy_engine.measures.claims import models_to_frame
from subsidy_engine.measures.grants import Event
from subsidy_engine.measures.investment import Project
from subsidy_engine.measures.premium_subsidy import InsurancePolicy
from subsidy_engine.params.lpr import LprCurve, default_lpr
from subsidy_engine.params.policy import MEASURE_OF, Policy, load_policy
from subsidy_engine.params.rules import stage_rate
from subsidy_engine.pipeline.evaluate import evaluate
from subsidy_engine.pipeline.explain import Facts, explain_facts, facts_of
from subsidy_engine.pipeline.inputs import PortfolioTables, checked_portfolio
from subsidy_engine.pipeline.one_project import (
    ClaimRow,
    ProjectClaims,
    loan_totals_of,
    project_claims,
    takes_the_fast_path,
)
from subsidy_engine.pipeline.steps import CLAIM_COLUMNS, CUT_COLUMNS

MAX_ITEMS = 100
#: The most schedule periods a quote computes over all its loans: a hundred 30-year monthly loans. A quote's
#: work (reading plans, the kernels, the schedules' columns) grows with it; at the bound it is about a second.
MAX_PERIODS = 36_000
LAST_YEAR = 2100


def _id(value: str) -> str:
    return normalise_id(value)  # its ValueError is the field's one-line message


Id = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_id)]


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(LAST_YEAR, 12, 31)


def _in_years(day: date, name: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{name} {day} is outside the quote's years 2000-2100")


class QuoteLoan(Loan):
    """A loan of the request: its id and the :class:`~subsidy_engine.Loan` contract."""

    loan_id: Id

    @field_validator("principal_plan", mode="before")
    @classmethod
    def _plan_within_bounds(cls, plan: object) -> object:
        # checked before the exact arithmetic of the plan: a "1e1000000" must not cost a second
        if isinstance(plan, (list, tuple)):
            if len(plan) > MAX_TERM_MONTHS:
                raise ValueError(f"{len(plan)} entries: a plan has at most one per period (600)")
            for entry in plan:
                if isinstance(entry, (str, int, Decimal)) and not isinstance(entry, bool):
                    text = str(entry).strip()
                    if len(text) > 32:
                        raise ValueError(f"{text[:20]}... is too long for an amount")
                    try:
                        value = Decimal(text)
                    except ArithmeticError:
                        continue  # the Loan model says why
                    if value.is_finite() and abs(value) > MAX_AMOUNT_YUAN:
                        raise ValueError(f"{text} {ABOVE_MAX_AMOUNT}")
        return plan

    @field_validator("drawdowns", "prepayments", mode="before")
    @classmethod
    def _events_within_bounds(cls, events: object) -> object:
        # counted before a single one is read: a loan has at most one tranche or prepayment a period
        if isinstance(events, (list, tuple)) and len(events) > MAX_TERM_MONTHS:
            raise ValueError(f"{len(events)} entries: a loan has at most one drawdown or prepayment a period (600)")
        return events

    @model_validator(mode="after")
    def _within_bounds(self) -> QuoteLoan:
        if self.term_months > MAX_TERM_MONTHS:
            raise ValueError(f"term_months {self.term_months} is beyond the quote's bound of 600 (50 years)")
        _in_years(self.start_date, "start_date")
        return self


class QuotePolicy(InsurancePolicy):
    """An insurance policy of the request (measure 7)."""

    policy_id: Id
    enterprise_id: Id
    project_id: Id | None = None

    @model_validator(mode="after")
    def _within_bounds(self) -> QuotePolicy:
        _in_years(self.start_date, "start_date")  # years: 1 to 50, as every insurance policy (the model's check)
        return self


class QuoteEvent(Event):
    """A REITs issuance or listing step of the request (measures 13 and 14)."""

    event_id: Id
    enterprise_id: Id
    project_id: Id | None = None

    @model_validator(mode="after")
    def _within_bounds(self) -> QuoteEvent:
        _in_years(self.date, "date")
        return self


class QuoteProject(Project):
    """The project (measures 1, 2 and 4 and its attributes)."""

    project_id: Id
    enterprise_id: Id
    name: Annotated[str, Field(max_length=200)] | None = None
    sector: Annotated[str, Field(max_length=64)] | None = None
    district: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _within_bounds(self) -> QuoteProject:
        _in_years(self.start_date, "start_date")
        return self


def _periods_as_sent(loan: object) -> int:
    """The periods a loan of the request will have (at least its plan's entries), read from the JSON without
    validating it; what is not a number counts as nothing here and is refused by the loan's own checks."""
    if isinstance(loan, Loan):
        return loan.periods
    if not isinstance(loan, dict):
        return 0
    term, plan = loan.get("term_months"), loan.get("principal_plan")
    months = term if isinstance(term, int) and not isinstance(term, bool) and 0 < term <= MAX_TERM_MONTHS else 0
    try:
        per_period = Frequency.parse(loan.get("frequency") or Frequency.MONTHLY).months
    except (ValueError, TypeError):
        per_period = 1
    return max(months // per_period, len(plan) if isinstance(plan, (list, tuple)) else 0)


class _DecimalsAsText(GenerateJsonSchema):
    """JSON Schema of a request with every amount and rate as it is read: a decimal string (or an integer),
    never a JSON number, since a float is refused."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string", "format": "decimal", "pattern": f"^{PLAIN_NUMBER}$",
                           "examples": ["1000000.00", "0.0385"]},
                          {"type": "integer"}]}


class QuoteRequest(BaseModel):
    """One project, as JSON; ``years`` is ``[first, last]`` (default: every year with a claim)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: QuoteProject
    loans: list[QuoteLoan] = Field(default=[], max_length=MAX_ITEMS)
    insurance: list[QuotePolicy] = Field(default=[], max_length=MAX_ITEMS)
    events: list[QuoteEvent] = Field(default=[], max_length=MAX_ITEMS)
    years: tuple[Annotated[int, Field(ge=2000, le=2100)], Annotated[int, Field(ge=2000, le=2100)]] | None = None
    rate_by_stage: dict[Stage, Annotated[str, Field(max_length=20)]] | None = None
    include_schedules: bool = True
    #: the language of ``explanation``: ``zh`` (Simplified Chinese, the default) or ``en``
    lang: Lang = Lang.ZH

    @model_validator(mode="before")
    @classmethod
    def _within_the_work_bound(cls, data: Any) -> Any:
        """The request's size, counted on the JSON as sent, before a single item is read: pydantic checks a
        list's length only after validating every item, and 101 loans of 600-entry plans cost their reading."""
        if not isinstance(data, dict):
            return data
        for name in ("loans", "insurance", "events"):
            items = data.get(name)
            if isinstance(items, (list, tuple)) and len(items) > MAX_ITEMS:
                raise ValueError(f"{name}: {len(items):,} items; a quote takes at most {MAX_ITEMS}")
        loans = data.get("loans")
        if isinstance(loans, (list, tuple)):
            periods = sum(_periods_as_sent(loan) for loan in loans)
            if periods > MAX_PERIODS:
                raise ValueError(f"loans: {periods:,} periods in all; a quote computes at most {MAX_PERIODS:,} "
                                 f"(a hundred 30-year monthly loans)")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> QuoteRequest:
        if self.years is not None and self.years[0] > self.years[1]:
            raise ValueError(f"years {list(self.years)}: the first is after the last")
        for name in ("loans", "insurance", "events"):
            ids = [getattr(item, {"loans": "loan_id", "insurance": "policy_id", "events": "event_id"}[name])
                   for item in getattr(self, name)]
            if len(set(ids)) < len(ids):
                raise ValueError(f"{name}: ids must be unique")
        items: tuple[QuotePolicy | QuoteEvent, ...] = (*self.insurance, *self.events)
        for item in items:
            if item.project_id not in (None, self.project.project_id):
                raise ValueError(f"{item.project_id!r} is not the project {self.project.project_id!r}")
            if item.enterprise_id != self.project.enterprise_id:
                raise ValueError(f"enterprise {item.enterprise_id!r} is not the project's enterprise "
                                 f"{self.project.enterprise_id!r}")
        return self

    @classmethod
    def model_json_schema(cls, by_alias: bool | None = None, ref_template: str = DEFAULT_REF_TEMPLATE,
                          schema_generator: type[GenerateJsonSchema] = _DecimalsAsText,
                          mode: JsonSchemaMode = "validation", **kwargs: Any) -> dict[str, Any]:
        """The request's JSON Schema; amounts and rates are decimal strings or integers (see ``_DecimalsAsText``)."""
        return super().model_json_schema(by_alias=by_alias, ref_template=ref_template,
                                         schema_generator=schema_generator, mode=mode, **kwargs)

    @field_validator("rate_by_stage")
    @classmethod
    def _rates_are_numbers(cls, rates: dict[Stage, str] | None) -> dict[Stage, str] | None:
        """Each rate by the investment rule's one reading (``--rates`` reads it so too), kept as its plain
        digits; every bad rate at once."""
        if rates is None:
            return None
        read, bad = {}, []
        for stage, rate in rates.items():
            try:
                read[stage] = f"{stage_rate(rate, f'rate_by_stage.{stage.value}'):f}"
            except ValueError as exc:
                bad.append(str(exc))
        if bad:
            raise ValueError("; ".join(bad))
        return read


Money = Annotated[Decimal, Field(description="yuan, exact (a decimal string in JSON)")]


class QuoteClaim(BaseModel):
    instrument: str
    measure: int
    item_id: str
    year: int
    gross: Money
    cut_by_item_rules: Money
    cut_by_most_favourable: Money
    cut_by_enterprise_cap: Money
    cut_by_project_cap: Money
    cut_by_total_cap: Money
    amount: Money
    parameter: str


class QuoteTotal(BaseModel):
    year: int
    measure: int
    amount: Money


class QuoteCut(BaseModel):
    """A cap or rule that cut a claim."""

    rule: str
    item_id: str
    year: int
    cut: Money


class QuoteNotPaid(BaseModel):
    instrument: str
    item_id: str
    reason: str


class QuoteRejection(BaseModel):
    table: str
    id: str | None
    field: str
    reason: str


class QuoteScheduleRow(BaseModel):
    """One period of a loan (:attr:`QuoteSchedule.rows`)."""

    period: int
    end_date: date
    annual_rate: Decimal
    opening_balance: Money
    interest: Money
    principal: Money
    payment: Money


class QuoteScheduleColumns(Deferred):
    """A loan's periods as columns, period ``k`` at index ``k - 1``: compact JSON for a table or a chart
    (a 30-year monthly loan is 360 entries a column, not 360 objects).

    A quote makes them from its exact integers when they are first read or sent: the same values, paid for by
    whoever reads them.
    """

    end_date: list[date]
    annual_rate: list[Decimal]
    opening_balance: list[Money]
    interest: list[Money]
    principal: list[Money]
    payment: list[Money]


class QuoteSchedule(BaseModel):
    """A loan's schedule; ``columns`` is None when the request says ``include_schedules: false``."""

    loan_id: str
    periods: int
    total_interest: Money
    columns: QuoteScheduleColumns | None

    @property
    def rows(self) -> list[QuoteScheduleRow] | None:
        """The periods as records (built when asked for; the JSON carries ``columns``)."""
        c = self.columns
        if c is None:
            return None
        return [QuoteScheduleRow(period=k, end_date=end, annual_rate=rate, opening_balance=opening,
                                 interest=interest, principal=principal, payment=payment)
                for k, end, rate, opening, interest, principal, payment in zip(
                    range(1, self.periods + 1), c.end_date, c.annual_rate, c.opening_balance, c.interest,
                    c.principal, c.payment)]


class QuoteResponse(Deferred):
    """Every amount of one project. The explanation and the schedules' columns are made when first read or sent: a
    portal that compares figures does not pay for words it does not show, and the JSON is the same either way."""

    project_id: str
    years: tuple[int, int] | None
    claims: list[QuoteClaim]
    by_year_measure: list[QuoteTotal]
    total: Money
    one_off_grants: list[QuoteClaim]
    caps_that_bit: list[QuoteCut]
    not_paid: list[QuoteNotPaid]
    rejections: list[QuoteRejection]
    schedules: list[QuoteSchedule]
    explanation: str
    notes: list[str]
    lpr_projection: str | None
    engine_version: str
    inputs_sha256: str


#: The loan fields issue 18 added: left out of a request's hash at their defaults, so that a request hashes as
#: it did before loans had them.
_LATER_LOAN_FIELDS = ("drawdowns", "prepayments", "business_day", "interest_dates", "interest_frequency")
_LATER_LOAN_DEFAULTS = tuple((name, QuoteLoan.model_fields[name].default) for name in _LATER_LOAN_FIELDS)


def _digest(request: QuoteRequest) -> str:
    """The request's hash: what the figures rest on (its language only words them, and is left out)."""
    quiet = {k: {name for name, default in _LATER_LOAN_DEFAULTS if getattr(loan, name) == default}
             for k, loan in enumerate(request.loans)}
    unlisted = {flag for flag in LIST_FLAGS if not getattr(request.project, flag)}  # the later project fields
    return hashlib.sha256(request.model_dump_json(exclude={"loans": quiet, "project": unlisted, "lang": True})
                          .encode()).hexdigest()


def _rates(request: QuoteRequest) -> dict[str, str] | None:
    """The request's rates by stage, as the calculators take them: a Stage is a str."""
    return cast("dict[str, str] | None", request.rate_by_stage)


def quote_tables(request: QuoteRequest) -> PortfolioTables:
    """The request as a one-project portfolio (what :func:`subsidy_engine.evaluate` reads)."""
    project = request.project
    loans = models_to_frame(list(request.loans), ["loan_id"], events_elsewhere=True)  # in the two tables below
    if len(loans):
        loans["project_id"] = project.project_id
    drawdowns = pd.DataFrame([(x.loan_id, d.date, d.amount) for x in request.loans for d in x.drawdowns],
                             columns=["loan_id", "date", "amount"], dtype=object)
    prepayments = pd.DataFrame([(x.loan_id, p.date, p.amount, p.recompute.value) for x in request.loans
                                for p in x.prepayments], columns=["loan_id", "date", "amount", "recompute"], dtype=object)
    tables = {"projects": models_to_frame([project], ["project_id"]), "loans": loans, "drawdowns": drawdowns,
              "prepayments": prepayments,
              "insurance": models_to_frame(list(request.insurance), ["policy_id"]),
              "events": models_to_frame(list(request.events), ["event_id"])}
    checked = checked_portfolio(tables, source=f"quote of {project.project_id}", digest=_digest(request))
    if len(checked.problems):  # the request is one project: a row it cannot compute is an error to correct
        raise ValueError("; ".join(f"{r.table} {r.id}: {r.field} {r.reason}" for r in checked.problems.itertuples()))
    return checked


def _through_tables(request: QuoteRequest, policy: Policy, curve: LprCurve, years: range | None) -> ProjectClaims:
    """The batch path: the request as a one-project portfolio through :func:`subsidy_engine.evaluate`."""
    claims = evaluate(quote_tables(request), policy, years, rate_by_stage=_rates(request), lpr=curve)
    refused = claims.rejections[claims.rejections.table == "projects"]
    if len(refused):  # the request's one project cannot be computed (e.g. before any parameter set): say why
        raise ValueError("; ".join(f"project {request.project.project_id}: {r.field} {r.reason}"
                                   for r in refused.itertuples()))
    failed = set(claims.rejections.id[claims.rejections.table == "loans"].astype(str))
    schedules = {loan.loan_id: amortize(Loan.model_validate(loan.model_dump(exclude={"loan_id"})), curve)
                 for loan in request.loans if loan.loan_id not in failed}
    facts = facts_of(claims, request.project.project_id)
    return ProjectClaims(
        rows=[ClaimRow(*(getattr(r, c) for c in CLAIM_COLUMNS)) for r in claims.table.itertuples()],
        not_paid=[(str(r.instrument), str(r.item_id), str(r.reason)) for r in claims.not_paid.itertuples()],
        notes=list(claims.notes), provenance=claims.provenance, schedules=schedules,
        loan_totals=loan_totals_of(schedules), facts=lambda: facts,
        rejections=[(str(r.table), None if r.id is None else str(r.id), str(r.field), str(r.reason))
                    for r in claims.rejections.itertuples()])




def _schedule(loan_id: str, result: ProjectClaims, with_rows: bool) -> dict[str, Any]:
    """A loan's schedule for the response: its columns made when first read (one pass over the kernel's fen arrays).

    The columns are built from the kernel's exact integers, so the model is constructed, not
    validated: 2,160 amounts of a 30-year loan need no second look.
    """
    periods, interest_fen = result.loan_totals[loan_id]
    columns = QuoteScheduleColumns.deferring({}, in_quote_context(lambda: _columns(result.schedules[loan_id]))
                                             ) if with_rows else None
    return {"loan_id": loan_id, "periods": periods, "total_interest": fen_to_yuan(interest_fen), "columns": columns}


def in_quote_context(make: Callable[[], T]) -> Callable[[], T]:
    """``make`` run as :func:`quote` runs: in the quote's decimal context (:data:`_QUOTE_CONTEXT`), a model's
    refusal said in its words as a ``ValueError``; whenever it is called (a response's words and schedules are
    made when read)."""
    def made() -> T:
        with localcontext(_QUOTE_CONTEXT):
            try:
                return make()
            except ValidationError as exc:  # a model of the engine refused a value of the request: its words only
                raise ValueError(one_line(exc)) from None
    return made


def _columns(schedule: Schedule) -> dict[str, list[Any]]:
    """A loan's schedule as the response's columns, from the kernel's fen arrays."""
    rates = {units: units_to_rate(units).normalize() for units in set(schedule.rate_units.tolist())}
    payment_fen = (schedule.interest_fen + schedule.principal_fen).tolist()
    payments = {fen: Decimal(fen) * ONE_FEN for fen in set(payment_fen)}  # an annuity's payment repeats

    # Decimal(fen) * 0.01 is exact and spelt as fen_to_yuan spells it ("1.00", "0.00"), and faster
    principal = [Decimal(v) * ONE_FEN for v in schedule.principal_fen.tolist()]
    payment = list(map(payments.__getitem__, payment_fen))
    # Exact two-place subtractions, spelt as fen_to_yuan spells them and a third of the cost of converting
    # another column: each opening balance is the one before less its principal (the kernel's own
    # recurrence), and the interest is the payment less the principal (payment_fen is their sum).
    if schedule.drawn_fen.any():  # a tranche adds to the balance: the schedule's own openings
        opening = [Decimal(v) * ONE_FEN for v in schedule.opening_fen.tolist()]
    else:
        opening = list(accumulate(principal[:-1], operator.sub, initial=fen_to_yuan(int(schedule.opening_fen[0]))))
    return {"end_date": schedule.end_day.astype("datetime64[D]").tolist(),  # dates, made in C (both from 1970-01-01)
            "annual_rate": list(map(rates.__getitem__, schedule.rate_units.tolist())),
            "opening_balance": opening, "interest": list(map(operator.sub, payment, principal)), "principal": principal,
            "payment": payment}


T = TypeVar("T")

#: Every amount of a quote is exact within 34 digits (1e12 yuan is 15 digits in fen); half-even is the
#: default context's rounding, which signs an exact zero +. The engine's own roundings name their rule.
_QUOTE_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)


#: The largest request body read (the service answers 413 above it; ``subsidy-engine quote`` refuses the file).
MAX_BODY_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_CONTAINERS = 200_000


def refused(status: int, kind: str, message: str) -> RequestRefused:
    """A request refused as a whole (``loc`` the body) with ``status``: one that is not a 422 closes the connection
    (the rest of the body is not read)."""
    return RequestRefused([{"loc": ["body"], "msg": message, "type": kind}], status=status, close=status != 422)


def too_large(max_bytes: int, size: int | None = None) -> RequestRefused:
    """The 413 of a body over ``max_bytes`` (its ``size`` when known)."""
    said = f"{size:,} bytes, " if size is not None else ""
    return refused(413, "too_large", f"the request is {said}more than the {max_bytes:,} bytes allowed")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows; amounts are decimal strings or integers")


def _depth(value: Any, limit: int) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"the JSON is nested more than {limit} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


#: A light request (:func:`light`): at most this many loans, of at most :data:`LIGHT_PERIODS` schedule periods in all,
#: and at most :data:`LIGHT_OTHER_ITEMS` insurance policies and events.
LIGHT_LOANS = 4
LIGHT_PERIODS = 720
LIGHT_OTHER_ITEMS = 4


def light(request: QuoteRequest, policy: Policy) -> bool:
    """Whether quoting ``request`` is a few milliseconds of work (the service answers it where it arrives, without
    a worker thread): at most :data:`LIGHT_LOANS` loans of :data:`LIGHT_PERIODS` periods in all (two 30-year
    monthly loans), :data:`LIGHT_OTHER_ITEMS` insurance policies and events, and a request the fast path takes
    (not one :func:`subsidy_engine.evaluate` answers: a date no parameter set covers, a blank id...)."""
    return (len(request.loans) <= LIGHT_LOANS and sum(loan.periods for loan in request.loans) <= LIGHT_PERIODS
            and len(request.insurance) + len(request.events) <= LIGHT_OTHER_ITEMS
            and takes_the_fast_path(request.project, request.loans, request.insurance, request.events, policy))


def parse_request(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> QuoteRequest:
    """A quote request from its JSON body, as the service's ``POST /quote`` and ``subsidy-engine quote`` read it.

    Raises :class:`~subsidy_engine.errors.RequestRefused` with each problem's field and reason: a body over
    ``max_bytes`` (status 413), JSON that is not valid, too deep or too large, or a request the models refuse
    (422)."""
    if len(body) > max_bytes:
        raise too_large(max_bytes, len(body))
    if body.count(b"[") + body.count(b"{") > MAX_CONTAINERS:
        raise refused(422, "too_large", "the JSON has too many arrays and objects")
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
        _depth(data, MAX_DEPTH)
    except RecursionError:
        raise refused(422, "json_invalid", f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise refused(422, "json_invalid", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise refused(422, "json_invalid", "the request is a JSON object with a project")
    try:
        return QuoteRequest.model_validate(data)
    except ArithmeticError as exc:  # an amount beyond exact arithmetic, caught before it became a number
        raise refused(422, "value_error", f"an amount is out of range: {exc!r}") from None
    except ValidationError as exc:
        raise RequestRefused([{"loc": ["body", *loc], "msg": msg, "type": kind}
                              for loc, msg, kind in validation_messages(exc)]) from None


def quote(request: QuoteRequest, *, policy: Policy | None = None, lpr: LprCurve | None = None) -> QuoteResponse:
    """Every amount of one project, as the batch engine computes it.

    A request the tables would hold without a problem takes the fast path
    (:mod:`subsidy_engine.pipeline.one_project`: the models straight into the same
    kernels and stacking); one with a problem to report goes through
    :func:`subsidy_engine.evaluate` as a one-project portfolio, which says what
    it is. Both give the same figures and words.

    Examples
    --------
    >>> request = QuoteRequest.model_validate({
    ...     "project": {"project_id": "P1", "enterprise_id": "E1", "domain": "economic", "stage": "pilot",
    ...                 "total_investment": "500000000", "eligible_investment": "400000000",
    ...                 "start_date": "2026-03-01"},
    ...     "loans": [{"loan_id": "L1", "principal": "200000000", "annual_rate": "0.035", "term_months": 360,
    ...                "start_date": "2026-03-15"}]})
    >>> response = quote(request)
    >>> [(c.year, str(c.amount)) for c in response.claims]
    [(2026, '3726231.94'), (2027, '4883484.85'), (2028, '1205367.46')]
    >>> response.schedules[0].rows[0].payment
    Decimal('898089.38')
    """
    return _quote(request, policy=policy, lpr=lpr)


def quote_by_tables(request: QuoteRequest, *, policy: Policy | None = None, lpr: LprCurve | None = None
                    ) -> QuoteResponse:
    """:func:`quote` through :func:`subsidy_engine.evaluate` as a one-project portfolio, whatever the request: the
    path a request with a problem to report takes, with the same figures and words as the fast path (the
    service's warm-up loads that path's kernels with it)."""
    return _quote(request, policy=policy, lpr=lpr, fast=False)


def _quote(request: QuoteRequest, *, policy: Policy | None = None, lpr: LprCurve | None = None,
           fast: bool = True) -> QuoteResponse:
    """:func:`quote`; ``fast=False`` takes the batch path whatever the request (the tests compare the two).

    Computed in the quote's own decimal context: the caller's (a short precision, ROUND_FLOOR's -0.00 for an
    exact zero) must not change a figure or its spelling.
    """
    return in_quote_context(lambda: _quote_in_context(request, policy=policy, lpr=lpr, fast=fast))()


def _claims(request: QuoteRequest, policy: Policy, curve: LprCurve, years: range | None, fast: bool) -> ProjectClaims:
    """The project's claims in ``years``: the fast path when it takes the request, else the batch path."""
    if fast:
        try:
            result = project_claims(request.project, request.loans, request.insurance, request.events, policy,
                                    curve, years=years, rate_by_stage=_rates(request), digest=_digest(request))
        except ArithmeticError:
            # a value the bounds let through but an int64 column cannot hold: the tables' checks name it
            result = None
        if result is not None:
            return result
    return _through_tables(request, policy, curve, years)


def _quote_in_context(request: QuoteRequest, *, policy: Policy | None, lpr: LprCurve | None,
                      fast: bool) -> QuoteResponse:
    policy = policy if policy is not None else load_policy()
    curve = lpr
    if curve is None:
        curve = default_lpr()
        if any(loan.floating is not None for loan in request.loans):
            last = max(date(loan.start_date.year + loan.term_months // 12 + 2, 12, 31) for loan in request.loans)
            curve = curve.hold_flat(until=max(last, curve.coverage_end))
    years = None if request.years is None else range(request.years[0], request.years[1] + 1)
    result = _claims(request, policy, curve, years, fast)
    beyond = sum(row.year > LAST_YEAR for row in result.rows)
    if beyond:
        # Claims after the quote's last year: computed again with the engine's own window of years, which
        # leaves them out after every cap has counted the years before (so no other figure changes), and
        # makes the explanation speak of the same claims. Rare (a loan or policy running past 2100).
        result = _claims(request, policy, curve, range(FIRST_DAY.year, LAST_YEAR + 1), fast)
        note = Sentence(f"{beyond} claim(s) after {LAST_YEAR} left out: a quote covers the years "
                        f"{FIRST_DAY.year}-{LAST_YEAR}", "quote_years_left_out", count=beyond, first=FIRST_DAY.year,
                        last=LAST_YEAR)
        # in the notes and, worded in the request's language, at the top of the explanation
        facts = result.facts

        def noted() -> Facts:
            made = facts()
            return replace(made, notes=[*made.notes, note])
        result = replace(result, notes=[*result.notes, note], facts=noted)
    return _response(request, result)


def _rejected_said(rejections: Sequence[tuple[str, str | None, str, str]], lang: Lang) -> list[str]:
    """Each rejected item of the request, why, in ``lang``: the explanation says what the figures leave out."""
    return [text("explain", "rejected_item", lang, table=named_in("tables", table, lang), id=item_id or "", field=field,
                 reason=reason_in(reason, lang)) for table, item_id, field, reason in rejections]


#: A claim of the response (:class:`QuoteClaim`): its fields of the claim row, read in one call a row.
_CLAIM_FIELDS = ("instrument", "measure", "item_id", "year", "gross", "amount", "parameter", *CUT_COLUMNS)
_claim_values = operator.attrgetter(*_CLAIM_FIELDS)
#: Each cut column and the rule it names in ``caps_that_bit``.
_CUT_RULES = tuple((column, column.removeprefix("cut_by_")) for column in CUT_COLUMNS)


def _response(request: QuoteRequest, result: ProjectClaims) -> QuoteResponse:
    rows = result.rows
    claims = [dict(zip(_CLAIM_FIELDS, _claim_values(r))) for r in rows]
    totals: dict[tuple[int, int], Decimal] = {}
    for r in rows:
        totals[r.year, r.measure] = totals.get((r.year, r.measure), Decimal(0)) + r.amount
    grant_measures = {MEASURE_OF["reits_grant"], MEASURE_OF["listing_grant"]}
    project_id = request.project.project_id
    schedules = [_schedule(loan.loan_id, result, request.include_schedules)
                 for loan in request.loans if loan.loan_id in result.loan_totals]
    lang = request.lang

    def words() -> dict[str, str]:  # made when first read or sent
        return {"explanation": "\n".join([explain_facts(result.facts(), lang) if rows else text(
            "explain", "no_claim", lang, project=project_id), *_rejected_said(result.rejections, lang)])}

    return QuoteResponse.deferring({
        "project_id": project_id, "years": request.years, "claims": claims,
        "by_year_measure": [{"year": year, "measure": measure, "amount": amount}
                            for (year, measure), amount in sorted(totals.items())],
        "total": sum((r.amount for r in rows), Decimal(0)).quantize(ONE_FEN),
        "one_off_grants": [c for c in claims if c["measure"] in grant_measures],
        "caps_that_bit": [{"rule": rule, "item_id": claim["item_id"], "year": claim["year"], "cut": claim[column]}
                          for claim in claims for column, rule in _CUT_RULES if claim[column] > 0],
        "not_paid": [{"instrument": i, "item_id": item, "reason": why} for i, item, why in result.not_paid],
        "rejections": [{"table": t, "id": i, "field": f, "reason": why} for t, i, f, why in result.rejections],
        "schedules": schedules,
        "notes": result.notes, "lpr_projection": result.provenance.scenario, "engine_version": engine_version(),
        "inputs_sha256": result.provenance.parameters_sha256}, in_quote_context(words), validate={"explanation": ""})


__all__ = ["LIGHT_LOANS", "LIGHT_OTHER_ITEMS", "LIGHT_PERIODS", "MAX_PERIODS", "QuoteRequest", "QuoteResponse",
           "QuoteSchedule", "QuoteScheduleColumns", "QuoteScheduleRow", "light", "quote", "quote_by_tables",
           "quote_tables", "validation_messages"]

"""The steps every driver of the pipeline shares: the context, the claim rows, stacking and the cuts.

:func:`subsidy_engine.evaluate` (a portfolio), the one-project quote
(:mod:`subsidy_engine.pipeline.one_project`) and Monte Carlo
(:mod:`subsidy_engine.simulation.montecarlo`) call these same functions, so a
rule of how claims are made, stacked and cut is written once:

* :func:`build_context` reads the tables once into the arrays every step uses;
* :class:`Rows` collects each measure's claim rows (``add_loans``,
  ``add_subsidy``, ``add_premium``, ``add_grants``, ``add_investment``);
* :func:`stacking_of` and :func:`stack` apply the most-favourable groups and
  the enterprise and project caps (78號's stacking rules), :func:`cut_columns`
  names each cut;
* :func:`claims_table` builds the claims table with its attributes and
  funding sources.
"""


from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, NamedTuple, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from subsidy_engine.core.columns import money_series, money_series_of_words, repeated_text
from subsidy_engine.core.language import Sentence
from subsidy_engine.core.memo import IdentityMemo
from subsidy_engine.core.money import rate_to_units, yuan_to_fen
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.core.vocabulary import RULE_FLAGS, VENUES, Domain, PlatformType, Stage
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.calendar import years_of
from subsidy_engine.kernels.caps import most_favourable_only, pay_under_shared_caps, rows_under_caps, stacking_groups
from subsidy_engine.kernels.decimal import decimal_words_of
from subsidy_engine.kernels.threads import read_only
from subsidy_engine.measures.awards import AWARD_INSTRUMENT, award_claim_rows
from subsidy_engine.measures.claims import ClaimRows, read_items
from subsidy_engine.measures.government_investment import (
    GOVERNMENT_INVESTMENT_COLUMNS,
    INVESTMENT_KINDS,
    read_government_investment,
)
from subsidy_engine.measures.grants import event_grant_rows
from subsidy_engine.measures.interest_subsidy import interest_subsidy_rows
from subsidy_engine.measures.investment import PROJECT_COLUMNS, investment_subsidy_rows, read_projects
from subsidy_engine.measures.premium_subsidy import premium_subsidy_rows
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import INSTRUMENTS, MEASURE_OF, Policy
from subsidy_engine.pipeline.inputs import TABLES, WHOLE_TABLE, PortfolioTables, read_table

#: The cuts of stacking, in the order they are applied (the module docstring's 1 to 5).
CUT_COLUMNS = ("cut_by_item_rules", "cut_by_most_favourable", "cut_by_enterprise_cap", "cut_by_project_cap",
               "cut_by_total_cap")
CLAIM_COLUMNS = ("claim_id", "project_id", "enterprise_id", "measure", "instrument", "item_id", "year", "gross",
                 *CUT_COLUMNS, "amount", "funding_sources", "parameter_set", "parameter")
#: The project attributes funding rules read (:attr:`Claims.attributes`).
ATTRIBUTE_COLUMNS = ("sector", "district", *RULE_FLAGS, "merit_score")


def requested_years(years: int | Iterable[int] | None) -> tuple[int, ...] | None:
    if years is None:
        return None
    chosen = (years,) if isinstance(years, int) else tuple(int(y) for y in years)
    if not chosen:
        raise ValueError("years is empty: give calendar years, e.g. range(2026, 2031)")
    return tuple(sorted(set(chosen)))


def funding_sources_of(industry: bool, sector: str | None, district: str | None) -> str:
    """The funding sources a project may draw on: ``gaojingjian_fund`` for an industry or software project
    (高精尖產業發展資金), else its sector's budget (``sector_budget:<sector>``), then its district's matching
    (``|district_matching:<district>``).

    >>> funding_sources_of(False, "5g_network", "haidian"), funding_sources_of(True, None, None)
    ('sector_budget:5g_network|district_matching:haidian', 'gaojingjian_fund')
    """
    municipal = "gaojingjian_fund" if industry else "sector_budget" if sector is None else f"sector_budget:{sector}"
    return municipal + ("" if district is None else f"|district_matching:{district}")


#: The funding sources of a claim no project describes (an enterprise with no project in the table).
NO_PROJECT_SOURCES = "gaojingjian_fund|sector_budget"


def funding_sources(sector: pa.Array, district: pa.Array, industry: np.ndarray) -> pa.DictionaryArray:
    """:func:`funding_sources_of` of every project, computed once per distinct (industry, sector, district): each
    project's index into those few texts (a claims table takes its column from them, not from a million texts)."""
    sectors, districts = pc.dictionary_encode(sector), pc.dictionary_encode(district)
    s_code = np.asarray(sectors.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64) + 1
    d_code = np.asarray(districts.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64) + 1
    width = len(sectors.dictionary) + 1
    # a few kinds (districts x sectors x 2) over a million projects: numbered by a table of them, not a sort
    kinds, of_project = column_readers.unique_inverse((d_code * width + s_code) * 2 + np.asarray(industry, np.int64))
    sector_words, district_words = [None, *sectors.dictionary.to_pylist()], [None, *districts.dictionary.to_pylist()]
    texts = [funding_sources_of(bool(kind % 2), sector_words[kind // 2 % width], district_words[kind // 2 // width])
             for kind in kinds.tolist()]
    # kinds of one text (an industry project's sector is not in it) share it: each text once
    words, word_of_kind = np.unique(np.array(texts, dtype=object), return_inverse=True)
    return pa.DictionaryArray.from_arrays(pa.array(word_of_kind.reshape(-1)[of_project.reshape(-1)], pa.int32()),
                                          pa.array(words.tolist(), pa.string()))


#: Ids as text: Arrow text for a table's column; for a handful of ``str`` (a quote's models, at most
#: :data:`~subsidy_engine.io.column_readers.FEW_CELLS`), the object array itself, which a quote indexes in less time
#: than one Arrow call takes.
Texts: TypeAlias = pa.Array | np.ndarray


def _text(values: pd.Series | pa.Array | np.ndarray) -> Texts:
    """Ids as :data:`Texts`: a table's column as written, or an array of ``str`` (the quote's models)."""
    if isinstance(values, pa.Array):
        return values
    if isinstance(values, np.ndarray):
        return values if values.shape[0] <= column_readers.FEW_CELLS else pa.array(values, pa.string())
    return column_readers.arrow_text(values)


def take_texts(values: Texts, rows: np.ndarray) -> Texts:
    """``values`` at ``rows``, in the form they came in."""
    return values[rows] if isinstance(values, np.ndarray) else values.take(pa.array(rows))


def arrow_texts(values: Texts) -> pa.Array:
    """:data:`Texts` as Arrow text (a table's columns are made of these)."""
    return values if isinstance(values, pa.Array) else pa.array(values, pa.string())


#: What separates a claim id's parts: ``<instrument>:<item id>:<year>``.
CLAIM_ID_SEPARATOR = ":"


#: Each instrument's name as Arrow text, at its index: a column of instrument codes is named by a take of it.
INSTRUMENT_TEXTS = pa.array(INSTRUMENTS, pa.string())
#: Years further apart than this are written one by one (:func:`year_texts`); else each year of the span once.
YEAR_SPAN_WRITTEN_ONCE = 10_000


def instrument_texts(instrument: np.ndarray) -> pa.Array:
    """Each instrument code's name (:data:`INSTRUMENTS`) as Arrow text: taken in Arrow from the names, not made
    of a million Python ``str`` first."""
    return pa.DictionaryArray.from_arrays(pa.array(instrument), INSTRUMENT_TEXTS).dictionary_decode()


def year_texts(year: np.ndarray) -> pa.Array:
    """Each year as text (``str(year)``): each year of the column's span written once and taken by the rows (a
    national book's 1.4M claims name 5 years)."""
    if not year.shape[0]:
        return pa.array([], pa.string())
    low, high = int(year.min()), int(year.max())
    if high - low > YEAR_SPAN_WRITTEN_ONCE:
        return pc.cast(pa.array(year), pa.string())
    words = pa.array([str(y) for y in range(low, high + 1)], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.subtract(year, low, dtype=np.int64)), words).dictionary_decode()


def claim_ids(instrument: pa.Array, item: pa.Array, year: np.ndarray) -> pa.Array:
    """Each claim's id: ``<instrument>:<item id>:<year>`` (unique in a portfolio: one claim per item and year)."""
    return pc.binary_join_element_wise(instrument, item, year_texts(year), CLAIM_ID_SEPARATOR)


def claim_id(instrument: str, item: str, year: int) -> str:
    """One claim's id, as :func:`claim_ids` writes a column of them (a quote's few, without Arrow).

    >>> claim_id("interest_subsidy", "L1", 2026)
    'interest_subsidy:L1:2026'
    """
    return CLAIM_ID_SEPARATOR.join((instrument, item, str(year)))


#: The parts of :class:`Rows` that hold ids (:data:`Texts`).
TEXT_PARTS = ("enterprise", "item")


@dataclass
class Rows:
    """The claims of every instrument as aligned arrays (one row per item and year), added part by part."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    #: the names of the parameters the rows are computed from, in order of first use: a part's ``parameter`` holds
    #: each row's code into it (a column of a few names, not millions of references)
    parameter_names: list[str] = field(default_factory=list)

    def _parameter_code(self, name: str) -> int:
        if name not in self.parameter_names:
            self.parameter_names.append(name)
        return self.parameter_names.index(name)

    def _parameter_codes(self, parameter: np.ndarray | str, keep: np.ndarray) -> np.ndarray:
        if isinstance(parameter, str):
            return np.full(keep.shape[0], self._parameter_code(parameter), np.int32)
        names, inverse = np.unique(np.asarray(parameter, dtype=object)[keep], return_inverse=True)
        return np.array([self._parameter_code(n) for n in names.tolist()], np.int32)[inverse.reshape(-1)]

    def add(self, instrument: str, rows: ClaimRows, keep: np.ndarray, *, project: np.ndarray,
            enterprise: Texts, item: pd.Series | pa.Array | np.ndarray, day: np.ndarray, gross: np.ndarray,
            measure: np.ndarray | int, parameter: np.ndarray | str, year: np.ndarray | None = None) -> None:
        """The rows ``keep`` of a calculator's ``rows`` as a part; ``project`` to ``gross`` (and ``measure``,
        ``parameter``, ``year`` when arrays) row for row with ``rows``. When ``keep`` is every row in order, the part
        holds read-only views of those arrays, not copies: the calculator does not write into them after."""
        # every row kept (a portfolio's 貼息 and premiums: each row is paid or in the window), in order: the arrays
        # as they are, not copies of 3.5M rows x 10 columns at a national size (the parts are joined next anyway)
        every_row = keep.shape[0] == rows.paid.shape[0] and (not keep.shape[0] or (
            keep[0] == 0 and keep[-1] == keep.shape[0] - 1 and bool((keep[1:] > keep[:-1]).all())))

        def kept(values: Any, dtype: Any) -> np.ndarray:
            return np.asarray(values, dtype) if every_row else np.asarray(values, dtype)[keep]

        part = {
            "instrument": np.full(keep.shape[0], INSTRUMENTS.index(instrument), np.int8),
            "measure": (np.full(keep.shape[0], measure, np.int16) if isinstance(measure, int)
                        else kept(measure, np.int16)),
            "project": kept(project, np.int64),
            "enterprise": enterprise if every_row else take_texts(enterprise, keep),
            "item": _text(item) if every_row else take_texts(_text(item), keep),
            "year": kept(rows.columns["year"] if year is None else year, np.int64),
            "day": kept(day, np.int64),
            "gross": kept(gross, None),
            "amount": kept(rows.columns["amount"], np.int64),
            "set_index": kept(rows.internal["set_index"], np.int64),
            "parameter": self._parameter_codes(parameter, keep),
        }
        # read-only views (the arrays may be the calculator's own), so that column gives them as they are
        self.parts.append({name: read_only(values) if isinstance(values, np.ndarray) else values
                           for name, values in part.items()})

    def join_parts(self) -> None:
        """The parts as one (each column's arrays concatenated), column by column, each part's array let go as
        its column is joined: the rows are never held twice (a national portfolio's are half a gigabyte, and a
        process's new memory is what costs most at that size). :meth:`column` then gives the joined arrays as they
        are (read-only), not copies."""
        if len(self.parts) <= 1:
            return
        joined = {}
        for name in list(self.parts[0]):
            joined[name] = self.column(name)
            for part in self.parts:
                del part[name]
        self.parts = [joined]

    def column(self, name: str) -> Any:
        """The column of every part: one part's as it is (a quote of a loan: no copy to make; read-only, as
        :meth:`add` and :meth:`join_parts` store them), several parts' joined, read-only."""
        values = [part[name] for part in self.parts]
        if len(values) == 1:
            return values[0]
        if name in TEXT_PARTS and not all(isinstance(v, np.ndarray) for v in values):
            return pa.concat_arrays([arrow_texts(v) for v in values])  # a few ids of one part beside a table's
        if isinstance(values[0], pa.Array):
            return pa.concat_arrays(values)
        joined = np.concatenate(values)
        joined.flags.writeable = False
        return joined


class _SharedCaps(NamedTuple):
    """The caps of stacking (3 to 5 of the module docstring) over the rows they apply to, in the one order they
    are paid in: ``groups``/``caps`` (one column per cap; group -1: the cap does not apply; cap ``NO_CAP``:
    none), as :func:`~subsidy_engine.kernels.caps.pay_under_shared_caps` reads them."""

    order: np.ndarray  # the rows under any of the caps, in the order they are paid
    groups: np.ndarray  # (rows of order, caps), int64 codes below n_groups
    caps: np.ndarray  # (rows of order, caps), fen
    n_groups: int

    def pay(self, amount: np.ndarray, *, last_only: bool = False) -> tuple[np.ndarray, ...]:
        """``amount`` paid in one pass under every cap; per cap, the amounts after it and the caps before it
        (``last_only``: after every cap only)."""
        # every row's amount, then what the kernel pays the rows under a cap written over it where they are
        after = np.empty((1 if last_only else self.groups.shape[1], amount.shape[0]), np.int64)
        after[:] = amount
        pay_under_shared_caps(read_only(np.ascontiguousarray(amount, np.int64)), self.order, self.groups, self.caps,
                              self.n_groups, after)
        return tuple(after)


@dataclass
class Context:
    """The portfolio's rows that can be evaluated, its projects' attributes, and the problems found so far."""

    policy: Policy
    frames: dict[str, pd.DataFrame]
    kept_rows: dict[str, np.ndarray]
    problems: list[pd.DataFrame]
    notes: list[str]
    project_rejections: pd.DataFrame  # the projects' reader's rejections (of the rows kept)
    project_arrays: dict[str, np.ndarray]
    #: the projects' columns as read: the table of a portfolio, or the id columns of the one project a quote
    #: evaluates (the steps a quote runs read ``projects["project_id"]`` only)
    projects: pd.DataFrame | dict[str, np.ndarray]
    project_id_text: Texts
    project_enterprise: Texts
    #: each project's funding sources (:func:`funding_sources`; a quote's one project: its text)
    sources_of_project: pa.DictionaryArray | Texts
    loans: pd.DataFrame  # the loans with a known project
    loan_project: np.ndarray  # each loan's row in ``projects``
    tables: PortfolioTables | None = None  # where rows came from, for the problems found while evaluating
    #: what each table's reader made of its rows here (``frames``), as :meth:`table_read` gives it
    reads: dict[str, column_readers.Read] = field(default_factory=dict)
    #: the projects' ids in a table of open addressing, built at the first :meth:`project_rows` of a portfolio
    #: and looked up by each table that names projects (loans, insurance, events): built once, not each time
    project_index: column_readers.TextIndex | None = field(default=None, repr=False, compare=False)

    def table_read(self, name: str) -> column_readers.Read:
        """What the reader of table ``name`` makes of its rows here (``frames[name]``), once: the check's read
        of them when the tables kept it, else read now (a table that cannot be read raises, as it says why)."""
        if name not in self.reads:
            frame = self.frames[name]
            self.reads[name] = (self.tables.read_of(name, frame, self.kept_rows[name]) if self.tables is not None
                                else read_table(name, frame))
        return self.reads[name]

    @property
    def n_projects(self) -> int:
        return len(self.project_id_text)

    def project_rows(self, ids: Any) -> np.ndarray:
        """Row of each id in the projects table, -1 when blank or unknown."""
        ids = _text(ids)
        if isinstance(ids, np.ndarray) and isinstance(self.project_id_text, np.ndarray):  # a quote's few
            row = {project_id: k for k, project_id in enumerate(self.project_id_text.tolist())}
            return np.array([row.get(project_id, -1) for project_id in ids.tolist()], np.int64)
        if self.project_index is None:
            self.project_index = column_readers.TextIndex(arrow_texts(self.project_id_text))
        return self.project_index.positions(arrow_texts(ids))


def _column_text(table: pd.DataFrame, name: str) -> pa.Array:
    return column_readers.arrow_text(table[name]) if name in table else pa.nulls(len(table), pa.string())


def build_context(tables: PortfolioTables, policy: Policy) -> Context:
    frames, kept_rows = drop_problem_rows(tables)
    problems = [tables.problems]
    problems.extend(drop_outside_coverage(tables, frames, kept_rows, policy))
    # projects: attributes for stacking and funding sources (each table is read once: Context.table_read)
    reads = {"projects": tables.read_of("projects", frames["projects"], kept_rows["projects"])}
    project_arrays, projects, project_rejections = read_items(frames["projects"], PROJECT_COLUMNS, read_projects,
                                                             reads["projects"])
    problems.append(as_problems(tables, project_rejections, "projects", "project_id", kept_rows["projects"]))
    ctx = Context(policy, frames, kept_rows, problems, [*tables.notes, *policy.notes], project_rejections,
                   project_arrays, projects,
                   column_readers.arrow_text(projects["project_id"]), column_readers.arrow_text(projects["enterprise_id"]),
                   funding_sources(_column_text(projects, "sector"), _column_text(projects, "district"),
                                    project_arrays["industry_or_software"]), frames["loans"],
                   np.zeros(0, np.int64), tables, reads)
    loans = frames["loans"]
    loan_project = ctx.project_rows(loans["project_id"]) if "project_id" in loans else np.full(len(loans), -1)
    if (loan_project < 0).any():  # check_tables rejects a loan without a project of the table
        raise ValueError("a loan names no project of the portfolio, and its problems do not say so: build "
                         "PortfolioTables with check_tables (or load_portfolio)")
    ctx.loans, ctx.loan_project = loans, loan_project
    return ctx


def add_loans(ctx: Context, rows: Rows, loans: pd.DataFrame, loan_project: np.ndarray, kept_loan_rows: np.ndarray,
               lpr: LprCurve | None, *, keep_window: bool = False, read: column_readers.Read | None = None,
               calendar: BusinessCalendar | None = None) -> ClaimRows:
    """Measures 1 and 15: the 貼息 of ``loans``, per loan and calendar year, as one part of ``rows``.

    ``keep_window`` keeps every loan-year with a period inside the subsidy window, even one paid
    nothing, so that the rows do not depend on the rates (the Monte Carlo runs reuse them). ``read``: what
    the loans' reader made of ``loans`` (a part of ``ctx.table_read("loans")``). ``calendar``: the business
    days due dates move to (:func:`subsidy_engine.amortize_portfolio`).
    """
    subsidy = interest_subsidy_rows(loans, ctx.policy, lpr=lpr, window_rows=keep_window, read=read,
                                    calendar=calendar, claims_only=True)
    ctx.problems.append(as_problems(ctx.tables, subsidy.rejections, "loans", "loan_id", kept_loan_rows))
    add_subsidy(ctx, rows, subsidy, loan_project, keep_window=keep_window)
    return subsidy


def add_subsidy(ctx: Context, rows: Rows, subsidy: ClaimRows, loan_project: np.ndarray, *,
                 keep_window: bool = False) -> None:
    """The loan-years of ``subsidy`` as a part of ``rows`` (``loan_project``: each loan's project row)."""
    keep = np.asarray(subsidy.internal["in_window"] if keep_window else subsidy.paid).nonzero()[0]
    project = loan_project[subsidy.internal["loan_row"]]
    rows.add("interest_subsidy", subsidy, keep, project=project,
             enterprise=take_texts(ctx.project_enterprise, project), item=subsidy.columns["loan_id"],
             day=subsidy.internal["loan_start_day"], gross=np.asarray(subsidy.columns["gross"]),
             measure=MEASURE_OF["interest_subsidy"], parameter="interest_subsidy.points")


def add_other_instruments(ctx: Context, rows: Rows, details: dict[str, ClaimRows],
                           rate_by_stage: dict[str, str] | None) -> None:
    """Measures 7, 13, 14, the decided awards (1, 5 and others) and (with rates) 1, 2, 4: the parts of ``rows`` that
    do not depend on the LPR."""
    policy, frames, kept_rows, problems = ctx.policy, ctx.frames, ctx.kept_rows, ctx.problems
    if len(frames["insurance"]):
        premium = premium_subsidy_rows(frames["insurance"], policy, read=ctx.table_read("insurance"))
        problems.append(as_problems(ctx.tables, premium.rejections, "insurance", "policy_id", kept_rows["insurance"]))
        add_premium(ctx, rows, details, premium)
    if len(frames["events"]):
        grants = event_grant_rows(frames["events"], policy, read=ctx.table_read("events"))
        problems.append(as_problems(ctx.tables, grants.rejections, "events", "event_id", kept_rows["events"]))
        add_grants(ctx, rows, details, grants)
    if len(frames["awards"]):
        awards = award_claim_rows(frames["awards"], policy, read=ctx.table_read("awards"))
        problems.append(as_problems(ctx.tables, awards.rejections, "awards", "award_id", kept_rows["awards"]))
        add_awards(ctx, rows, details, awards)
    add_investment(ctx, rows, details, rate_by_stage)


def item_projects(ctx: Context, rows: ClaimRows) -> np.ndarray:
    """The project row of each of a calculator's rows (-1: none given)."""
    ids = rows.columns["project_id"]
    return ctx.project_rows(ids) if ids is not None else np.full(rows.paid.shape[0], -1)


def add_premium(ctx: Context, rows: Rows, details: dict[str, ClaimRows], premium: ClaimRows) -> None:
    """Measure 7: the premium subsidy per policy-year, as a part of ``rows``."""
    details["premium_subsidy"] = premium
    rows.add("premium_subsidy", premium, np.flatnonzero(premium.paid), project=item_projects(ctx, premium),
             enterprise=_text(premium.columns["enterprise_id"]), item=premium.columns["policy_id"],
             day=np.asarray(premium.columns["start_date"]), gross=np.asarray(premium.columns["gross"]),
             measure=MEASURE_OF["premium_subsidy"], parameter="insurance_premium.share")


def add_grants(ctx: Context, rows: Rows, details: dict[str, ClaimRows], grants: ClaimRows) -> None:
    """Measures 13 and 14: the one-off grants on events, as two parts of ``rows``."""
    details["grants"] = grants
    reits = np.asarray(grants.columns["measure"]) == 13
    set_index = grants.internal["set_index"]
    share_mode = np.array([s.parameters.reits_grant.mode.value == "share_of_raised" for s in ctx.policy.sets])
    reits_parameter = np.where(share_mode[set_index], "reits_grant.share_of_raised", "reits_grant.flat_amount")
    venue = np.array([f"listing_grant.{v}" for v in VENUES], dtype=object)[np.maximum(grants.internal["venue"], 0)]
    project = item_projects(ctx, grants)
    enterprise = _text(grants.columns["enterprise_id"])
    for instrument, mask in (("reits_grant", reits), ("listing_grant", ~reits)):
        rows.add(instrument, grants, np.flatnonzero(grants.paid & mask), project=project, enterprise=enterprise,
                 item=grants.columns["event_id"], day=np.asarray(grants.columns["date"]),
                 gross=np.asarray(grants.columns["gross"]), measure=np.asarray(grants.columns["measure"]),
                 parameter=np.where(reits, reits_parameter, venue))


def add_awards(ctx: Context, rows: Rows, details: dict[str, ClaimRows], awards: ClaimRows) -> None:
    """The decided awards, a part of ``rows`` per instrument: each payment a claim of its year, anchored on the
    decision date (the set it names, its place in the stacking order of its year)."""
    details["awards"] = awards
    instrument = np.asarray(awards.columns["instrument"], dtype=object)
    project = item_projects(ctx, awards)
    enterprise = _text(awards.columns["enterprise_id"])
    for name in AWARD_INSTRUMENT.values():
        keep = np.flatnonzero(awards.paid & (instrument == name))
        if keep.shape[0]:
            rows.add(name, awards, keep, project=project, enterprise=enterprise, item=awards.columns["award_id"],
                     day=np.asarray(awards.columns["decision_date"]), gross=np.asarray(awards.columns["gross"]),
                     measure=np.asarray(awards.columns["measure"]), parameter="awards.decided_amount")


#: :attr:`Claims.government_investment`'s columns: who, what and when, and the amount in exact yuan.
GOVERNMENT_INVESTMENT_RESULT = ("investment_id", "project_id", "enterprise_id", "district", "sector", *RULE_FLAGS,
                                "measure", "kind", "year", "amount")


def government_investment_of(ctx: Context, years: tuple[int, ...] | None) -> pd.DataFrame:
    """Measures 1 and 4: the government's direct investment and capital injection of the evaluated projects, in
    ``years`` (all when None), kept apart from every claim, with the project's attributes a budget reads. A row
    whose project is not evaluated (rejected, or outside the parameters' coverage), or that its clause does not
    allow for its project, is rejected, and says why."""
    frame = ctx.frames.get("government_investment")
    if frame is None or frame.empty or ctx.tables is None:  # (a one-project context has no such table)
        return pd.DataFrame({c: pd.Series(dtype=object) for c in GOVERNMENT_INVESTMENT_RESULT})
    arrays, table, rejections = read_items(frame, GOVERNMENT_INVESTMENT_COLUMNS, read_government_investment,
                                           ctx.table_read("government_investment"))
    kept = ctx.kept_rows["government_investment"]
    ctx.problems.append(as_problems(ctx.tables, rejections, "government_investment", "investment_id", kept))
    project = ctx.project_rows(table["project_id"])
    safe = np.maximum(project, 0)
    known = project >= 0
    # what each clause allows: measure 1, public-domain projects; measure 4, non-profit platforms
    not_public = known & (arrays["measure"] == 1) & (ctx.project_arrays["domain"][safe] != Domain.PUBLIC.code)
    not_platform = known & (arrays["measure"] == 4) & (
        ctx.project_arrays["platform_type"][safe] != PlatformType.NON_PROFIT.code)
    read_rows = ctx.table_read("government_investment").positions
    for rows, field_name, reason in (
            (~known, "project_id", "its project is rejected: it is not evaluated"),  # dropped while evaluating
            (not_public, "measure", "is measure 1's for a public-domain project (78號 measure 1); its project is "
                                    "economic-domain"),
            (not_platform, "measure", "is measure 4's for a non-profit platform (78號 measure 4); its project is "
                                      "not one")):
        at = np.flatnonzero(rows)
        if at.shape[0]:
            ctx.problems.append(ctx.tables.problem_rows(
                "government_investment", kept[read_rows[at]], table["investment_id"].take(at).to_numpy(dtype=object),
                repeated_text(at.shape[0], field_name), repeated_text(at.shape[0], reason)))
    allowed = known & ~not_public & ~not_platform
    good = np.flatnonzero(allowed & (True if years is None else np.isin(arrays["year"], years)))
    at = pa.array(project[good])
    projects = ctx.projects
    assert isinstance(projects, pd.DataFrame)  # a portfolio's context (a quote's holds arrays)
    return pd.DataFrame({
        "investment_id": table["investment_id"].take(good).reset_index(drop=True).astype(object),
        "project_id": arrow_texts(ctx.project_id_text).take(at).to_pandas(types_mapper=pd.ArrowDtype),
        "enterprise_id": arrow_texts(ctx.project_enterprise).take(at).to_pandas(types_mapper=pd.ArrowDtype),
        "district": _column_text(projects, "district").take(at).to_pandas(types_mapper=pd.ArrowDtype),
        "sector": _column_text(projects, "sector").take(at).to_pandas(types_mapper=pd.ArrowDtype),
        **{flag: ctx.project_arrays[flag][project[good]] for flag in RULE_FLAGS},  # what a budget's rules read
        "measure": arrays["measure"][good].astype(np.int64),
        "kind": np.array(INVESTMENT_KINDS, dtype=object)[arrays["kind"][good]],
        "year": arrays["year"][good].astype(np.int64),
        "amount": money_series(arrays["fen"][good]),
    })


def add_investment(ctx: Context, rows: Rows, details: dict[str, ClaimRows],
                    rate_by_stage: dict[str, str] | None) -> None:
    """Measures 1, 2 and 4: the investment subsidy when rates are given (else a note says why not)."""
    project_arrays, projects, n_projects = ctx.project_arrays, ctx.projects, ctx.n_projects
    if rate_by_stage is not None and n_projects:
        investment = investment_subsidy_rows(projects, ctx.policy, rate_by_stage,
                                             read=(project_arrays, projects, ctx.project_rejections))
        details["investment_subsidy"] = investment
        keep = np.flatnonzero(investment.paid)
        stage = np.array([s.value for s in Stage], dtype=object)[project_arrays["stage"]]
        rows.add("investment_subsidy", investment, keep, project=np.arange(n_projects),
                 enterprise=ctx.project_enterprise, item=projects["project_id"], day=project_arrays["day"],
                 gross=np.asarray(investment.columns["gross"]), measure=np.asarray(investment.columns["measure"]),
                 parameter="investment_subsidy.rate_by_stage." + stage, year=years_of(project_arrays["day"]))
    elif n_projects:
        ctx.notes.append(Sentence("investment subsidy (measures 1, 2, 4) not evaluated: 78號 publishes no rate; "
                                  "pass rate_by_stage={'pilot': ..., 'demonstration': ..., 'promotion': ...}",
                                  "investment_subsidy_not_evaluated"))


def not_paid_columns(details: dict[str, ClaimRows]) -> list[tuple[str, dict[str, Any]]]:
    """Valid items paid nothing, per calculator (its name in ``details``, then the columns): ``instrument`` (a name
    or an array), ``item_id``, ``reason``."""
    parts = []
    for name, rows in details.items():
        if rows.not_paid is not None:
            frame = rows.not_paid
            parts.append((name, {"instrument": name, "item_id": np.asarray(frame[rows.id_column], dtype=object),
                                 "reason": np.asarray(frame["reason"], dtype=object)}))
            continue
        if name == "interest_subsidy":
            continue  # loan-years outside the window are not items
        unpaid = np.flatnonzero(~rows.paid)
        instrument = (np.asarray(rows.columns["instrument"], dtype=object)[unpaid] if name in ("grants", "awards")
                      else name)
        parts.append((name, {"instrument": instrument,
                             "item_id": np.asarray(rows.columns[rows.id_column], dtype=object)[unpaid],
                             "reason": rows.reasons[unpaid]}))
    return parts


def not_paid_items(details: dict[str, ClaimRows], *, calculator: bool = False) -> pd.DataFrame:
    """:func:`not_paid_columns` as one table; ``calculator`` adds the name in ``details`` of the calculator of each
    row (a partitioned evaluation orders its partitions' rows by it)."""
    parts = [pd.DataFrame(columns).assign(**({"calculator": name} if calculator else {}))
             for name, columns in not_paid_columns(details)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("instrument", "item_id", "reason",
                                                                  *(("calculator",) if calculator else ()))})
    # text columns as objects whatever the parts held (a calculator with nothing unpaid gives an empty part,
    # which would otherwise make the whole column object or not by chance)
    return pd.concat(parts, ignore_index=True).astype(object)


@dataclass
class Stacking:
    """Stacking's orders, groups and caps over all rows: everything but the amounts (computed once)."""

    instrument: np.ndarray
    project: np.ndarray
    has_project: np.ndarray
    year: np.ndarray
    item: Texts  # a quote's few ids as str, a table's as Arrow text
    item_code: np.ndarray
    gross: np.ndarray
    computed: np.ndarray  # after the instrument's own rules
    project_set: np.ndarray  # each project's parameter set: its groups of 從優不重複
    favourable: _FavourableGroups  # 2: the groups of instruments of each parameter set
    #: 3 to 5: 貼息 per enterprise and year, 貼息 per project, the total cap (None once paid and let go:
    #: :func:`combine` does not hold them while it writes the table)
    caps: _SharedCaps | None
    n_projects: int


class _FavourableGroups(NamedTuple):
    """從優不重複's groups of instruments by parameter set, as :func:`~subsidy_engine.kernels.caps.most_favourable_only`
    reads them: set ``s``'s groups are ``set_group_ptr[s]`` to ``set_group_ptr[s + 1]``, group ``g``'s instruments
    ``instruments[group_ptr[g]:group_ptr[g + 1]]``."""

    set_group_ptr: np.ndarray
    group_ptr: np.ndarray
    instruments: np.ndarray

    @classmethod
    def of(cls, groups: list[tuple[int, np.ndarray]], n_sets: int) -> _FavourableGroups:
        """From ``(set, instruments)`` pairs in set order."""
        per_set = np.bincount(np.array([k for k, _ in groups], np.int64), minlength=n_sets) if groups else \
            np.zeros(n_sets, np.int64)
        sizes = np.array([columns.shape[0] for _, columns in groups], np.int64)
        made = cls(np.concatenate([[0], np.cumsum(per_set)]).astype(np.int64),
                   np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                   np.concatenate([columns for _, columns in groups]).astype(np.int64) if groups
                   else np.zeros(0, np.int64))
        for array in made:
            array.flags.writeable = False  # shared by every evaluation under this policy
        return made


class _StackingParameters(NamedTuple):
    """The stacking rules of each parameter set as arrays (index: the set), made once per policy."""

    enterprise_cap: np.ndarray  # 貼息 per enterprise and year, fen
    project_cap: np.ndarray  # 貼息 per project over its life, fen
    favourable: _FavourableGroups  # the instruments of the most-favourable groups of each set
    total_cap_share: np.ndarray  # rate units; -1: no total cap
    total_capped: np.ndarray  # (set, instrument): under the total cap


_STACKING_PARAMETERS: IdentityMemo[_StackingParameters] = IdentityMemo(64)
#: 貼息's instrument index, which stacking's caps 3 and 4 apply to.
SUBSIDY = INSTRUMENTS.index("interest_subsidy")
#: No enterprise-year groups given: :func:`~subsidy_engine.kernels.caps.stacking_groups` makes them.
NO_GIVEN_GROUPS = read_only(np.zeros(0, np.int64))


def _stacking_parameters(policy: Policy) -> _StackingParameters:
    sets = policy.sets
    # the groups are lists inside the frozen models, which a caller could change in place: by value
    groups = tuple((tuple(map(tuple, s.parameters.stacking.most_favourable_only.value)),
                    tuple(s.parameters.stacking.total_cap_instruments.value)) for s in sets)

    def make() -> _StackingParameters:
        capped = np.zeros((len(sets), len(INSTRUMENTS)), bool)
        for k, s in enumerate(sets):
            capped[k, [INSTRUMENTS.index(i) for i in s.parameters.stacking.total_cap_instruments.value]] = True
        made = _StackingParameters(
            np.array([yuan_to_fen(s.parameters.interest_subsidy.annual_cap_per_enterprise.value) for s in sets]),
            np.array([yuan_to_fen(s.parameters.interest_subsidy.total_cap_per_project.value) for s in sets]),
            _FavourableGroups.of([(k, np.array([INSTRUMENTS.index(g) for g in group], np.int64))
                                  for k, s in enumerate(sets) for group in s.parameters.stacking.most_favourable_only.value],
                                 len(sets)),
            np.array([-1 if s.parameters.stacking.total_cap_share_of_investment.value is None else
                      rate_to_units(s.parameters.stacking.total_cap_share_of_investment.value) for s in sets]),
            capped)
        for array in (made.enterprise_cap, made.project_cap, made.total_cap_share, made.total_capped):
            array.flags.writeable = False  # shared by every evaluation under this policy
        return made

    return _STACKING_PARAMETERS.get((policy, sets), make, also=groups)


def stacking_of(rows: Rows, policy: Policy, project_arrays: dict[str, np.ndarray], n_projects: int) -> Stacking:
    """The orders, groups and caps of stacking over ``rows``, with the projects' arrays (``day`` and
    ``total_investment`` of each of the ``n_projects``)."""
    instrument, project, enterprise = rows.column("instrument"), rows.column("project"), rows.column("enterprise")
    enterprise_code = column_readers.text_codes(enterprise)
    item = rows.column("item")
    # ties between items are broken by the id's text, so that the row order of the tables does not matter
    item_code = column_readers.text_ranks(item)
    year, day = rows.column("year"), rows.column("day")
    set_of_row = rows.column("set_index")
    has_project = project >= 0
    project_set = policy.set_index(project_arrays["day"]) if n_projects else np.zeros(0, np.int64)
    by_set = _stacking_parameters(policy)

    # 3. 貼息 per enterprise and year, 4. 貼息 per project over its life, 5. the total cap as a share of the
    # project's investment: the rows under any of them, paid in one pass, in one order that agrees with each
    # cap's: year, day, instrument, item
    n = instrument.shape[0]
    total_investment = project_arrays["total_investment"] if n_projects else np.zeros(0, np.int64)
    # read-only int64 views whatever the rows' parts gave: the kernels compiled once for every caller
    arrays = [read_only(np.ascontiguousarray(a, np.int64)) for a in (
        project, enterprise_code, year, set_of_row, project_set, total_investment)]
    project, project_set, instrument = arrays[0], arrays[4], read_only(instrument)
    under = np.empty(n, np.bool_)
    rows_under_caps(instrument, project, project_set, SUBSIDY, by_set.total_capped, under)
    order = read_only(column_readers.rows_in_order(under.nonzero()[0], year, day, instrument, item_code))
    # each of those rows' group and cap under each cap, written in that order (kernels.caps.stacking_groups): the
    # pass that pays them reads them front to back
    group, cap = np.empty((order.shape[0], 3), np.int64), np.empty((order.shape[0], 3), np.int64)
    parameters = (SUBSIDY, by_set.enterprise_cap, by_set.project_cap, by_set.total_cap_share, by_set.total_capped)
    n_groups = stacking_groups(  # type: ignore[call-arg]  # numba's Dispatcher stub takes fewer
        order, instrument, *arrays, *parameters, NO_GIVEN_GROUPS, 0, group, cap)
    if n_groups < 0:  # 貼息 years far apart: the enterprise-year codes numbered densely
        subset = np.flatnonzero(instrument == SUBSIDY)
        codes, dense = np.unique(enterprise_code[subset] * (int(year.max()) + 1) + year[subset], return_inverse=True)
        given = np.full(n, -1, np.int64)
        given[subset] = dense.reshape(-1)
        n_groups = stacking_groups(  # type: ignore[call-arg]  # numba's Dispatcher stub takes fewer
            order, instrument, *arrays, *parameters, read_only(given), codes.shape[0], group, cap)
    caps = _SharedCaps(order, group, cap, n_groups)
    return Stacking(instrument, project, has_project, year, item, item_code, rows.column("gross"),
                    rows.column("amount"), project_set, by_set.favourable, caps, n_projects)


def stack(st: Stacking, computed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The amounts after each cross-item cut (2 to 5 of the module docstring, in that order), from ``computed``:
    ``(after_favourable, after_enterprise, after_project, after_total)``. The caps 3 to 5 are one pass (each row
    paid the least of its amount and its rooms); ``after_enterprise`` and ``after_project`` are the least of the
    amount and the rooms of the caps up to it, which attributes each row's cut to the caps in that order."""
    after_favourable = _most_favourable(st, computed)
    # then the caps in one pass: each row paid the least of its amount and its room under each cap
    after_enterprise, after_project, after_total = _caps_of(st).pay(after_favourable)
    return after_favourable, after_enterprise, after_project, after_total


def stacked_total(st: Stacking, computed: np.ndarray, favourable: FavourableAgain | None = None) -> np.ndarray:
    """:func:`stack`'s ``after_total`` alone (what a Monte Carlo path allocates): the amounts after the caps are
    not kept cap by cap. ``favourable``: 從優不重複 decided again only where ``computed`` may differ from the
    stacking's own amounts (:class:`FavourableAgain`)."""
    after_favourable = _most_favourable(st, computed) if favourable is None else favourable.after(computed)
    return _caps_of(st).pay(after_favourable, last_only=True)[0]


class FavourableAgain:
    """從優不重複 (2 of the module docstring) over amounts that differ from a stacking's own on some rows only (a
    Monte Carlo path reprices some loans' 貼息): decided again for those rows' projects, every other row as the
    stacking's own amounts left it. A project's choice reads its own rows only, and a row without a project is
    never cut, so the rows of the projects touched (and the changed rows) are all the cut reads again: the same
    kernel over a fifth of a portfolio's rows, not the whole, each path."""

    def __init__(self, st: Stacking, changing: np.ndarray) -> None:
        self.base = _most_favourable(st, st.computed)
        touched = np.unique(st.project[changing])
        touched = touched[touched >= 0]
        self.rows = np.union1d(changing, np.flatnonzero(np.isin(st.project, touched)))
        project = st.project[self.rows]
        # the projects touched, numbered densely: the kernel's totals are a project's by instrument
        dense = np.where(project >= 0, np.searchsorted(touched, project), -1).astype(np.int64)
        self.stacking = replace(st, instrument=st.instrument[self.rows], project=dense, has_project=dense >= 0,
                                project_set=read_only(st.project_set[touched]), n_projects=touched.shape[0],
                                caps=None)

    def after(self, computed: np.ndarray) -> np.ndarray:
        """The amounts after the cut, from ``computed`` (the stacking's own amounts but on the changing rows)."""
        after = self.base.copy()
        after[self.rows] = _most_favourable(self.stacking, computed[self.rows])
        return after


def _caps_of(st: Stacking) -> _SharedCaps:
    if st.caps is None:
        raise ValueError("this stacking's caps were paid and let go (combine): make another with stacking_of")
    return st.caps


def _most_favourable(st: Stacking, computed: np.ndarray) -> np.ndarray:
    """The amounts after 從優不重複 (2 of the module docstring), on the totals after the instruments' own rules:
    what is given up uses no cap's room."""
    if not (st.n_projects and st.favourable.instruments.shape[0]):
        return computed
    after_favourable = np.empty_like(computed)
    most_favourable_only(read_only(np.ascontiguousarray(computed, np.int64)), read_only(st.project),
                         read_only(st.instrument), st.project_set, len(INSTRUMENTS), *st.favourable,
                         after_favourable)
    return after_favourable


def shown_order(st: Stacking, years: tuple[int, ...] | None) -> np.ndarray:
    """The rows of the years asked for, in a stable order: project, instrument, item, year."""
    shown = np.ones(st.year.shape[0], bool) if years is None else np.isin(st.year, np.array(years))
    return column_readers.rows_in_order(shown.nonzero()[0], np.where(st.has_project, st.project, st.n_projects),
                                        st.instrument, st.item_code, st.year)


def combine(rows: Rows, ctx: Context, years: tuple[int, ...] | None
            ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Stacking and the cross-item caps over all claims, then the years asked for; the claims' attributes and
    their amounts in fen (row for row with the table)."""
    if not rows.parts or sum(part["year"].shape[0] for part in rows.parts) == 0:
        return (pd.DataFrame({c: pd.Series(dtype=object) for c in CLAIM_COLUMNS}),
                pd.DataFrame({c: pd.Series(dtype=object) for c in ATTRIBUTE_COLUMNS}), np.zeros(0, np.int64))
    rows.join_parts()
    st = stacking_of(rows, ctx.policy, ctx.project_arrays, ctx.n_projects)
    after = stack(st, st.computed)
    # the caps' groups and orders are spent once paid: not held while the table is written (160 MB at 1.2M
    # projects)
    st = replace(st, caps=None)
    return claims_table(rows, ctx, st, after, shown_order(st, years))


def cut_stages(st: Stacking, after: tuple[np.ndarray, ...]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each cut (:data:`CUT_COLUMNS`) as the amounts before and after it, in fen: a cut is ``before - after``.
    The caps' cuts of one pass are attributed in their order (enterprise room first, then the further cut by the
    project's room, then the rest by the total cap's)."""
    after_favourable, after_enterprise, after_project, after_total = after
    return dict(zip(CUT_COLUMNS, ((st.gross, st.computed), (st.computed, after_favourable),
                                  (after_favourable, after_enterprise), (after_enterprise, after_project),
                                  (after_project, after_total))))


def cut_columns(st: Stacking, after: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    """Each cut column of every row (:data:`CUT_COLUMNS`, in fen), from the amounts after each stage
    (:func:`cut_stages`)."""
    return {name: before - after_cut for name, (before, after_cut) in cut_stages(st, after).items()}


def claims_provenance(portfolio_digest: str, policy: Policy, lpr: LprCurve | None,
                rate_by_stage: dict[str, str] | None, moved_on: str | None = None) -> Provenance:
    """The engine version and the hash of everything an evaluation read (``moved_on``: what says which
    business-day calendar due dates were moved on, when a loan moved them)."""
    digests = [portfolio_digest, policy.digest, lpr.digest if lpr is not None else "no-lpr",
               repr(sorted(rate_by_stage.items())) if rate_by_stage else "no-rates",
               *(() if moved_on is None else (moved_on,))]
    return Provenance.of(*digests, scenario=lpr.projection_label if lpr is not None else None)


def claims_table(rows: Rows, ctx: Context, st: Stacking, after: tuple[np.ndarray, ...], order: np.ndarray
                 ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The claims table (rows ``order``), its attributes and its ``amount`` in fen."""
    policy, projects, n_projects = ctx.policy, ctx.projects, st.n_projects
    assert isinstance(projects, pd.DataFrame)  # a portfolio's table: the claims table is a portfolio's
    after_total = after[-1]
    instrument, project, has_project, year = st.instrument, st.project, st.has_project, st.year
    item, gross = arrow_texts(st.item), st.gross
    enterprise, set_of_row = arrow_texts(rows.column("enterprise")), rows.column("set_index")
    take = pa.array(order)
    # the project whose attributes describe each claim: its own, else its enterprise's project with the
    # smallest id (-1: none)
    describing = project[order].copy()
    without = np.flatnonzero(~has_project[order])
    describing[without] = describing_project_rows(projects, enterprise.take(pa.array(order[without])))
    # each claim's sources taken from the few texts of its project's kind, or those of a claim without one
    kinds = ctx.sources_of_project
    assert isinstance(kinds, pa.DictionaryArray)  # a portfolio's (funding_sources)
    words = pa.concat_arrays([kinds.dictionary, pa.array([NO_PROJECT_SOURCES], pa.string())])
    kind = np.full(order.shape[0], len(words) - 1, np.int32)
    known = describing >= 0
    kind[known] = kinds.indices.to_numpy()[describing[known]]
    sources = words.take(pa.array(kind))
    item_shown = item.take(take)
    amount_fen = after_total[order]
    claim_id = claim_ids(instrument_texts(instrument[order]), item_shown, year[order])
    if n_projects:
        # a masked index takes a null: no second pass to put them in
        project_ids = column_readers.arrow_text(projects["project_id"]).take(
            pa.array(np.maximum(project[order], 0), mask=~has_project[order]))
    else:  # every project rejected: the enterprise's items still show, without one
        project_ids = pa.nulls(order.shape[0], pa.string())

    def text(values: pa.Array) -> pd.Series:
        return pd.Series(values, dtype=pd.ArrowDtype(pa.string()))

    table = pd.DataFrame({
        "claim_id": text(claim_id),
        "project_id": text(project_ids),
        "enterprise_id": text(enterprise.take(take)),
        "measure": rows.column("measure")[order],
        "instrument": pd.Categorical.from_codes(instrument[order], categories=list(INSTRUMENTS)),  # type: ignore[call-overload]  # pandas-stubs: categories only as an Index, not a list
        "item_id": text(item_shown),
        "year": year[order].astype(np.int32),
        "gross": money_series_of_words(decimal_words_of(gross, order)),
        # each cut's words written from the stages before and after it at the rows shown: no full-length cut
        **{name: money_series_of_words(decimal_words_of(before, order, after_cut))
           for name, (before, after_cut) in cut_stages(st, after).items()},
        "amount": money_series_of_words(decimal_words_of(after_total, order)),
        "funding_sources": text(sources),
        "parameter_set": names_at(pa.array([s.id for s in policy.sets], pa.string()), set_of_row[order]),
        "parameter": names_at(pa.array(rows.parameter_names, pa.string()), rows.column("parameter")[order]),
    })
    return table, attributes_of(projects, ctx.project_arrays, describing), amount_fen


def names_at(names: pa.Array, codes: np.ndarray) -> pd.Series:
    """The column of ``names[codes]`` of the dtype pandas gives an array of ``str`` objects (pandas 3's ``str``,
    2's ``object`` or, with its ``future.infer_string``, its Arrow strings; an empty one: ``object``), without a
    million of them: a million rows of a few names, taken in Arrow."""
    if not codes.shape[0]:
        return pd.Series(np.array([], dtype=object))
    return pd.Series(names.take(pa.array(codes)), dtype=pd.Series(np.array([""], dtype=object)).dtype)


def attributes_of(projects: pd.DataFrame, project_arrays: dict[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    """:attr:`Claims.attributes` of claims described by project ``rows`` (-1: no project)."""
    known = rows >= 0
    safe = np.maximum(rows, 0)
    frame: dict[str, Any] = {}
    for name in ("sector", "district"):
        # a masked index takes a null: no second pass to put them in
        values = (column_readers.arrow_text(projects[name]).take(pa.array(safe, mask=~known))
                  if name in projects and len(projects) else pa.nulls(rows.shape[0], pa.string()))
        frame[name] = pd.Series(values, dtype=pd.ArrowDtype(pa.string()))
    if not len(projects):  # every project rejected: the enterprises' items are described by none
        project_arrays = {name: np.zeros(1, bool if name != "merit_score" else np.int64)
                          for name in (*RULE_FLAGS, "no_merit_score", "merit_score")}
        project_arrays["no_merit_score"][:] = True
    for name in RULE_FLAGS:
        frame[name] = known & project_arrays[name][safe]
    has_score = known & ~project_arrays["no_merit_score"][safe]
    frame["merit_score"] = money_series_of_words(decimal_words_of(project_arrays["merit_score"], safe),
                                                 valid=has_score)
    return pd.DataFrame(frame)


def describing_project_rows(projects: pd.DataFrame, enterprise: pa.Array) -> np.ndarray:
    """The row of each enterprise's project with the smallest ``project_id`` (in code-point order), -1 when
    it has none: the project that describes a claim without one, whatever the order of the table's rows."""
    if len(projects) == 0 or len(enterprise) == 0:
        return np.full(len(enterprise), -1, np.int64)
    # only the projects of the enterprises asked about are sorted (a few claims lack a project; a national
    # portfolio has a million projects, whose sort by text took 0.5 s)
    of_enterprise = column_readers.arrow_text(projects["enterprise_id"])
    asked = np.flatnonzero(np.asarray(pc.is_in(of_enterprise, value_set=pc.unique(enterprise)).fill_null(False)
                                      .to_numpy(zero_copy_only=False), dtype=bool))
    if asked.shape[0] == 0:
        return np.full(len(enterprise), -1, np.int64)
    pairs = pa.table({"enterprise": of_enterprise.take(pa.array(asked)),
                      "project": column_readers.arrow_text(projects["project_id"]).take(pa.array(asked))})
    in_pairs = pc.sort_indices(pairs, sort_keys=[("enterprise", "ascending"), ("project", "ascending")]).to_numpy()
    by_id = asked[in_pairs]
    enterprises = pairs.column("enterprise").take(pa.array(in_pairs)).to_numpy(zero_copy_only=False)
    first = np.ones(by_id.shape[0], bool)
    first[1:] = enterprises[1:] != enterprises[:-1]
    position = pd.Index(enterprises[first]).get_indexer(pd.Series(enterprise, dtype=pd.ArrowDtype(pa.string())))
    return np.where(position >= 0, by_id[first][np.maximum(position, 0)], -1)


def drop_problem_rows(tables: PortfolioTables) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """Each table without the rows listed in its problems, and the kept rows' positions."""
    kept_tables, kept_rows = {}, {}
    for name in TABLES:
        table = getattr(tables, name).reset_index(drop=True)
        # a problem of a whole table names no row: load_portfolio gives such a table back empty, and tables built
        # in Python (checked_portfolio) keep their rows, none of which is read
        mine = tables.problems[tables.problems.table == name]
        if (mine.field == WHOLE_TABLE).any():
            keep = np.zeros(0, np.int64)
        else:
            bad = mine.position.dropna().to_numpy(dtype=np.int64)
            keep = np.setdiff1d(np.arange(len(table)), bad) if bad.shape[0] else np.arange(len(table))
        if keep.shape[0] == 0:  # nothing to read: an empty table with every column, whatever the file had
            kept_tables[name] = pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[name][1]})
        else:
            kept_tables[name] = table if keep.shape[0] == len(table) else table.take(keep).reset_index(drop=True)
        kept_rows[name] = keep
    return kept_tables, kept_rows


ANCHORS = {"projects": ("project_id", "start_date"), "loans": ("loan_id", "start_date"),
           "insurance": ("policy_id", "start_date"), "events": ("event_id", "date"),
           "awards": ("award_id", "decision_date")}


def drop_outside_coverage(tables: PortfolioTables, frames: dict[str, pd.DataFrame], kept_rows: dict[str, np.ndarray],
                           policy: Policy) -> list[pd.DataFrame]:
    """Rows whose anchor date no parameter set covers are rejected, not guessed (and a rejected
    project takes its loans and policies with it); the others are evaluated."""
    reports, dropped_projects = [], np.zeros(0, object)
    for name, (id_column, column) in ANCHORS.items():
        table = frames[name]
        if table.empty or column not in table.columns:
            continue
        days, missing = column_readers.date_column(table[column], column, column_readers.Rejections(len(table)))
        outside = ~missing & policy.outside(days)
        reason = f"no parameter set of {policy.name} is in force on it: {policy.coverage_text()}"
        why, field_name = repeated_text(len(table), reason), repeated_text(len(table), column)
        if name != "projects" and dropped_projects.shape[0] and "project_id" in table.columns:
            orphan = table["project_id"].isin(dropped_projects).to_numpy(dtype=bool) & ~outside
            why[orphan], field_name[orphan] = "its project is rejected: no parameters on its start date", "project_id"
            outside |= orphan
        if not outside.any():
            continue
        rows = np.flatnonzero(outside)
        reports.append(tables.problem_rows(name, kept_rows[name][rows], table[id_column].take(rows).to_numpy(
            dtype=object), field_name[rows], why[rows]))
        if name == "projects":
            dropped_projects = table[id_column].take(rows).to_numpy(dtype=object)
        frames[name] = table.take(np.flatnonzero(~outside)).reset_index(drop=True)
        kept_rows[name] = kept_rows[name][~outside]
    return reports


def as_problems(tables: PortfolioTables | None, report: pd.DataFrame, table: str, id_column: str,
                 kept_rows: np.ndarray) -> pd.DataFrame:
    """A calculator's rejections (rows of the kept table) as problems of the original table."""
    source = tables if tables is not None else NO_FILES
    return source.problem_rows(table, kept_rows[report["row"].to_numpy(dtype=np.int64)],
                               report[id_column].to_numpy(dtype=object), report["field"].to_numpy(dtype=object),
                               report["reason"].to_numpy(dtype=object))


NO_FILES = PortfolioTables(projects=pd.DataFrame(), loans=pd.DataFrame(), insurance=pd.DataFrame(),
                            events=pd.DataFrame(), problems=pd.DataFrame(), source="", digest="")

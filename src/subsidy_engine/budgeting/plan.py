"""The allocation's plan: claims read against the budget's rules, as the flat arrays the kernel funds.

:func:`claims_for` reads a claims table (or :class:`~subsidy_engine.Claims`)
and matches each claim to the funding sources that may pay it;
:func:`build_plan` turns them into items, rows, caps and tiers;
:func:`run_plan` runs the allocation kernel (:mod:`subsidy_engine.kernels.allocate`)
over a plan. :func:`subsidy_engine.allocate` and Monte Carlo both go through
these, and the optimal mode (:mod:`subsidy_engine.budgeting.optimal`) solves
the same plan.
"""


from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, Callable, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from subsidy_engine.core.language import id_of_name
from subsidy_engine.core.money import MAX_TOTAL_FEN, RATE_SCALE, rate_to_units, scaled_integer, yuan_to_fen
from subsidy_engine.core.vocabulary import RULE_FLAGS
from subsidy_engine.errors import BudgetError
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.allocate import (
    allocate_kernel,
    flag_years_short,
    funding_order,
    sources_in_funding_order,
    split_by_share,
    sum_by_source_year,
)
from subsidy_engine.kernels.caps import cap_fen
from subsidy_engine.measures.investment import flag_column
from subsidy_engine.params.budget import Budget, Eligibility, FundingSource
from subsidy_engine.pipeline.evaluate import Claims
from subsidy_engine.pipeline.steps import ATTRIBUTE_COLUMNS


@dataclass
class ClaimsToFund:
    """The claims as arrays, in canonical order (item text, then year)."""

    claim_id: pa.Array
    amount: np.ndarray
    year: np.ndarray
    measure: np.ndarray
    item: np.ndarray  # dense code of the item text
    attributes: dict[str, Any]
    #: the claims' digest (:attr:`digest`), or its hash still being made on another thread (a caller's table)
    hashing: str | Hashing

    @property
    def digest(self) -> str:
        """The claims' digest: evaluate's, or the hash of a caller's table as read (waited for here)."""
        if not isinstance(self.hashing, str):
            self.hashing = self.hashing.result()
        return self.hashing

    def __getstate__(self) -> dict[str, Any]:  # sent to a worker: the digest made, not the hash under way
        return {**self.__dict__, "hashing": self.digest}


def _hashed(values: list[np.ndarray | pa.Array]) -> str:
    """The SHA-256 of ``values`` in turn: an array's bytes, a text column's buffers (a missing one as ``-``)."""
    h = hashlib.sha256()
    for array in values:
        if isinstance(array, np.ndarray):
            h.update(np.ascontiguousarray(array).data.cast("B"))  # its bytes as they are: no copy to hash
            continue
        for buffer in array.buffers():
            h.update(b"-" if buffer is None else buffer)
    return h.hexdigest()


class Hashing:
    """The digest of a caller's claims table, made on a thread of its own while its plan is built (hashlib lets go
    of the GIL: a million claims' 150 MB took 0.14 s of the 2 s an allocation took); :meth:`result` waits for it.

    A thread of its own per table, not a pool kept by the module: a process forked later (multiprocessing's
    default start on Linux) has none of its parent's threads, and waited on a pool that ran nothing. A hash
    asked for in another process than the one that started it (forked while it was made) is made there; one
    asked for when no thread can start (the interpreter shutting down) is made at once.
    """

    def __init__(self, values: list[np.ndarray | pa.Array]) -> None:
        self.values, self.pid = values, os.getpid()
        self.digest: str | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = threading.Thread(target=self._make, name="subsidy-claims-digest",
                                                                 daemon=True)
        try:
            self.thread.start()
        except RuntimeError:  # no new thread at interpreter shutdown: made here
            self.thread = None
            self._make()

    def _make(self) -> None:
        try:
            self.digest = _hashed(self.values)
        except BaseException as error:  # raised where the digest is read  # noqa: BLE001
            self.error = error

    def result(self) -> str:
        """The digest, once made (its error raised, if hashing failed)."""
        if self.digest is None and self.error is None:
            if os.getpid() != self.pid:  # forked while the parent's thread made it: that thread is not here
                return _hashed(self.values)
            if self.thread is not None:
                self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.digest is not None
        return self.digest


def read_claims(claims: Claims | pd.DataFrame, rules: list[Eligibility], mode: str,
                 group_columns: tuple[str, ...] = (), merit_flags: tuple[str, ...] = ()) -> ClaimsToFund:
    """The claims as arrays: the columns the budget's ``rules`` read, the merit mode's (``merit_score``,
    ``in_library`` and the ``merit_flags`` with points), and the ``group_columns`` its caps group by."""
    known_fen = None  # the amounts in fen, when evaluate already has them: no decimals read again
    if isinstance(claims, Claims):
        frame = claims.table.reset_index(drop=True)
        attributes = claims.attributes.reset_index(drop=True)
        digest = claims.provenance.parameters_sha256
        known_fen = claims.amounts_fen()
    elif isinstance(claims, pd.DataFrame):
        frame = claims.reset_index(drop=True)
        attributes = frame[[c for c in ATTRIBUTE_COLUMNS if c in frame.columns]]
        digest = ""  # of what is read, below
    else:
        raise TypeError(f"allocate takes what evaluate returns (Claims) or a claims DataFrame, not {type(claims)}")
    missing = [c for c in ("claim_id", "measure", "year", "amount") if c not in frame.columns]
    needed = {name for rule in rules for name, value in rule if value is not None} - {"measures", "instruments"}
    needed = {{"sectors": "sector", "districts": "district"}.get(n, n) for n in needed}
    if mode == "merit":
        needed |= {"merit_score", "in_library", *merit_flags}
    missing += sorted(n for n in needed if n not in attributes.columns)
    missing += [c for c in (*group_columns, *(["instrument"] if any(r.instruments for r in rules) else []))
                if c not in frame.columns]
    if missing:
        raise BudgetError(f"claims: missing columns {missing} (the budget's rules or the {mode} mode read them)")
    n = len(frame)
    rej = column_readers.Rejections(n)
    ids = column_readers.arrow_text(frame["claim_id"])
    rej.add(column_readers.blank_cells(frame["claim_id"]), "claim_id", "is missing")
    if not column_readers.surely_distinct(ids):  # rare: then find which rows repeat an id
        rej.add(column_readers.repeated_ids(frame["claim_id"]), "claim_id",
                "is a duplicate of an earlier row's claim_id")
    columns: dict[str, Any] = {}
    if known_fen is not None:
        columns["amount"], columns["no_amount"] = known_fen, np.zeros(n, np.bool_)
    for name in ("amount", "merit_score"):
        if name == "amount" and known_fen is not None:
            continue
        if name in frame.columns or (name == "merit_score" and name in attributes.columns):
            units, unusable = column_readers.decimal_units((frame if name == "amount" else attributes)[name], 2, name, rej)
            rej.add(units < 0, name, "must not be negative")
            columns[name], columns["no_" + name] = units, unusable
    if known_fen is None:
        rej.add(column_readers.blank_cells(frame["amount"]), "amount", "is missing")
    for name in ("year", "measure"):
        columns[name], blank = column_readers.int_column(frame[name], name, rej)
        rej.add(blank, name, "is missing")
    for name in RULE_FLAGS:
        if name in attributes.columns:
            columns[name] = flag_column(attributes[name], name, rej, n)
    if rej.bad.any():
        report = rej.frame(frame["claim_id"])
        lines = [f"row {r.row} ({r.claim_id!r}): {r.field} {r.reason}" for r in report.head(20).itertuples()]
        raise BudgetError("claims: " + "; ".join(lines) + (f"; and {len(report) - 20} more" if len(report) > 20
                                                            else ""))
    amount, year, measure = columns["amount"], columns["year"], columns["measure"]
    if "instrument" in frame.columns and "item_id" in frame.columns:
        # the unit separator cannot occur in an id a person typed, so no claim_id can pose as an item
        item_text = pc.binary_join_element_wise(column_readers.arrow_text(frame["instrument"]),
                                                column_readers.arrow_text(frame["item_id"]), "\x1f")
        item_text = pc.if_else(pc.is_null(item_text), ids, item_text)
    else:
        item_text = ids
    item = np.asarray(pc.rank(item_text, sort_keys="ascending", tiebreaker="dense").to_numpy(
        zero_copy_only=False), np.int64)
    order = column_readers.sort_order(item, year)
    take = pa.array(order)
    arrays: dict[str, Any] = {"item_text": item_text.take(take)}
    for name in ("sector", "district"):
        if name in attributes.columns:  # a claims table of the caller's may name them in Chinese (海淀区)
            named = pc.dictionary_encode(column_readers.arrow_text(attributes[name]).take(take))
            words = [id_of_name(v, name + "s") if v is not None else None for v in named.dictionary.to_pylist()]
            arrays[name] = pa.DictionaryArray.from_arrays(named.indices, pa.array(words, pa.string()))
    for name in (*RULE_FLAGS, "merit_score", "no_merit_score"):
        if name in columns:
            arrays[name] = columns[name][order]
    if "instrument" in frame.columns:
        arrays["instrument"] = pc.dictionary_encode(column_readers.arrow_text(frame["instrument"]).take(take))
    for name in ("project_id", "enterprise_id"):
        arrays[name] = (column_readers.arrow_text(frame[name]).take(take) if name in frame.columns
                        else pa.nulls(n, pa.string()))
    claim_ids, amount, year, measure = ids.take(take), amount[order], year[order], measure[order]
    hashing: str | Hashing = digest
    if not digest:  # a table of the caller's: the hash of what was read, in canonical order, made on another thread
        hashed: list[np.ndarray | pa.Array] = [amount, year, measure, claim_ids]
        for name in sorted(arrays):
            values = arrays[name]
            if isinstance(values, pa.DictionaryArray):
                values = values.dictionary.take(values.indices)
            if isinstance(values, pa.Array) and values.offset:
                values = pa.concat_arrays([values])  # buffers start at 0
            hashed.append(values)
        hashing = Hashing(hashed)
    return ClaimsToFund(claim_ids, amount, year, measure, item[order], arrays, hashing)


def claims_for(claims: Claims | pd.DataFrame, budget: Budget, mode: str) -> ClaimsToFund:
    """The claims read for ``budget`` and ``mode``: the columns its rules, tiers and group caps need.

    The optimal mode reads the tiers too: its fallback at the time limit is the waterfall.
    """
    rules = [s.eligible for s in budget.sources] + (list(budget.file.priority_tiers) if mode != "merit" else [])
    group_columns = tuple(column for column, cap in (("project_id", "per_project_cap"),
                                                     ("enterprise_id", "per_enterprise_cap"))
                          if any(getattr(s, cap) is not None for s in budget.sources))
    return read_claims(claims, rules, mode, group_columns, tuple(budget.file.merit_points))


def matches(rule: Eligibility, c: ClaimsToFund) -> np.ndarray:
    """Which claims meet every condition of ``rule``."""
    ok = np.ones(c.amount.shape[0], bool)
    if rule.measures is not None:
        ok &= np.isin(c.measure, np.array(rule.measures))
    for attribute, name in (("instruments", "instrument"), ("sectors", "sector"), ("districts", "district")):
        wanted = getattr(rule, attribute)
        if wanted is not None:  # a lookup table over the column's distinct values (its dictionary)
            values: pa.DictionaryArray = c.attributes[name]
            table = np.r_[np.isin(np.asarray(values.dictionary.to_pylist(), dtype=object),
                                  np.array(list(wanted), dtype=object)), False]
            codes = np.asarray(values.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
            ok &= table[codes]
    for name in RULE_FLAGS:
        wanted = getattr(rule, name)
        if wanted is not None:
            ok &= c.attributes[name] == wanted
    return ok


def merit_scores(attributes: dict[str, Any], budget: Budget) -> np.ndarray:
    """Each claim's merit score in 0.01 units, with the budget's ``merit_points`` of each flag its project has.

    A claim without a score keeps none (``no_merit_score``): points add to an expert review, they are not one.
    """
    score = attributes["merit_score"]
    for flag, points in budget.file.merit_points.items():
        # a Score has 2 places (an int); scores and points are at most 1e12, so 6 of them stay within int64
        score = score + np.where(attributes[flag], cast(int, scaled_integer(points, 2)), 0)
    return score


def describe_rule(rule: Eligibility) -> str:
    parts = [f"{name}={'true' if value is True else 'false' if value is False else list(value)}"
             for name, value in rule if value is not None]
    return ", ".join(parts) or "every claim"


def dense_codes(values: pa.Array) -> np.ndarray:
    """A dense code per distinct text; a null gets a code of its own (no group)."""
    codes = np.asarray(pc.dictionary_encode(values).indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    blank = codes < 0
    codes[blank] = codes.max(initial=-1) + 1 + np.arange(int(blank.sum()))
    return codes


@dataclass(frozen=True)
class FundingOrder:
    """A layout's items and rows renumbered in funding order, as the kernel reads them
    (:func:`subsidy_engine.kernels.allocate.funding_order`): ``rows`` is each one's row of the plan."""

    rows: np.ndarray
    item_ptr: np.ndarray
    row_year: np.ndarray
    row_group: np.ndarray
    item_tier: np.ndarray
    item_year: np.ndarray
    eligible: np.ndarray
    #: each source's items and where its items of each approval year start
    #: (:func:`~subsidy_engine.kernels.allocate.sources_in_funding_order`), and the records the kernel may write at
    #: most: the items' alone, so made once for every path whose claims have money in the same parts
    source_items: np.ndarray
    year_start: np.ndarray
    capacity: int


@dataclass(frozen=True)
class _Layout:
    """What a plan's rows are, given which claim parts have money (:func:`build_plan`): the parts and their
    order, the items, tiers and years, and who may pay each."""

    parts: np.ndarray  # per row: its part (its claim for a municipal part, claims + its claim for a district one)
    part_claim: np.ndarray  # per row: the claim it is a part of
    part_level: np.ndarray  # per row: 0 municipal, 1 district
    row_year: np.ndarray
    item_ptr: np.ndarray
    item_tier: np.ndarray
    item_year: np.ndarray
    item_order: np.ndarray
    eligible: np.ndarray
    row_group: np.ndarray  # per row: its claim's (project, enterprise) as dense codes
    tier_names: list[str]
    no_source: np.ndarray  # rows (parts) no source may pay
    funding: FundingOrder  # the same items and rows in the order the kernel funds them


@dataclass(frozen=True)
class Plan(_Layout):
    """The kernel's inputs, shared by the three modes: the layout of the rows, and what they ask of whom."""

    claims: ClaimsToFund
    sources: tuple[FundingSource, ...]
    years: tuple[int, ...]
    row_request: np.ndarray
    cap: np.ndarray
    carry: np.ndarray
    group_cap: np.ndarray


#: Layouts a :class:`PlanRules` remembers: a path whose claims have money in the same parts as an earlier one's
#: reads its layout (the sorts and groupings of a plan) instead of building it again.
_LAYOUTS_KEPT = 8


class _Layouts:
    """The last :data:`_LAYOUTS_KEPT` layouts of plans built from one :class:`PlanRules`, by the parts with money.
    Threads may share the rules (a Dask worker's tasks do); a copy sent elsewhere (pickled) starts empty."""

    def __init__(self) -> None:
        self._kept: dict[bytes, _Layout] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def __reduce__(self) -> tuple[type[_Layouts], tuple[()]]:
        return _Layouts, ()

    def get(self, key: bytes, make: Callable[[], _Layout]) -> _Layout:
        with self._lock:
            found = self._kept.get(key)
        if found is None:
            found = make()
            with self._lock:
                self._kept[key] = found
                while len(self._kept) > _LAYOUTS_KEPT:
                    self._kept.pop(next(iter(self._kept)))
        return found


@dataclass(frozen=True)
class PlanRules:
    """What a plan reads of the claims and the budget that their amounts do not change: which sources may pay each
    claim, which tier each claim is in, the claims' groups, each claim's district matching share and the caps in
    fen. Monte Carlo builds it once and each path's plan from it (:func:`build_plan`'s ``rules``), for claims that
    differ only in their amounts; it remembers the last layouts of such plans (which parts have money)."""

    may_pay: np.ndarray  # (claims, sources)
    in_tier: tuple[np.ndarray, ...]  # per priority rule of the waterfall, the claims it matches
    groups: tuple[np.ndarray | None, ...]  # (project, enterprise): each claim's dense code where a source caps it
    cap: np.ndarray
    group_cap: np.ndarray
    caps_total_fen: int
    share: np.ndarray  # per claim: the district's matching share (rate units), 0 where no district source may pay
    carry: np.ndarray  # per source: whether what it leaves of a year carries over to the next
    layouts: _Layouts = field(default_factory=_Layouts, compare=False, repr=False)


def plan_rules(c: ClaimsToFund, budget: Budget, mode: str) -> PlanRules:
    """:class:`PlanRules` of ``c`` under ``budget`` and ``mode`` (a claim of a year outside the budget is refused)."""
    sources, years = budget.sources, budget.years
    if len(sources) != len(budget.file.sources):  # allocate and Monte Carlo fund the claims from subsidy_part()
        raise ValueError("a plan of claims reads the budget's subsidy sources: pass budget.subsidy_part()")
    outside = sorted(set(np.unique(c.year).tolist()) - set(years))
    if outside:
        raise BudgetError(f"claims of years {outside} are outside budget {budget.id}'s years "
                          f"{years[0]}-{years[-1]}: evaluate(years=...) within them, or extend the budget")
    n = c.amount.shape[0]
    may_pay = np.column_stack([matches(s.eligible, c) for s in sources]) if n else np.zeros((0, len(sources)), bool)
    in_tier = tuple(matches(rule, c) for rule in budget.file.priority_tiers) if mode != "merit" else ()
    # the exact range, checked on Python integers before any int64 array holds them
    year_caps_fen = [[yuan_to_fen(budget.cap(s, y)) for y in years] for s in sources]
    group_fen = [[cap_fen(getattr(s, name)) for s in sources] for name in ("per_project_cap", "per_enterprise_cap")]
    if sum(map(sum, year_caps_fen)) > MAX_TOTAL_FEN or max(max(row) for row in group_fen) > MAX_TOTAL_FEN:
        raise BudgetError("claims or caps above 9e13 yuan in total are beyond the engine's exact range")
    group_cap = np.array(group_fen, np.int64)
    groups = tuple(dense_codes(c.attributes[name]) if (group_cap[g] >= 0).any() else None
                   for g, name in enumerate(("project_id", "enterprise_id")))
    # co-funding: the first district source that may pay a claim sets its matching share
    district = np.flatnonzero(np.array([s.level != "municipal" for s in sources], bool))
    share = np.zeros(n, np.int64)
    if district.shape[0]:
        block = may_pay[:, district]
        first = np.argmax(block, axis=1)
        # a district source has a matching share (FundingSource's validator)
        shares = np.array([rate_to_units(cast(Decimal, sources[k].matching_share)) for k in district], np.int64)
        share = np.where(block.any(axis=1), shares[first], 0)
    return PlanRules(may_pay, in_tier, groups, np.array(year_caps_fen, np.int64).reshape(len(sources), len(years)),
                     group_cap, sum(map(sum, year_caps_fen)), share, np.array([s.carry_over for s in sources]))


def build_plan(c: ClaimsToFund, budget: Budget, mode: str, rules: PlanRules | None = None) -> Plan:
    """The kernel's inputs for ``c``; ``rules``: :func:`plan_rules` of claims like ``c`` but for their amounts
    (built here when not given)."""
    fixed = rules if rules is not None else plan_rules(c, budget, mode)
    n = c.amount.shape[0]
    # 1. co-funding: each claim's district part by its matching share, the rest municipal
    municipal_part, district_part = np.empty(n, np.int64), np.empty(n, np.int64)
    split_by_share(c.amount, fixed.share, RATE_SCALE, municipal_part, district_part)
    request = np.concatenate([municipal_part, district_part])
    if int(request.sum(dtype=np.float64)) > MAX_TOTAL_FEN:  # the caps' range is checked with the rules
        raise BudgetError("claims or caps above 9e13 yuan in total are beyond the engine's exact range")
    keep = request > 0
    layout = fixed.layouts.get(np.packbits(keep).tobytes(), lambda: _layout(c, budget, mode, fixed, keep))
    return Plan(**{f.name: getattr(layout, f.name) for f in fields(_Layout)}, claims=c, sources=budget.sources,
                years=budget.years, row_request=request[layout.parts], cap=fixed.cap,
                carry=fixed.carry, group_cap=fixed.group_cap)


def _layout(c: ClaimsToFund, budget: Budget, mode: str, fixed: PlanRules, keep: np.ndarray) -> _Layout:
    """The rows of a plan whose claim parts with money are ``keep`` (municipal parts, then district ones)."""
    sources, years = budget.sources, budget.years
    n = c.amount.shape[0]
    level_of = np.array([0 if s.level == "municipal" else 1 for s in sources])
    may_pay = fixed.may_pay

    # rows: (claim, level) parts with money, ordered by item, level, year
    parts = np.flatnonzero(keep)
    claim_of, level = parts % max(n, 1), parts // max(n, 1)
    # claims are in (item, year) order, so ordering by (item, level), ties in row order, gives (item, level, year)
    order = column_readers.sort_order(c.item[claim_of], level)
    parts, claim_of, level = parts[order], claim_of[order], level[order]
    year_index = c.year[claim_of] - years[0]
    starts = np.flatnonzero(column_readers.group_starts(c.item[claim_of], level))
    item_ptr = np.r_[starts, claim_of.shape[0]].astype(np.int64)
    first_row = starts
    item_claim = claim_of[first_row]
    item_level = level[first_row]
    eligible = may_pay[item_claim] & (level_of[None, :] == item_level[:, None])
    has_source = eligible.any(axis=1)
    no_source = np.flatnonzero(np.repeat(~has_source, np.diff(item_ptr)))
    item_year = year_index[first_row].astype(np.int64)

    # tiers: waterfall by the budget's priority rules; merit one item per tier, by score
    tiers = list(budget.file.priority_tiers)
    n_items = item_claim.shape[0]
    if mode == "merit":
        a = c.attributes
        no_score = a["no_merit_score"][item_claim]
        score = np.where(no_score, 0, merit_scores(a, budget)[item_claim])
        library = a["in_library"][item_claim]
        rank = column_readers.sort_order(no_score, -score, ~library)  # ties: position
        item_tier = np.empty(n_items, np.int64)
        item_tier[rank] = np.arange(n_items)
        tier_names = ["merit order"]
    else:
        item_tier = np.full(n_items, len(tiers), np.int64)
        for k in reversed(range(len(tiers))):
            item_tier[fixed.in_tier[k][item_claim]] = k
        tier_names = [describe_rule(r) for r in tiers] + ["others" if tiers else "every claim"]
    item_order = column_readers.sort_order(item_year, item_tier)  # ties: position

    row_group = np.zeros((claim_of.shape[0], 2), np.int64)  # (project, enterprise): where a source caps them
    for g, codes in enumerate(fixed.groups):
        if codes is not None:
            row_group[:, g] = codes[claim_of]
    # shared by the plans of every path with this layout: nothing writes into them (the kernel copies the requests)
    eligible, row_group = np.ascontiguousarray(eligible), np.ascontiguousarray(row_group)
    row_year = year_index.astype(np.int64)
    rows, ptr, f_row_year, f_row_group, f_item_tier, f_item_year, f_eligible = funding_order(
        item_ptr, item_order, row_year, item_tier, item_year, eligible, row_group)
    # the items are in funding order now: each source's are in the order they are numbered
    source_items, year_start = sources_in_funding_order(np.arange(item_order.shape[0], dtype=np.int64), f_item_year,
                                                        f_eligible, len(years))
    funding = FundingOrder(rows, ptr, f_row_year, f_row_group, f_item_tier, f_item_year, f_eligible, source_items,
                           year_start, capacity=int((np.diff(ptr) * f_eligible.sum(axis=1)).sum()))
    return _Layout(parts, claim_of, level, row_year, item_ptr, item_tier, item_year, item_order,
                   eligible, row_group, tier_names, no_source, funding)


@dataclass
class Records:
    row: np.ndarray
    source: np.ndarray
    asked: np.ndarray
    limit: np.ndarray
    award: np.ndarray
    code: np.ndarray
    binding: np.ndarray
    carried_in: np.ndarray
    committed: np.ndarray


def run_plan(p: Plan) -> Records:
    """The kernel over the plan's items in funding order (:class:`FundingOrder`); the records name the plan's
    rows."""
    f = p.funding
    # the kernel's records: row, source, asked, limit, award, code, binding (Records' fields before carried_in)
    records: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    records, carried_in, committed = allocate_kernel(
        f.item_ptr, f.row_year, p.row_request[f.rows], f.source_items, f.year_start, f.item_tier, p.cap, p.carry,
        p.group_cap, f.row_group, f.capacity)
    return Records(f.rows[records[0]], *records[1:], carried_in, committed)


def per_source_year(p: Plan, r: Records, values: np.ndarray) -> np.ndarray:
    """``values`` (one per record of ``r``, fen) summed per source and year of the plan (sources x years)."""
    out = np.zeros(p.cap.shape, np.int64)
    sum_by_source_year(r.source, r.row, p.row_year, np.asarray(values, np.int64), out)
    return out


def cap_exceeded(p: Plan, r: Records) -> tuple[np.ndarray, np.ndarray]:
    """What the claims asked of each source for each year (sources x years, fen, before any cut), and whether the
    money of that source's year ran short: a claim part was cut or passed on because that year's money (its cap
    plus what it carried in) did not cover it. The year is the one whose money bound: an item approved in 2026
    for 2026 and 2027 that 2026's money cannot cover flags 2026. A cut by a per-project or per-enterprise cap
    flags nothing: the money was there.

    The budget at risk of a run, a sweep's scenario and a Monte Carlo path is this one rule.
    """
    return per_source_year(p, r, r.asked), source_years_exceeded(p, r)


def source_years_exceeded(p: Plan, r: Records) -> np.ndarray:
    """Whether the money of each source's year ran short (sources x years): :func:`cap_exceeded`'s second part,
    alone (a Monte Carlo path needs no more)."""
    exceeded = np.zeros(p.cap.shape, bool)
    flag_years_short(r.code, r.binding, r.source, exceeded)
    return exceeded

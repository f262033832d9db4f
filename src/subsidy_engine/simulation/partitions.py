"""``evaluate`` on a Dask cluster, in partitions by enterprise: the same claims as in one process.

:func:`evaluate_on` splits a portfolio's rows into partitions of whole enterprises, evaluates each partition on
a worker (:func:`subsidy_engine.evaluate`, the same function) and puts the results together on the client in the
order one process gives them. Every cap of stacking is per enterprise or narrower, and an item without a project
takes its enterprise's first project's attributes, so an enterprise's claims depend on its own rows alone.

**Which rows go together.** A project goes with its enterprise; a loan or a government investment with its
project, a tranche or prepayment with its loan; an insurance policy, an event or a decided award with its enterprise, or with its project's
enterprise when it names a project of another (those enterprises then share a partition). Rows that repeat an id go
with the id's first row, so that the duplicate is found; a row that names no known project or loan goes to the
first partition, where it is rejected as in one process. Each partition's tables keep the row numbers of the files, and the
problems found when the tables were loaded go with their rows.

**What comes back.** The claims, their attributes and amounts, the rejected rows, the loans priced on a projected
LPR, the items paid nothing and the notes, in one process's order; the provenance is computed from the whole
portfolio, so the hashes are the same. ``details`` (the per-item rows that ``explain`` and ``reconcile`` read)
stay on the workers: the returned ``Claims`` has none, and those two run on an evaluation in one process.

A portfolio with a problem of no row (a table that could not be read at all, something set aside under
``strict``) is evaluated in this process: such a problem has no partition to go to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from subsidy_engine.io.column_readers import arrow_text, sort_order
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import Policy
from subsidy_engine.pipeline.evaluate import Claims, evaluate, raise_if_strict, sorted_problems
from subsidy_engine.pipeline.inputs import TABLES, PortfolioTables, shown_rows
from subsidy_engine.pipeline.steps import INSTRUMENTS, claims_provenance, not_paid_items, requested_years

if TYPE_CHECKING:
    from distributed import Client

#: Where each calculator's items are: the table and its id column (the order of ``Claims.details``).
ITEMS = {"interest_subsidy": "loans", "premium_subsidy": "insurance", "grants": "events", "awards": "awards",
         "investment_subsidy": "projects"}
#: The tables of items that name their own enterprise (and perhaps a project): partitioned by that enterprise.
ITEM_TABLES = ("insurance", "events", "awards")
#: Notes whose figures add up over partitions: said again from the merged loans (the first projected reset).
PROJECTION_NOTES = ("lpr_projection_flat", "lpr_projection_path")


@dataclass(frozen=True)
class Part:
    """One partition's evaluation, as it travels back from a worker."""

    table: pd.DataFrame
    attributes: pd.DataFrame
    amount_fen: np.ndarray
    rejections: pd.DataFrame
    projections: pd.DataFrame
    not_paid: pd.DataFrame
    calendar_notes: tuple[str, ...]
    other_notes: tuple[str, ...]
    moved_on: str | None
    government_investment: pd.DataFrame


def _codes(values: pa.Array) -> np.ndarray:
    """A dense code per distinct text, in order of first appearance; a null gets -1."""
    return np.asarray(pc.dictionary_encode(values).indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


def _first_row_of(ids: pa.Array) -> np.ndarray:
    """For each row, the first row with its id (a null: itself)."""
    codes = _codes(ids)
    first = np.full(codes.max(initial=-1) + 1, -1, np.int64)
    valid = np.flatnonzero(codes >= 0)
    first[codes[valid][::-1]] = valid[::-1]  # the smallest row of each code wins
    out = np.arange(codes.shape[0])
    out[valid] = first[codes[valid]]
    return out


def _lookup(ids: pa.Array, keys: pa.Array, values: np.ndarray) -> np.ndarray:
    """``values`` of the first row of ``keys`` equal to each of ``ids`` (-1: none)."""
    found = np.asarray(pc.index_in(ids, value_set=keys).fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    out = np.full(found.shape[0], -1, np.int64)
    hit = found >= 0  # (with no key at all, nothing is found: ``values`` may be empty)
    out[hit] = values[found[hit]]
    return out


class _Groups:
    """Enterprises joined when an item of one names a project of another (a union-find over enterprise codes)."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def root(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = int(self.parent[k])
        return k

    def join(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> np.ndarray:
        """Each enterprise's group (its root), by pointer jumping over every enterprise at once."""
        parent = self.parent.copy()
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                return parent.astype(np.int64)
            parent = jumped


def assign(tables: PortfolioTables, partitions: int) -> dict[str, np.ndarray]:
    """Each row's partition, per table (module docstring: which rows go together)."""
    frames = {name: getattr(tables, name).reset_index(drop=True) for name in TABLES}

    def ids(name: str, column: str) -> pa.Array:
        frame = frames[name]
        return arrow_text(frame[column]) if column in frame.columns else pa.nulls(len(frame), pa.string())

    projects = frames["projects"]
    project_ids, project_enterprise = ids("projects", "project_id"), ids("projects", "enterprise_id")
    everyone = pa.concat_arrays([project_enterprise, *(ids(name, "enterprise_id") for name in ITEM_TABLES)])
    enterprise_code = _codes(everyone)
    n_enterprises = int(enterprise_code.max(initial=-1)) + 1
    # an enterprise left blank is an enterprise of its own row (it is rejected; it goes somewhere)
    blank = np.flatnonzero(enterprise_code < 0)
    enterprise_code[blank] = n_enterprises + np.arange(blank.shape[0])
    groups = _Groups(n_enterprises + blank.shape[0])
    n_projects = len(projects)
    of_project = enterprise_code[:n_projects][_first_row_of(project_ids)]  # a repeated id: its first row's
    start = n_projects
    item_enterprise = {}
    for name in ITEM_TABLES:
        n = len(frames[name])
        own = enterprise_code[start:start + n]
        start += n
        named = _lookup(ids(name, "project_id"), project_ids, of_project)
        crossed = (named >= 0) & (named != own)  # an item naming another enterprise's project: both go together
        for a, b in zip(own[crossed].tolist(), named[crossed].tolist()):
            groups.join(a, b)
        item_enterprise[name] = np.where(named >= 0, named, own)
    root = groups.roots()
    # whole groups to partitions, in turn by the order they first appear (a balance that needs no sizes)
    group_code = np.unique(root, return_inverse=True)[1]
    part_of_group = group_code % partitions

    def part(codes: np.ndarray) -> np.ndarray:
        return part_of_group[codes].astype(np.int64)

    out = {"projects": part(of_project)}
    loan_project = _lookup(ids("loans", "project_id"), project_ids, out["projects"])
    loans = np.where(loan_project >= 0, loan_project, 0)  # a loan of no known project: rejected in the first
    out["loans"] = loans[_first_row_of(ids("loans", "loan_id"))]
    invested = _lookup(ids("government_investment", "project_id"), project_ids, out["projects"])
    out["government_investment"] = np.where(invested >= 0, invested, 0)[
        _first_row_of(ids("government_investment", "investment_id"))]
    for name in ITEM_TABLES:
        id_column = TABLES[name][0]
        mine = part(item_enterprise[name]) if len(frames[name]) else np.zeros(0, np.int64)
        out[name] = mine[_first_row_of(ids(name, id_column))]
    loan_ids = ids("loans", "loan_id")
    for name in ("drawdowns", "prepayments"):
        found = _lookup(ids(name, "loan_id"), loan_ids, out["loans"])
        out[name] = np.where(found >= 0, found, 0)
    return out


def split(tables: PortfolioTables, where: dict[str, np.ndarray], partitions: int) -> list[tuple[PortfolioTables, dict[str, np.ndarray]]]:
    """The partitions' tables, each with the positions its rows have in ``tables``."""
    problems = tables.problems
    whole = {name: getattr(tables, name).reset_index(drop=True) for name in TABLES}
    shown = {name: shown_rows(tables.row_numbers, name, len(frame)) for name, frame in whole.items()}
    out = []
    for k in range(partitions):
        frames, positions, row_numbers = {}, {}, {}
        for name, frame in whole.items():
            rows = np.flatnonzero(where[name] == k)
            positions[name] = rows
            frames[name] = frame.take(rows).reset_index(drop=True) if len(frame.columns) else frame
            row_numbers[name] = shown[name][rows]
        mine = []
        for name in TABLES:
            theirs = problems[problems.table == name]
            if not len(theirs):
                continue
            at = theirs.position.to_numpy(dtype=np.int64)
            new_position = np.full(len(whole[name]), -1, np.int64)
            new_position[positions[name]] = np.arange(positions[name].shape[0])
            keep = new_position[at] >= 0
            if keep.any():
                mine.append(theirs[keep].assign(position=pd.array(new_position[at[keep]], dtype="Int64")))
        part_problems = (pd.concat(mine, ignore_index=True) if mine else problems.iloc[:0]).reset_index(drop=True)
        part = PortfolioTables(frames["projects"], frames["loans"], frames["insurance"], frames["events"],
                               part_problems[problems.columns], tables.source, tables.digest, tables.notes,
                               row_numbers, dict(tables.files), frames["drawdowns"], frames["prepayments"],
                               frames["awards"], frames["government_investment"])
        out.append((part, positions))
    return out


@dataclass(frozen=True)
class _Task:
    """What every partition's evaluation shares (sent to each worker once)."""

    policy: Policy
    years: tuple[int, ...] | None
    rate_by_stage: dict[str, str] | None
    lpr: LprCurve | None
    calendar: BusinessCalendar | None


def evaluate_part(part: PortfolioTables, task: _Task) -> Part:
    """One partition's evaluation (a cluster's task), kept to what the merge needs."""
    claims = evaluate(part, task.policy, task.years, rate_by_stage=task.rate_by_stage, lpr=task.lpr,
                      calendar=task.calendar)
    subsidy = claims.details.get("interest_subsidy")
    calendar_notes = tuple(subsidy.internal.get("notes", ())) if subsidy is not None else ()
    base = len(part.notes) + len(task.policy.notes) + len(calendar_notes)
    others = tuple(n for n in claims.notes[base:] if getattr(n, "key", None) not in PROJECTION_NOTES)
    amounts = claims.amounts_fen()
    assert amounts is not None  # evaluate's own table
    return Part(claims.table, claims.attributes, amounts, claims.rejections, claims.projections,
                not_paid_items(claims.details, calculator=True), calendar_notes, others,
                subsidy.internal.get("calendar_digest") if subsidy is not None else None, claims.government_investment)


def evaluate_on(client: Client, tables: PortfolioTables, policy: Policy, years: int | tuple[int, ...] | range | None = None,
                *, rate_by_stage: dict[str, str] | None = None, lpr: LprCurve | None = None, strict: bool = False,
                calendar: BusinessCalendar | None = None, partitions: int | None = None) -> Claims:
    """:func:`subsidy_engine.evaluate` of ``tables`` in partitions by enterprise on ``client``'s workers.

    ``partitions``: how many (default: twice the workers, at least 2). The claims, their order, the rejections,
    notes and provenance are those of one process; ``details`` is empty (module docstring).
    """
    from subsidy_engine.simulation.cluster import map_in_order, workers

    chosen = requested_years(years)
    if partitions is not None and partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    # a problem of no row (a table that cannot be read, something set aside under strict) has no partition
    if tables.problems.position.isna().any():
        return evaluate(tables, policy, chosen, rate_by_stage=rate_by_stage, lpr=lpr, strict=strict,
                        calendar=calendar)
    n = partitions if partitions is not None else max(2, 2 * workers(client))
    pieces = split(tables, assign(tables, n), n)
    parts: list[Part] = map_in_order(client, evaluate_part, [p for p, _ in pieces],
                                     _Task(policy, chosen, rate_by_stage, lpr, calendar))
    return merge(tables, policy, chosen, rate_by_stage, lpr, strict, parts, [positions for _, positions in pieces])


def merge(tables: PortfolioTables, policy: Policy, years: tuple[int, ...] | None, rate_by_stage: dict[str, str] | None,
          lpr: LprCurve | None, strict: bool, parts: list[Part], positions: list[dict[str, np.ndarray]]) -> Claims:
    """The partitions' evaluations as one, in the order one process gives (module docstring)."""
    # rejections: their rows' positions in the whole tables, in the order of the tables and rows
    rejections = []
    for part, where in zip(parts, positions):
        frame = part.rejections
        if len(frame):
            global_position = np.full(len(frame), -1, np.int64)
            for name in TABLES:
                mine = (frame.table == name).to_numpy() & frame.position.notna().to_numpy()
                if mine.any():
                    global_position[mine] = where[name][frame.position[mine].to_numpy(dtype=np.int64)]
            frame = frame.assign(position=pd.arrays.IntegerArray(global_position, global_position < 0))
        rejections.append(frame)
    problems = sorted_problems(rejections)
    raise_if_strict(problems, strict)
    accepted = _accepted_rows(tables, problems)
    with_claims = [parts[k] for k in _typed([p.table for p in parts])]
    table = pd.concat([p.table for p in with_claims], ignore_index=True)
    attributes = pd.concat([p.attributes for p in with_claims], ignore_index=True)
    amount_fen = np.concatenate([p.amount_fen for p in with_claims])
    if len(table):
        project = _position_of(table.project_id, accepted["projects"])
        instrument = pd.Series(table.instrument.astype(object)).map({k: v for v, k in enumerate(INSTRUMENTS)})
        item = pc.rank(arrow_text(table.item_id), sort_keys="ascending", tiebreaker="dense")
        order = sort_order(np.where(project >= 0, project, np.iinfo(np.int64).max), instrument.to_numpy(np.int64),
                           np.asarray(item.to_numpy(zero_copy_only=False), np.int64),
                           table.year.to_numpy(np.int64))
        table = table.take(order).reset_index(drop=True)
        attributes = attributes.take(order).reset_index(drop=True)
        amount_fen = amount_fen[order]
    projections = _concat_typed([p.projections for p in parts])
    if len(projections):
        at = _position_of(projections.loan_id, accepted["loans"])
        projections = projections.take(sort_order(at)).reset_index(drop=True)
    notes = [*tables.notes, *policy.notes, *_once(n for p in parts for n in p.calendar_notes)]
    if len(projections):
        assert lpr is not None
        notes.append(lpr.projection_note(len(projections), min(projections.projected_from)))
    notes += _once(n for p in parts for n in p.other_notes)
    moved_on = next((p.moved_on for p in parts if p.moved_on is not None), None)
    invested = _concat_typed([p.government_investment for p in parts])
    if len(invested):  # in the table's order, as one process gives them
        at = _position_of(invested.investment_id, accepted["government_investment"])
        invested = invested.take(sort_order(at)).reset_index(drop=True)
    return Claims(table=table, not_paid=_merged_not_paid(parts, accepted), rejections=problems,
                  projections=projections, years=years, notes=tuple(notes),
                  provenance=claims_provenance(tables.digest, policy, lpr, rate_by_stage, moved_on),
                  portfolio=tables, policy=policy, rate_by_stage=rate_by_stage, details={}, attributes=attributes,
                  amount_fen=amount_fen, amount_table=table, government_investment=invested)


def _typed(frames: list[pd.DataFrame]) -> list[int]:
    """The frames to put together as one process would have one: those with rows, else one typed, else the first.

    A partition without an item of a kind has an empty frame of untyped columns where one with items outside the
    years asked has typed ones (one process, which has both, has the types)."""
    rows = [k for k, f in enumerate(frames) if len(f)]
    typed = [k for k, f in enumerate(frames) if any(str(dtype) != "object" for dtype in f.dtypes)]
    return rows or typed[:1] or [0]


def _concat_typed(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([frames[k] for k in _typed(frames)], ignore_index=True)


def _once(notes: Iterable[str]) -> list[str]:
    """``notes`` without repeats, in the order they come."""
    seen: list[str] = []
    for note in notes:
        if note not in seen:
            seen.append(note)
    return seen


def _accepted_rows(tables: PortfolioTables, problems: pd.DataFrame) -> dict[str, tuple[pa.Array, np.ndarray]]:
    """Per table: the ids of the rows no problem rejects, and their positions."""
    out = {}
    for name in ("projects", "loans", *ITEM_TABLES, "government_investment"):
        frame = getattr(tables, name).reset_index(drop=True)
        bad = problems.position[(problems.table == name).to_numpy()].dropna().to_numpy(dtype=np.int64)
        keep = np.setdiff1d(np.arange(len(frame)), bad)
        id_column = TABLES[name][0]
        ids = arrow_text(frame[id_column]).take(pa.array(keep)) if id_column in frame.columns else pa.array([], pa.string())
        out[name] = (ids, keep)
    return out


def _position_of(ids: pd.Series, accepted: tuple[pa.Array, np.ndarray]) -> np.ndarray:
    """Each id's position in its table: its first row that no problem rejects (-1: none, or no id)."""
    keys, positions = accepted
    return _lookup(arrow_text(ids), keys, positions)


def _merged_not_paid(parts: list[Part], accepted: dict[str, tuple[pa.Array, np.ndarray]]) -> pd.DataFrame:
    frames = [p.not_paid for p in parts if len(p.not_paid)]
    if not frames:
        return parts[0].not_paid.drop(columns=["calculator"]) if parts else pd.DataFrame(
            {c: pd.Series(dtype=object) for c in ("instrument", "item_id", "reason")})
    frame = pd.concat(frames, ignore_index=True)
    unknown = set(frame.calculator) - set(ITEMS)
    if unknown:  # a calculator this merge does not know where its items are: its order cannot be said
        raise RuntimeError(f"partitions: the items of {sorted(unknown)} have no table in ITEMS")
    kind = frame.calculator.map({k: v for v, k in enumerate(ITEMS)}).to_numpy(np.int64)
    at = np.full(len(frame), -1, np.int64)
    for name, table in ITEMS.items():
        mine = (frame.calculator == name).to_numpy()
        if mine.any():
            at[mine] = _position_of(frame.item_id[mine], accepted[table])
    order = sort_order(kind, at)
    return frame.take(order).drop(columns=["calculator"]).reset_index(drop=True)


__all__ = ["Part", "assign", "evaluate_on", "evaluate_part", "merge", "split"]

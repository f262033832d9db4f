"""A loan book's tranches and prepayments as tables keyed by ``loan_id`` (issue 18, point 2).

``drawdowns``: ``loan_id, date, amount``, every tranche of a loan drawn in several (the first on the loan's
``start_date``; they add up to its ``principal``). ``prepayments``: ``loan_id, date, amount`` and an
optional ``recompute`` (``payment``, the default, or ``term``). Cells are read by the readers of every
table (:mod:`subsidy_engine.io.column_readers`); a loan with rows in them is then checked by the
:class:`~subsidy_engine.loans.contract.Loan` model itself, so a table and a model follow one set of rules.

A problem of an event row rejects its loan: the rejection names the loan's row, its ``loan_id``, the table
and field (``drawdowns.amount``) and, in the reason, the event table's row. A row whose ``loan_id`` is not
in the loan table is reported with row -1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd
from pydantic import ValidationError

from subsidy_engine.core.dates import day_date
from subsidy_engine.core.ids import compared_id, compared_ids
from subsidy_engine.core.money import fen_to_yuan
from subsidy_engine.core.vocabulary import Recompute
from subsidy_engine.io.column_readers import (
    Read,
    Rejections,
    blank_cells,
    checked_table,
    date_column,
    decimal_units,
    enum_column,
)
from subsidy_engine.loans.arrays import LoanArrays, LoanEvents, event_rows, loans_from_arrays
from subsidy_engine.loans.contract import Drawdown, Prepayment

DRAWDOWN_COLUMNS = ("loan_id", "date", "amount")
PREPAYMENT_COLUMNS = ("loan_id", "date", "amount", "recompute")
EVENT_TABLE_REQUIRED = ("loan_id", "date", "amount")


def _read(name: str, table: pd.DataFrame, columns: tuple[str, ...]) -> Read:
    table = checked_table(table, f"the {name} table", columns, EVENT_TABLE_REQUIRED)
    rej = Rejections(len(table))
    rej.add(blank_cells(table["loan_id"]), "loan_id", "is missing")
    day, no_day = date_column(table["date"], "date", rej)
    rej.add(blank_cells(table["date"]), "date", "is missing")
    fen, no_amount = decimal_units(table["amount"], 2, "amount", rej)
    rej.add(blank_cells(table["amount"]), "amount", "is missing")
    rej.add(~no_amount & (fen <= 0), "amount", "must be positive (at least 0.01 yuan)")
    recompute = enum_column(table.get("recompute"), Recompute, "recompute", Recompute.PAYMENT, rej, len(table))
    good = np.flatnonzero(~rej.bad & ~no_day)
    ids = table["loan_id"].astype("string").fillna("").to_numpy(dtype=object)
    return Read({"loan_id": ids[good], "day": day[good], "fen": fen[good], "recompute": recompute[good]}, good,
                rej.frame(pd.Series(ids, name="loan_id")))


def read_drawdowns(table: pd.DataFrame) -> Read:
    """The rows of a drawdowns table the cells allow (``loan_id`` as text, ``day``, ``fen``), their positions,
    and the rejected rows ``row, loan_id, field, reason``. Whether they fit their loan is :func:`attach_read`'s."""
    return _read("drawdowns", table, DRAWDOWN_COLUMNS)


def read_prepayments(table: pd.DataFrame) -> Read:
    """:func:`read_drawdowns` for a prepayments table (and its ``recompute`` codes)."""
    return _read("prepayments", table, PREPAYMENT_COLUMNS)


_EVENT_NAME = re.compile(r"\b(drawdowns|prepayments)\[(\d+)\]")
_OWN_ROW = re.compile(r"^(drawdowns|prepayments)\[(\d+)\]: (.*)$", re.S)


def name_event_rows(reason: str, rows_of: Mapping[str, list[str]]) -> str:
    """``reason`` with each ``drawdowns[k]`` / ``prepayments[k]`` of a loan's model (its events in date
    order) named by the event table's row ``rows_of[table][k]``."""
    def named(match: re.Match[str]) -> str:
        labels = rows_of.get(match.group(1), [])
        k = int(match.group(2))
        return f"({labels[k]})" if k < len(labels) else match.group(0)
    return _EVENT_NAME.sub(named, reason)


@dataclass(frozen=True)
class AttachedEvents:
    """What :func:`attach_read` made of a loan table's events.

    Attributes
    ----------
    arrays : LoanArrays
        The loans with their events.
    refused : ndarray
        Positions (in ``arrays``) of the loans their events refuse.
    rejections : DataFrame
        ``row`` (the loan's row in its table, -1 when no loan row has the id), ``loan_id``, ``field``
        (``drawdowns.amount``; ``drawdowns`` for what the loan's model refuses), ``reason`` (naming the
        event table's row) and ``kind``: ``cell`` (a cell of an event row), ``model`` (the events do not
        fit the loan) or ``stray`` (an event row whose ``loan_id`` is no loan the reader accepted).
    labels : dict
        Per loan row with events, the label of each event row in its model's order (:func:`name_event_rows`).
    row_problems : DataFrame
        What the loan's model says of one event row, as that row's own problem: ``table, position, loan_id,
        field, reason`` (a date not in order, not in the loan's life).
    """

    arrays: LoanArrays
    refused: np.ndarray
    rejections: pd.DataFrame
    labels: dict[int, dict[str, list[str]]]
    row_problems: pd.DataFrame


def attach_read(arrays: LoanArrays, loan_ids: pd.Series, rows: np.ndarray, reads: Mapping[str, Read],
                shown_rows: Mapping[str, np.ndarray] | None = None) -> AttachedEvents:
    """The loans ``arrays`` (the loan table's rows ``rows``, whose ids are ``loan_ids``, the whole column)
    with the events of ``reads`` (``drawdowns`` and ``prepayments``, read by :func:`read_drawdowns` and
    :func:`read_prepayments`). A reason names the event table's row: its 0-based position, or
    ``shown_rows[table][position]``, the row the user's file shows. Ids are compared as the engine compares
    ids. A loan with a rejected event row is refused; so is one whose events its model refuses."""
    def shown(name: str, position: int) -> str:
        numbers = (shown_rows or {}).get(name)
        return f"{name} row {position if numbers is None else int(numbers[position])}"

    given_ids = loan_ids.reset_index(drop=True).tolist()  # as the loan table gives them
    every_id = compared_ids(given_ids)
    # a loan id given twice: its events belong to its first row (the duplicate is the row rejected)
    row_of: dict[str | None, int] = {}
    for r, loan_id in enumerate(every_id):
        if loan_id is not None:
            row_of.setdefault(loan_id, r)
    position_of: dict[str | None, int] = {}
    for at, r in enumerate(rows):
        position_of.setdefault(every_id[int(r)], at)
    problems: list[tuple[int, str, str, str, str]] = []
    row_problems: list[tuple[str, int, str, str, str]] = []
    refused: set[int] = set()
    by_loan: dict[int, dict[str, list[tuple[int, int, int, int]]]] = {}

    def loan_row(loan_id: str | None) -> int:
        return row_of.get(loan_id, -1) if loan_id is not None else -1

    for name, read in reads.items():
        rejected = read.rejections
        for position, raw_id, field, reason in zip(rejected["row"].tolist(), rejected["loan_id"].tolist(),
                                                   rejected["field"].tolist(), rejected["reason"].tolist()):
            loan_id = compared_id(raw_id)
            k = position_of.get(loan_id) if loan_id is not None else None
            problems.append((loan_row(loan_id), str(raw_id), f"{name}.{field}", f"({shown(name, position)}) {reason}",
                             "cell"))
            if k is not None:
                refused.add(k)
        events = read.arrays
        for r, raw_id, day, fen, recompute in zip(read.positions.tolist(), events["loan_id"], events["day"].tolist(),
                                                  events["fen"].tolist(), events["recompute"].tolist()):
            loan_id = compared_id(raw_id)
            k = position_of.get(loan_id) if loan_id is not None else None
            if k is None:
                why = ("is not a valid id" if loan_id is None else "its loan is rejected (see the loan table's "
                       "problem of that row)" if loan_id in row_of else "is not a loan_id of the loan table")
                problems.append((loan_row(loan_id), str(raw_id), f"{name}.loan_id", f"({shown(name, r)}) {why}",
                                 "stray"))
                continue
            by_loan.setdefault(k, {}).setdefault(name, []).append((r, day, fen, recompute))

    # Each loan with events is made as a model, which checks them by its own rules (order, the loan's life,
    # the sum of the tranches); everything it refuses is reported, and refuses the loan.
    attached: list[list[tuple[int, int, int, int]]] = [[] for _ in range(len(arrays))]
    labels: dict[int, dict[str, list[str]]] = {}
    # a loan refused for a bad event cell is checked too, on its good rows, so that every problem shows at
    # once; only what names a row is said of it (a sum is short of the row that could not be read)
    by_cell = set(refused)
    candidates = sorted(by_loan)
    models = loans_from_arrays(arrays.take(np.array(candidates, np.int64))) if candidates else []
    for k, model in zip(candidates, models):
        given = by_loan[k]
        tranches = sorted(given.get("drawdowns", []), key=lambda e: e[1])
        prepaid = sorted(given.get("prepayments", []), key=lambda e: e[1])
        labels[int(rows[k])] = {name: [shown(name, e[0]) for e in listed]
                                for name, listed in (("drawdowns", tranches), ("prepayments", prepaid))}
        try:
            loan = type(model)(**{**model.model_dump(exclude={"drawdowns", "prepayments"}),
                                  "drawdowns": [Drawdown(date=day_date(d), amount=fen_to_yuan(f))
                                                for _, d, f, _ in tranches],
                                  "prepayments": [Prepayment(date=day_date(d), amount=fen_to_yuan(f),
                                                             recompute=Recompute.of_code(c))
                                                  for _, d, f, c in prepaid]})
        except (ValidationError, ValueError) as exc:
            reasons = [line for text in ([str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]
                                         if isinstance(exc, ValidationError) else [str(exc)])
                       for line in text.split("\n")]  # the model lists every problem, one a line
            listed_of = {"drawdowns": tranches, "prepayments": prepaid}
            for reason in reasons:
                if k in by_cell and not _EVENT_NAME.search(reason):
                    continue
                table = "prepayments" if reason.startswith("prepayments") else "drawdowns"
                problems.append((int(rows[k]), str(given_ids[int(rows[k])]), table,
                                 name_event_rows(reason, labels[int(rows[k])]), "model"))
                own = _OWN_ROW.match(reason)  # of one event row: its date (every such rule is of the dates)
                if own is not None and int(own.group(2)) < len(listed_of[own.group(1)]):
                    row_problems.append((own.group(1), int(listed_of[own.group(1)][int(own.group(2))][0]),
                                         str(given_ids[int(rows[k])]), "date", own.group(3)))
            refused.add(k)
            continue
        if k in by_cell:
            continue
        attached[k] = event_rows(loan)
    with_events = arrays
    if any(attached):
        with_events = LoanArrays(**{**vars(arrays), "events": LoanEvents.of(attached)})
    rejections = pd.DataFrame(problems, columns=["row", "loan_id", "field", "reason", "kind"])
    return AttachedEvents(with_events, np.array(sorted(refused), np.int64), rejections, labels,
                          pd.DataFrame(row_problems, columns=["table", "position", "loan_id", "field", "reason"]))


def attach_events(arrays: LoanArrays, loan_ids: pd.Series, rows: np.ndarray, drawdowns: pd.DataFrame | None,
                  prepayments: pd.DataFrame | None, shown_rows: Mapping[str, np.ndarray] | None = None
                  ) -> tuple[LoanArrays, np.ndarray, pd.DataFrame, dict[int, dict[str, list[str]]]]:
    """:func:`attach_read` of the tables themselves: ``arrays`` with their events, the positions of the loans
    their events refuse, the rejections ``row, loan_id, field, reason`` (every kind), and the labels.

    >>> loans = pd.DataFrame({"loan_id": ["A"], "principal": ["150"], "annual_rate": ["0.04"],
    ...                       "term_months": [12], "start_date": ["2024-01-10"]})
    >>> from subsidy_engine.loans.arrays import arrays_from_frame
    >>> arrays, rows, _ = arrays_from_frame(loans)
    >>> tranches = pd.DataFrame({"loan_id": ["A", "A", "Z"], "date": ["2024-01-10", "2024-03-01", "2024-03-01"],
    ...                          "amount": ["100", "50", "1"]})
    >>> with_events, refused, rejected, _ = attach_events(arrays, loans.loan_id, rows, tranches, None)
    >>> with_events.events.amount.tolist(), refused.tolist()
    ([5000], [])
    >>> rejected[["row", "loan_id", "field"]].values.tolist()
    [[-1, 'Z', 'drawdowns.loan_id']]
    """
    reads = {name: reader(table) for name, table, reader in (
        ("drawdowns", drawdowns, read_drawdowns), ("prepayments", prepayments, read_prepayments))
        if table is not None}
    attached = attach_read(arrays, loan_ids, rows, reads, shown_rows)
    return attached.arrays, attached.refused, attached.rejections.drop(columns="kind"), attached.labels


__all__ = ["DRAWDOWN_COLUMNS", "EVENT_TABLE_REQUIRED", "PREPAYMENT_COLUMNS", "AttachedEvents", "attach_events", "attach_read",
           "name_event_rows", "read_drawdowns", "read_prepayments"]

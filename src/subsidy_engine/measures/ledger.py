"""A bank's own ledger of its loans: what happened, its interest and 貼息, against what the bank settled and
claimed (issue 18, point 3; measures 1 and 15).

A bank validates 貼息 on what actually happened to a loan, not on its contract. The ledger is one table, a
row an event (docs/conventions.md "A bank's ledger"):

``loan_id, date, kind, amount, rate`` and an optional ``subsidy``, where ``kind`` is

* ``drawdown``: ``amount`` drawn that day (the loan's first row; the first drawdown gives the ``rate``);
* ``repayment``: ``amount`` of principal repaid that day;
* ``rate_change``: the annual ``rate`` from that day;
* ``interest_settled``: the interest the bank settled that day (``amount``) for the days since the last
  settlement and that day itself (結息日 settles its own day), and optionally the 貼息 it claims for them
  (``subsidy``).

A ``rate`` on another row (a bank's export repeats it) must be the rate in force that day, before or after
the day's rate change.

The engine rebuilds the balance and rate of every day, computes each settlement's interest (each day's
balance x rate / 360, or / 365 on ``act_365``, summed and rounded once) and its 貼息 under a rule, day by day
as the interest accrues, and sets them beside the bank's figures. A row that cannot be read, a ledger that
does not start with a drawdown, a repayment above the balance: each is reported with its row, ``loan_id``,
field and reason, and its loan is left out (``strict`` raises instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from subsidy_engine.core.columns import date_series, money_series
from subsidy_engine.core.dates import day_date
from subsidy_engine.core.ids import compared_ids
from subsidy_engine.core.money import MAX_ANNUAL_RATE, RATE_DECIMALS, fen_to_yuan, units_to_rate
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.core.vocabulary import InterestBasis, LedgerKind
from subsidy_engine.errors import PortfolioValidationError
from subsidy_engine.io.column_readers import (
    Rejections,
    blank_cells,
    checked_table,
    date_column,
    decimal_units,
    empty_rejections,
    enum_column,
    factorize_cells,
    problems_message,
)
from subsidy_engine.kernels.ledger import (
    CHECK_BEFORE_START,
    CHECK_NO_DRAWDOWN,
    CHECK_NO_FIRST_RATE,
    CHECK_RATE_NOT_IN_FORCE,
    CHECK_REPAID_ON_START,
    CHECK_SECOND_RATE_CHANGE,
    CHECK_SECOND_SETTLEMENT,
    CHECK_SETTLED_ON_START,
    ledger_checks,
    ledger_kernel,
    ledger_layout,
)
from subsidy_engine.loans.amortization import pointers, spans
from subsidy_engine.loans.contract import DAILY_BASES
from subsidy_engine.measures.interest_subsidy import subsidy_per_row
from subsidy_engine.params.policy import Policy
from subsidy_engine.params.rules import InterestSubsidyRule

LEDGER_COLUMNS = ("loan_id", "date", "kind", "amount", "rate", "subsidy")
_REQUIRED = ("loan_id", "date", "kind")
#: The words of each problem :func:`subsidy_engine.kernels.ledger.ledger_checks` finds, in the order they are reported.
_CHECKS = (
    (CHECK_NO_DRAWDOWN, "kind", "a loan's ledger starts with its first drawdown: this loan has none"),
    (CHECK_BEFORE_START, "date", "comes before the loan's first drawdown"),
    (CHECK_SETTLED_ON_START, "date",
     "is on the day the loan is drawn: its first settlement comes after that day (and settles it)"),
    (CHECK_REPAID_ON_START, "kind", "a repayment on the day of the loan's first drawdown comes before it"),
    (CHECK_NO_FIRST_RATE, "rate", "is missing: the first drawdown gives the rate the loan starts at"),
    (CHECK_RATE_NOT_IN_FORCE, "rate", ""),  # worded row by row: the rate stated and the rate in force
    (CHECK_SECOND_SETTLEMENT, "date", "one interest_settled a day for a loan: this is its second on that day"),
    (CHECK_SECOND_RATE_CHANGE, "date", "one rate_change a day for a loan: this is its second on that day"),
)
_DRAWDOWN, _REPAYMENT, _RATE_CHANGE, _SETTLED = (LedgerKind.DRAWDOWN.code, LedgerKind.REPAYMENT.code,
                                                 LedgerKind.RATE_CHANGE.code, LedgerKind.INTEREST_SETTLED.code)


@dataclass(frozen=True)
class LedgerResult:
    """Attributes
    ----------
    settlements : DataFrame
        One row per ``interest_settled`` row of a computed loan: ``loan_id, row`` (the ledger's row),
        ``start_date, end_date, days`` (the days it settles), ``interest`` (computed), ``bank_interest``
        (settled), ``interest_difference`` (bank less computed); with a rule ``subsidy`` (the 貼息 of those
        days, after the rule's caps), and when the ledger gives them ``bank_subsidy`` and
        ``subsidy_difference``. Money as exact decimals.
    rejections : DataFrame
        ``row, loan_id, field, reason`` for every problem; ``row`` is the ledger row's 0-based position, or the
        row its file shows (``file_rows``). Empty when every row was computed.
    provenance : Provenance
        Engine version and the hash of the rule used.
    notes : list of str
        What the result does not check, in words: loans with no settlement yet, a claimed 貼息 without a rule.
    """

    settlements: pd.DataFrame
    rejections: pd.DataFrame
    provenance: Provenance
    notes: list[str] = field(default_factory=list)

    @property
    def differences(self) -> pd.DataFrame:
        """The settlements where the bank's interest or claimed 貼息 differs from the computed."""
        s = self.settlements
        differ = s["interest_difference"] != 0
        if "subsidy_difference" in s.columns:
            differ |= s["subsidy_difference"].fillna(0) != 0
        return s[differ].reset_index(drop=True)


@dataclass(frozen=True)
class _Read:
    """The good rows of a ledger, sorted by loan, day and the day's order, as the kernel reads them."""

    loan_ids: list[str]  # per loan, in the order they first appear
    ev_ptr: np.ndarray
    position: np.ndarray  # per event: its row in the table
    day: np.ndarray
    kind: np.ndarray
    fen: np.ndarray
    rate: np.ndarray
    claimed: np.ndarray  # the bank's 貼息 on a settlement row, -1 when not given


def ledger_settlements(ledger: pd.DataFrame, rule: InterestSubsidyRule | Policy | None = None, *,
                       basis: InterestBasis | str = InterestBasis.ACT_360, strict: bool = False,
                       file_rows: np.ndarray | None = None) -> LedgerResult:
    """Each settlement of a bank's ledger: its interest and 貼息, computed, beside the bank's.

    Parameters
    ----------
    ledger : DataFrame
        ``loan_id, date, kind, amount, rate`` and optionally ``subsidy`` (see the module).
    rule : InterestSubsidyRule or Policy, optional
        The 貼息 to compute; its window starts on the rule's ``start_date`` or each loan's first drawdown. With a
        :class:`~subsidy_engine.params.policy.Policy`, each loan takes the rule in force on its first drawdown.
    basis : {"act_360", "act_365"}
        The days' share of a year (日利率 = 年利率/360 by default).
    strict : bool
        Raise :class:`~subsidy_engine.errors.PortfolioValidationError` if any row is rejected.
    file_rows : array of int, optional
        The row each ledger row has in its file, for the rejections (the 0-based position otherwise).

    Returns
    -------
    LedgerResult

    Notes
    -----
    A settlement's interest is ``round(sum over its days d of balance(d) x rate(d) / 360)``: the balance of a
    day counts what was drawn on or before it less what was repaid on or before it (算頭不算尾), and the rate
    is the one in force that day: a day's repayment, drawdown and rate change take effect that day, and a
    settlement settles the days since the last one and its own, at the balance and rate the day ends with. The
    貼息 accrues the same way, each day at ``min(points, rate)`` of
    the balance (``points_on_balance``) or of the principal drawn (``points_on_principal``), at
    ``max(benchmark - rate, 0)`` (``rate_gap``), or as a ``share`` of the settled interest for the settlement's
    days inside the window (``share_of_interest``), rounded once per settlement, then within the interest and
    the rule's caps (a year's cap in the year of the settlement).

    Examples
    --------
    >>> ledger = pd.DataFrame({
    ...     "loan_id": ["L1"] * 4,
    ...     "date": ["2025-01-10", "2025-02-20", "2025-03-01", "2025-03-21"],
    ...     "kind": ["drawdown", "repayment", "rate_change", "interest_settled"],
    ...     "amount": ["3600000", "1800000", None, "20160"],
    ...     "rate": ["0.036", None, "0.03", None]})
    >>> s = ledger_settlements(ledger).settlements  # the bank kept 3.6% after the rate change: 630.00 more
    >>> s[["end_date", "days", "interest", "bank_interest", "interest_difference"]].values.tolist()
    [[datetime.date(2025, 3, 21), 71, Decimal('19530.00'), Decimal('20160.00'), Decimal('630.00')]]
    """
    basis = InterestBasis.parse(basis)
    if basis not in DAILY_BASES:
        raise ValueError(f"basis: a ledger accrues each day's balance, on {' or '.join(b.value for b in DAILY_BASES)}")
    read, rejections = _read_ledger(ledger)
    loans = len(read.loan_ids)
    layout = _Layout.of(read)
    rows = int(layout.row_ptr[-1])
    start, rate, end_rate, interest, principal, bank = (np.zeros(rows, np.int64) for _ in range(6))
    k = _Computed(start, rate, end_rate, interest, principal, bank, settles=np.zeros(rows, np.bool_),
                  opening=np.zeros(loans, np.int64))
    failure = np.full(loans, -1, np.int64)
    if loans:
        ledger_kernel(read.ev_ptr, read.day, read.kind, read.fen, read.rate, np.full(loans, basis.code, np.int64),
                      layout.row_ptr, layout.row_day, k.start, k.rate, k.end_rate, k.interest, k.principal,
                      k.settles, k.bank, k.opening, failure)
    if isinstance(rule, Policy) and loans:  # a loan drawn where no parameter set is in force: refused alone
        first_day = read.day[read.ev_ptr[:-1]]
        outside = rule.outside(first_day) & (failure < 0)
        failure[outside] = read.ev_ptr[:-1][outside]
        rejections = _with_failures(rejections, read, failure, outside_of=rule)
    else:
        rejections = _with_failures(rejections, read, failure)
    shown = _shown(rejections, file_rows)
    if strict and len(shown):
        raise PortfolioValidationError(problems_message(shown, "the ledger", lambda r: f"row {r.row} (loan_id "
                                                                                       f"{r.loan_id!r})"), shown)
    good = np.flatnonzero(failure < 0)
    settlements = _settlements(read, good, layout, k, basis, rule, file_rows)
    notes = []
    unsettled = [read.loan_ids[j] for j in good[layout.settle_count[good] == 0]]
    if unsettled:
        many = len(unsettled) != 1
        notes.append(f"{len(unsettled):,} loan{'s' if many else ''} {'have' if many else 'has'} no settlement in "
                     f"the ledger yet, nothing to check: {', '.join(unsettled[:10])}{' ...' if len(unsettled) > 10 else ''}")
    if rule is None and (read.claimed >= 0).any():
        notes.append("the 貼息 the bank claims (subsidy) is not checked: no rule was given")
    return LedgerResult(settlements=settlements, rejections=shown,
                        provenance=Provenance.of(_digest(rule), f"basis={basis.value}"), notes=notes)


def _digest(rule: InterestSubsidyRule | Policy | None) -> str:
    if rule is None:
        return "no rule"
    return rule.digest if isinstance(rule, Policy) else rule.model_dump_json()


def _read_ledger(table: pd.DataFrame) -> tuple[_Read, pd.DataFrame]:
    """Read and check every cell; returns the good rows of the loans without a bad row, sorted, and the
    rejections of the bad rows (each loan with a bad row is left out whole)."""
    table = checked_table(table, "the ledger", LEDGER_COLUMNS, _REQUIRED)
    n = len(table)
    rej = Rejections(n)
    # each distinct cell normalised once (a ledger holds many rows per loan), and the loans numbered by it
    cell_code, cells = factorize_cells(table["loan_id"])
    normalised = np.array(compared_ids(cells.to_numpy(dtype=object)) + [None], dtype=object)
    id_code, uniques = pd.factorize(pd.Series(normalised, dtype=object), use_na_sentinel=True)
    loan_code = id_code[cell_code]  # the sentinel -1 picks the None at the end
    # a blank id (null, or only spaces) found among the distinct cells, not by a look at every row
    no_id = np.append(blank_cells(pd.Series(cells)), True)[cell_code]
    rej.add(no_id, "loan_id", "is missing")
    rej.add(~no_id & (loan_code < 0), "loan_id", "is not an id")
    day, _ = date_column(table["date"], "date", rej)
    rej.add(blank_cells(table["date"]), "date", "is missing")
    kind = enum_column(table["kind"], LedgerKind, "kind", None, rej, n, missing="is missing")

    def column(name: str, places: int, percent: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        if name not in table.columns:
            return np.zeros(n, np.int64), np.ones(n, bool)
        return decimal_units(table[name], places, name, rej, percent=percent)

    fen, no_amount = column("amount", 2)
    rate, no_rate = column("rate", RATE_DECIMALS, percent=True)  # an annual rate: "3.85%" as in a loan table
    claimed, no_claim = column("subsidy", 2)
    moves = (kind == _DRAWDOWN) | (kind == _REPAYMENT)
    rej.add(moves & no_amount & ~rej.bad, "amount", "is missing: a drawdown or a repayment gives its amount")
    rej.add(moves & ~no_amount & (fen <= 0), "amount", "must be positive (at least 0.01 yuan)")
    rej.add((kind == _SETTLED) & no_amount & ~rej.bad, "amount", "is missing: the interest the bank settled")
    rej.add((kind == _SETTLED) & ~no_amount & (fen < 0), "amount", "must not be negative")
    rej.add((kind == _RATE_CHANGE) & ~no_amount, "amount", "is only given on a drawdown, a repayment or a settlement")
    rej.add((kind == _RATE_CHANGE) & no_rate & ~rej.bad, "rate", "is missing: a rate_change gives the new rate")
    rej.add(~no_rate & ((rate < 0) | (rate > int(MAX_ANNUAL_RATE.scaleb(RATE_DECIMALS)))), "rate",
            "is not an annual rate between 0 and 1 (0.0385 = 3.85%)")
    rej.add((kind != _SETTLED) & (kind >= 0) & ~no_claim, "subsidy", "is only given on an interest_settled row")
    rej.add(~no_claim & (claimed < 0), "subsidy", "must not be negative")

    # every row of a loan with a bad row is left out: its days cannot be rebuilt
    bad_loans = np.unique(loan_code[rej.bad & (loan_code >= 0)])
    keep = ~rej.bad & (loan_code >= 0) & ~np.isin(loan_code, bad_loans)
    # sorted by loan (first appearance), day, and the day's order (LedgerKind's)
    good = np.flatnonzero(keep)
    in_place = good.size == n  # every row good and none reordered: the columns themselves, not copies

    def pick(column: np.ndarray) -> np.ndarray:  # the good rows in order
        return column if in_place else column[good]

    # one int64 key a row: loan (first appearance), day, the day's order, and among a day's drawdowns the one
    # giving a rate first (a ledger exported newest first reads as one oldest first); one in order is not sorted
    if good.size:
        days, kinds = pick(day), pick(kind)
        key = ((pick(loan_code).astype(np.int64) << 35) + ((days - days.min()) << 3) + (kinds << 1)
               + ((kinds == _DRAWDOWN) & pick(no_rate)))
        if (key[1:] < key[:-1]).any():
            good = good[np.argsort(key, kind="stable")]
            in_place = False
    codes = pick(loan_code)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if good.size else np.zeros(0, np.int64)
    ev_ptr = np.append(starts, good.size).astype(np.int64)
    loan_ids = [str(v) for v in np.asarray(uniques, dtype=object)[codes[starts]].tolist()]
    read = _Read(loan_ids, ev_ptr, good, pick(day), pick(kind), pick(fen), pick(rate),
                 pick(np.where(no_claim, -1, claimed)))
    problems = Rejections(n)
    bits = np.empty(good.size, np.int64)
    rate_before = np.empty(good.size, np.int64)
    if good.size:
        ledger_checks(ev_ptr, read.day, read.kind, read.rate, pick(no_rate), bits, rate_before)
    for bit, field_name, words in _CHECKS if bits.any() else ():
        where = (bits & bit) != 0
        if not where.any():
            continue
        mask = np.zeros(n, bool)
        mask[good[where]] = True
        reason: str | np.ndarray = words
        if bit == CHECK_RATE_NOT_IN_FORCE:  # worded row by row
            reason = np.full(n, None, dtype=object)
            for k in np.flatnonzero(where):
                reason[good[k]] = (f"{units_to_rate(int(read.rate[k])).normalize()} is not the rate in force on "
                                   f"{day_date(int(read.day[k]))} ({units_to_rate(int(rate_before[k])).normalize()}): "
                                   "a new rate is a rate_change row")
        problems.add(mask, field_name, reason)
    read = _drop(read, problems.bad)
    if not rej.items and not problems.items:
        return read, empty_rejections("loan_id")
    named = pd.Series(normalised[cell_code], name="loan_id", dtype=object)
    frame = pd.concat([rej.frame(named), problems.frame(named)], ignore_index=True).sort_values(
        ["row", "field"], kind="stable", ignore_index=True)
    return read, frame


def _drop(read: _Read, bad_rows: np.ndarray) -> _Read:
    """``read`` without the loans that have a row in ``bad_rows`` (a mask over the table's rows)."""
    if not bad_rows.any():
        return read
    loan_of_event = np.repeat(np.arange(len(read.loan_ids), dtype=np.int64), np.diff(read.ev_ptr))
    bad_loans = np.unique(loan_of_event[bad_rows[read.position]])
    keep_loan = ~np.isin(np.arange(len(read.loan_ids)), bad_loans)
    keep = keep_loan[loan_of_event]
    return _Read([x for x, k in zip(read.loan_ids, keep_loan) if k], pointers(np.diff(read.ev_ptr)[keep_loan]),
                 read.position[keep], read.day[keep], read.kind[keep], read.fen[keep], read.rate[keep],
                 read.claimed[keep])


@dataclass(frozen=True)
class _Layout:
    """Where each loan's rows and balance changes go (:func:`~subsidy_engine.kernels.ledger.ledger_layout`)."""

    row_ptr: np.ndarray  # per loan: its rows, the distinct days after its first drawdown's with a settlement or a
    row_day: np.ndarray  # rate change
    move_ptr: np.ndarray  # per loan: its balance changes after the opening (later drawdowns +, repayments -)
    move_day: np.ndarray
    move_amount: np.ndarray
    settle_count: np.ndarray  # per loan: its settlements

    @classmethod
    def of(cls, read: _Read) -> _Layout:
        loans = len(read.loan_ids)
        counts = [np.zeros(loans, np.int64) for _ in range(3)]
        nothing = np.zeros(0, np.int64)
        if loans:  # counted, then written where the counts' pointers say
            ledger_layout(read.ev_ptr, read.day, read.kind, read.fen, False, *counts, nothing, nothing, nothing,
                          nothing, nothing)
        row_count, move_count, settle_count = counts
        row_ptr, move_ptr = pointers(row_count), pointers(move_count)
        layout = cls(row_ptr, np.empty(int(row_ptr[-1]), np.int64), move_ptr, np.empty(int(move_ptr[-1]), np.int64),
                     np.empty(int(move_ptr[-1]), np.int64), settle_count)
        if loans:
            ledger_layout(read.ev_ptr, read.day, read.kind, read.fen, True, *counts, row_ptr, layout.row_day,
                          move_ptr, layout.move_day, layout.move_amount)
        return layout


@dataclass(frozen=True)
class _Computed:
    """What the ledger kernel computed: per row (:class:`_Layout`), and each loan's opening balance."""

    start: np.ndarray  # the first day of the settlement the row belongs to
    rate: np.ndarray
    end_rate: np.ndarray  # the rate the row's day ends with
    interest: np.ndarray
    principal: np.ndarray
    bank: np.ndarray  # the bank's settled interest (-1: not a settlement)
    settles: np.ndarray
    opening: np.ndarray  # per loan


def _with_failures(rejections: pd.DataFrame, read: _Read, failure: np.ndarray, outside_of: Policy | None = None
                   ) -> pd.DataFrame:
    """The rejections with the repayments the kernel found above the balance, and the loans drawn outside the
    policy ``outside_of`` (their first drawdown is their failing event)."""
    failed = np.flatnonzero(failure >= 0)
    if not failed.size:
        return rejections
    extra = []
    for j in failed:
        e = int(failure[j])
        if outside_of is not None and e == read.ev_ptr[j] and bool(outside_of.outside(read.day[e:e + 1])[0]):
            extra.append((int(read.position[e]), read.loan_ids[j], "date",
                          f"the loan's first drawdown: no parameters in force then ({outside_of.coverage_text()})"))
        elif read.kind[e] == _REPAYMENT:
            reason = f"{fen_to_yuan(int(read.fen[e]))} is more than the balance then"
            extra.append((int(read.position[e]), read.loan_ids[j], "amount", reason))
        else:
            extra.append((int(read.position[e]), read.loan_ids[j], "kind",
                          "a repayment on the day of the first drawdown comes before it"))
    more = pd.DataFrame(extra, columns=["row", "loan_id", "field", "reason"])
    return pd.concat([rejections, more], ignore_index=True).sort_values(["row", "field"], kind="stable",
                                                                        ignore_index=True)


def _shown(rejections: pd.DataFrame, file_rows: np.ndarray | None) -> pd.DataFrame:
    if not len(rejections):
        return empty_rejections("loan_id")
    if file_rows is None:
        return rejections
    return rejections.assign(row=np.asarray(file_rows)[rejections["row"].to_numpy()])


def _settlements(read: _Read, good: np.ndarray, layout: _Layout, computed: _Computed, basis: InterestBasis,
                 rule: InterestSubsidyRule | Policy | None, file_rows: np.ndarray | None) -> pd.DataFrame:
    """The settlement rows of the computed loans, and their 貼息 under ``rule``."""
    loans = len(read.loan_ids)
    counts = np.diff(layout.row_ptr)
    good = good[counts[good] > 0]  # a loan with no settlement or rate change yet has no row
    every_loan = good.size == loans  # the usual case: every row and change kept, the arrays used as they are
    keep_row = np.ones(0, bool) if every_loan else np.repeat(np.isin(np.arange(loans), good), counts)

    def kept_rows_of(column: np.ndarray) -> np.ndarray:
        return column if every_loan else column[keep_row]

    start_day = read.day[read.ev_ptr[:-1][good]]
    move_ptr = layout.move_ptr if every_loan else pointers(np.diff(layout.move_ptr)[good])
    moves = slice(None) if every_loan else spans(layout.move_ptr, good)
    periods = counts[good]
    kept_rows = int(periods.sum())
    # each row its own rate segment, and the rate its day ends with (after that day's rate change) one more
    f = {"end_day": kept_rows_of(layout.row_day).astype(np.int32), "segment": np.arange(kept_rows, dtype=np.int32),
         "segment_rate": np.concatenate([kept_rows_of(computed.rate), kept_rows_of(computed.end_rate)]),
         "end_segment": np.arange(kept_rows, 2 * kept_rows, dtype=np.int32),
         "interest": kept_rows_of(computed.interest), "principal": kept_rows_of(computed.principal),
         "settles": kept_rows_of(computed.settles), "loan_start_day": start_day.astype(np.int32),
         "loan_opening": computed.opening[good], "loan_basis": np.full(good.size, basis.code, np.int64),
         "loan_due_day": np.ones(good.size, np.int64), "loan_interest_months": np.ones(good.size, np.int64),
         "event_ptr": move_ptr, "event_day": layout.move_day[moves], "event_amount": layout.move_amount[moves]}
    chosen = np.flatnonzero(f["settles"])
    loan_of_settlement = np.repeat(np.arange(good.size, dtype=np.int64), periods)[chosen]
    ends = f["end_day"][chosen].astype(np.int64)
    starts = kept_rows_of(computed.start)[chosen]
    settle_event = read.kind == _SETTLED  # a settlement a settling row, in order: one a loan a day, none on its start
    if not every_loan:
        settle_event &= np.repeat(np.isin(np.arange(loans), good), np.diff(read.ev_ptr))
    positions = read.position[settle_event]
    shown_rows = positions if file_rows is None else np.asarray(file_rows)[positions]
    bank = kept_rows_of(computed.bank)[chosen]
    interest = f["interest"][chosen]
    columns: dict[str, object] = {
        # taken in Arrow from the loans' ids: no Python string a settlement (1.9M at 100k ledgers: 0.16 s -> 0.02 s)
        "loan_id": pd.Series(pa.array(read.loan_ids, pa.large_string()).take(good[loan_of_settlement]), dtype="str"),
        "row": shown_rows,
        "start_date": date_series(starts), "end_date": date_series(ends),
        "days": ends - starts + 1,
        "interest": money_series(interest),
        "bank_interest": money_series(bank),
        "interest_difference": money_series(bank - interest),
    }
    if rule is not None:
        paid = subsidy_per_row(f, periods, rule)
        columns["subsidy"] = money_series(paid[chosen])
        claimed = read.claimed[settle_event]
        if (claimed >= 0).any():
            given = claimed >= 0
            columns["bank_subsidy"] = _money_or_blank(claimed, given)
            columns["subsidy_difference"] = _money_or_blank(claimed - paid[chosen], given)
    return pd.DataFrame(columns)


def _money_or_blank(fen: np.ndarray, given: np.ndarray) -> pd.Series:
    values = money_series(np.where(given, fen, 0)).astype(object)
    values[~given] = None
    return values


__all__ = ["LEDGER_COLUMNS", "LedgerResult", "ledger_settlements"]


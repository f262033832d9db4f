"""Decided awards: rewards (measure 1), research funding (measure 5) and other decided amounts (issue 21).

78號 names outlays whose amounts are decided project by project, with no
formula to compute them: measure 1 supports economic-domain projects with
rewards (獎勵); measure 5 supports core-technology research through research
project funding (科研項目(課題)經費). The bureau knows the decisions; the engine
takes them as a table and pays them as claims, so that they count in every
total, go through stacking and allocation, and are explained.

The ``awards`` table, one row per decision:

* ``award_id``, ``enterprise_id``, optional ``project_id``;
* ``kind``: ``reward`` (measure 1), ``research_funding`` (measure 5) or
  ``other`` (a decided amount under the ``measure`` the row gives, 1 to 15);
* ``measure``: optional for a reward (1) and research funding (5), where it
  must be that measure; needed for ``other``;
* ``amount`` (yuan, positive) and ``decision_date``;
* the payment plan: ``first_payment_year`` (default: the decision's year, and
  never before it) and ``payment_years`` (default 1, at most 10). The amount is
  paid in equal yearly parts, exact to the fen: each year
  ``floor(amount / payment_years)`` and the fen left over go one each to the
  earliest years (*award split*, :func:`split_evenly`), so the parts add up to
  the amount.

Each payment is a claim of the award's instrument (``reward``,
``research_funding``, ``other_award``) in its year, anchored on the decision
date: a decision the parameters do not cover is rejected, and the claim names
the set in force on it. Stacking reads, as for every claim of a project, the
set in force on the project's start: a parameter file may put these
instruments in a most-favourable group or under the total cap. A decided
amount has no rule of its own to cut it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from subsidy_engine.io import column_readers
from subsidy_engine.kernels.calendar import years_of
from subsidy_engine.measures.claims import ClaimRows, read_items
from subsidy_engine.params.policy import MEASURE_OF, Instrument, Policy

#: Each kind of award, the instrument its payments are claims of, and the measure it pays under (``other``: the
#: row's own).
AWARD_KINDS = ("reward", "research_funding", "other")
AWARD_INSTRUMENT: dict[str, Instrument] = {"reward": "reward", "research_funding": "research_funding",
                                           "other": "other_award"}
KIND_MEASURE = {kind: MEASURE_OF[instrument] for kind, instrument in AWARD_INSTRUMENT.items() if instrument in MEASURE_OF}
AWARD_COLUMNS = ("award_id", "enterprise_id", "project_id", "measure", "kind", "amount", "decision_date",
                 "first_payment_year", "payment_years")
#: The columns an awards table must have.
AWARD_REQUIRED = ("award_id", "enterprise_id", "kind", "amount", "decision_date")
#: The longest payment plan read: a decision is paid within ten years.
MAX_PAYMENT_YEARS = 10


def split_evenly(amount_fen: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Each amount in ``parts`` equal yearly parts to the fen (*award split*): ``floor(amount / parts)`` each,
    and the fen left over one each to the earliest years; the parts of an amount, in order, flattened.

    >>> split_evenly(np.array([1001, 600]), np.array([3, 2])).tolist()
    [334, 334, 333, 300, 300]
    """
    base, left = np.divmod(amount_fen, parts)
    position = np.arange(int(parts.sum())) - np.repeat(np.cumsum(parts) - parts, parts)
    return np.repeat(base, parts) + (position < np.repeat(left, parts))


def read_awards(table: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    """The awards table's arrays (``kind``, ``measure``, ``fen``, ``day``, ``first_year``, ``years``), its
    accepted rows and its rejections (each bad cell: row, ``award_id``, field, reason)."""
    table, rej = column_readers.rows_to_read(table, "awards", AWARD_COLUMNS, AWARD_REQUIRED, "award_id")
    n = len(table)
    kind = column_readers.vocabulary_codes(table["kind"], AWARD_KINDS, "kind", rej, n)
    measure, no_measure = column_readers.optional_int_column(table, "measure", rej, 0)
    fixed = np.array([KIND_MEASURE.get(k, 0) for k in AWARD_KINDS] + [0])[kind]  # 0: the row's (other, unknown)
    rej.add((fixed > 0) & ~no_measure & (measure != fixed), "measure",
            "is not the kind's measure (a reward is measure 1, research funding measure 5)")
    other = kind == AWARD_KINDS.index("other")
    blank_measure = column_readers.blank_cells(table["measure"]) if "measure" in table.columns else np.ones(n, bool)
    rej.add(other & blank_measure, "measure", "is needed for an award of kind 'other'")  # unreadable: said already
    rej.add(other & ~no_measure & ((measure < 1) | (measure > 15)), "measure", "is not a measure of 78號 (1 to 15)")
    measure = np.where(fixed > 0, fixed, measure)
    fen, no_fen = column_readers.decimal_units(table["amount"], 2, "amount", rej)
    rej.add(~no_fen & (fen <= 0), "amount", "must be positive (at least 0.01 yuan)")
    day, _ = column_readers.date_column(table["decision_date"], "decision_date", rej)
    decision_year = years_of(day)
    first, no_first = column_readers.optional_int_column(table, "first_payment_year", rej, 0)
    first = np.where(no_first, decision_year, first)
    rej.add(~no_first & (first < decision_year), "first_payment_year", "is before the year of the decision")
    rej.add(~no_first & (first > 2100), "first_payment_year", "is after 2100")
    years, no_years = column_readers.optional_int_column(table, "payment_years", rej, 1)
    rej.add(~no_years & ((years < 1) | (years > MAX_PAYMENT_YEARS)), "payment_years",
            "is not 1 to 10 (the years the amount is paid over)")  # MAX_PAYMENT_YEARS, as the words say it
    plan = (years >= 1) & (years <= MAX_PAYMENT_YEARS)
    rej.add(plan & (first <= 2100) & (first + years - 1 > 2100), "payment_years",
            "makes the last payment after 2100")
    rej.add(plan & ~no_fen & (fen > 0) & (fen < years), "amount",
            "is less than a fen for each year of payment_years")
    out = {"kind": kind, "measure": measure, "fen": fen, "day": day, "first_year": first, "years": years}
    good = np.flatnonzero(~rej.bad)
    return column_readers.accepted_rows(out, good, n), good, rej.frame(table["award_id"])


def award_claim_rows(awards: pd.DataFrame, policy: Policy, *, read: column_readers.Read | None = None) -> ClaimRows:
    """The payments of an awards table, money in fen (``read``: the table as :func:`read_awards` read it already)."""
    arrays, table, rejections = read_items(awards, AWARD_COLUMNS, read_awards, read)
    ids = {name: table[name] if name in table else None for name in ("award_id", "enterprise_id", "project_id")}
    return award_rows(arrays, ids, rejections, policy)


def award_rows(arrays: dict[str, np.ndarray], ids: Mapping[str, Any], rejections: pd.DataFrame,
               policy: Policy) -> ClaimRows:
    """The payments of the awards read into ``arrays`` (:func:`read_awards`): one row per award and year, money in
    fen; ``ids`` holds their ``award_id, enterprise_id`` and ``project_id`` (or None) columns."""
    years = arrays["years"]
    of = np.repeat(np.arange(years.shape[0]), years)  # each payment's award
    year = arrays["first_year"][of] + (np.arange(of.shape[0]) - np.repeat(np.cumsum(years) - years, years))
    paid = split_evenly(arrays["fen"], years)
    set_index = policy.set_index(arrays["day"])  # the set in force on the decision date
    kind = arrays["kind"]
    instrument = np.array([AWARD_INSTRUMENT[k] for k in AWARD_KINDS], dtype=object)[kind]

    def per_payment(value: Any) -> Any:
        if value is None:
            return None
        return (value.take(of).reset_index(drop=True) if isinstance(value, pd.Series) else np.asarray(value)[of])

    return ClaimRows(columns={
        "award_id": per_payment(ids["award_id"]), "enterprise_id": per_payment(ids["enterprise_id"]),
        "project_id": per_payment(ids["project_id"]),
        "measure": arrays["measure"][of].astype(np.int32), "instrument": instrument[of],
        "kind": np.array(AWARD_KINDS, dtype=object)[kind][of],
        "decision_date": arrays["day"][of], "year": year.astype(np.int32),
        "gross": paid, "amount": paid.copy(),
        "parameter_set": np.array([s.id for s in policy.sets], dtype=object)[set_index][of],
    }, money=("gross", "amount"), dates=("decision_date",), paid=np.ones(of.shape[0], bool), id_column="award_id",
        reasons=np.full(of.shape[0], None, dtype=object), rejections=rejections, digest=policy.digest,
        internal={"of": of, "set_index": set_index[of], "payment_years": years[of], "award_fen": arrays["fen"][of]})


__all__ = ["AWARD_COLUMNS", "AWARD_KINDS", "AWARD_REQUIRED", "award_claim_rows", "award_rows", "read_awards", "split_evenly"]

"""One-off grants on events: REITs issuance (measure 13) and listings (measure 14).

Measure 13 gives a one-off subsidy (一次性補貼) to a successful infrastructure
REITs issuance; measure 14 gives municipal grants (市級補貼) to enterprises that
list on the A-share market, the NEEQ select tier or directly abroad. 78號 sets no
amounts; the defaults are district and other-city figures (policy-78.yaml).

The rules, each rounding named:

* **REITs** (per ``reits_issuance`` event): ``flat`` pays the flat amount;
  ``share_of_raised`` pays ``min(round(share x amount_raised), cap)``
  (*grant rounding*, half-up). The share mode needs ``amount_raised``.
* **Listing** (per ``listing`` event, at a ``stage`` of a ``venue``): the
  tranche of that stage. A stage with no tranche for the venue, or one the
  enterprise was already granted for that venue, pays nothing and is listed in
  ``not_paid`` with the reason. An enterprise's listing grants together stay
  within the lifetime cap, paid in order of event date, then event_id.
* Each event is evaluated under the parameter set in force on its date.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator

from subsidy_engine.core.dates import as_date, epoch_days
from subsidy_engine.core.fields import STRICT_MODEL, Money
from subsidy_engine.core.money import rate_to_units, yuan_to_fen
from subsidy_engine.core.vocabulary import STAGES, VENUES, ListingStage, Venue
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.calendar import years_of
from subsidy_engine.kernels.caps import NO_CAP, cap_fen, pay_under_group_caps, share_of_amounts
from subsidy_engine.measures.claims import ClaimRows, ClaimsResult, read_items
from subsidy_engine.params.policy import MEASURE_OF, ParameterSet, Policy, rules_in_force
from subsidy_engine.params.rules import GrantRules

KINDS = ("reits_issuance", "listing")


class Event(BaseModel):
    """A REITs issuance or a listing step (a row of the ``events`` table)."""

    model_config = STRICT_MODEL

    event_id: str
    kind: Literal["reits_issuance", "listing"]
    enterprise_id: str
    project_id: str | None = None
    venue: Venue | None = None
    stage: ListingStage | None = None
    date: Annotated[date, BeforeValidator(as_date)]
    amount_raised: Money | None = None


EVENT_COLUMNS = ("event_id", "kind", "enterprise_id", "project_id", "venue", "stage", "date", "amount_raised")
#: The columns an events table must have.
EVENT_REQUIRED = ("event_id", "kind", "enterprise_id", "date")


def read_events(table: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    table, rej = column_readers.rows_to_read(table, "events", EVENT_COLUMNS, EVENT_REQUIRED, "event_id")
    n = len(table)
    out = {"kind": column_readers.vocabulary_codes(table["kind"], KINDS, "kind", rej, n),
           "venue": column_readers.vocabulary_codes(table.get("venue"), VENUES, "venue", rej, n),
           "stage": column_readers.vocabulary_codes(table.get("stage"), STAGES, "stage", rej, n)}
    listing = out["kind"] == 1
    for name in ("venue", "stage"):  # an unknown word is already reported: only blanks are "needed"
        blank = column_readers.blank_cells(table[name]) if name in table.columns else np.ones(n, bool)
        rej.add(listing & blank, name, "is needed for a listing event")
    rej.add((out["kind"] == 0) & ((out["venue"] >= 0) | (out["stage"] >= 0)), "venue, stage",
            "are only given for listing events")
    if "amount_raised" in table.columns:
        raised, no_raised = column_readers.decimal_units(table["amount_raised"], 2, "amount_raised", rej)
        rej.add(~no_raised & (raised <= 0), "amount_raised", "must be positive")
    else:
        raised, no_raised = np.zeros(n, np.int64), np.ones(n, bool)
    out["raised"], out["no_raised"] = raised, no_raised
    out["day"], _ = column_readers.date_column(table["date"], "date", rej)
    good = np.flatnonzero(~rej.bad)
    return column_readers.accepted_rows(out, good, n), good, rej.frame(table["event_id"])


def event_grants(events: pd.DataFrame | list[Event], rules: Policy | GrantRules) -> ClaimsResult:
    """REITs (measure 13) and listing (measure 14) grants of every event.

    Returns
    -------
    ClaimsResult
        ``claims``: event_id, enterprise_id, project_id, measure, instrument,
        date, year, gross, amount, cut_by_lifetime_cap, parameter_set;
        ``not_paid``: event_id, reason.

    Examples
    --------
    >>> from subsidy_engine import load_policy
    >>> events = [Event(event_id="1", kind="listing", enterprise_id="E", venue="a_share_ipo",
    ...                 stage="acceptance", date="2024-05-06"),
    ...           Event(event_id="2", kind="listing", enterprise_id="E", venue="a_share_ipo",
    ...                 stage="listing", date="2025-03-18"),
    ...           Event(event_id="3", kind="reits_issuance", enterprise_id="F", date="2024-08-01")]
    >>> event_grants(events, load_policy()).claims[["event_id", "measure", "amount"]].values.tolist()
    [['1', 14, Decimal('3000000.00')], ['2', 14, Decimal('3000000.00')], ['3', 13, Decimal('6000000.00')]]
    """
    return ClaimsResult.of(event_grant_rows(events, rules))


def event_arrays(events: Sequence[Event]) -> dict[str, np.ndarray]:
    """The arrays of :func:`read_events` for validated models that :func:`read_events` would accept
    (a listing step with its venue and stage, a REITs issuance without, a positive amount raised)."""
    n = len(events)

    def codes(words: tuple[str, ...], values: Iterable[str | None]) -> np.ndarray:
        return np.fromiter((-1 if v is None else words.index(v) for v in values), np.int64, n)

    return {"kind": codes(KINDS, (e.kind for e in events)), "venue": codes(VENUES, (e.venue for e in events)),
            "stage": codes(STAGES, (e.stage for e in events)),
            "raised": np.fromiter((0 if e.amount_raised is None else yuan_to_fen(e.amount_raised) for e in events),
                                  np.int64, n),
            "no_raised": np.fromiter((e.amount_raised is None for e in events), bool, n),
            "day": np.fromiter((epoch_days(e.date) for e in events), np.int64, n)}


def event_grant_rows(events: pd.DataFrame | list[Event], rules: Policy | GrantRules, *,
                     read: column_readers.Read | None = None) -> ClaimRows:
    """:func:`event_grants` as arrays (money in fen), for :func:`subsidy_engine.evaluate` (``read``: the table
    as :func:`read_events` read it already)."""
    arrays, table, rejections = read_items(events, EVENT_COLUMNS, read_events, read)
    ids = {name: table[name] if name in table else None for name in ("event_id", "enterprise_id", "project_id")}
    return grant_rows(arrays, ids, rejections, rules)


def grant_rows(arrays: dict[str, np.ndarray], ids: Mapping[str, Any], rejections: pd.DataFrame,
               rules: Policy | GrantRules) -> ClaimRows:
    """The grants of events read into ``arrays`` (:func:`read_events` or :func:`event_arrays`); ``ids``
    holds their ``event_id, enterprise_id`` and ``project_id`` (or None) columns, as Series or arrays."""
    n = arrays["day"].shape[0]
    event_text = np.asarray(ids["event_id"], dtype=str)
    enterprise = pd.factorize(ids["enterprise_id"])[0]
    in_force = rules_in_force(rules, arrays["day"], ParameterSet.grant_rules)
    set_index, rule_list, digest = in_force.set_index, in_force.rules, in_force.digest

    gross = np.zeros(n, np.int64)
    reason = np.full(n, None, dtype=object)
    # measure 13: REITs issuance
    reits = arrays["kind"] == 0
    share_mode = in_force.per_item(lambda r: r.reits.mode == "share_of_raised", bool) & reits
    flat = in_force.per_item(lambda r: yuan_to_fen(r.reits.flat_amount))
    gross[reits & ~share_mode] = flat[reits & ~share_mode]
    reason[share_mode & arrays["no_raised"]] = "share_of_raised mode needs amount_raised"
    computable = share_mode & ~arrays["no_raised"]
    share = in_force.per_item(lambda r: rate_to_units(r.reits.share_of_raised))
    accrued = np.empty(n, np.int64)
    share_of_amounts(arrays["raised"], np.where(computable, share, 0), True, accrued)  # the grant rounding
    cap = in_force.per_item(lambda r: yuan_to_fen(r.reits.share_cap))
    gross[computable] = np.minimum(accrued, cap)[computable]  # grant rounding, then the cap

    # measure 14: listing tranches, once per enterprise, venue and stage
    listing = arrays["kind"] == 1
    tranche = np.full((len(rule_list), len(VENUES), len(STAGES)), -1, np.int64)
    for k, r in enumerate(rule_list):
        for v, stages in r.listing.tranches.items():
            for s, yuan in stages.items():
                tranche[k, VENUES.index(v), STAGES.index(s)] = yuan_to_fen(yuan)
    amount = np.where(listing, tranche[set_index, np.maximum(arrays["venue"], 0),
                                       np.maximum(arrays["stage"], 0)], 0)
    reason[listing & (amount < 0)] = "no tranche for this stage of this venue"
    order = np.lexsort((event_text, arrays["day"]))
    candidate = listing & (amount >= 0)
    # only payable steps count as granted: others get a key of their own
    key = np.where(candidate, (enterprise * len(VENUES) + arrays["venue"]) * len(STAGES) + arrays["stage"],
                   -1 - np.arange(n))
    repeated = np.ones(n, bool)
    repeated[order[np.unique(key[order], return_index=True)[1]]] = False  # the first of each key is granted
    repeated &= candidate
    reason[repeated] = "this stage of this venue was already granted to the enterprise"
    payable = listing & (amount >= 0) & ~repeated
    gross[payable] = amount[payable]

    # the lifetime cap on an enterprise's listing grants, earliest events first
    cap_order = np.lexsort((event_text, arrays["day"], enterprise))
    life_cap = in_force.per_item(lambda r: cap_fen(r.listing.lifetime_cap_per_enterprise))
    life_cap = np.where(listing, life_cap, NO_CAP)
    amounts_sorted = np.where(listing, gross, 0)[cap_order]
    group_start = np.ones(n, np.bool_)
    group_start[1:] = enterprise[cap_order][1:] != enterprise[cap_order][:-1]
    paid_sorted = np.empty(n, np.int64)
    pay_under_group_caps(amounts_sorted, life_cap[cap_order], group_start, paid_sorted)
    paid = gross.copy()
    paid[cap_order[listing[cap_order]]] = paid_sorted[listing[cap_order]]

    granted = np.equal(reason, None)  # type: ignore[call-overload]  # numpy stubs: a ufunc refuses None (an object scalar)
    days = arrays["day"].copy()  # the result's own: the arrays read are shared with every evaluation of the table
    return ClaimRows(columns={
        "event_id": ids["event_id"], "enterprise_id": ids["enterprise_id"], "project_id": ids["project_id"],
        "measure": np.where(reits, MEASURE_OF["reits_grant"], MEASURE_OF["listing_grant"]).astype(np.int32),
        "instrument": np.where(reits, "reits_grant", "listing_grant"),
        "date": days,
        "year": years_of(days).astype(np.int32),
        "gross": gross, "amount": paid, "cut_by_lifetime_cap": gross - paid,
        "parameter_set": np.array(in_force.ids, dtype=object)[set_index],
    }, money=("gross", "amount", "cut_by_lifetime_cap"), dates=("date",), paid=granted, id_column="event_id",
        reasons=reason, rejections=rejections, digest=digest,
        internal={"set_index": set_index, "venue": arrays["venue"].copy(), "stage": arrays["stage"].copy()})


__all__ = ["Event", "event_arrays", "event_grant_rows",
           "event_grants", "grant_rows"]

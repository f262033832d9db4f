"""Budget-cap allocation of claims across funding sources: :func:`allocate` -> :class:`Allocation`.

Claims (what :func:`subsidy_engine.evaluate` says the policy pays) usually
exceed what each fund holds "within the annual budget" (78號, closing
paragraph). ``allocate`` decides, per year and funding source, who gets how
much, and says for every claim why it was cut.

What happens to a claim, in order:

1. **Co-funding.** A claim that a district source may pay is split between the
   municipal and the district level in the ratio 1 : ``matching_share``
   (:mod:`subsidy_engine.params.budget`), exactly to the fen. Each part is funded
   separately, by the sources of its level in the budget file's order; what
   one source does not pay passes to the next one that may pay it.
2. **Commitment.** An item claiming over several years (a loan's 貼息, a
   policy's premium subsidy) is approved in its first year with a claim and
   committed for all its years at once, at the same share of each year: later
   years' caps shrink by the commitments. Unspent money of a year carries to
   the next where the source allows it (``carry_over``), and lapses otherwise.
3. **Per-group caps.** A source's ``per_project_cap`` / ``per_enterprise_cap``
   (per year) limits what it pays a project / an enterprise (each claim's
   own); items take them in the order in which they are funded (so library
   projects first). An item's eligibility and tier are those of its first
   claim (evaluate gives every claim of an item the same attributes).
4. **Who gets the money** (``mode``):

   ``"waterfall"``
       In each year, each source funds its newly approved items tier by tier
       (the budget's ``priority_tiers``; by default library projects first,
       78號 measure 2). A tier that fits is paid in full; the tier where the
       money runs out shares it pro rata (the same share of every item, fixed
       by the year that binds), fen-exact by the largest remainder. Later
       tiers get what is left.
   ``"merit"`` (擇優)
       The same, one item at a time in order of the project's ``merit_score``
       with the budget's ``merit_points`` for its list flags (highest first;
       equal scores: library projects first, 78號 measure 2:
       同等條件下優先支持; then the item's id). The item at which the money
       runs out gets what is left. Items without a score come last.
   ``"optimal"``
       A linear program (scipy's HiGHS) over every eligible (item, source)
       pair: first the largest total funded under every cap, carry-over and
       eligibility rule; then, keeping that total, the largest sum over the
       sources and approval years of the smallest share funded among the items
       each may pay (the fairness rule; stage 2 keeps the total to 0.001 fen
       where the solver allows it). Shares are uniform over an item's years
       (the commitment rule). The solution is rounded down to the fen (a fen
       the solver's tolerance let pass a limit is taken back) and the fen left
       in each source-year go by the largest remainder where no limit breaks;
       a few fen may stay unspent.

       HiGHS works under a time limit over the whole allocation
       (``time_limit``, :data:`TIME_LIMIT` seconds by default). Reached in the
       fairness stage, the awards keep the largest total without the fairness
       rule; reached before the largest total, they are the waterfall's (the
       budget's priority tiers). Either way they are rounded and checked as
       above, and ``Allocation.notes`` says so.

Ties and orders never depend on the row order of the input: items are keyed by
``instrument:item_id`` (or ``claim_id``) and ordered by that text.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from subsidy_engine.budgeting.plan import (
    Plan,
    Records,
    build_plan,
    cap_exceeded,
    claims_for,
    per_source_year,
    run_plan,
)
from subsidy_engine.core.columns import money_series
from subsidy_engine.core.language import Lang, Sentence, source_name, text
from subsidy_engine.core.language import name as language_name
from subsidy_engine.core.provenance import Provenance
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.allocate import FULL, GROUP_CAP, SOURCE_CAP
from subsidy_engine.params.budget import Budget, load_budget
from subsidy_engine.pipeline.evaluate import Claims

Mode = Literal["waterfall", "merit", "optimal"]
MODES: tuple[Mode, ...] = ("waterfall", "merit", "optimal")
AWARD_COLUMNS = ("claim_id", "project_id", "enterprise_id", "measure", "year", "level", "source_id", "claimed",
                 "awarded", "cut", "reason")
BY_SOURCE_COLUMNS = ("source_id", "year", "cap", "carried_in", "available", "committed", "awarded", "remaining",
                     "carried_out", "lapsed", "asked", "cap_exceeded")
UNFUNDED_COLUMNS = ("claim_id", "project_id", "enterprise_id", "measure", "year", "claimed", "awarded", "unfunded",
                    "reason")
#: Seconds the optimal mode's solver may take over a whole allocation (the demo budget on 100,000 claims
#: takes about 13 s); at the limit it falls back (module docstring).
TIME_LIMIT = 60.0


def check_time_limit(value: object, name: str = "time_limit") -> float:
    """``value`` as seconds: a positive, finite number, else a ``ValueError`` naming ``name``.

    >>> check_time_limit(60)
    60.0
    """
    seconds = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    if not 0 < seconds < math.inf:
        raise ValueError(f"{name} {value!r} is not a positive number of seconds (e.g. 60)")
    return seconds


@dataclass(frozen=True)
class Allocation:
    """What :func:`allocate` returns.

    Attributes
    ----------
    awards : DataFrame
        One row per claim part and source asked: ``claim_id, project_id,
        enterprise_id, measure, year, level, source_id, claimed`` (what was asked
        of this source), ``awarded``, ``cut = claimed - awarded`` and ``reason``.
        A part no source may pay has one row with ``source_id`` empty; a claim of
        0.00 has one row saying so.
    by_source : DataFrame
        ``source_id, year, cap, carried_in, available (= cap + carried_in),
        committed`` (awarded to this year by approvals of earlier years),
        ``awarded, remaining (= available - awarded), carried_out, lapsed``,
        ``asked`` (what the claims asked of this source for the year, before any
        cut) and ``cap_exceeded`` (the year's money ran short: a part was cut or
        passed on because it did not cover it; the budget at risk;
        :func:`~subsidy_engine.budgeting.plan.cap_exceeded`).
    unfunded : DataFrame
        Claims not paid in full: ``claim_id, project_id, enterprise_id, measure,
        year, claimed, awarded, unfunded`` and the ``reason`` money stopped.
    mode : str
        The mode asked for.
    budget : Budget
    provenance : Provenance
        The claims' inputs, the budget file and the mode.
    notes : tuple of str
        What a reader of the figures must know: that the optimal mode's time
        limit was reached, and which rule then decided the awards.
    reasons_zh : dict
        Each reason in Chinese words (:meth:`reasons`).
    """

    awards: pd.DataFrame
    by_source: pd.DataFrame
    unfunded: pd.DataFrame
    mode: str
    budget: Budget
    provenance: Provenance
    notes: tuple[str, ...] = ()
    #: each ``reason`` of ``awards`` and ``unfunded`` in Chinese words (names, not ids, of the sources)
    reasons_zh: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def reasons(self, lang: Lang | str = "en") -> dict[str, str]:
        """Each reason text of ``awards`` and ``unfunded`` in ``lang`` (English: the text itself).

        >>> from subsidy_engine import evaluate, load_policy
        >>> from subsidy_engine.simulation.synthetic import portfolio
        >>> a = allocate(evaluate(portfolio(300, seed=5), load_policy(), range(2026, 2029)))
        >>> a.reasons("zh")["funded in full"]
        '全额安排'
        """
        if Lang.parse(lang) is Lang.EN:
            return {reason: reason for reason in self.reasons_zh}
        return dict(self.reasons_zh)

    @property
    def total_awarded(self) -> Decimal:
        return Decimal(sum(self.awards.awarded, Decimal(0)))

    def summary(self, by: Iterable[str] = ("year", "source_id")) -> pd.DataFrame:
        """Exact totals of ``claimed``, ``awarded`` and ``cut`` of the awards grouped by ``by``."""
        return self.awards.groupby(list(by), sort=True, dropna=False)[["claimed", "awarded", "cut"]].sum(
        ).reset_index()


def allocate(claims: Claims | pd.DataFrame, budget: Budget | str | None = None, mode: Mode = "waterfall", *,
             time_limit: float = TIME_LIMIT) -> Allocation:
    """Allocate claims to funding sources under yearly caps (78號, closing paragraph).

    Parameters
    ----------
    claims : Claims or DataFrame
        What :func:`subsidy_engine.evaluate` returns; or a table with
        ``claim_id, measure, year, amount`` (and ``project_id, enterprise_id,
        instrument, item_id`` and the attributes the budget reads: ``sector,
        district, industry_or_software, in_library, solution_list,
        scenario_opened, demonstration_case, merit_score``).
    budget : Budget or path, optional
        :func:`subsidy_engine.load_budget` (the bundled demo budget when None).
    mode : {"waterfall", "merit", "optimal"}
        How a source's money is shared when claims exceed it (module docstring).
    time_limit : float, default TIME_LIMIT (60)
        Seconds, from the call, after which the optimal mode's solver stops:
        its awards are then stage 1's (the largest total, without the fairness
        rule) or, if even that did not end, the waterfall's, and ``notes`` says
        so. The other modes end in linear time and do not read it.

    Returns
    -------
    Allocation

    Notes
    -----
    For every claim, ``amount = sum of awarded + unfunded``; for every source
    and year, ``awarded + remaining = cap + carried_in``, ``remaining >= 0``;
    and ``awarded <= claimed`` on every row. In waterfall mode, a tier ``T``
    that does not fit gets, in year ``y``, ``floor(f * D[y])`` with
    ``f = min over y of A[y] / D[y]`` (``A``: money available, ``D``: the
    tier's requests), split by the largest remainder.

    Examples
    --------
    >>> import pandas as pd
    >>> from subsidy_engine import Budget
    >>> claims = pd.DataFrame({"claim_id": ["a", "b", "c"], "measure": [15, 15, 7], "year": [2026] * 3,
    ...                        "amount": ["600.00", "300.00", "100.00"], "in_library": [False, False, True]})
    >>> budget = Budget.of({"id": "one fund", "status": "inferred", "basis": "an example", "years": [2026, 2026],
    ...                     "priority_tiers": [{"in_library": True}],
    ...                     "sources": [{"id": "fund", "level": "municipal", "caps": "700"}]})
    >>> result = allocate(claims, budget, "waterfall")   # c (library) first, then a and b share 600 pro rata
    >>> result.awards[["claim_id", "claimed", "awarded"]].values.tolist()
    [['a', Decimal('600.00'), Decimal('400.00')], ['b', Decimal('300.00'), Decimal('200.00')], ['c', Decimal('100.00'), Decimal('100.00')]]
    >>> result.by_source[["source_id", "cap", "awarded", "remaining"]].values.tolist()
    [['fund', Decimal('700.00'), Decimal('700.00'), Decimal('0.00')]]
    """
    deadline = time.perf_counter() + check_time_limit(time_limit)
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {list(MODES)}")
    budget = (budget if isinstance(budget, Budget) else load_budget(budget)).subsidy_part()  # no investment source
    plan = build_plan(claims_for(claims, budget, mode), budget, mode)
    if mode != "optimal":
        return _assemble(plan, run_plan(plan), budget, mode)
    from subsidy_engine.errors import TimeLimitReached, needs_extra

    with needs_extra("optimal", "the optimal allocation mode needs scipy"):
        from subsidy_engine.budgeting.optimal import optimal_records

    limit = f"optimal mode: HiGHS reached the time limit ({time_limit:g} s)"
    try:
        found, fair = optimal_records(plan, deadline)
    except TimeLimitReached:
        note = Sentence(f"{limit} before the largest total: the awards are the waterfall mode's (the budget's "
                        "priority tiers, pro rata where money runs out); a longer time limit lets the optimal plan "
                        "finish", "optimal_limit_waterfall", seconds=f"{time_limit:g}")
        return _assemble(plan, run_plan(plan), budget, mode, decided_by="waterfall", notes=(note,))
    note = Sentence(f"{limit} in the fairness stage: the awards keep the largest total funded, without the fairest "
                    "smallest share; a longer time limit lets the optimal plan finish", "optimal_limit_fairness",
                    seconds=f"{time_limit:g}")
    return _assemble(plan, Records(*found), budget, mode, fair=fair, notes=() if fair else (note,))


def _assemble(p: Plan, r: Records, budget: Budget, mode: str, *, decided_by: str | None = None,
              fair: bool = True, notes: tuple[str, ...] = ()) -> Allocation:
    """The tables of ``r``; reasons in the words of the mode whose rule ``decided_by`` the awards."""
    c, sources, years = p.claims, p.sources, p.years
    n_sources = len(sources)
    source_ids = np.array([s.id for s in sources], dtype=object)
    # the next record of the same part (the rest passed on), when there is one
    order = column_readers.sort_order(r.row, r.source)
    row, source = r.row[order], r.source[order]
    asked, award, code, binding = r.asked[order], r.award[order], r.code[order], r.binding[order]
    same_next = np.r_[row[1:] == row[:-1], False]
    passed_to = np.where(same_next, np.r_[source[1:], -1], -1)
    reason_key = _reason_keys(code, source, binding, passed_to, award, p, row)
    texts, reason_code, in_chinese = _reason_texts(reason_key, p, decided_by or mode, n_sources, fair)

    # no source may pay these parts; claims of 0.00
    none_rows = p.no_source
    zero_claims = np.flatnonzero(c.amount == 0)
    claim = np.concatenate([p.part_claim[row], p.part_claim[none_rows], zero_claims])
    level = np.concatenate([p.part_level[row], p.part_level[none_rows], np.zeros(zero_claims.shape[0], np.int64)])
    claimed = np.concatenate([asked, p.row_request[none_rows], np.zeros(zero_claims.shape[0], np.int64)])
    awarded = np.concatenate([award, np.zeros(none_rows.shape[0] + zero_claims.shape[0], np.int64)])
    for lang, words in (("en", None), ("zh", in_chinese)):  # the parts no source may pay; claims of 0.00
        said = [*(text("reasons", "no_source", lang, level=level if lang == "en" else language_name("levels", level))
                  for level in ("municipal", "district")), text("reasons", "nothing_claimed", lang)]
        if words is None:
            categories = [*texts, *said]
        else:
            words.update(zip(categories[len(texts):], said))
    reason = np.concatenate([reason_code, len(texts) + p.part_level[none_rows],
                             np.full(zero_claims.shape[0], len(texts) + 2)])
    source_of = np.concatenate([source, np.full(none_rows.shape[0] + zero_claims.shape[0], -1)])
    # by claim, level, then source order (a part no source may pay: last)
    final = column_readers.sort_order(claim, level, np.where(source_of < 0, n_sources, source_of))
    claim, level, claimed, awarded, reason, source_of = (claim[final], level[final], claimed[final], awarded[final],
                                                         reason[final], source_of[final])
    take = pa.array(claim)
    as_text = lambda values: pd.Series(values, dtype=pd.ArrowDtype(pa.string()))  # noqa: E731
    awards = pd.DataFrame({
        "claim_id": as_text(c.claim_id.take(take)),
        "project_id": as_text(c.attributes["project_id"].take(take)),
        "enterprise_id": as_text(c.attributes["enterprise_id"].take(take)),
        "measure": c.measure[claim].astype(np.int32),
        "year": c.year[claim].astype(np.int32),
        "level": pd.Categorical.from_codes(level, categories=["municipal", "district"]),  # type: ignore[call-overload]  # pandas-stubs: categories only as an Index, not a list
        "source_id": pd.Categorical.from_codes(source_of, categories=list(source_ids)),  # type: ignore[call-overload]  # pandas-stubs: categories only as an Index, not a list
        "claimed": money_series(claimed), "awarded": money_series(awarded), "cut": money_series(claimed - awarded),
        "reason": pd.Categorical.from_codes(reason, categories=categories),  # type: ignore[call-overload]  # pandas-stubs: categories only as an Index, not a list
    })

    # per source and year
    booked = per_source_year(p, r, r.award)
    asked_of_source, exceeded = cap_exceeded(p, r)
    available = p.cap + r.carried_in
    remaining = available - booked
    carried_out = np.where(p.carry[:, None], remaining, 0)
    by_source = pd.DataFrame({
        "source_id": np.repeat(source_ids, len(years)),
        "year": np.tile(np.array(years, np.int32), n_sources),
        "cap": money_series(p.cap.ravel()), "carried_in": money_series(r.carried_in.ravel()),
        "available": money_series(available.ravel()), "committed": money_series(r.committed.ravel()),
        "awarded": money_series(booked.ravel()), "remaining": money_series(remaining.ravel()),
        "carried_out": money_series(carried_out.ravel()), "lapsed": money_series((remaining - carried_out).ravel()),
        "asked": money_series(asked_of_source.ravel()), "cap_exceeded": exceeded.ravel(),
    })

    # claims not paid in full, with the reason money stopped (the last cut of each part)
    paid = np.bincount(claim, awarded, c.amount.shape[0]).astype(np.int64)
    short = np.flatnonzero(paid < c.amount)
    last_of_part = np.r_[(claim[1:] != claim[:-1]) | (level[1:] != level[:-1]), True] & (claimed > awarded)
    stops = np.flatnonzero(last_of_part)  # at most two per claim (its municipal and its district part)
    first = np.ones(stops.shape[0], bool)
    first[1:] = claim[stops][1:] != claim[stops][:-1]
    # the reason of each claim short of money: its first short part's, then the other's
    n_reasons = len(categories)
    pair = np.full(c.amount.shape[0], -1, np.int64)
    pair[claim[stops[first]]] = reason[stops[first]] * (n_reasons + 1)
    second = stops[~first]
    pair[claim[second]] += reason[second] + 1
    distinct, pair_code = column_readers.unique_inverse(pair[pair >= 0])
    stop_texts = []
    for k in distinct.tolist():  # the first short part's reason, then the other's
        first_reason = categories[k // (n_reasons + 1)]
        if k % (n_reasons + 1):
            second_reason = categories[k % (n_reasons + 1) - 1]
            joined = text("reasons", "joined", "en", first=first_reason, second=second_reason)
            in_chinese[joined] = text("reasons", "joined", "zh", first=in_chinese[first_reason],
                                      second=in_chinese[second_reason])
            first_reason = joined
        stop_texts.append(first_reason)
    stop_reason = np.full(c.amount.shape[0], -1, np.int64)
    stop_reason[pair >= 0] = pair_code
    take = pa.array(short)
    unfunded = pd.DataFrame({
        "claim_id": as_text(c.claim_id.take(take)),
        "project_id": as_text(c.attributes["project_id"].take(take)),
        "enterprise_id": as_text(c.attributes["enterprise_id"].take(take)),
        "measure": c.measure[short].astype(np.int32), "year": c.year[short].astype(np.int32),
        "claimed": money_series(c.amount[short]), "awarded": money_series(paid[short]),
        "unfunded": money_series(c.amount[short] - paid[short]),
        "reason": pd.Categorical.from_codes(stop_reason[short], categories=stop_texts),  # type: ignore[call-overload]  # pandas-stubs: categories only as an Index, not a list
    })
    provenance = Provenance.of(c.digest, budget.digest, f"mode={mode}")
    return Allocation(awards, by_source, unfunded, mode, budget, provenance, notes, in_chinese)


def _reason_keys(code: np.ndarray, source: np.ndarray, binding: np.ndarray, passed_to: np.ndarray,
                 award: np.ndarray, p: Plan, row: np.ndarray) -> np.ndarray:
    """One integer per distinct reason: code, source, binding year, tier, nothing paid, next source."""
    n_sources, n_years = len(p.sources), len(p.years)
    item = np.searchsorted(p.item_ptr, row, side="right") - 1
    tier = np.where(code == SOURCE_CAP, p.item_tier[item], 0) if len(p.tier_names) > 1 else np.zeros_like(code)
    tier = np.minimum(tier, len(p.tier_names) - 1)
    key = code
    key = key * (n_sources + 1) + source
    key = key * (n_years + 1) + (binding + 1)
    key = key * (len(p.tier_names)) + tier
    key = key * 2 + (award == 0)
    key = key * (n_sources + 1) + (passed_to + 1)
    return key


def _reason_texts(key: np.ndarray, p: Plan, mode: str, n_sources: int, fair: bool = True
                  ) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """The distinct reason texts and, per record, the index of its text (``fair``: the optimal plan applied
    the fairness rule); with each text's words in Chinese (``core/names.yaml``, ``reasons``).

    Both wordings come from the same key, sentence by sentence: English names a source by its id (what the
    API has always given), Chinese by its name."""
    unique, inverse = column_readers.unique_inverse(key)
    n_years = len(p.years)
    texts, chinese = [], []
    for k in unique.tolist():
        k, passed = divmod(k, n_sources + 1)
        k, nothing = divmod(k, 2)
        k, tier = divmod(k, len(p.tier_names))
        k, binding = divmod(k, n_years + 1)
        code, source = divmod(k, n_sources + 1)
        s = p.sources[source]
        year = p.years[binding - 1] if binding > 0 else None
        fields: dict[str, object]
        if code == FULL:
            sentence, fields = "funded_in_full", {}
        elif code == GROUP_CAP:
            caps = {f"per_{g}_cap": v for g, v in (("project", s.per_project_cap),
                                                   ("enterprise", s.per_enterprise_cap)) if v is not None}
            sentence = "group_cap"
            fields = {"caps": {lang: " / ".join(text("reasons", c, lang, amount=v if lang == "en" else f"{v:,}")
                                               for c, v in caps.items()) for lang in ("en", "zh")}}
        elif mode == "merit":
            sentence, fields = ("merit_spent" if nothing else "merit_last"), {"year": year}
        elif mode == "optimal":
            sentence = ("optimal_spent" if year is not None else "optimal_share_fair" if fair
                        else "optimal_share")
            fields = {"year": year}
        else:
            name = p.tier_names[tier]
            sentence = "tier_spent" if nothing else "tier_pro_rata"
            fields = {"tier": {"en": name, "zh": language_name("reasons", "others_tier") if name == "others"
                               else name}, "year": year}
        worded = []
        for lang in ("en", "zh"):
            filled = {f: v[lang] if isinstance(v, dict) else v for f, v in fields.items()}
            said = text("reasons", sentence, lang, source=s.id if lang == "en" else source_name(s.id, s.name, lang),
                        **filled)
            if passed > 0:
                after = p.sources[passed - 1]
                said = text("reasons", "passed_on", lang, reason=said,
                            source=after.id if lang == "en" else source_name(after.id, after.name, lang))
            worded.append(said)
        texts.append(worded[0])
        chinese.append(worded[1])
    distinct = list(dict.fromkeys(texts))
    position = np.array([distinct.index(t) for t in texts], np.int64)
    return (distinct, position[inverse] if inverse.shape[0] else np.zeros(0, np.int64),
            dict(zip(texts, chinese)))


__all__ = ["AWARD_COLUMNS", "Allocation", "BY_SOURCE_COLUMNS", "MODES", "TIME_LIMIT", "UNFUNDED_COLUMNS", "allocate",
           "check_time_limit"]

"""The plain reference of :func:`subsidy_engine.allocate` (waterfall and merit): one claim at a time.

Dictionaries, Python integers and ``Fraction``; no numpy. The tests prove the
kernel (:mod:`subsidy_engine.kernels.allocate`) equal to it, to the fen. The
rules are those of :mod:`subsidy_engine.budgeting.allocation`'s docstring, written out:

1. A claim that a district source may pay is split 1 : ``matching_share`` (the
   first such source's) between the municipal and the district part, by the
   largest remainder, a tie to the municipal part.
2. An item is a claim's ``instrument:item_id`` (else its ``claim_id``) and a
   level; it is approved in its first year with money.
3. For each year ``t``, for each source in file order: the items approved in
   ``t`` that the source may pay, in order of tier (waterfall: the first
   priority rule they meet; merit: score with the budget's merit points of
   the project's flags, library, item), then item text and
   level. A tier's request per row is what is left of the row, within the
   source's per-project and per-enterprise caps of the row's year (taken in
   that order). With ``D[y]`` the tier's requests and ``A[y]`` the money left
   (cap less earlier commitments, plus carry-over in year ``t``): in full if
   ``D <= A`` in every year, else the share ``f = min A[y] / D[y]`` (the
   earliest such year on a tie): ``floor(f D[y])`` a year, split by the
   largest remainder over the tier's rows in order.
4. A source's unspent money of ``t`` carries to ``t + 1`` if it allows it.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from typing import Any

from subsidy_engine.core.money import split_largest_remainder, yuan_to_fen
from subsidy_engine.params.budget import Budget, Eligibility


def _meets(rule: Eligibility, claim: dict[str, Any]) -> bool:
    if rule.measures is not None and claim["measure"] not in rule.measures:
        return False
    for field, name in (("instruments", "instrument"), ("sectors", "sector"), ("districts", "district")):
        wanted = getattr(rule, field)
        if wanted is not None and claim.get(name) not in wanted:
            return False
    for name in ("industry_or_software", "in_library", "solution_list", "scenario_opened", "demonstration_case"):
        wanted = getattr(rule, name)
        if wanted is not None and bool(claim.get(name)) != wanted:
            return False
    return True


def reference_allocate(claims: list[dict[str, Any]], budget: Budget, mode: str
                       ) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, int], int]]:
    """Awards ``{(claim_id, level, source_id): fen}`` and money booked ``{(source_id, year): fen}``.

    ``claims``: dicts with ``claim_id, item, year, amount`` (Decimal), ``measure``
    and the attributes (``instrument, project_id, enterprise_id, sector,
    district``, the flags ``industry_or_software, in_library, solution_list,
    scenario_opened, demonstration_case`` and ``merit_score``).
    """
    sources, years = tuple(s for s in budget.sources if not s.investment), budget.years  # subsidy sources only
    parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)  # (item, level) -> rows by year
    for c in claims:
        fen = yuan_to_fen(c["amount"])
        districts = [s for s in sources if s.level == "district" and _meets(s.eligible, c)]
        if districts and fen:
            matching = districts[0].matching_share
            assert matching is not None  # a district source has one (FundingSource's validator)
            municipal, district = split_largest_remainder(fen, [Decimal(1), matching])
        else:
            municipal, district = fen, 0
        for level, amount in (("municipal", municipal), ("district", district)):
            if amount > 0:
                parts[(c["item"], level)].append({"claim": c, "level": level, "year": c["year"], "left": amount})
    items = []
    for (item, level), rows in sorted(parts.items(), key=lambda kv: (kv[0][0], kv[0][1] != "municipal")):
        rows.sort(key=lambda r: r["year"])
        items.append({"item": item, "level": level, "rows": rows, "approved": rows[0]["year"],
                      "claim": rows[0]["claim"]})
    for position, it in enumerate(items):
        c = it["claim"]
        if mode == "merit":
            score = c.get("merit_score")
            if score is not None:  # the budget's points for each flag the project has; none without a score
                score += sum((points for flag, points in budget.file.merit_points.items() if c.get(flag)),
                             Decimal(0))
            it["tier"] = (score is None, -(score or 0), not c.get("in_library"), position)
        else:
            priority_tiers = budget.file.priority_tiers
            it["tier"] = next((k for k, rule in enumerate(priority_tiers) if _meets(rule, c)), len(priority_tiers))

    awards: dict[tuple[str, str, str], int] = defaultdict(int)
    booked: dict[tuple[str, int], int] = defaultdict(int)
    carried: dict[tuple[str, int], int] = defaultdict(int)
    group_used: dict[tuple[str, str, Any, int], int] = defaultdict(int)

    def cap(s: Any, y: int) -> int:
        return yuan_to_fen(budget.cap(s, y))

    for t in years:
        for s in sources:
            available = {y: cap(s, y) - booked[(s.id, y)] + (carried[(s.id, t)] if y == t else 0)
                         for y in years if y >= t}
            new = [it for it in items if it["approved"] == t and it["level"] == s.level
                   and _meets(s.eligible, it["claim"])]
            new.sort(key=lambda it: it["tier"])
            tiers: list[list[dict[str, Any]]] = []
            for it in new:
                if tiers and tiers[-1][0]["tier"] == it["tier"]:
                    tiers[-1].append(it)
                else:
                    tiers.append([it])
            for tier in tiers:
                rows = [r for it in tier for r in it["rows"]]
                groups = [(g, value) for g, value in (("project", s.per_project_cap),
                                                      ("enterprise", s.per_enterprise_cap)) if value is not None]
                for r in rows:
                    need = r["left"]
                    for g, value in groups:
                        key = (s.id, g, r["claim"].get(f"{g}_id") or ("no", r["claim"]["claim_id"]), r["year"])
                        need = min(need, yuan_to_fen(value) - group_used[key])
                    for g, _ in groups:
                        group_used[(s.id, g, r["claim"].get(f"{g}_id") or ("no", r["claim"]["claim_id"]),
                                    r["year"])] += need
                    r["request"] = need
                demand = {y: sum(r["request"] for r in rows if r["year"] == y) for y in available}
                short = [y for y in available if demand[y] > available[y]]
                if not short:
                    pay = {id(r): r["request"] for r in rows}
                else:
                    share = min(Fraction(available[y], demand[y]) for y in short)
                    pay = {}
                    for y in available:
                        of_year = [r for r in rows if r["year"] == y]
                        total = int(share * demand[y])  # floor: non-negative
                        if demand[y] == 0:
                            pay.update({id(r): 0 for r in of_year})
                            continue
                        split = split_largest_remainder(total, [Decimal(r["request"]) for r in of_year])
                        pay.update({id(r): p for r, p in zip(of_year, split)})
                for r in rows:
                    if r["left"] == 0:
                        continue
                    paid = pay[id(r)]
                    awards[(r["claim"]["claim_id"], r["level"], s.id)] += paid
                    booked[(s.id, r["year"])] += paid
                    available[r["year"]] -= paid
                    r["left"] -= paid
                    for g, _ in groups:
                        group_used[(s.id, g, r["claim"].get(f"{g}_id") or ("no", r["claim"]["claim_id"]),
                                    r["year"])] -= r["request"] - paid
        for s in sources:
            if s.carry_over and t + 1 in years:
                carried[(s.id, t + 1)] = cap(s, t) + carried[(s.id, t)] - booked[(s.id, t)]
    return dict(awards), dict(booked)


__all__ = ["reference_allocate"]

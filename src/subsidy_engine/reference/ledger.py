"""The reference of a bank's ledger: plain Python, one day at a time, exact fractions.

The executable form of docs/conventions.md "A bank's ledger" and the yardstick of
:mod:`subsidy_engine.measures.ledger` (the tests prove them equal to the fen). Every day from a loan's first
drawdown has a balance and a rate, those the day ends with (its repayments, drawdowns and rate change take effect
that day); a settlement sums the interest of the days since the last one and of its own, and rounds once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from subsidy_engine.core.money import div_half_up, fen_to_yuan, yuan_to_fen
from subsidy_engine.reference.calculators import add_months

#: The order a day's rows take effect.
DAY_ORDER = {"interest_settled": 0, "repayment": 1, "drawdown": 2, "rate_change": 3}


def _round(exact: Fraction) -> int:
    return div_half_up(exact.numerator, exact.denominator)


def reference_ledger(rows: Sequence[dict[str, Any]], rule: Any = None, year_days: int = 360  # noqa: ANN401
                     ) -> dict[str, list[dict[str, Any]]]:
    """Each loan's settlements: ``{loan_id: [{"end_date", "days", "interest", "subsidy"}, ...]}`` in yuan.

    ``rows`` are ``{"loan_id", "date", "kind", "amount", "rate"}`` (amounts and rates as ``Decimal`` or None).
    Raises ``ValueError`` for a loan whose ledger does not start with a drawdown giving its rate, with a
    repayment above the balance, or with a rate stated on another row than a rate change that is the rate in
    force neither before nor after that day's rate change.
    """
    by_loan: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_loan.setdefault(row["loan_id"], []).append(row)
    return {loan: _one(sorted(events, key=lambda r: (r["date"], DAY_ORDER[r["kind"]])), rule, year_days)
            for loan, events in by_loan.items()}


def _one(events: list[dict[str, Any]], rule: Any, year_days: int) -> list[dict[str, Any]]:  # noqa: ANN401
    first = events[0]
    if first["kind"] != "drawdown" or first["rate"] is None:
        raise ValueError("a loan's ledger starts with its first drawdown, which gives the rate")
    start: date = first["date"]
    window_start = (rule.start_date or start) if rule is not None else start
    window_end = (None if rule is None or rule.max_years is None
                  else add_months(window_start.year, window_start.month, 12 * rule.max_years, window_start.day))
    balance = drawn = 0
    rate = Fraction(first["rate"])
    interest = subsidy = Fraction(0)  # since the last settlement, in fen
    settled_from = start
    paid_in_year: dict[int, int] = {}
    paid_in_life = 0
    out = []
    day = start
    # the rates in force before and after each day's own events: a rate stated on another row is one of them
    before: dict[date, Fraction] = {}
    after: dict[date, Fraction] = {}
    running = Fraction(first["rate"])
    for event in events:
        before.setdefault(event["date"], running)
        if event["kind"] == "rate_change":
            running = Fraction(Decimal(event["rate"]))
        after[event["date"]] = running
    for event in events[1:]:
        if event["kind"] != "rate_change" and event["rate"] is not None:
            stated = Fraction(Decimal(event["rate"]))
            if stated not in (before[event["date"]], after[event["date"]]):
                raise ValueError(f"{event['rate']} is not the rate in force on {event['date']}")
    def accrue_day() -> None:
        """The interest and 貼息 of ``day``: its balance and rate as the day ends."""
        nonlocal interest, subsidy
        interest += balance * rate / year_days
        inside = day >= window_start and (window_end is None or day < window_end)
        if rule is not None and inside and rule.form.value != "share_of_interest":
            if rule.form.value == "rate_gap":
                factor = max(Fraction(rule.benchmark_rate) - rate, Fraction(0))
            else:
                factor = min(Fraction(rule.points), rate)
            base = drawn if rule.form.value == "points_on_principal" else balance
            subsidy += base * factor / year_days

    days_of_events = sorted({event["date"] for event in events})
    for event_day in days_of_events:
        while day < event_day:  # the days before: each at its balance and rate
            accrue_day()
            day += timedelta(days=1)
        todays = [event for event in events if event["date"] == event_day]
        for event in todays:  # the day's changes take effect that day, whatever the order of its rows
            kind, fen = event["kind"], None if event["amount"] is None else yuan_to_fen(event["amount"])
            if kind == "repayment":
                assert fen is not None
                if fen > balance:
                    raise ValueError(f"a repayment of {fen_to_yuan(fen)} on {day} is more than the balance")
                balance -= fen
            elif kind == "drawdown":
                assert fen is not None
                balance += fen
                drawn += fen
            elif kind == "rate_change":
                rate = Fraction(Decimal(event["rate"]))
        if not any(event["kind"] == "interest_settled" for event in todays):
            continue
        # a settlement settles the days since the last one and its own, at the balance the day ends with
        accrue_day()
        day += timedelta(days=1)
        settled = _round(interest)
        row: dict[str, Any] = {"end_date": event_day, "days": (day - settled_from).days,
                               "interest": fen_to_yuan(settled)}
        if rule is not None:
            if rule.form.value == "share_of_interest":
                lo = max(settled_from, window_start)
                hi = day if window_end is None else min(day, window_end)
                subsidy = Fraction(settled) * Fraction(rule.share) * max((hi - lo).days, 0) / (day - settled_from).days
            gross = min(_round(subsidy), settled)
            if rule.annual_cap is not None:
                room = yuan_to_fen(rule.annual_cap) - paid_in_year.get(event_day.year, 0)
                gross = min(gross, room)
                paid_in_year[event_day.year] = paid_in_year.get(event_day.year, 0) + gross
            if rule.lifetime_cap is not None:
                gross = min(gross, yuan_to_fen(rule.lifetime_cap) - paid_in_life)
            paid_in_life += gross
            row["subsidy"] = fen_to_yuan(gross)
        out.append(row)
        interest = subsidy = Fraction(0)
        settled_from = day
    return out

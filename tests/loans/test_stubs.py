"""Stub periods are charged for their actual length (issue 18, the monthly-basis defect).

On the monthly basis a period of whole months is charged ``rate / 12`` a month, as published
calculators do; a stub (a first period that does not run from a due day to the next) is charged its
whole months at ``rate / 12`` and its odd days at the daily rate ``rate / 360``, the months counted
back from the period's end on the due day (docs/conventions.md "Stub periods").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from subsidy_engine import InterestSubsidyRule, Loan, amortize, interest_subsidy
from subsidy_engine.reference.calculators import reference_interest_subsidy, reference_schedule


def test_a_one_day_first_period_is_charged_one_day_not_a_month() -> None:
    # The case: 5亿 at 3% drawn 2024-04-30, settlement day 1: the first period is one day.
    loan = Loan(principal="500000000", annual_rate="0.03", term_months=12, start_date="2024-04-30",
                settlement_day=1)
    first = amortize(loan).rows[0]
    assert (first.start_date, first.end_date, first.days) == (date(2024, 4, 30), date(2024, 5, 1), 1)
    assert first.interest == Decimal("41666.67")  # 500,000,000 x 3% x 1 / 360, not 1,250,000.00
    assert reference_schedule(loan)[0][0].interest == Decimal("41666.67")


def test_a_45_day_first_period_is_one_month_and_15_days() -> None:
    # Drawn on the 5th, settled on the 20th: Mar 5 -> Apr 20 is one month (Mar 20 -> Apr 20) and 15 days.
    loan = Loan(principal="100000", annual_rate="0.0365", term_months=12, start_date="2024-03-05",
                settlement_day=20)
    rows = amortize(loan).rows
    assert rows[0].days == 46
    assert rows[0].interest == Decimal("456.25")  # 100,000 x 3.65% x (30 + 15) / 360
    assert rows[1].interest == (rows[1].opening_balance * Decimal("0.0365") / 12).quantize(Decimal("0.01"))
    assert [r.interest for r in rows] == [r.interest for r in reference_schedule(loan)[0]]


@pytest.mark.parametrize(("start", "settlement_day", "frequency", "months", "odd_days"), [
    ("2024-01-31", None, "monthly", 1, 0),  # a month-end loan: Jan 31 -> Feb 29 is a whole month
    ("2024-02-29", 31, "monthly", 1, 0),  # drawn on the due day clamped to February's end: a whole month
    ("2024-01-30", 1, "monthly", 0, 2),  # Jan 30 -> Feb 1
    ("2024-01-30", 1, "quarterly", 2, 2),  # Jan 30 -> Apr 1: Feb 1 -> Apr 1 whole, Jan 30 -> Feb 1 odd
    # Jan 31 -> Apr 30 on the 30th: Jan 30 is before the start, so Feb 29 -> Apr 30 whole, Jan 31 -> Feb 29 odd
    ("2024-01-31", 30, "quarterly", 2, 29),
    ("2024-02-10", 5, "monthly", 0, 24),  # Feb 10 -> Mar 5: less than a month
])
def test_whole_months_are_counted_back_from_the_end_on_the_due_day(start: str, settlement_day: int | None,
                                                                   frequency: str, months: int,
                                                                   odd_days: int) -> None:
    loan = Loan(principal="3600000", annual_rate="0.12", term_months=3, start_date=start, frequency=frequency,
                settlement_day=settlement_day, method="interest_only", interest_basis="monthly")
    # 3,600,000 x 12% / 360 = 1,200.00 a day, 36,000.00 a month
    expected = Decimal(36000 * months + 1200 * odd_days).quantize(Decimal("0.01"))
    assert amortize(loan).rows[0].interest == expected
    assert reference_schedule(loan)[0][0].interest == expected


def test_the_payment_of_an_annuity_is_kept_and_the_stub_changes_only_its_interest() -> None:
    regular = amortize(Loan(principal="1000000", annual_rate="0.049", term_months=360, start_date="2024-01-20"))
    stub = amortize(Loan(principal="1000000", annual_rate="0.049", term_months=360, start_date="2024-01-05",
                         settlement_day=20))
    assert stub.rows[0].principal == regular.rows[0].principal == Decimal("1223.94")
    assert stub.rows[0].interest == Decimal("6125.00")  # 1,000,000 x 4.9% x 45 / 360
    assert [r.payment for r in stub.rows[1:-1]] == [r.payment for r in regular.rows[1:-1]]


def test_the_interest_subsidy_of_a_stub_accrues_as_its_interest() -> None:
    loan = Loan(principal="500000000", annual_rate="0.03", term_months=12, start_date="2024-04-30",
                settlement_day=1)
    rule = InterestSubsidyRule(form="points_on_balance", points="0.025", max_years=2)
    schedule = amortize(loan)
    subsidy = interest_subsidy(schedule, rule)
    assert subsidy.subsidy_fen[0] == 3472222  # 500,000,000 x 2.5% x 1 / 360 = 34,722.22
    assert subsidy.exact_accruals()[0] == Fraction(500_000_000 * 25, 1000 * 360)
    reference = reference_interest_subsidy(loan, schedule.rows, rule)
    assert subsidy.to_frame()["subsidy"].tolist() == [r.subsidy for r in reference]

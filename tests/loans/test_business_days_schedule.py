"""Due dates on China's business days (issue 18, point 1): a due date on a holiday or a weekend moves
(``following`` / ``modified_following``), the period is charged for its days as they fall, the kernel equals
the plain reference to the fen, and a date beyond the calendar's data is refused or an explicit, reported
projection (docs/conventions.md "Business days")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_tranches import priced_as_the_reference

from subsidy_engine import Loan, amortize, amortize_portfolio
from subsidy_engine.errors import CoverageError
from subsidy_engine.params.business_days import BusinessCalendar, china_calendar
from subsidy_engine.reference.calculators import (
    china_business_day,
    reference_schedule,
)

from strategies import examples, loans, loans_with_events

PROJECTED = china_calendar().with_weekend_projection()


def projected_business_day(d: date) -> bool:
    """The reference's business days with the weekend projection: chinese_calendar's data, then Monday to
    Friday."""
    return china_business_day(d) if d <= PROJECTED.last_day else d.weekday() < 5


def with_rule(loan: Loan, rule: str) -> Loan:
    return Loan(**{**loan.model_dump(), "business_day": rule})


def assert_yearly_totals_are_the_rows(loan: Loan, lpr, rows) -> None:  # noqa: ANN001
    """The kernel's yearly totals (no rows written) are the rows' sums by the year of their dates, from the
    first year the kernel gives the loan."""
    from subsidy_engine.loans import amortization
    from subsidy_engine.loans.arrays import arrays_from_loans

    yearly = amortization.run(arrays_from_loans([loan]), lpr, rows=False, years=True, calendar=PROJECTED)
    first = int(yearly.first_year[0])
    years = range(first, first + int(yearly.year_ptr[1]))
    assert min(r.end_date.year for r in rows) >= first
    for name, column in (("interest", yearly.out.year_interest), ("principal", yearly.out.year_principal)):
        assert column.tolist() == [sum(int(getattr(r, name) * 100) for r in rows if r.end_date.year == y)
                                   for y in years], name


def national_day_loan(**changes: object) -> Loan:
    """1,000,000 at 3.6% on act/360 (100.00 a day), settled on the 1st from July 2025 for a year."""
    fields: dict[str, object] = dict(principal="1000000", annual_rate="0.036", term_months=12,
                                     start_date="2025-07-01", method="interest_only", interest_basis="act_360",
                                     business_day="following")
    return Loan(**{**fields, **changes})


def test_a_due_date_on_a_holiday_moves_and_the_period_is_charged_for_its_days() -> None:
    """National Day 2025 (1-8 October) moves the 1 October due date to Thursday 9 October: the period runs 38
    days, the next one 25 (to Monday 3 November, 1 November a Saturday). New Year 2026 moves 1 January to
    Sunday 4 January, a working Sunday (调休); Labour Day to 6 May."""
    rows = amortize(national_day_loan()).rows
    assert [(r.end_date, r.days, r.interest) for r in rows[2:6]] == [
        (date(2025, 10, 9), 38, Decimal("3800.00")), (date(2025, 11, 3), 25, Decimal("2500.00")),
        (date(2025, 12, 1), 28, Decimal("2800.00")), (date(2026, 1, 4), 34, Decimal("3400.00"))]
    assert rows[9].end_date == date(2026, 5, 6)
    assert sum(r.days for r in rows) == (date(2026, 7, 1) - date(2025, 7, 1)).days  # no day lost or doubled
    unmoved = amortize(national_day_loan(business_day="none")).rows
    assert [r.end_date for r in unmoved][2] == date(2025, 10, 1)
    assert sum(r.interest for r in rows) == sum(r.interest for r in unmoved)  # the same days, differently cut


def test_modified_following_stays_in_the_month() -> None:
    """Saturday 31 May 2025 starts the Dragon Boat holiday (to 2 June): following goes to 3 June, modified
    following back to Friday 30 May."""
    loan = national_day_loan(start_date="2025-01-31", term_months=6, business_day="modified_following")
    assert amortize(loan).rows[3].end_date == date(2025, 5, 30)
    assert amortize(with_rule(loan, "following")).rows[3].end_date == date(2025, 6, 3)


def test_on_the_monthly_basis_a_moved_period_is_a_stub_and_the_principal_stands() -> None:
    """Equal principal on the monthly basis: 1 September to 9 October is a month and 8 days (38/360), 9 October
    to 3 November 25 odd days; each period repays the same principal as unmoved."""
    loan = national_day_loan(method="equal_principal", interest_basis="monthly", principal="1200000")
    moved, unmoved = amortize(loan).rows, amortize(with_rule(loan, "none")).rows
    assert [r.principal for r in moved] == [r.principal for r in unmoved]
    balance = moved[2].opening_balance
    assert moved[2].interest == (balance * Decimal("0.036") * 38 / 360).quantize(Decimal("0.01"))
    assert moved[3].interest == (moved[3].opening_balance * Decimal("0.036") * 25 / 360).quantize(Decimal("0.01"))
    assert moved[1].interest == unmoved[1].interest  # whole months where nothing moved


def test_a_due_date_moved_into_the_next_year_counts_in_that_year() -> None:
    """Saturday 31 December 2022 moves to Tuesday 3 January 2023 (1-2 January a holiday): the last period's
    interest and principal are 2023's in the yearly totals."""
    loan = national_day_loan(start_date="2022-06-30", term_months=6, settlement_day=31, method="equal_principal")
    rows = amortize(loan).rows
    assert rows[-1].end_date == date(2023, 1, 3)
    table = pd.DataFrame([{"loan_id": "A", **{k: str(v) for k, v in loan.model_dump(exclude_none=True).items()
                                                 if k not in ("drawdowns", "prepayments")}}])
    table["business_day"] = "following"
    yearly = amortize_portfolio(table, output="yearly").yearly
    assert yearly["year"].tolist() == [2022, 2023]
    assert yearly["interest"].tolist() == [sum(r.interest for r in rows[:-1]), rows[-1].interest]
    assert yearly["principal"].tolist() == [sum(r.principal for r in rows[:-1]), rows[-1].principal]


def test_a_due_date_beyond_the_calendar_is_refused_or_an_explicit_projection() -> None:
    long_loan = national_day_loan(term_months=120)
    with pytest.raises(CoverageError, match=r"last due date 2035-07-01 is beyond the business-day calendar China.*"
                                            r"with_weekend_projection"):
        amortize(long_loan)
    schedule = amortize(long_loan, calendar=PROJECTED)
    assert schedule.calendar_projection == PROJECTED.projection_note()
    assert schedule.rows[-1].end_date == date(2035, 7, 2)  # Sunday 1 July 2035 -> Monday, on the projection
    inside = amortize(national_day_loan(), calendar=PROJECTED)
    assert inside.calendar_projection is None  # every date inside the data: nothing projected
    assert inside.provenance != amortize(national_day_loan()).provenance  # the calendar is part of the inputs
    with pytest.raises(CoverageError, match="before the business-day calendar"):
        amortize(national_day_loan(start_date="2003-06-01", term_months=12), calendar=PROJECTED)
    assert amortize(with_rule(long_loan, "none")).calendar_projection is None


def test_a_bank_calendar_of_its_own() -> None:
    """A calendar built from explicit data: 1 August 2025 a holiday of this bank."""
    own = BusinessCalendar.of([date(2025, 8, 1)], [], date(2025, 1, 1), date(2026, 12, 31), "a bank's")
    assert amortize(national_day_loan(), calendar=own).rows[0].end_date == date(2025, 8, 4)
    assert amortize(national_day_loan(), calendar=own).rows[2].end_date == date(2025, 10, 1)  # not this bank's


def test_a_loan_book_reads_the_rule_and_rejects_what_the_calendar_does_not_cover() -> None:
    table = pd.DataFrame({
        "loan_id": ["A", "B", "C", "D"], "principal": ["1000000"] * 4, "annual_rate": ["0.036"] * 4,
        "term_months": [12, 12, 120, 12], "start_date": ["2025-07-01"] * 4, "method": ["interest_only"] * 4,
        "interest_basis": ["act_360"] * 4, "business_day": ["following", "next", "following", None]})
    result = amortize_portfolio(table)
    assert result.rejections[["row", "loan_id", "field"]].values.tolist() == [
        [1, "B", "business_day"], [2, "C", "business_day"]]
    assert "'next' is not one of 'none', 'following', 'modified_following'" in result.rejections["reason"][0]
    assert "with_weekend_projection" in result.rejections["reason"][1]
    schedule = result.schedule
    a = schedule[schedule["loan_id"] == "A"]
    assert a["end_date"].tolist() == [r.end_date for r in amortize(national_day_loan()).rows]
    assert a["interest"].tolist() == [r.interest for r in amortize(national_day_loan()).rows]
    assert schedule[schedule["loan_id"] == "D"]["end_date"].tolist()[2] == date(2025, 10, 1)  # blank: none
    assert result.calendar_projection is None
    projected = amortize_portfolio(table.drop(index=1), calendar=PROJECTED)
    assert projected.rejections.empty and projected.calendar_projection == PROJECTED.projection_note()
    assert projected.provenance != amortize_portfolio(table.drop(index=[1, 2])).provenance


@st.composite
def moving_loans(draw) -> Loan:
    """A loan of the strategies (tranches and prepayments or not), on a business-day rule, inside the calendar's
    data or past it on the projection."""
    base = draw(st.one_of(loans(), loans_with_events()).filter(lambda x: x.start_date.year >= 2004))
    return with_rule(base, draw(st.sampled_from(["following", "modified_following"])))


@settings(max_examples=examples(180), deadline=None)
@given(loan=moving_loans())
# due on Saturday 2005-12-31, a working day by the State Council's notice that chinese-calendar's data misses: the
# engine and the reference each know it (a review found the reference reading the package alone)
@example(loan=Loan(principal="1000000", annual_rate="0.049", term_months=6, start_date="2005-10-31",
                   business_day="following"))
def test_moved_due_dates_equal_the_reference(loan: Loan, curve) -> None:
    priced = priced_as_the_reference(loan, curve, PROJECTED, projected_business_day)
    if priced is None:
        return
    _, expected = priced
    assert_yearly_totals_are_the_rows(loan, curve if loan.floating else None, expected)
    assert all(projected_business_day(r.end_date) for r in expected[:-1] if r.end_date != r.start_date)


def test_a_portfolio_of_moving_loans_is_each_loan_alone(curve) -> None:
    """The table path (yearly totals too) and the lean and general kernel loops agree with one loan at a time."""
    from subsidy_engine.loans import amortization
    from subsidy_engine.loans.arrays import arrays_from_loans

    sample = [national_day_loan(), national_day_loan(method="equal_installment", interest_basis="monthly"),
              national_day_loan(start_date="2022-06-30", settlement_day=31, method="equal_principal",
                                interest_basis="30_360", term_months=60),
              national_day_loan(business_day="modified_following", frequency="quarterly", term_months=48,
                                start_date="2024-03-31", method="equal_installment")]
    arrays = arrays_from_loans(sample)
    lean = amortization.run(arrays, curve, rows=True, years=True, calendar=PROJECTED)
    general = amortization.run(arrays, curve, rows=True, years=True, calendar=PROJECTED, general=True)
    for name in ("end_day", "interest", "principal", "year_interest", "year_principal"):
        assert np.array_equal(getattr(lean.out, name), getattr(general.out, name)), name
    for j, loan in enumerate(sample):
        rows = amortize(loan, calendar=PROJECTED).rows
        lo, hi = lean.row_ptr[j], lean.row_ptr[j + 1]
        assert lean.out.interest[lo:hi].tolist() == [int(r.interest * 100) for r in rows]
        years = sorted({r.end_date.year for r in rows})
        lo, hi = lean.year_ptr[j], lean.year_ptr[j + 1]
        assert lean.out.year_interest[lo:hi].tolist() == [
            sum(int(r.interest * 100) for r in rows if r.end_date.year == y) for y in years]


def test_a_refused_loan_leaves_the_other_loans_years_alone() -> None:
    """Review defect: a loan refused by the calendar (its last due date beyond it) whose first due date moves
    into the next year wrote its rows into the loan before it's years."""
    base = dict(principal="1000000", annual_rate="0.036", method="equal_principal", interest_basis="act_360")
    table = pd.DataFrame([
        {"loan_id": "GOOD", **base, "term_months": 12, "start_date": "2025-01-15", "business_day": "none"},
        # first due date Sunday 2023-12-31 -> 2024-01-02; the last, 2028-11-30, is beyond the calendar: refused
        {"loan_id": "LONG", **base, "term_months": 60, "start_date": "2023-11-30", "settlement_day": 31,
         "business_day": "following"},
        {"loan_id": "NEXT", **base, "term_months": 12, "start_date": "2024-06-15", "business_day": "following"}])
    both = amortize_portfolio(table, output="yearly")
    assert both.rejections["loan_id"].tolist() == ["LONG"]
    alone = amortize_portfolio(table.drop(index=1), output="yearly")
    pd.testing.assert_frame_equal(both.yearly, alone.yearly)


def test_an_event_on_or_after_a_last_due_date_moved_back_is_refused() -> None:
    """Review defect: modified following moves Friday 31 January 2025 (Spring Festival) back to Monday 27th;
    a tranche or a prepayment on the 27th or after came after the loan was repaid in full, and vanished."""
    base = dict(principal="1000000", annual_rate="0.036", term_months=12, start_date="2024-01-31",
                method="equal_principal", interest_basis="act_360", business_day="modified_following")
    assert amortize(Loan(**base)).rows[-1].end_date == date(2025, 1, 27)
    for day in ("2025-01-27", "2025-01-29"):
        for events in ({"drawdowns": [{"date": "2024-01-31", "amount": "900000"}, {"date": day, "amount": "100000"}]},
                       {"prepayments": [{"date": day, "amount": "1000"}]}):
            loan = Loan(**base, **events)
            with pytest.raises(ValueError, match="repaid in full"):
                amortize(loan)
            with pytest.raises(ValueError, match="repaid in full"):
                reference_schedule(loan)


def test_a_tranche_on_the_last_due_date_of_a_shortened_term_is_refused() -> None:
    """Review finding: a prepayment keeping the payment shortened the term; a tranche on its new last due date
    came after the loan was repaid in full (the reference divided by zero periods, the kernel cast an inf)."""
    loan = Loan(annual_rate="0.0106", term_months=45, frequency="quarterly", method="equal_installment",
                interest_basis="monthly", start_date="2026-03-05",
                drawdowns=[{"date": "2026-03-05", "amount": "179422010.81"},
                           {"date": "2027-09-05", "amount": "743985695.98"},
                           {"date": "2028-03-05", "amount": "68699859.14"}],
                prepayments=[{"date": "2027-03-05", "amount": "119258455.65", "recompute": "term"}])
    with pytest.raises(ValueError, match="repaid in full"):
        reference_schedule(loan)
    with pytest.raises(ValueError, match="repaid in full"):
        amortize(loan)


def test_claims_carry_the_calendar_and_its_projection() -> None:
    """Review defect: interest_subsidy_portfolio priced on projected dates said nothing of it."""
    from subsidy_engine import InterestSubsidyRule, interest_subsidy_portfolio

    table = pd.DataFrame({"loan_id": ["A"], "principal": ["1000000"], "annual_rate": ["0.036"], "term_months": [120],
                          "start_date": ["2025-07-01"], "method": ["interest_only"], "business_day": ["following"]})
    rule = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)
    projected = interest_subsidy_portfolio(table, rule, calendar=PROJECTED)
    assert projected.rejections.empty
    assert projected.notes == [PROJECTED.projection_note()]
    unmoved = interest_subsidy_portfolio(table.assign(business_day="none"), rule)
    assert unmoved.notes == []
    assert projected.provenance != unmoved.provenance


def test_a_due_date_in_the_spring_festival_moves_onto_a_working_sunday() -> None:
    """国务院办公厅关于2024年部分节假日安排的通知 (国办发明电〔2023〕7号): 春节 2月10日至17日放假调休，共8天；
    2月4日（星期日）、2月18日（星期日）上班. A monthly loan of 50,000 at 5% on act/365 drawn on 15 January 2024:
    its due date of Thursday 15 February falls in the holiday and ``following`` moves it to Sunday 18 February,
    a working day (调休), not to Monday 19th. The first period is 34 days: 50,000 x 5% x 34 / 365 = 232.876...,
    232.88; the next due date stays on the 15th (15 March), 26 days after the moved one."""
    loan = Loan(principal="50000", annual_rate="0.05", term_months=12, start_date=date(2024, 1, 15),
                interest_basis="act_365", business_day="following")
    frame = amortize(loan).to_frame()
    assert frame["end_date"].tolist()[:2] == [date(2024, 2, 18), date(2024, 3, 15)]
    assert frame["days"].tolist()[:2] == [34, 26]
    assert frame["interest"].tolist()[0] == Decimal("232.88")
    unmoved = amortize(Loan(**{**loan.model_dump(), "business_day": "none"})).to_frame()
    assert unmoved["interest"].tolist()[0] == Decimal("212.33")  # 31 days to the 15th: 50,000 x 5% x 31 / 365

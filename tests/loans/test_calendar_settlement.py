"""Interest settled on calendar dates (按月/按季結息, issue 18, point 1): the 20th of every month or of each
quarter's last month, apart from the principal's due dates, on each day's balance; the kernel equals the plain
reference (which sums the days one by one) to the fen, with its 貼息, tranches, prepayments and moved dates
(docs/conventions.md "Calendar settlement")."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_business_days_schedule import PROJECTED, assert_yearly_totals_are_the_rows, projected_business_day
from test_tranches import priced_as_the_reference

from subsidy_engine import Loan, amortize, amortize_portfolio, interest_subsidy
from subsidy_engine.core.money import div_half_up
from subsidy_engine.reference.calculators import reference_schedule

from strategies import examples, loans, loans_with_events


def quarterly_loan(**changes: object) -> Loan:
    """10,000,000 at 3.6% (1,000.00 a day), drawn 5 February 2025, principal in four quarterly shares on the
    5th, interest settled on the 20th of March, June, September and December."""
    fields: dict[str, object] = dict(principal="10000000", annual_rate="0.036", term_months=12, frequency="quarterly",
                                     method="equal_principal", start_date="2025-02-05", interest_dates="calendar",
                                     interest_frequency="quarterly")
    return Loan(**{**fields, **changes})


def test_interest_is_settled_on_the_20th_of_the_quarters_last_month() -> None:
    rows = amortize(quarterly_loan()).rows
    assert [(r.end_date, r.interest, r.principal, r.settles) for r in rows] == [
        # 5 February to 20 March, both counted: 44 days of 10,000,000 (a settlement settles its own day)
        (date(2025, 3, 20), Decimal("44000.00"), Decimal("0.00"), True),
        (date(2025, 5, 5), Decimal("0.00"), Decimal("2500000.00"), False),  # principal only: interest runs on
        # 21 March to 4 May: 45 days of 10,000,000; 5 May (repaid that day) to 20 June: 47 days of 7,500,000
        (date(2025, 6, 20), Decimal("80250.00"), Decimal("0.00"), True),
        (date(2025, 8, 5), Decimal("0.00"), Decimal("2500000.00"), False),
        (date(2025, 9, 20), Decimal("57250.00"), Decimal("0.00"), True),  # 45 days of 7,500,000, 47 of 5,000,000
        (date(2025, 11, 5), Decimal("0.00"), Decimal("2500000.00"), False),
        (date(2025, 12, 20), Decimal("34000.00"), Decimal("0.00"), True),  # 45 days of 5,000,000, 46 of 2,500,000
        (date(2026, 2, 5), Decimal("11500.00"), Decimal("2500000.00"), True)]  # the last day settles the rest
    assert [r.days for r in rows] == [44, 45, 47, 45, 47, 45, 46, 47]  # a row after a settlement starts the day after
    assert amortize(quarterly_loan()).to_frame()["payment"].sum() == Decimal("10000000") + sum(r.interest for r in rows)


def test_monthly_settlement_and_a_settlement_day_of_the_contract() -> None:
    """按月結息 on the 21st: the due dates move to the 21st too (the settlement day is the contract's day)."""
    rows = amortize(quarterly_loan(interest_frequency="monthly", settlement_day=21)).rows
    settled = [r.end_date for r in rows if r.settles]
    assert settled[:3] == [date(2025, 2, 21), date(2025, 3, 21), date(2025, 4, 21)]
    assert [r.end_date for r in rows if r.principal][0] == date(2025, 5, 21)  # and on the due date: one row
    assert rows[0].interest == Decimal("17000.00")  # 5 to 21 February, both counted: 17 days


def test_a_quarterly_20th_settlement_across_a_holiday_moves() -> None:
    """Saturday 20 September 2025 moves to Monday 22nd (following): two more days of 5,000,000 in that quarter
    (1,000.00), two fewer in the next. Monday 5 May 2025, in the Labour Day holiday, moves the principal due to
    Tuesday 6th: a day more of 10,000,000's interest (1,000.00) before the balance falls."""
    unmoved = amortize(quarterly_loan()).rows
    moved = amortize(quarterly_loan(business_day="following")).rows
    assert [r.end_date for r in moved][1:5] == [date(2025, 5, 6), date(2025, 6, 20), date(2025, 8, 5),
                                                  date(2025, 9, 22)]
    assert moved[2].interest == unmoved[2].interest + Decimal("250.00")  # a day of 2,500,000 more
    assert moved[4].interest == unmoved[4].interest + Decimal("1000.00")
    # two days fewer of 5,000,000 at its start; Saturday 20 December moves to the 22nd too: two more of 2,500,000
    assert moved[6].interest == unmoved[6].interest - Decimal("1000.00") + Decimal("500.00")
    assert moved == reference_schedule(quarterly_loan(business_day="following"))[0]


def test_interest_is_the_days_balances_rounded_once() -> None:
    """Each settled amount is the sum of its days' accruals (balance x rate / 360), rounded once (issue 18,
    point 5), with a tranche and a prepayment inside the quarters."""
    loan = quarterly_loan(drawdowns=[{"date": "2025-02-05", "amount": "6000000.01"},
                                     {"date": "2025-04-11", "amount": "3999999.99"}],
                          prepayments=[{"date": "2025-06-03", "amount": "777777.77", "recompute": "term"}])
    rows = amortize(loan).rows
    # the balance at the end of each day: drawn by then, less prepaid and repaid on schedule by then
    drawn = {date(2025, 2, 5): 600000001, date(2025, 4, 11): 399999999}
    prepaid = {date(2025, 6, 3): 77777777}
    scheduled = {r.end_date: int(r.principal * 100) - sum(v for d, v in prepaid.items() if r.start_date <= d <= r.end_date)
                 for r in rows}

    def balance(day: date) -> int:
        return sum(v for d, v in drawn.items() if d <= day) - sum(
            v for d, v in [*prepaid.items(), *scheduled.items()] if d <= day)

    first = rows[0].start_date
    days = [first + timedelta(days=k) for k in range((rows[-1].end_date - first).days + 1)]
    assert balance(days[-1]) == 0
    after = first - timedelta(days=1)  # a settlement settles the days after the last one, up to its own
    for r in rows:
        if r.settles:
            exact = sum((Fraction(balance(d)) * Fraction("0.036") / 360 for d in days if after < d <= r.end_date),
                        Fraction(0))
            assert r.interest * 100 == div_half_up(exact.numerator, exact.denominator), r
            after = r.end_date
    assert rows == reference_schedule(loan)[0]


def test_what_a_calendar_loan_must_say() -> None:
    with pytest.raises(ValidationError, match="interest_frequency: interest_dates 'calendar' needs it"):
        quarterly_loan(interest_frequency=None)
    with pytest.raises(ValidationError, match="accrues each day's balance, on act_360 or act_365, not monthly"):
        quarterly_loan(interest_basis="monthly")
    with pytest.raises(ValidationError, match="is only given with interest_dates 'calendar'"):
        quarterly_loan(interest_dates="period_end")
    assert quarterly_loan().basis.value == "act_360" and quarterly_loan().interest_day == 20


def test_a_loan_book_reads_calendar_settlement_as_a_loan_does(curve) -> None:
    table = pd.DataFrame({
        "loan_id": ["A", "B", "C", "D", "E"], "principal": ["10000000"] * 5, "annual_rate": ["0.036"] * 5,
        "term_months": [12] * 5, "frequency": ["quarterly"] * 5, "method": ["equal_principal"] * 5,
        "start_date": ["2025-02-05"] * 5, "interest_dates": ["calendar", "calendar", "period_end", "calendar", None],
        "interest_frequency": ["quarterly", None, "monthly", "weekly", None],
        "interest_basis": [None, None, None, None, None]})
    result = amortize_portfolio(table)
    assert result.rejections[["loan_id", "field"]].values.tolist() == [
        ["B", "interest_frequency"], ["C", "interest_frequency"], ["D", "interest_frequency"]]
    a = result.schedule[result.schedule["loan_id"] == "A"]
    assert a["interest"].tolist() == [r.interest for r in amortize(quarterly_loan()).rows]
    e = result.schedule[result.schedule["loan_id"] == "E"]
    assert len(e) == 4  # blank: settled on the due dates
    yearly = amortize_portfolio(table.iloc[[0]], output="yearly").yearly
    rows = amortize(quarterly_loan()).rows
    assert yearly["interest"].tolist() == [sum(r.interest for r in rows if r.end_date.year == y) for y in (2025, 2026)]


@st.composite
def calendar_loans(draw) -> Loan:
    """A loan of the strategies (tranches and prepayments or not), settling interest on calendar dates on a
    day-count basis, its dates moved or not."""
    base = draw(st.one_of(loans(), loans_with_events()).filter(lambda x: x.start_date.year >= 2004))
    fields = base.model_dump()
    fields.update(interest_dates="calendar", interest_frequency=draw(st.sampled_from(["monthly", "quarterly"])),
                  interest_basis=draw(st.sampled_from([None, "act_360", "act_365"])),
                  business_day=draw(st.sampled_from(["none", "following", "modified_following"])))
    return Loan(**fields)


@settings(max_examples=examples(120), deadline=None)
@given(loan=calendar_loans())
# settling on Saturday 2005-12-31, a working day chinese-calendar's data misses (tests/params/test_business_days.py)
@example(loan=Loan(principal="1000000", annual_rate="0.049", term_months=6, start_date="2005-10-31",
                   interest_dates="calendar", interest_frequency="quarterly", settlement_day=31,
                   interest_basis="act_360", business_day="following"))
def test_calendar_settlement_equals_the_reference(loan: Loan, curve) -> None:
    priced = priced_as_the_reference(loan, curve, PROJECTED, projected_business_day)
    if priced is None:
        return
    _, expected = priced
    assert expected[-1].settles and all(r.interest == 0 for r in expected if not r.settles)
    assert_yearly_totals_are_the_rows(loan, curve if loan.floating else None, expected)


def test_a_book_of_calendar_loans_is_each_loan_alone(curve) -> None:
    """The portfolio path (rows, yearly totals, 貼息 per loan-year) equals one loan at a time."""
    from subsidy_engine import InterestSubsidyRule, interest_subsidy_portfolio
    from subsidy_engine.loans.arrays import loans_from_arrays  # noqa: F401  (the table round trip below)

    sample = [quarterly_loan(), quarterly_loan(interest_frequency="monthly", method="interest_only",
                                               business_day="following", start_date="2024-12-31"),
              quarterly_loan(frequency="monthly", method="equal_installment", term_months=24,
                             floating={"tenor": "1Y", "spread_bp": "-20"}, annual_rate=None)]
    rows = []
    for k, loan in enumerate(sample):
        fields = {key: value for key, value in loan.model_dump(exclude_none=True).items()
                  if key not in ("drawdowns", "prepayments", "floating")}
        if loan.floating:
            fields.update(floating_tenor="1Y", floating_spread_bp="-20")
        rows.append({"loan_id": f"L{k}", **{key: str(value) for key, value in fields.items()}})
    table = pd.DataFrame(rows)
    result = amortize_portfolio(table, lpr=curve, calendar=PROJECTED)
    assert result.rejections.empty
    for k, loan in enumerate(sample):
        mine = result.schedule[result.schedule["loan_id"] == f"L{k}"]
        expected = amortize(loan, curve, calendar=PROJECTED).rows
        assert mine["interest"].tolist() == [r.interest for r in expected]
        assert mine["end_date"].tolist() == [r.end_date for r in expected]
    rule = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=1)
    claims = interest_subsidy_portfolio(table, rule, lpr=curve, calendar=PROJECTED).claims
    for k, loan in enumerate(sample):
        per_period = interest_subsidy(amortize(loan, curve, calendar=PROJECTED), rule).to_frame()
        expected = per_period.assign(year=[r.end_date.year for r in amortize(loan, curve, calendar=PROJECTED).rows]
                                     ).groupby("year")["subsidy"].sum()
        mine = claims[claims["loan_id"] == f"L{k}"].set_index("year")["amount"]
        assert mine.to_dict() == {y: v for y, v in expected.items() if v > 0}
    assert np.array_equal(result.positions, np.arange(3))


@given(sample=st.lists(calendar_loans().filter(lambda x: not x.drawdowns and not x.prepayments), min_size=1,
                      max_size=4))
def test_calendar_loans_come_back_from_their_arrays_and_tables(sample) -> None:
    """The converter family of test_arrays for loans on calendar settlement and business days: model -> arrays ->
    model, and a table of the models' cells -> the models' arrays."""
    from dataclasses import fields

    from subsidy_engine.loans.arrays import arrays_from_frame, arrays_from_loans, loans_from_arrays
    from subsidy_engine.measures.claims import models_to_frame

    def _same_arrays(a, b) -> None:
        for f in fields(a):
            if f.name not in ("plans", "events"):
                np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name), err_msg=f.name)
        assert a.plans == b.plans

    arrays = arrays_from_loans(sample)
    _same_arrays(arrays_from_loans(loans_from_arrays(arrays)), arrays)
    table = models_to_frame(sample, ["principal"])
    table.insert(0, "loan_id", [f"L{k}" for k in range(len(sample))])
    read, good, rejections = arrays_from_frame(table)
    assert rejections.empty and good.tolist() == list(range(len(sample)))
    _same_arrays(read, arrays)


@st.composite
def aligned_loans(draw) -> tuple[Loan, Loan]:
    """A loan of the strategies on a daily basis, and the same loan settling interest on calendar dates that
    fall on its due dates: every month, or every quarter from a quarter's last month, on its due day, drawn on
    or after that day of its month."""
    import calendar as months

    base = draw(st.one_of(loans(), loans_with_events()))
    fields = base.model_dump()
    start = base.start_date
    if base.frequency.value == "quarterly":
        start = start.replace(month=(start.month + 2) // 3 * 3, day=min(start.day, 28))
    due_day = base.settlement_day or start.day
    start = start.replace(day=max(start.day, min(due_day, months.monthrange(start.year, start.month)[1])))
    later = [d.date for d in base.drawdowns[1:]] + [q.date for q in base.prepayments]
    if later and min(later) <= start:  # the events keep their days: the start may not pass them
        from hypothesis import reject

        reject()
    fields.update(start_date=start, settlement_day=due_day,
                  interest_basis=draw(st.sampled_from(["act_360", "act_365"])))
    if base.drawdowns:
        fields["drawdowns"] = [{"date": start, "amount": base.drawdowns[0].amount}, *base.model_dump()["drawdowns"][1:]]
    try:
        plain = Loan(**fields)
        settling = Loan(**{**fields, "interest_dates": "calendar", "interest_frequency": base.frequency.value})
    except ValidationError:
        from hypothesis import reject

        reject()
    return plain, settling


@settings(max_examples=examples(200), deadline=None)
@given(pair=aligned_loans())
def test_the_calendar_loop_equals_the_loop_of_tranche_loans_where_settlements_fall_on_due_dates(pair, curve) -> None:
    """The kernel's loop of loans on a calendar (kernels.amortize._amortize_calendar) carries its own copy of the
    principal's rules, for speed: where each settlement falls on a due date it must repay, draw and date exactly
    as the loop of tranche loans (or the lean loop) does the same loan settled on its due dates. Its interest
    differs by design: a calendar settlement settles its own date, a due date's period does not (each day's
    balance is the same in both, so the totals differ by the rows' roundings alone)."""
    plain, settling = pair
    lpr = curve if plain.floating else None
    try:
        expected = amortize(plain, lpr)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc).split(":")[0])):
            amortize(settling, lpr)
        return
    rows = amortize(settling, lpr).rows
    assert all(r.settles for r in rows)

    def principal_of(r):  # noqa: ANN001, ANN202
        return r.end_date, r.principal, r.opening_balance, r.drawn, r.closing_balance, r.annual_rate

    assert [principal_of(r) for r in rows] == [principal_of(r) for r in expected.rows]
    assert abs(sum(r.interest for r in rows) - expected.total_interest) <= Decimal("0.01") * len(rows)


def test_review_exact_accruals_of_a_calendar_loan_are_exact() -> None:
    """Review defect: a calendar settlement's exact accrual was its rounded amount. It is the sum of its days'
    accruals, exact, on the settling row (0 on the others), and rounds to the 貼息 paid."""
    from subsidy_engine import InterestSubsidyRule

    loan = quarterly_loan(principal="10000000.01")
    rule = InterestSubsidyRule(form="points_on_balance", points="0.0123457", max_years=2)
    subsidy = interest_subsidy(amortize(loan), rule)
    exact = subsidy.exact_accruals()
    assert exact[0] == Fraction(1000000001 * 123457 * 44, 10**7 * 360 * 100)  # 44 days of the whole balance
    assert exact[1] == 0  # a due date that settles nothing
    for accrual, gross in zip(exact, subsidy.gross_fen.tolist()):
        assert div_half_up((accrual * 100).numerator, (accrual * 100).denominator) == gross
    share = interest_subsidy(amortize(loan), InterestSubsidyRule(form="share_of_interest", share="0.3"))
    assert share.exact_accruals()[2] == Fraction(amortize(loan).rows[2].interest) * Fraction(3, 10)


def test_review_calendar_loans_have_no_calculator_quote() -> None:
    """Review finding: quoted payments assume interest paid with each installment."""
    with pytest.raises(ValueError, match="calendar dates"):
        amortize(quarterly_loan(method="equal_installment")).quoted_payments()


def test_review_the_tables_of_a_calendar_loan_say_which_rows_settle() -> None:
    frame = amortize(quarterly_loan()).to_frame()
    assert frame["settles"].tolist() == [r.settles for r in amortize(quarterly_loan()).rows]
    assert "settles" not in amortize(quarterly_loan(interest_dates="period_end", interest_frequency=None)).to_frame()
    table = pd.DataFrame([{"loan_id": "A", "principal": "10000000", "annual_rate": "0.036", "term_months": 12,
                           "frequency": "quarterly", "method": "equal_principal", "start_date": "2025-02-05",
                           "interest_dates": "calendar", "interest_frequency": "quarterly"}])
    assert amortize_portfolio(table).schedule["settles"].tolist() == frame["settles"].tolist()


def test_review_an_ambiguous_payment_of_a_calendar_loan_is_settled_on_the_rows_it_wrote() -> None:
    """Found by the hypothesis test: 0.01 yuan over two months is an annuity payment of half a fen, settled
    exactly by a re-run of the loan, which copied back its row capacity, one row more than a calendar loan
    that closes before its last settlement writes: an uninitialised row's segment failed the copy."""
    loan = Loan(principal="0.01", annual_rate="1E-10", term_months=2, start_date="2004-01-01",
                interest_dates="calendar", interest_frequency="monthly")
    assert amortize(loan).rows == reference_schedule(loan)[0]


def test_review_a_loan_settling_in_the_last_months_of_9999_is_priced_by_the_reference_too() -> None:
    """Review defect: the reference looked for the settlement after the last due date, in the year 10000, and
    raised for a loan ending in December 9999 (the kernel priced it); it now stops at the last due date's month."""
    from subsidy_engine.reference.calculators import reference_schedule

    loan = Loan(principal="987654321.09", annual_rate="0.0365", term_months=591, start_date="9950-09-30",
                method="interest_only", interest_basis="act_365", interest_dates="calendar",
                interest_frequency="monthly", business_day="modified_following")
    expected, _ = reference_schedule(loan, is_business=projected_business_day)
    assert amortize(loan, calendar=PROJECTED).rows == expected
    assert expected[-1].end_date.year == 9999


def test_review_a_loan_beyond_the_calendar_counts_its_first_year_as_the_kernel_prices_it() -> None:
    """Review defect: first_year without the rules moved a calendar loan's first settlement by its own rule, which
    the kernel sets aside for a loan the calendar cannot cover: 2024 instead of the 2023 the kernel writes."""
    from subsidy_engine.loans import amortization
    from subsidy_engine.loans.arrays import arrays_from_loans
    from subsidy_engine.params.business_days import china_calendar

    loans = arrays_from_loans([Loan(principal="1000000", annual_rate="0.036", term_months=435,
                                    frequency="quarterly", start_date="2023-12-13", settlement_day=31,
                                    business_day="following", interest_dates="calendar",
                                    interest_frequency="monthly")])
    calendar = china_calendar()
    rules = amortization.kernel_rules(loans, calendar)
    assert amortization.first_year(loans, calendar).tolist() == [2023]
    assert amortization.first_year(loans, calendar, rules).tolist() == [2023]

"""Loans drawn in tranches and prepaid (issue 18, point 1): the kernel equals the plain reference to the fen,
with the invariants, and the conventions of docs/conventions.md "Drawdowns and prepayments" hold."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine import InterestSubsidyRule, Loan, amortize, interest_subsidy
from subsidy_engine.reference.calculators import reference_interest_subsidy, reference_schedule

from strategies import examples, loans_with_events

RULES = [InterestSubsidyRule(form="points_on_balance", points="0.025", max_years=2),
         InterestSubsidyRule(form="points_on_principal", points="0.01", max_years=3),
         InterestSubsidyRule(form="rate_gap", benchmark_rate="0.06", max_years=1, annual_cap="1000000"),
         InterestSubsidyRule(form="share_of_interest", share="0.5", lifetime_cap="2000000")]


def assert_invariants(rows, loan: Loan) -> None:
    """Principal repaid equals principal drawn, balances never negative, the balance ends at 0.00."""
    first = loan.drawdowns[0].amount if loan.drawdowns else loan.principal
    assert rows[0].opening_balance == first
    assert sum(r.principal for r in rows) == loan.principal == first + sum(r.drawn for r in rows)
    assert rows[-1].closing_balance == Decimal("0.00")
    calendar = bool(loan.interest_months)  # a calendar settlement settles its own date: the next row starts after
    for prev, row in zip(rows, rows[1:]):
        after = timedelta(days=1 if calendar and prev.settles else 0)
        assert row.opening_balance == prev.closing_balance and row.start_date == prev.end_date + after
    for r in rows:
        assert r.payment == r.interest + r.principal
        assert r.closing_balance == r.opening_balance + r.drawn - r.principal
        assert min(r.closing_balance, r.principal, r.interest, r.drawn) >= 0
        assert r.days == (r.end_date - r.start_date).days + (1 if calendar and r.settles else 0)
        assert r.days > 0 or calendar  # a due date the day after a settlement accrues no day of its own


@settings(max_examples=examples(300), deadline=None)
def priced_as_the_reference(loan: Loan, curve, calendar=None, is_business=None):  # noqa: ANN001, ANN201
    """``(schedule, the reference's rows)`` of ``loan``, proven equal with the invariants and its 貼息 under every
    rule of :data:`RULES`; None when both refuse the loan (a prepayment above the balance, an event after the
    loan was repaid)."""
    lpr = curve if loan.floating else None
    options = {} if calendar is None else {"calendar": calendar}
    try:
        expected = reference_schedule(loan, curve, **({} if is_business is None else {"is_business": is_business}))[0]
    except ValueError as exc:
        with pytest.raises(ValueError, match="more than the balance|repaid in full"):
            amortize(loan, lpr, **options)
        assert "more than the balance" in str(exc) or "repaid in full" in str(exc)
        return None
    schedule = amortize(loan, lpr, **options)
    assert schedule.rows == expected
    assert_invariants(expected, loan)
    for rule in RULES:
        subsidy = interest_subsidy(schedule, rule)
        reference = reference_interest_subsidy(loan, expected, rule)
        assert subsidy.to_frame()["subsidy"].tolist() == [r.subsidy for r in reference]
        assert subsidy.to_frame()["gross"].tolist() == [r.gross for r in reference]
        assert (subsidy.subsidy_fen <= schedule.interest_fen).all()
    return schedule, expected


@given(loan=loans_with_events())
def test_tranches_and_prepayments_equal_the_reference(loan: Loan, curve) -> None:
    priced_as_the_reference(loan, curve)


def tranche_loan(**changes: object) -> Loan:
    fields: dict[str, object] = dict(
        annual_rate="0.036", term_months=12, interest_basis="act_360", method="interest_only",
        drawdowns=[{"date": "2024-01-10", "amount": "6000000"}, {"date": "2024-02-25", "amount": "3000000"},
                   {"date": "2024-04-10", "amount": "1000000"}])
    fields.update(changes)
    return Loan(**fields)  # type: ignore[arg-type]


def test_each_tranche_accrues_from_its_own_day() -> None:
    loan = tranche_loan()
    assert loan.principal == Decimal("10000000") and loan.start_date == date(2024, 1, 10)
    rows = amortize(loan).rows
    # Jan 10 - Feb 10: 6,000,000 x 3.6% x 31/360 = 18,600.00
    assert rows[0].interest == Decimal("18600.00") and rows[0].drawn == 0
    # Feb 10 - Mar 10 (29 days): 6,000,000 the whole period, 3,000,000 from Feb 25 (14 days)
    assert rows[1].interest == Decimal("21600.00")  # 6e6 x .036 x 29/360 + 3e6 x .036 x 14/360 = 17,400 + 4,200
    assert rows[1].drawn == Decimal("3000000.00") and rows[2].opening_balance == Decimal("9000000.00")
    # Apr 10 is a due date: the tranche drawn on it is owed from the next period on
    assert rows[2].drawn == Decimal("1000000.00") and rows[2].interest == Decimal("27900.00")  # 9e6 x .036 x 31/360
    assert rows[3].opening_balance == Decimal("10000000.00") and rows[3].interest == Decimal("30000.00")
    assert rows[-1].principal == Decimal("10000000.00")
    assert rows == reference_schedule(loan)[0]


def test_a_prepayment_with_the_same_term_lowers_the_payment_and_one_keeping_the_payment_ends_the_loan_sooner() -> None:
    base = dict(principal="1000000", annual_rate="0.049", term_months=120, start_date="2024-01-15")
    plain = amortize(Loan(**base)).rows  # type: ignore[arg-type]
    assert plain[0].payment == Decimal("10557.74")
    prepaid = {"date": "2025-01-15", "amount": "200000"}  # on the 12th due date, after its payment
    same_term = amortize(Loan(**base, prepayments=[{**prepaid, "recompute": "payment"}])).rows  # type: ignore[arg-type]
    shorter = amortize(Loan(**base, prepayments=[{**prepaid, "recompute": "term"}])).rows  # type: ignore[arg-type]
    assert same_term[11].principal == plain[11].principal + 200000  # the due date's principal, then the prepayment
    assert len(same_term) == 120 and same_term[12].payment < plain[12].payment
    assert shorter[12].payment == plain[12].payment and len(shorter) < 120
    assert sum(r.interest for r in shorter) < sum(r.interest for r in same_term) < sum(r.interest for r in plain)
    for loan_rows, recompute in ((same_term, "payment"), (shorter, "term")):
        loan = Loan(**base, prepayments=[{**prepaid, "recompute": recompute}])  # type: ignore[arg-type]
        assert loan_rows == reference_schedule(loan)[0]
        assert_invariants(loan_rows, loan)


def test_a_prepayment_of_the_whole_balance_closes_the_loan_on_its_day() -> None:
    base = dict(principal="1200000", annual_rate="0.04", term_months=24, start_date="2024-01-20",
                interest_basis="act_360")
    rows = amortize(Loan(**base)).rows  # type: ignore[arg-type]
    owed = rows[5].closing_balance  # after the 6th due date, 2024-07-20
    closed = amortize(Loan(**base, prepayments=[{"date": "2024-08-05", "amount": owed}])).rows  # type: ignore[arg-type]
    assert len(closed) == 7 and closed[-1].end_date == date(2024, 8, 5) and closed[-1].days == 16
    assert closed[-1].principal == owed and closed[-1].closing_balance == 0
    # the interest of its last 16 days, settled on the day it closes
    assert closed[-1].interest == (owed * Decimal("0.04") * 16 / 360).quantize(Decimal("0.01"))
    on_due_date = amortize(Loan(**base, prepayments=[{"date": "2024-07-20", "amount": owed}])).rows  # type: ignore[arg-type]
    assert len(on_due_date) == 6 and on_due_date[-1].principal == rows[5].principal + owed


@pytest.mark.parametrize(("prepayments", "drawdowns", "message"), [
    ([{"date": "2024-03-01", "amount": "2000000"}], None, r"prepayments\[0\]: 2000000.00 on 2024-03-01 is more "
                                                          r"than the balance then \(1000000.00\)"),
    ([{"date": "2024-03-01", "amount": "1000000"}], [{"date": "2024-01-10", "amount": "1000000"},
                                                     {"date": "2024-05-01", "amount": "5"}],
     r"drawdowns\[1\]: 5.00 on 2024-05-01 comes after the loan was repaid in full"),
])
def test_an_event_that_cannot_happen_is_refused_naming_it(prepayments, drawdowns, message) -> None:
    loan = Loan(principal="1000000" if drawdowns is None else "1000005", annual_rate="0.04", term_months=12,
                start_date="2024-01-10", method="interest_only", prepayments=prepayments,
                drawdowns=drawdowns or ())
    with pytest.raises(ValueError, match=message):
        amortize(loan)


@pytest.mark.parametrize(("changes", "message"), [
    ({"principal": "5"}, "drawdowns add up to 10000000, but principal is 5"),
    ({"start_date": "2024-01-11"}, "the first is on 2024-01-10, but start_date is 2024-01-11"),
    ({"prepayments": [{"date": "2025-01-10", "amount": "1"}]}, r"prepayments\[0\]: 2025-01-10 is not before the "
                                                               "loan's last due date 2025-01-10"),
    ({"prepayments": [{"date": "2024-01-10", "amount": "1"}]}, "is not after the first drawdown"),
    ({"prepayments": [{"date": "2024-03-01", "amount": "1"}, {"date": "2024-03-01", "amount": "2"}]},
     r"prepayments\[1\]: 2024-03-01 is not after the one before"),
    ({"prepayments": [{"date": "2024-03-01", "amount": "1", "recompute": "shorter"}]}, "'payment', 'term'"),
])
def test_events_out_of_the_loans_life_are_refused_when_the_loan_is_made(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        tranche_loan(**changes)


def test_a_loan_without_events_is_unchanged_and_its_subsidy_too() -> None:
    loan = Loan(principal="1000000", annual_rate="0.049", term_months=360, start_date="2024-01-15")
    same = Loan(principal="1000000", annual_rate="0.049", term_months=360, start_date="2024-01-15",
                drawdowns=[{"date": "2024-01-15", "amount": "1000000"}])
    assert amortize(loan).rows == amortize(same).rows
    rule = RULES[0]
    assert (interest_subsidy(amortize(loan), rule).subsidy_fen == interest_subsidy(amortize(same), rule).subsidy_fen).all()


@given(st.data())
@settings(max_examples=examples(60), deadline=None)
def test_closing_prepayments_equal_the_reference(data) -> None:
    """A prepayment of exactly the balance (found from the schedule without it) closes the loan, on a due date
    or between two, on every basis and method."""
    loan = data.draw(loans_with_events(floating=False).filter(lambda x: not x.prepayments))
    rows = amortize(loan).rows
    if len(rows) < 2:
        return
    k = data.draw(st.integers(0, len(rows) - 2))
    later = [r.end_date for r in rows if r.end_date > rows[k].end_date]
    if any(d.date >= rows[k].end_date for d in loan.drawdowns) or not later or rows[k].closing_balance == 0:
        return  # a tranche still to come (a day's prepayment comes before its tranche), or nothing owed
    day = data.draw(st.sampled_from([rows[k].end_date] + [
        date.fromordinal(o) for o in range(rows[k].end_date.toordinal() + 1, later[0].toordinal())]))
    closing = loan.model_copy(update={"prepayments": ()})
    closing = Loan(**{**closing.model_dump(exclude={"principal"}),
                      "prepayments": [{"date": day, "amount": rows[k].closing_balance}]})
    closed = amortize(closing).rows
    assert closed == reference_schedule(closing)[0]
    assert len(closed) == k + (1 if day == rows[k].end_date else 2)
    assert_invariants(closed, closing)


# -- Defects a review of the change found (each a test first) ---------------------------------------------------
def test_a_term_prepayment_keeps_its_shorter_term_through_a_rate_reset(curve) -> None:
    """A prepayment with recompute 'term' shortens the term; a later reset spreads the new payment over the
    shortened term, not over the original one (which would undo the prepayment's choice)."""
    fields = dict(principal="1000000", term_months=120, start_date="2022-03-15",
                  prepayments=[{"date": "2022-09-15", "amount": "400000", "recompute": "term"}])
    fixed = amortize(Loan(**fields, annual_rate="0.046")).rows  # type: ignore[arg-type]
    assert len(fixed) == 67 and fixed[7].payment == fixed[30].payment == Decimal("10412.11")
    floating = Loan(**fields, floating={"tenor": "5Y", "spread_bp": "0", "reset": "january"})  # type: ignore[arg-type]
    rows = amortize(floating, curve).rows
    assert len(rows) < 80  # the term as shortened at the prepayment, about 67 months
    assert rows == reference_schedule(floating, curve)[0]
    assert rows[12].payment > Decimal("9000")  # the reset recomputes over ~57 months left, not 110


def test_the_window_cuts_a_tranche_drawn_after_it_closed() -> None:
    """A tranche drawn inside a period that the 貼息 window cuts earns nothing for its days after the window."""
    loan = Loan(annual_rate="0.04", term_months=36, method="interest_only", interest_basis="act_360",
                settlement_day=20, drawdowns=[{"date": "2024-01-10", "amount": "1000000"},
                                              {"date": "2025-01-15", "amount": "9000000"}])
    schedule = amortize(loan)
    for form in ("points_on_balance", "points_on_principal"):
        rule = InterestSubsidyRule(form=form, points="0.025", max_years=1)  # the window ends 2025-01-10
        subsidy = interest_subsidy(schedule, rule).to_frame()
        cut = subsidy[subsidy.end_date == date(2025, 1, 20)].iloc[0]
        assert cut.gross == Decimal("1458.33")  # 1,000,000 x 2.5% x 21/360 (Dec 20 - Jan 10)
        assert subsidy.subsidy.tolist() == [r.subsidy for r in reference_interest_subsidy(loan, schedule.rows, rule)]


def test_quotes_of_a_calculator_refuse_a_loan_with_tranches_or_prepayments() -> None:
    prepaid = amortize(Loan(principal="1000000", annual_rate="0.049", term_months=120, start_date="2024-01-15",
                            prepayments=[{"date": "2025-01-15", "amount": "500000", "recompute": "term"}]))
    with pytest.raises(ValueError, match="drawdowns or prepayments"):
        prepaid.quoted_payments()
    with pytest.raises(ValueError, match="drawdowns or prepayments"):
        prepaid.quoted_total_interest("rounded_payment")


def test_openings_of_a_run_are_read_only_from_the_rows_written() -> None:
    from subsidy_engine.loans import amortization
    from subsidy_engine.loans.arrays import arrays_from_loans

    loan = Loan(annual_rate="0.04", term_months=12, method="interest_only", interest_basis="act_360",
                drawdowns=[{"date": "2024-01-10", "amount": "1000000"}, {"date": "2024-03-15", "amount": "500000"}],
                prepayments=[{"date": "2024-06-05", "amount": "1500000"}])
    run = amortization.run(arrays_from_loans([loan]), None, rows=True, years=False)
    with pytest.raises(ValueError, match="keep_written"):
        run.opening_fen()
    assert run.keep_written().opening_fen().tolist() == [r.opening_balance * 100 for r in amortize(loan).rows]

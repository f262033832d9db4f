"""Published figures (issue 2, point 8; docs/conventions.md examples)."""

from decimal import Decimal

from subsidy_engine import Loan, amortize
from subsidy_engine.reference.calculators import reference_schedule


def test_equal_installment_mortgage_figures():
    # 1,000,000 at 4.90% over 360 months: payment 5,307.27, period-1 interest 4,083.33.
    s = amortize(Loan(principal="1000000", annual_rate="0.049", term_months=360,
                      start_date="2024-01-15"))
    first = s.rows[0]
    assert first.payment == Decimal("5307.27")
    assert first.interest == Decimal("4083.33")
    assert first.principal == Decimal("1223.94")
    assert all(r.payment == Decimal("5307.27") for r in s.rows[:-1])
    assert s.rows[-1].closing_balance == Decimal("0.00")


def test_equal_principal_figures():
    # 300,000 at 4.90% over 240 months: 2,475.00, 2,469.90, 2,464.79, 2,459.69.
    s = amortize(Loan(principal="300000", annual_rate="0.049", term_months=240,
                      method="equal_principal", start_date="2024-01-15"))
    assert [r.payment for r in s.rows[:4]] == [Decimal(x) for x in
                                                ("2475.00", "2469.90", "2464.79", "2459.69")]


def test_act_360_half_fen_tie_rounds_up():
    # 150,000 at 8.075% for 90 actual days on ACT/360: 3,028.125 -> 3,028.13.
    loan = Loan(principal="150000", annual_rate="0.08075", term_months=3, frequency="quarterly",
                method="interest_only", interest_basis="act_360", start_date="2023-01-01")
    s = amortize(loan)
    assert s.rows[0].days == 90
    assert s.rows[0].interest == Decimal("3028.13")
    assert reference_schedule(loan)[0][0].interest == Decimal("3028.13")


def test_interest_only_defaults_to_act_360():
    loan = Loan(principal="150000", annual_rate="0.08075", term_months=3, frequency="quarterly",
                method="interest_only", start_date="2023-01-01")
    assert amortize(loan).rows[0].interest == Decimal("3028.13")


def test_quoted_totals_differ_from_the_real_total():
    s = amortize(Loan(principal="1000000", annual_rate="0.049", term_months=360,
                      start_date="2024-01-15"))
    assert s.total_interest == sum(r.interest for r in s.rows)
    assert s.quoted_total_interest("rounded_payment") == Decimal("5307.27") * 360 - 1000000
    unrounded = s.quoted_total_interest("unrounded_payment")
    assert s.total_interest != unrounded != s.quoted_total_interest("rounded_payment")
    assert abs(unrounded - s.total_interest) < 5


def test_equal_principal_payments_as_calculators_quote_them():
    # 230,000 at 4.90% over 120 months, 等額本金: published calculators show a first payment of 2,855.83
    # falling by 7.83 a month (230,000/120 + 230,000 x 4.9%/12 = 2,855.8333, rounded once); the schedule
    # rounds each part to the fen (1,916.67 + 939.17 = 2,855.84).
    s = amortize(Loan(principal="230000", annual_rate="0.049", term_months=120, method="equal_principal",
                      start_date="2024-01-15"))
    assert s.first_payment == Decimal("2855.84")
    quoted = s.quoted_payments()
    assert quoted[:2] == [Decimal("2855.83"), Decimal("2848.01")]
    assert len(quoted) == 120 and quoted[-1] == Decimal("1924.49")  # 1,916.67 + 7.83, rounded once: 1,924.49
    assert sum(quoted) - 230000 == s.quoted_total_interest("rounded_payment")


def test_quoted_payments_of_the_other_methods():
    annuity = amortize(Loan(principal="1000000", annual_rate="0.049", term_months=360, start_date="2024-01-15"))
    assert set(annuity.quoted_payments()) == {Decimal("5307.27")}
    bullet = amortize(Loan(principal="120000", annual_rate="0.06", term_months=3, method="interest_only",
                           interest_basis="monthly", grace_months=0, start_date="2024-01-15"))
    assert bullet.quoted_payments() == [Decimal("600.00"), Decimal("600.00"), Decimal("120600.00")]
    graced = amortize(Loan(principal="120000", annual_rate="0.06", term_months=4, grace_months=2,
                           method="equal_principal", start_date="2024-01-15"))
    assert graced.quoted_payments() == [Decimal("600.00"), Decimal("600.00"), Decimal("60600.00"),
                                        Decimal("60300.00")]

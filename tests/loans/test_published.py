"""Published figures (issue 2, point 8; docs/conventions.md examples)."""

from datetime import date
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


# Prepayments (issue 18, point 6). Each figure is the source's own; where it shows fewer digits, the test
# compares at its precision.
def _prepaid(principal: str, rate: str, term: int, after: int, amount: str, recompute: str) -> tuple[Loan, object]:
    """A monthly 等額本息 loan prepaid ``amount`` on the due date of payment ``after`` (after that payment)."""
    start = date(2000, 1, 15)
    due = date(2000 + after // 12, 1 + after % 12, 15)  # payment ``after`` is due ``after`` months later
    plain = Loan(principal=principal, annual_rate=rate, term_months=term, start_date=start)
    prepaid = Loan(principal=principal, annual_rate=rate, term_months=term, start_date=start,
                   prepayments=[{"date": due, "amount": amount, "recompute": recompute}])
    return plain, amortize(prepaid)


def test_a_textbook_prepayment_recomputed_both_ways():
    # quesba.com, "30-year fully amortizing mortgage loan made 10 years ago ... 75,000" (the solution works at 10%):
    # "PMT = $658.18 ... FV = $68,203.24 ... New Monthly Payment = $561.67 ... New Loan Maturity = 161 months".
    plain, keep_term = _prepaid("75000", "0.10", 360, 120, "10000", "payment")
    before = amortize(plain)
    assert before.rows[0].payment == Decimal("658.18")
    assert before.rows[119].closing_balance == Decimal("68203.24")
    assert keep_term.rows[120].payment == Decimal("561.67") and len(keep_term.rows) == 360
    _, keep_payment = _prepaid("75000", "0.10", 360, 120, "10000", "term")
    assert len(keep_payment.rows) - 120 == 161
    assert all(r.payment == Decimal("658.18") for r in keep_payment.rows[120:-1])
    assert keep_payment.rows[-1].closing_balance == Decimal("0.00")


def test_a_home_loan_prepayment_as_a_newspaper_published_it():
    # Livemint, 2021-09-14, "Consider these factors before opting for home loan prepayment" (Paisabazaar's
    # figures): Rs50 lakh at 8% for 20 years, Rs6 lakh prepaid after 5 years: "current outstanding would be
    # Rs43.76 lakh ... save about Rs11.30 lakh ... tenure would reduce by 41 months ... EMI would fall from
    # ₹41,822 to ₹36,088 ... savings of ₹4.32 lakh". A lakh is 100,000.
    plain, keep_payment = _prepaid("5000000", "0.08", 240, 60, "600000", "term")
    _, keep_term = _prepaid("5000000", "0.08", 240, 60, "600000", "payment")
    before = amortize(plain)

    def lakh(amount: Decimal) -> Decimal:
        return (amount / 100000).quantize(Decimal("0.01"))

    assert before.rows[0].payment.quantize(Decimal("1")) == 41822
    assert lakh(before.rows[59].closing_balance) == Decimal("43.76")
    assert 240 - len(keep_payment.rows) == 41
    assert lakh(before.total_interest - keep_payment.total_interest) == Decimal("11.30")
    assert keep_term.rows[60].payment.quantize(Decimal("1")) == 36088
    assert lakh(before.total_interest - keep_term.total_interest) == Decimal("4.32")


def test_a_chinese_calculator_s_prepayment_keeping_the_term():
    # A calculator's answer copied on Chinese Q&A sites (m.789yingshi.cn/wenda/201967.html): 300,000 at 5.9% over
    # 30 years, 100,000 prepaid after a year: "每月還款: 1779.41 ... 一年后貸款余額是:296246.67 ,提前歸還10萬,
    # 余額為:196246.67 ... 每月還款: 1178.76".
    plain, keep_term = _prepaid("300000", "0.059", 360, 12, "100000", "payment")
    assert amortize(plain).rows[0].payment == Decimal("1779.41")
    assert amortize(plain).rows[11].closing_balance == Decimal("296246.67")
    assert keep_term.rows[12].opening_balance == Decimal("196246.67")
    assert keep_term.rows[12].payment == Decimal("1178.76")


def test_a_quarter_settled_on_the_20th_is_its_days_at_the_daily_rate():
    # wxdog.cc/a/751500853716775572.html: "150000*8.075%/360*90=3028.125元 ... *91=3061.77 ... *92=3095.417":
    # a quarter's interest on 150,000 at 8.075% (日利率 = 年利率/360) for its days. An interest-only loan settled
    # on the 20th of each quarter's last month has quarters of 91 (20 September to 20 December), 90 (to 20 March
    # 2025) and 92 days (to 20 June); the 90-day quarter is a half-fen tie, rounded up.
    loan = Loan(principal="150000", annual_rate="0.08075", term_months=24, method="interest_only",
                start_date="2024-07-01", interest_dates="calendar", interest_frequency="quarterly")
    settled = {r.end_date: r.interest for r in amortize(loan).rows if r.settles}
    assert [settled[date(2024, 12, 20)], settled[date(2025, 3, 20)], settled[date(2025, 6, 20)]] == [
        Decimal("3061.77"), Decimal("3028.13"), Decimal("3095.42")]



def test_a_settlement_on_the_20th_settles_the_days_through_the_20th():
    # gaojiufeng.cn/?id=3769077, an accounting exercise: 2,000,000 drawn on 1 July at 4.5%, interest settled on
    # the 20th of the quarter's last month: "应付利息=本金*年利率/360天*计息天数=200*4.5%/360*82=2.05万元", the
    # 82 days from 1 July to 20 September, both counted (算头: the drawdown day; the 20th: 结息日 settles its own
    # day, the next quarter runs from the 21st).
    loan = Loan(principal="2000000", annual_rate="0.045", term_months=12, method="interest_only",
                start_date="2024-07-01", interest_dates="calendar", interest_frequency="quarterly")
    settled = [(r.end_date, r.interest) for r in amortize(loan).rows if r.settles]
    assert settled[:2] == [(date(2024, 9, 20), Decimal("20500.00")),  # 82 days
                           (date(2024, 12, 20), Decimal("22750.00"))]  # 21 September to 20 December: 91 days
    assert sum(r.interest for r in amortize(loan).rows) == Decimal("91250.00")  # 365 days at 4.5% / 360
    rows, _ = reference_schedule(loan)
    assert [(r.end_date, r.interest) for r in rows if r.settles][:2] == settled[:2]

"""Interest subsidy (貼息, measures 1 and 15): published examples, kernel == reference, invariants."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from subsidy_engine import (
    InterestSubsidyRule,
    Loan,
    amortize,
    interest_subsidy,
    interest_subsidy_portfolio,
    load_policy,
)
from subsidy_engine.core.dates import EPOCH, epoch_days
from subsidy_engine.measures.interest_subsidy import subsidy_window
from subsidy_engine.reference.calculators import reference_interest_subsidy

from builders import table_of, two_sets, write
from strategies import interest_rules, loans

TWO_POINTS_FIVE = dict(form="points_on_balance", points="0.025", max_years=2)


def test_500m_at_3pct_saves_about_25m() -> None:
    # 京發改規〔2024〕4號, 劳动午报 2024-04-24: 5亿 x 2.5% x 2 years = 约2500万
    held = Loan(principal="500000000", annual_rate="0.03", term_months=60, grace_months=24,
                start_date="2024-04-19")
    exact = interest_subsidy(amortize(held), InterestSubsidyRule(**TWO_POINTS_FIVE)).total
    assert exact == Decimal("25000000.08")  # 24 x round(1,041,666.666...)
    amortizing = Loan(principal="500000000", annual_rate="0.03", term_months=60, start_date="2024-04-19")
    about = interest_subsidy(amortize(amortizing), InterestSubsidyRule(**TWO_POINTS_FIVE)).total
    assert Decimal("20000000") < about < exact  # repayments lower the balance: 约


def test_960m_at_2_66pct_leaves_a_net_rate_of_0_16pct() -> None:
    loan = Loan(principal="960000000", annual_rate="0.0266", term_months=24, method="interest_only",
                interest_basis="monthly", start_date="2024-06-20")
    frame = interest_subsidy(amortize(loan), InterestSubsidyRule(**TWO_POINTS_FIVE)).to_frame()
    # 9.6亿 x 0.16% / 12 = 128,000.00 a month, every month
    assert set(frame.net_interest) == {Decimal("128000.00")}
    assert set(frame.cut) == {Decimal("0.00")}


def test_50m_at_2_34pct_is_subsidised_to_zero_never_below() -> None:
    loan = Loan(principal="50000000", annual_rate="0.0234", term_months=24, start_date="2024-06-20")
    sub = interest_subsidy(amortize(loan), InterestSubsidyRule(**TWO_POINTS_FIVE))
    frame = sub.to_frame()
    assert (frame.subsidy == frame.interest).all() and set(frame.net_interest) == {Decimal("0.00")}
    # on the original principal the 2.34% would exceed the interest: cut, and reported
    on_principal = interest_subsidy(amortize(loan), InterestSubsidyRule(
        form="points_on_principal", points="0.025", max_years=2)).to_frame()
    assert set(on_principal.net_interest) == {Decimal("0.00")}
    assert (on_principal.cut_by_interest > 0).sum() == 23  # all but the first period


def test_window_prorates_a_straddling_period_by_days() -> None:
    loan = Loan(principal="1000000", annual_rate="0.0365", term_months=3, method="interest_only",
                interest_basis="act_365", start_date="2024-01-01")
    rule = InterestSubsidyRule(form="share_of_interest", share="0.5", start_date="2024-01-11")
    frame = interest_subsidy(amortize(loan), rule).to_frame()
    # January: 31 days of interest 3,100.00, 21 of them inside -> 3,100 x 0.5 x 21/31 = 1,050.00
    assert frame.subsidy.tolist()[:2] == [Decimal("1050.00"), Decimal("1450.00")]


def test_caps_cut_in_order_and_say_so() -> None:
    loan = Loan(principal="12000000", annual_rate="0.05", term_months=24, method="interest_only",
                interest_basis="monthly", start_date="2024-01-15")
    rule = InterestSubsidyRule(form="share_of_interest", share="0.5", annual_cap="100000",
                               lifetime_cap="210000")
    sub = interest_subsidy(amortize(loan), rule)
    frame = sub.to_frame()  # 25,000.00 a month before caps: 11 due dates in 2024, 12 in 2025, 1 in 2026
    by_year = frame.groupby(frame.end_date.map(lambda d: d.year)).subsidy.sum()
    assert by_year.tolist() == [Decimal("100000.00"), Decimal("100000.00"), Decimal("10000.00")]
    assert sub.total == Decimal("210000.00")
    assert frame.cut_by_lifetime_cap.sum() == Decimal("15000.00")
    assert frame.cut_by_annual_cap.sum() + frame.cut_by_lifetime_cap.sum() == sub.total_cut


def test_the_interest_ceiling_comes_before_the_loan_s_caps() -> None:
    """docs/conventions.md: per period the window and the interest ceiling, then the loan's annual and lifetime caps,
    so the caps' room is used only by what is paid. A rate gap of 3 points on a 1% loan accrues 3,000.00 a
    month against 1,000.00 of interest; caps that counted the accrual first would pay 2,500.00, not 6,500.00."""
    loan = Loan(principal="1200000", annual_rate="0.01", term_months=12, method="interest_only",
                interest_basis="monthly", start_date="2025-01-15")  # 11 due dates in 2025, 1 in 2026
    rule = InterestSubsidyRule(form="rate_gap", benchmark_rate="0.04", annual_cap="6000", lifetime_cap="6500")
    schedule = amortize(loan)
    frame = interest_subsidy(schedule, rule).to_frame()
    assert set(frame.interest) == {Decimal("1000.00")} and set(frame.gross) == {Decimal("3000.00")}

    def paid(gross: list[Decimal], interest: list[Decimal], year: list[int], ceiling_first: bool) -> list[Decimal]:
        """Per period: the ceiling, then the caps on the running totals of what each step lets through
        (``ceiling_first``), or the caps on the accrual and the ceiling after them."""
        out, in_year, in_life = [], defaultdict(Decimal), Decimal(0)
        for g, i, y in zip(gross, interest, year):
            amount = min(g, i) if ceiling_first else g
            amount = min(amount, rule.annual_cap - in_year[y])
            in_year[y] += amount
            amount = min(amount, rule.lifetime_cap - in_life)
            in_life += amount
            out.append(min(amount, i) if not ceiling_first else amount)
        return out

    args = (frame.gross.tolist(), frame.interest.tolist(), [d.year for d in frame.end_date])
    ceiling_first, caps_first = paid(*args, ceiling_first=True), paid(*args, ceiling_first=False)
    assert sum(ceiling_first) == Decimal("6500.00") != sum(caps_first) == Decimal("2500.00")
    assert frame.subsidy.tolist() == ceiling_first
    by_year = frame.groupby(frame.end_date.map(lambda d: d.year))[["subsidy", "cut_by_interest",
                                                                   "cut_by_annual_cap", "cut_by_lifetime_cap"]].sum()
    assert by_year.loc[2025].tolist() == [Decimal("6000.00"), Decimal("22000.00"), Decimal("5000.00"), Decimal(0)]
    assert by_year.loc[2026].tolist() == [Decimal("500.00"), Decimal("2000.00"), Decimal(0), Decimal("500.00")]
    # the reference and the portfolio kernel agree
    assert [r.subsidy for r in reference_interest_subsidy(loan, schedule.rows, rule)] == ceiling_first
    claims = interest_subsidy_portfolio(table_of([loan]), rule).claims
    assert claims.amount.tolist() == [Decimal("6000.00"), Decimal("500.00")]


@pytest.mark.parametrize(("fields", "message"), [
    ({"form": "points_on_balance"}, "needs points"),
    ({"form": "rate_gap", "points": "0.01"}, "needs benchmark_rate, and takes no points"),
    ({"form": "points_on_balance", "points": 0.025}, "floats are not accepted"),
    ({"form": "interest_free"}, "is not one of"),
    ({"form": "share_of_interest", "share": "0.5", "max_years": 0}, "between 1 and 100"),
    ({"form": "share_of_interest", "share": "0.5", "annual_cap": "-1"}, "must not be negative"),
])
def test_bad_rules_are_refused_clearly(fields, message) -> None:
    with pytest.raises(ValidationError, match=message):
        InterestSubsidyRule(**fields)


@given(loan=loans(), rule=interest_rules())
def test_kernel_equals_reference_and_invariants_hold(loan: Loan, rule: InterestSubsidyRule, curve) -> None:
    schedule = amortize(loan, curve if loan.floating else None)
    sub = interest_subsidy(schedule, rule)
    frame = sub.to_frame()
    expected = reference_interest_subsidy(loan, schedule.rows, rule)
    assert frame.gross.tolist() == [r.gross for r in expected]
    assert frame.subsidy.tolist() == [r.subsidy for r in expected]
    assert frame.cut_by_interest.tolist() == [r.cut_by_interest for r in expected]
    assert frame.cut_by_annual_cap.tolist() == [r.cut_by_annual_cap for r in expected]
    assert frame.cut_by_lifetime_cap.tolist() == [r.cut_by_lifetime_cap for r in expected]

    window = subsidy_window(np.array([epoch_days(loan.start_date)]), rule)
    start, end = (EPOCH + timedelta(days=int(day)) for day in (window[0][0], min(window[1][0], 10**6)))
    per_year: dict[int, Decimal] = defaultdict(Decimal)
    for row in frame.itertuples():
        assert Decimal(0) <= row.subsidy <= row.interest
        assert row.net_interest == row.interest - row.subsidy >= 0
        assert row.gross == row.subsidy + row.cut_by_interest + row.cut_by_annual_cap + row.cut_by_lifetime_cap
        assert row.cut == row.gross - row.subsidy
        if row.end_date <= start or row.start_date >= end:
            assert row.gross == 0  # outside the window
        per_year[row.end_date.year] += row.subsidy
    if rule.annual_cap is not None:
        assert all(total <= rule.annual_cap for total in per_year.values())
    if rule.lifetime_cap is not None:
        assert sub.total <= rule.lifetime_cap
    assert sub.total == sum(frame.subsidy, Decimal(0))


@given(loan=loans(), rule=interest_rules())
def test_a_loan_s_caps_count_only_what_the_interest_ceiling_leaves(loan: Loan, rule: InterestSubsidyRule,
                                                                    curve) -> None:
    """With the ceiling first, a loan is paid min(lifetime cap, the sum over years of min(annual cap, that
    year's sum of min(accrual, interest))): no cap's room goes to money the ceiling cut."""
    frame = interest_subsidy(amortize(loan, curve if loan.floating else None), rule).to_frame()
    within = defaultdict(Decimal)
    for row in frame.itertuples():
        within[row.end_date.year] += min(row.gross, row.interest)
    after_annual = sum((w if rule.annual_cap is None else min(w, rule.annual_cap) for w in within.values()),
                       Decimal(0))
    expected = after_annual if rule.lifetime_cap is None else min(after_annual, rule.lifetime_cap)
    assert sum(frame.subsidy, Decimal(0)) == expected


@given(sample=st.lists(loans(), min_size=1, max_size=6), rule=interest_rules())
def test_portfolio_equals_the_scalar_path_per_loan_and_year(sample, rule, curve) -> None:
    claims = interest_subsidy_portfolio(table_of(sample), rule, lpr=curve).claims
    expected = []
    for k, loan in enumerate(sample):
        frame = interest_subsidy(amortize(loan, curve if loan.floating else None), rule).to_frame()
        by_year = frame.groupby(frame.end_date.map(lambda d: d.year))
        for year, group in by_year:
            if group.gross.sum() > 0:
                expected.append((f"L{k}", year, group.interest.sum(), group.gross.sum(), group.subsidy.sum(),
                                 group.cut_by_interest.sum(), group.cut_by_annual_cap.sum(),
                                 group.cut_by_lifetime_cap.sum()))
    columns = ["loan_id", "year", "interest", "gross", "amount", "cut_by_interest", "cut_by_annual_cap",
               "cut_by_lifetime_cap"]
    assert [tuple(r) for r in claims[columns].itertuples(index=False)] == expected


def test_portfolio_takes_each_loans_rule_by_its_drawdown(tmp_path) -> None:
    policy = load_policy(write(tmp_path, two_sets(date(2024, 12, 31), date(2025, 1, 1))))  # 1.5 points from 2025
    table = pd.DataFrame({"loan_id": ["old", "new"], "principal": ["12000000"] * 2, "annual_rate": ["0.04"] * 2,
                          "term_months": [12, 12], "method": ["interest_only"] * 2,
                          "interest_basis": ["monthly"] * 2, "start_date": ["2024-12-31", "2025-01-01"]})
    claims = interest_subsidy_portfolio(table, policy).claims
    totals = claims.groupby("loan_id").amount.sum()
    assert totals["old"] == Decimal("300000.00") and totals["new"] == Decimal("180000.00")


def test_every_word_the_kernels_see_has_its_code() -> None:
    """A form, basis or method added to the vocabulary without a kernel constant (and so without a branch
    in the kernels) fails here: each member has a constant of its name, equal to its code."""
    from subsidy_engine.core.vocabulary import BusinessDay, InterestBasis, Method, Recompute, SubsidyForm
    from subsidy_engine.kernels import codes

    for prefix, vocabulary in (("FORM", SubsidyForm), ("BASIS", InterestBasis), ("METHOD", Method),
                               ("BUSINESS_DAY", BusinessDay), ("RECOMPUTE", Recompute)):
        for member in vocabulary:
            name = f"{prefix}_{member.name}".replace("THIRTY_360", "30_360")
            assert getattr(codes, name) == member.code, name


def test_the_accrual_terms_of_a_period_outside_the_window_are_its_own() -> None:
    """Review of issue 17: after the per-period path moved into the kernel, a period outside the window showed
    terms (0, 0, 0, 1, -5, 31) instead of its base, factor and share of a year with no day inside."""
    loan = Loan(principal="1000000", annual_rate="0.04", term_months=3, start_date="2024-01-15",
                interest_basis="act_365")
    rule = InterestSubsidyRule(form="points_on_balance", points="0.01", start_date="2024-02-20", max_years=1)
    terms = [column.tolist() for column in interest_subsidy(amortize(loan), rule).accrual_terms]
    assert [t[0] for t in terms] == [100000000, 100000000, 31, 365, 0, 31, 0, 0]  # base ... days; no settlement day
    assert all(inside >= 0 for inside in terms[4])


def test_the_window_rows_of_a_loan_settling_on_calendar_days_cover_its_last_settlement() -> None:
    """A loan settling interest quarterly on the 20th accrues from one settlement to the next, not from the row
    before: the 貼息 of the days between the window's last settlement (2026-12-20) and its end (2026-12-24) is paid
    on 2027-03-20, so 2027 is a loan-year of the window. Monte Carlo's structure stopped on it (AssertionError)."""
    from subsidy_engine import load_lpr
    from subsidy_engine.measures.interest_subsidy import interest_subsidy_rows

    loan = pd.DataFrame({"loan_id": ["L"], "principal": ["317130000"], "floating_tenor": ["5Y"],
                         "floating_spread_bp": ["-7"], "term_months": [60], "method": ["equal_principal"],
                         "start_date": [date(2024, 12, 24)], "interest_dates": ["calendar"],
                         "interest_frequency": ["quarterly"]})
    rows = interest_subsidy_rows(loan, load_policy(), lpr=load_lpr().hold_flat(date(2045, 12, 31)), window_rows=True)
    year, paid, in_window = rows.columns["year"], rows.columns["amount"], rows.internal["in_window"]
    assert year[paid > 0].tolist() == [2025, 2026, 2027]
    assert year[in_window].tolist() == [2025, 2026, 2027]

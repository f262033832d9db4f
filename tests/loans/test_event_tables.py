"""Tranches and prepayments as tables keyed by loan_id (issue 18, point 2): a loan book's tables price as its
models do, and every bad event row is reported and rejects its loan alone."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine import amortize, amortize_portfolio

from builders import loan_row
from strategies import examples, loans_with_events


def tables_of(sample) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    loans = pd.DataFrame([loan_row(x, f"L{k}") for k, x in enumerate(sample)])
    drawdowns = pd.DataFrame([{"loan_id": f"L{k}", "date": str(d.date), "amount": str(d.amount)}
                              for k, x in enumerate(sample) for d in x.drawdowns],
                             columns=["loan_id", "date", "amount"])
    prepayments = pd.DataFrame([{"loan_id": f"L{k}", "date": str(q.date), "amount": str(q.amount),
                                 "recompute": q.recompute.value}
                                for k, x in enumerate(sample) for q in x.prepayments],
                               columns=["loan_id", "date", "amount", "recompute"])
    return loans, drawdowns, prepayments


@settings(max_examples=examples(40), deadline=None)
@given(sample=st.lists(loans_with_events(floating=False), min_size=1, max_size=6))
def test_a_loan_books_tables_price_as_its_models(sample) -> None:
    loans, drawdowns, prepayments = tables_of(sample)
    result = amortize_portfolio(loans, drawdowns=drawdowns.sample(frac=1, random_state=1), prepayments=prepayments)
    for k, loan in enumerate(sample):
        try:
            expected = amortize(loan).to_frame()
        except ValueError as exc:  # refused by the kernel: rejected in the table too, with the same reason
            reasons = result.rejections[result.rejections.loan_id == f"L{k}"].reason.tolist()
            assert any(str(exc).split(": ", 1)[-1] in r for r in reasons), (str(exc), reasons)
            continue
        got = result.schedule[result.schedule.loan_id == f"L{k}"].drop(columns="loan_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_every_bad_event_row_is_reported_and_rejects_its_loan_alone() -> None:
    loans = pd.DataFrame({"loan_id": ["A", "B", "C", "D"], "principal": ["150", "100", "100", "100"],
                          "annual_rate": ["0.04"] * 4, "term_months": [12] * 4, "method": ["interest_only"] * 4,
                          "start_date": ["2024-01-10"] * 4})
    drawdowns = pd.DataFrame({"loan_id": ["A", "A", "B", "B", "X"],
                              "date": ["2024-01-10", "2024-03-01", "2024-01-10", "2024-02-01", "2024-01-10"],
                              "amount": ["100", "50", "60", "50", "1"]})
    prepayments = pd.DataFrame({"loan_id": ["C", "D", "A"], "date": ["2024-02-30", "2024-05-01", "2024-06-01"],
                                "amount": ["10", "500", "20"], "recompute": ["term", "payment", "shorter"]})
    result = amortize_portfolio(loans, drawdowns=drawdowns, prepayments=prepayments)
    got = {(r.row, r.loan_id, r.field): r.reason for r in result.rejections.itertuples()}
    assert got[(0, "A", "prepayments.recompute")] == "(prepayments row 2) 'shorter' is not one of 'payment', 'term'"
    assert "drawdowns add up to 110.00, but principal is 100" in got[(1, "B", "drawdowns")]
    assert got[(2, "C", "prepayments.date")].startswith("(prepayments row 0)")
    assert "is more than the balance then (100.00)" in got[(3, "D", "loan")]
    assert got[(-1, "X", "drawdowns.loan_id")] == "(drawdowns row 4) is not a loan_id of the loan table"
    assert result.computed == 0 and len(got) == 5


def test_a_tranche_table_row_for_a_loan_drawn_at_once_changes_nothing() -> None:
    loans = pd.DataFrame({"loan_id": ["A"], "principal": ["1000000"], "annual_rate": ["0.049"], "term_months": [360],
                          "start_date": ["2024-01-15"]})
    plain = amortize_portfolio(loans)
    drawn = amortize_portfolio(loans, drawdowns=pd.DataFrame({"loan_id": ["A"], "date": ["2024-01-15"],
                                                              "amount": ["1000000"]}))
    pd.testing.assert_frame_equal(plain.schedule, drawn.schedule)
    assert plain.schedule.payment.iloc[0] == Decimal("5307.27")


@settings(max_examples=examples(25), deadline=None)
@given(sample=st.lists(loans_with_events(floating=False), min_size=1, max_size=4))
def test_the_interest_subsidy_of_a_books_tables_is_its_models(sample) -> None:
    from subsidy_engine import InterestSubsidyRule, interest_subsidy, interest_subsidy_portfolio

    rule = InterestSubsidyRule(form="points_on_balance", points="0.025", max_years=2, annual_cap="300000")
    loans, drawdowns, prepayments = tables_of(sample)
    claims = interest_subsidy_portfolio(loans, rule, drawdowns=drawdowns, prepayments=prepayments).claims
    for k, loan in enumerate(sample):
        try:
            per_period = interest_subsidy(amortize(loan), rule).to_frame()
        except ValueError:
            assert f"L{k}" not in set(claims.loan_id)
            continue
        by_year = per_period.groupby(per_period.end_date.map(lambda d: d.year)).subsidy.sum()
        expected = {int(y): v for y, v in by_year.items() if v}
        got = {int(r.year): r.amount for r in claims[claims.loan_id == f"L{k}"].itertuples()}
        assert got == expected

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


# -- Defects a review of the tables found (each a test first) ---------------------------------------------------
def test_a_payment_settled_exactly_keeps_its_loans_rate_in_a_batch() -> None:
    """The re-run that settles an ambiguous annuity payment copied back rate segments numbered in its own
    sub-batch: a loan after the first showed another loan's rate (and rate_gap 貼息 followed it)."""
    from subsidy_engine import InterestSubsidyRule, interest_subsidy_portfolio

    loans = pd.DataFrame({"loan_id": ["L0", "L2"], "principal": ["1000", "8934852611.91"],
                          "annual_rate": ["0.06", "0.0036"], "term_months": [12, 6],
                          "frequency": ["monthly", "quarterly"], "start_date": ["2024-01-01"] * 2})
    assert set(amortize_portfolio(loans).schedule.query("loan_id == 'L2'").annual_rate) == {Decimal("0.0036")}
    rule = InterestSubsidyRule(form="rate_gap", benchmark_rate="0.0345", max_years=2)
    both = interest_subsidy_portfolio(loans, rule).claims.query("loan_id == 'L2'").amount.sum()
    assert both == interest_subsidy_portfolio(loans.iloc[[1]], rule).claims.amount.sum() == Decimal("12063859.52")


def test_event_ids_are_compared_by_the_engines_id_rule() -> None:
    loans = pd.DataFrame({"loan_id": ["Cafe\u0301", "B"], "principal": ["150", "100"], "annual_rate": ["0.04"] * 2,
                          "term_months": [12] * 2, "method": ["interest_only"] * 2, "start_date": ["2024-01-10"] * 2})
    drawdowns = pd.DataFrame({"loan_id": ["Caf\u00e9", " Caf\u00e9 "], "date": ["2024-01-10", "2024-03-01"],
                              "amount": ["100", "50"]})
    result = amortize_portfolio(loans, drawdowns=drawdowns)
    assert result.rejections.empty
    assert result.schedule.drawn.sum() == Decimal("50.00")


def test_event_rows_of_a_loan_the_loan_table_rejected_name_its_row() -> None:
    loans = pd.DataFrame({"loan_id": ["A", "E"], "principal": ["100", "-5"], "annual_rate": ["0.04"] * 2,
                          "term_months": [12] * 2, "start_date": ["2024-01-10"] * 2})
    prepayments = pd.DataFrame({"loan_id": ["E"], "date": ["2024-03-01"], "amount": ["1"]})
    rejected = amortize_portfolio(loans, prepayments=prepayments).rejections
    event = rejected[rejected.field == "prepayments.loan_id"].iloc[0]
    assert (event.row, event.loan_id) == (1, "E") and "its loan is rejected" in event.reason


def test_every_problem_a_loan_model_finds_in_its_events_is_reported_naming_the_event_tables_row() -> None:
    loans = pd.DataFrame({"loan_id": ["A"], "principal": ["1000"], "annual_rate": ["0.04"], "term_months": [12],
                          "method": ["interest_only"], "start_date": ["2024-01-10"]})
    drawdowns = pd.DataFrame({"loan_id": ["A", "A"], "date": ["2024-01-10", "2024-02-01"], "amount": ["600", "300"]})
    prepayments = pd.DataFrame({"loan_id": ["A", "A"], "date": ["2025-03-01", "2024-05-01"], "amount": ["1", "2"]})
    reasons = amortize_portfolio(loans, drawdowns=drawdowns, prepayments=prepayments).rejections.reason.tolist()
    assert any("(prepayments row 0)" in r and "is not before the loan's last due date" in r for r in reasons), reasons
    assert any("drawdowns add up to 900.00, but principal is 1000" in r for r in reasons), reasons
    above = amortize_portfolio(loans, prepayments=pd.DataFrame({"loan_id": ["A", "A"], "date": ["2024-05-01",
                                                                                               "2024-03-01"],
                                                                 "amount": ["5000", "1"]})).rejections
    assert "(prepayments row 0)" in above.reason.iloc[0], above.reason.tolist()


def test_one_workbook_of_both_event_tables_is_read_sheet_by_name(tmp_path) -> None:
    from openpyxl import Workbook

    from subsidy_engine.service.cli import main

    (tmp_path / "loans.csv").write_text("loan_id,principal,annual_rate,term_months,method,start_date\n"
                                       "A,150,0.04,12,interest_only,2024-01-10\n", encoding="utf-8")
    book = Workbook()
    first = book.active
    first.title = "drawdowns"
    first.append(["loan_id", "date", "amount"])
    first.append(["A", "2024-01-10", "100"])
    first.append(["A", "2024-03-01", "50"])
    second = book.create_sheet("prepayments")
    second.append(["loan_id", "date", "amount"])
    second.append(["A", "2024-06-03", "150"])
    book.save(tmp_path / "events.xlsx")
    out = tmp_path / "out"
    code = main(["amortize", str(tmp_path / "loans.csv"), "--drawdowns", str(tmp_path / "events.xlsx"),
                 "--prepayments", str(tmp_path / "events.xlsx"), "--out-dir", str(out), "--output", "schedule"])
    assert code == 0
    schedule = pd.read_csv(out / "schedule.csv", dtype=str)
    assert schedule.end_date.iloc[-1] == "2024-06-03" and schedule.drawn.tolist()[1] == "50.00"


def test_an_empty_event_table_is_no_event_whatever_its_column_types() -> None:
    """Review of issue 18: pd.DataFrame({"amount": []}) holds a float column, refused as binary floats."""
    loans = pd.DataFrame({"loan_id": ["A"], "principal": ["100"], "annual_rate": ["0.04"], "term_months": [12],
                          "start_date": ["2024-01-10"]})
    empty = pd.DataFrame({"loan_id": [], "date": [], "amount": []})
    result = amortize_portfolio(loans, drawdowns=empty, prepayments=empty)
    assert result.rejections.empty and result.computed == 1


def test_strict_mode_names_an_event_of_no_loan_without_a_row() -> None:
    import pytest

    from subsidy_engine.errors import PortfolioValidationError

    loans = pd.DataFrame({"loan_id": ["A"], "principal": ["100"], "annual_rate": ["0.04"], "term_months": [12],
                          "start_date": ["2024-01-10"]})
    with pytest.raises(PortfolioValidationError) as raised:
        amortize_portfolio(loans, strict=True, prepayments=pd.DataFrame({"loan_id": ["Z"], "date": ["2024-03-01"],
                                                                         "amount": ["1"]}))
    assert "row -1" not in str(raised.value) and "an event of loan_id 'Z', in no row" in str(raised.value)

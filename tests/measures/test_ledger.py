"""A bank's ledger (issue 18, point 3): the balance of every day rebuilt from the bank's events, each settlement's
interest and 貼息 computed and set beside the bank's; the kernel equals the plain reference, which walks the days
one by one, to the fen."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine import InterestSubsidyRule
from subsidy_engine.errors import PortfolioValidationError
from subsidy_engine.measures.ledger import ledger_settlements
from subsidy_engine.reference.ledger import reference_ledger

from strategies import examples

RULES = [None,
         InterestSubsidyRule(form="points_on_balance", points="0.025", max_years=1),
         InterestSubsidyRule(form="points_on_principal", points="0.01", max_years=2, start_date="2024-06-01"),
         InterestSubsidyRule(form="rate_gap", benchmark_rate="0.05", max_years=1, annual_cap="1000"),
         InterestSubsidyRule(form="share_of_interest", share="0.5", lifetime_cap="2000")]


@st.composite
def ledgers(draw) -> list[dict]:
    """A few loans' events: a first drawdown with its rate, then drawdowns, repayments (at times above the
    balance: both paths refuse the loan), rate changes and settlements on any day, several on one day."""
    rows = []
    for k in range(draw(st.integers(1, 3))):
        loan = f"L{k}"
        start = draw(st.dates(date(2023, 1, 1), date(2026, 6, 30)))
        principal = draw(st.integers(1, 10**11))
        rate = Decimal(draw(st.integers(0, 1000))).scaleb(-4)
        rows.append({"loan_id": loan, "date": start, "kind": "drawdown", "amount": Decimal(principal).scaleb(-2),
                     "rate": rate})
        settled_days, rate_days = set(), set()
        for _ in range(draw(st.integers(0, 12))):
            day = start + timedelta(days=draw(st.integers(0, 700)))
            kind = draw(st.sampled_from(["drawdown", "repayment", "rate_change", "interest_settled",
                                         "interest_settled"]))
            if kind == "interest_settled" and (day in settled_days or day == start):
                continue
            if kind == "rate_change" and day in rate_days:
                continue
            (settled_days if kind == "interest_settled" else rate_days).add(day)
            row = {"loan_id": loan, "date": day, "kind": kind, "amount": None, "rate": None}
            if kind == "rate_change":
                row["rate"] = Decimal(draw(st.integers(0, 1000))).scaleb(-4)
            elif kind == "interest_settled":
                row["amount"] = Decimal(draw(st.integers(0, 10**9))).scaleb(-2)
            else:
                row["amount"] = Decimal(draw(st.integers(1, max(principal // draw(st.sampled_from([2, 5, 50])), 1)))
                                        ).scaleb(-2)
            if kind != "rate_change" and draw(st.integers(0, 3)) == 0:  # a bank's export repeating a rate
                row["rate"] = draw(st.sampled_from([rate, Decimal(draw(st.integers(0, 1000))).scaleb(-4)]))
            rows.append(row)
    return rows


def as_table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{k: (None if v is None else str(v)) for k, v in row.items()} for row in rows])


def as_rows(table: pd.DataFrame) -> list[dict]:
    """A ledger table's rows as the reference reads them (dates, Decimals)."""
    return [{"loan_id": r.loan_id, "date": date.fromisoformat(r.date), "kind": r.kind,
             "amount": None if pd.isna(r.amount) else Decimal(r.amount),
             "rate": None if pd.isna(r.rate) else Decimal(r.rate)} for r in table.itertuples()]


@settings(max_examples=examples(200), deadline=None)
@given(rows=ledgers(), rule=st.sampled_from(RULES), year_days=st.sampled_from([360, 365]))
def test_the_ledger_equals_the_reference(rows, rule, year_days) -> None:
    result = ledger_settlements(as_table(rows), rule, basis="act_360" if year_days == 360 else "act_365")
    refused = set(result.rejections["loan_id"])
    for loan in {r["loan_id"] for r in rows}:
        mine = result.settlements[result.settlements["loan_id"] == loan]
        try:
            expected = reference_ledger([r for r in rows if r["loan_id"] == loan], rule, year_days)[loan]
        except ValueError:
            assert loan in refused and mine.empty
            continue
        assert loan not in refused
        assert mine["end_date"].tolist() == [r["end_date"] for r in expected]
        assert mine["days"].tolist() == [r["days"] for r in expected]
        assert mine["interest"].tolist() == [r["interest"] for r in expected]
        if rule is not None:
            assert mine["subsidy"].tolist() == [r["subsidy"] for r in expected]
            assert (mine["subsidy"] <= mine["interest"]).all()


def bank_ledger(**changes) -> pd.DataFrame:
    rows = [("L1", "2025-01-10", "drawdown", "3600000", "0.036", None),
            ("L1", "2025-02-20", "repayment", "1800000", None, None),
            ("L1", "2025-03-01", "rate_change", None, "0.03", None),
            ("L1", "2025-03-21", "interest_settled", "19530", None, "5600"),
            ("L1", "2025-06-21", "interest_settled", "13650", None, "4550")]
    table = pd.DataFrame(rows, columns=["loan_id", "date", "kind", "amount", "rate", "subsidy"])
    for (row, column), value in changes.items():
        table.loc[row, column] = value
    return table


RULE = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)


def test_a_ledger_that_agrees_with_its_bank() -> None:
    """By hand: 3,600,000 x 41 days + 1,800,000 x 9 days at 3.6%, then 1,800,000 x 21 days at 3% to 21 March,
    both ends counted (19,530.00); the next quarter, 22 March to 21 June, 1,800,000 x 92 days at 3% (13,800.00)."""
    result = ledger_settlements(bank_ledger(), RULE)
    s = result.settlements
    assert s["interest"].tolist() == [Decimal("19530.00"), Decimal("13800.00")]
    assert s["subsidy"].tolist() == [Decimal("5600.00"), Decimal("4600.00")]  # 1 point of each day's balance
    assert s["interest_difference"].tolist() == [Decimal("0.00"), Decimal("-150.00")]
    assert s["subsidy_difference"].tolist() == [Decimal("0.00"), Decimal("-50.00")]
    assert s["row"].tolist() == [3, 4] and s["days"].tolist() == [71, 92]
    assert len(result.differences) == 1 and result.rejections.empty


def test_a_settlement_on_the_20th_settles_the_days_through_the_20th() -> None:
    """The published exercise of tests/loans/test_published.py as a bank's ledger: 2,000,000 drawn on 1 July at
    4.5%, 20,500.00 settled on 20 September for the 82 days to it, both counted, and 22,750.00 on 20 December
    for the 91 days from the 21st; a repayment on the 20th stops the interest of what it repays that day."""
    ledger = pd.DataFrame([("L1", "2024-07-01", "drawdown", "2000000", "0.045", None),
                           ("L1", "2024-09-20", "interest_settled", "20500", None, None),
                           ("L1", "2024-12-20", "repayment", "1000000", None, None),
                           ("L1", "2024-12-20", "interest_settled", "22625", None, None)],
                          columns=["loan_id", "date", "kind", "amount", "rate", "subsidy"])
    s = ledger_settlements(ledger, RULE).settlements
    assert s["interest"].tolist() == [Decimal("20500.00"), Decimal("22625.00")]  # 2,000,000 x 90 + 1,000,000 x 1
    assert s["interest_difference"].tolist() == [Decimal("0.00"), Decimal("0.00")]
    assert s["days"].tolist() == [82, 91]


def test_a_rate_change_on_the_last_settlement_s_day_prices_that_day_s_subsidy_at_the_new_rate() -> None:
    """Found checking the new convention: the day a settlement settles is at the rate it ends with; the 貼息
    kernel took the rate of the row after it, and the last settlement has none (rate_gap: 260.00 short)."""
    rule = InterestSubsidyRule(form="rate_gap", benchmark_rate="0.05", max_years=2)
    rows = [("L1", "2025-01-10", "drawdown", "3600000", "0.036"), ("L1", "2025-03-21", "rate_change", None, "0.01"),
            ("L1", "2025-03-21", "interest_settled", "1", None)]
    table = pd.DataFrame(rows, columns=["loan_id", "date", "kind", "amount", "rate"])
    s = ledger_settlements(table, rule).settlements
    assert s["subsidy"].tolist() == [Decimal("10200.00")]  # 3,600,000 x (70 days x 1.4% + 1 day x 4%) / 360
    assert s["subsidy"].tolist() == [r["subsidy"] for r in reference_ledger(as_rows(table), rule)["L1"]]


def test_every_bad_row_is_reported_and_its_loan_left_out() -> None:
    table = pd.concat([bank_ledger(), pd.DataFrame([
        ("L2", "2025-01-05", "repayment", "10", None, None), ("L2", "2025-01-06", "drawdown", "100", "0.04", None),
        ("L3", "2025-01-05", "drawdown", "100", "0.04", None), ("L3", "2025-02-01", "repayment", "200", None, None),
        ("L4", "2025-01-05", "drawdown", "100", None, None), ("L5", "2025-01-05", "drawdown", "-1", "0.04", None),
        ("L5", "2025-01-07", "interest_settled", None, "0.04", None), ("L6", "2025-01-05", "drawdown", "1", "0.04", None),
        ("L6", "2025-01-05", "interest_settled", "0", None, None), ("L7", "2025-01-05", "loan", "1", "0.04", None)],
        columns=["loan_id", "date", "kind", "amount", "rate", "subsidy"])], ignore_index=True)
    result = ledger_settlements(table, RULE)
    reported = result.rejections[["row", "loan_id", "field"]].values.tolist()
    assert reported == [[5, "L2", "date"], [8, "L3", "amount"], [9, "L4", "rate"], [10, "L5", "amount"],
                        [11, "L5", "amount"], [13, "L6", "date"], [14, "L7", "kind"]]
    assert set(result.settlements["loan_id"]) == {"L1"}
    with pytest.raises(PortfolioValidationError, match="problem"):
        ledger_settlements(table, RULE, strict=True)
    shown = ledger_settlements(table, RULE, file_rows=[r + 2 for r in range(len(table))]).rejections
    assert shown["row"].tolist()[0] == 7  # the row the user's file shows


def test_a_row_before_the_first_drawdown_has_no_rate_in_force_to_differ_from() -> None:
    """A repayment before a loan's first drawdown is reported for its date; the rate it states is not also
    compared with a rate in force (there is none yet: it was compared with the previous loan's)."""
    table = pd.DataFrame([("A", "2025-01-05", "drawdown", "100", "0.04"), ("B", "2025-01-02", "repayment", "10", "0.05"),
                          ("B", "2025-01-05", "drawdown", "100", "0.05"),
                          ("B", "2025-02-05", "interest_settled", "1", None)],
                         columns=["loan_id", "date", "kind", "amount", "rate"])
    reported = ledger_settlements(table).rejections
    assert reported[["row", "loan_id", "field"]].values.tolist() == [[1, "B", "date"]]


def planted(changed_rows: list[dict], rule: InterestSubsidyRule, settlement: int) -> tuple[Decimal, Decimal]:
    """The bank's interest and 貼息 of a settlement, as the plain reference computes them on the bank's own
    (wrong) ledger."""
    figures = reference_ledger(changed_rows, rule)["L1"][settlement]
    return figures["interest"], figures["subsidy"]


def project_loan() -> list[dict]:
    return [{"loan_id": "L1", "date": date(2025, 3, 5), "kind": "drawdown", "amount": Decimal("30000000"),
             "rate": Decimal("0.036")},
            {"loan_id": "L1", "date": date(2025, 4, 18), "kind": "drawdown", "amount": Decimal("20000000"), "rate": None},
            {"loan_id": "L1", "date": date(2025, 6, 20), "kind": "interest_settled", "amount": None, "rate": None},
            {"loan_id": "L1", "date": date(2025, 8, 11), "kind": "repayment", "amount": Decimal("10000000"),
             "rate": None},
            {"loan_id": "L1", "date": date(2025, 9, 22), "kind": "interest_settled", "amount": None, "rate": None}]


@pytest.mark.parametrize(("change", "settlement", "cause", "detail"), [
    (lambda rows: [r for r in rows if r["kind"] != "repayment"], 1, "an event ignored",
     "without the repayment of 10,000,000.00 on 2025-08-11 (row 3)"),
    (lambda rows: [{**r, "date": date(2025, 4, 8)} if r["date"] == date(2025, 4, 18) else r for r in rows], 0,
     "a drawdown's day", "the drawdown of 20,000,000.00 on 2025-04-18 (row 1) counted from 2025-04-08"),
    (lambda rows: [{**r, "date": date(2025, 9, 20)} if r["date"] == date(2025, 9, 22) else r for r in rows], 1,
     "a holiday shift", "counted to 2025-09-20 (the day off that moved to 2025-09-22)"),
])
def test_reconcile_names_the_event_that_explains_a_difference(change, settlement, cause, detail) -> None:
    """Issue 18, point 3: a prepayment the claim ignored, a tranche counted from the wrong day, a holiday shift
    (Saturday 20 September 2025 settled on Monday 22nd): each planted in the bank's figures, each named."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    rule = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)
    rows = project_loan()
    true_figures = reference_ledger(rows, rule)["L1"]
    bank = planted(change(rows), rule, settlement)
    for k, figures in enumerate(true_figures):  # the bank's ledger: its settlements carry its own figures
        interest, subsidy = bank if k == settlement else (figures["interest"], figures["subsidy"])
        index = [i for i, r in enumerate(rows) if r["kind"] == "interest_settled"][k]
        rows[index] = {**rows[index], "amount": interest, "subsidy": subsidy}
    result = reconcile_ledger(as_table(rows), rule)
    s = result.settlements
    assert s["status"].tolist() == ["match" if k != settlement else "mismatch" for k in range(2)]
    assert s["likely_cause"][settlement] == cause
    assert detail in s["detail"][settlement]
    assert s["likely_cause"].isna().sum() == 1


def test_a_loan_drawn_once_names_the_holiday_shift_before_a_drawdown_day() -> None:
    """A loan drawn once, settled on Monday 22 September 2025, the bank counting its days to Saturday the 20th:
    counting the only drawdown two days late gives the same figure, but a drawdown's day is the broad search
    (every shift up to a month) and the holiday shift the specific one, so the day off is named."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    rule = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)
    rows = [{"loan_id": "L1", "date": date(2025, 6, 25), "kind": "drawdown", "amount": Decimal("50000000"),
             "rate": Decimal("0.036")},
            {"loan_id": "L1", "date": date(2025, 9, 22), "kind": "interest_settled", "amount": None, "rate": None}]
    wrong = [rows[0], {**rows[1], "date": date(2025, 9, 20)}]
    interest, subsidy = planted(wrong, rule, 0)
    rows[1] = {**rows[1], "amount": interest, "subsidy": subsidy}
    s = reconcile_ledger(as_table(rows), rule).settlements
    assert s["status"].tolist() == ["mismatch"]
    assert s["likely_cause"][0] == "a holiday shift"
    assert "counted to 2025-09-20 (the day off that moved to 2025-09-22)" in s["detail"][0]


def mismatched(dates: object = None) -> pd.DataFrame:
    table = pd.DataFrame({"loan_id": ["A"] * 3, "date": ["2025-03-05", "2025-06-20", "2025-09-22"],
                          "kind": ["drawdown", "interest_settled", "interest_settled"],
                          "amount": ["1000000", "3600", "1"], "rate": ["0.012", None, None]})  # 108 days
    if dates is not None:
        table["date"] = dates
    return table


@pytest.mark.parametrize("dates", [pd.to_datetime(["2025-03-05", "2025-06-20", "2025-09-22"]),
                                   [date(2025, 3, 5), date(2025, 6, 20), date(2025, 9, 22)]])
def test_review_reconcile_reads_typed_date_columns(dates) -> None:
    """Review defect: a Parquet or datetime date column made the search write text into a typed column."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    s = reconcile_ledger(mismatched(dates)).settlements
    assert s["status"].tolist() == ["match", "mismatch"] and s["likely_cause"].isna().tolist() == [True, True]


def test_review_reconcile_finds_a_loan_by_its_id_as_the_engine_reads_it() -> None:
    """Review defect: an id normalised (NFC) by the reader was looked up as typed: KeyError."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    s = reconcile_ledger(mismatched().assign(loan_id="貸\uF900-1")).settlements
    assert s["status"].tolist() == ["match", "mismatch"]


def test_review_a_cause_reproduces_every_figure_the_bank_gave() -> None:
    """Review defect: the repayment ignored reproduced the bank's interest but not its subsidy (8,000.00 for
    the bank's 5,500.00), and was named."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    table = pd.DataFrame({"loan_id": ["A"] * 3, "date": ["2025-01-01", "2025-02-01", "2025-03-21"],
                          "kind": ["drawdown", "repayment", "interest_settled"],
                          "amount": ["3600000", "1800000", "28800"], "rate": ["0.036", None, None],
                          "subsidy": [None, None, "5500"]})
    s = reconcile_ledger(table, RULE).settlements
    assert s["status"][0] == "mismatch" and s["likely_cause"].isna()[0]


def test_review_a_loan_before_1970_is_rejected_alone() -> None:
    table = pd.concat([bank_ledger(), pd.DataFrame([("Z", "1969-03-05", "drawdown", "100", "0.04", None),
                                                    ("Z", "1969-06-20", "interest_settled", "1", None, None)],
                                                   columns=bank_ledger().columns)], ignore_index=True)
    result = ledger_settlements(table, RULE)
    assert set(result.settlements["loan_id"]) == {"L1", "Z"}


def test_review_a_loan_outside_the_policy_is_rejected_alone() -> None:
    """Review defect: with a Policy, a loan drawn before its first parameter set failed the whole ledger."""
    from subsidy_engine import load_policy

    table = pd.concat([bank_ledger(), pd.DataFrame([("OLD", "2001-03-05", "drawdown", "100", "0.04", None),
                                                    ("OLD", "2001-06-20", "interest_settled", "1", None, None)],
                                                   columns=bank_ledger().columns)], ignore_index=True)
    result = ledger_settlements(table, load_policy())
    assert set(result.settlements["loan_id"]) == {"L1"}
    assert result.rejections[["row", "loan_id", "field"]].values.tolist() == [[5, "OLD", "date"]]


def test_review_a_newest_first_ledger_reads_as_an_oldest_first_one() -> None:
    """Review defect: two drawdowns on the start day, the one with the rate listed last, were both refused."""
    rows = [("A", "2025-06-20", "interest_settled", "1", None, None), ("A", "2025-03-05", "drawdown", "10", None, None),
            ("A", "2025-03-05", "drawdown", "100", "0.012", None)]
    table = pd.DataFrame(rows, columns=bank_ledger().columns)
    result = ledger_settlements(table)
    assert result.rejections.empty
    assert result.settlements["interest"].tolist() == ledger_settlements(table.iloc[::-1]).settlements[
        "interest"].tolist()


def test_review_a_loan_with_nothing_settled_and_an_unchecked_claim_are_said() -> None:
    """Review finding: a loan with no settlement yet was in neither table, and a claimed 貼息 without a rule was
    ignored without a word."""
    table = pd.concat([bank_ledger(), pd.DataFrame([("NEW", "2025-03-05", "drawdown", "100", "0.04", None)],
                                                   columns=bank_ledger().columns)], ignore_index=True)
    result = ledger_settlements(table)
    assert result.notes == ["1 loan has no settlement in the ledger yet, nothing to check: NEW",
                            "the 貼息 the bank claims (subsidy) is not checked: no rule was given"]
    assert ledger_settlements(bank_ledger(), RULE).notes == []


def test_review_a_ledger_rate_may_be_a_percent_as_in_a_loan_table() -> None:
    table = bank_ledger()
    table.loc[0, "rate"], table.loc[2, "rate"] = "3.6%", "3%"
    assert ledger_settlements(table, RULE).settlements.equals(ledger_settlements(bank_ledger(), RULE).settlements)


def test_a_bank_export_may_state_the_rate_on_every_row() -> None:
    """A bank's export often repeats the rate in force on every row: accepted when it is the rate in force that
    day (before or after the day's rate change), refused with the rate in force otherwise."""
    table = bank_ledger()
    table["rate"] = ["0.036", "0.036", "0.03", "0.03", "0.03"]  # the settlement of 21 March: the rate then
    assert ledger_settlements(table, RULE).settlements.equals(ledger_settlements(bank_ledger(), RULE).settlements)
    table.loc[1, "rate"] = "0.04"
    result = ledger_settlements(table, RULE)
    assert result.rejections[["row", "loan_id", "field"]].values.tolist() == [[1, "L1", "rate"]]
    assert "is not the rate in force on 2025-02-20 (0.036)" in result.rejections.reason[0]


def test_a_difference_past_the_calendar_says_the_holiday_shift_was_not_searched() -> None:
    """Noted last session: past China's published calendar (2026) the holiday search found nothing and said
    nothing; a settlement it could not search says so, as the projection is for a loan's due dates."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    table = pd.DataFrame({"loan_id": ["A"] * 2, "date": ["2027-03-05", "2027-06-21"],
                          "kind": ["drawdown", "interest_settled"], "amount": ["1000000", "1"],
                          "rate": ["0.012", None]})
    s = reconcile_ledger(table).settlements
    assert s["status"].tolist() == ["mismatch"] and s["likely_cause"].isna().all()
    assert s["detail"][0] == ("no cause found; a holiday shift was not searched: 2027-06-21 is past China's "
                              "published calendar (to 2026-12-31)")


@settings(max_examples=examples(30))
@given(rows=ledgers())
def test_a_ledger_gives_the_same_on_threads_and_on_the_calling_thread(rows) -> None:
    """The ledger's kernels (its checks and its settlements) run their serial twin for a few loans and the
    threaded one for a portfolio: the same settlements and the same rejections, here with hostile rows too."""
    from subsidy_engine.kernels import threads as kernel_threads

    table = as_table(rows)
    hostile = pd.DataFrame([("X", "2025-01-02", "repayment", "10", "0.05"), ("X", "2025-01-05", "drawdown", "100", "0.05"),
                            ("X", "2025-01-05", "drawdown", "5", "0.07"), ("Y", "2025-01-05", "interest_settled", "1", None)],
                           columns=["loan_id", "date", "kind", "amount", "rate"])
    table = pd.concat([table, hostile], ignore_index=True)

    def run(few: int):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(kernel_threads, "FEW_ITEMS", {"loans": few, "days": few})
            return ledger_settlements(table, RULE)

    threads, serial = run(0), run(10**9)
    pd.testing.assert_frame_equal(threads.settlements, serial.settlements)
    pd.testing.assert_frame_equal(threads.rejections, serial.rejections)
    assert set(serial.rejections["loan_id"]) >= {"X", "Y"}


def test_review_categorical_number_ids_read_as_the_numbers_they_are() -> None:
    """Review defect: a categorical column of numbers with a blank cell hands its numbers on as floats through
    ``to_numpy(dtype=object)``: the search read loan 7 as '7.0' and found no rows of it (KeyError)."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    table = pd.DataFrame({"loan_id": pd.Categorical([7, 7, 7, 7, None]),
                          "date": ["2025-01-10", "2025-02-20", "2025-03-01", "2025-03-21", "2025-03-21"],
                          "kind": ["drawdown", "repayment", "rate_change", "interest_settled", "interest_settled"],
                          "amount": ["3600000", "1800000", None, "20160", "5"],
                          "rate": ["0.036", None, "0.03", None, None]})
    s = reconcile_ledger(table).settlements
    assert s[["loan_id", "status", "likely_cause"]].values.tolist() == [["7", "mismatch", "an event ignored"]]


def test_review_a_tranche_loan_names_the_tranche_day_before_a_holiday_shift() -> None:
    """Review: on a loan drawn in tranches a tranche counted 5 days late (20M x 5 days) gives the same figure as
    its settlement counted to the Saturday before (50M x 2 days); the tranche's day is named, as before the
    holiday shift came first for loans drawn once."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    rule = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)
    rows = [{"loan_id": "L1", "date": date(2025, 3, 5), "kind": "drawdown", "amount": Decimal("30000000"),
             "rate": Decimal("0.036")},
            {"loan_id": "L1", "date": date(2025, 6, 20), "kind": "interest_settled", "amount": None, "rate": None},
            {"loan_id": "L1", "date": date(2025, 7, 10), "kind": "drawdown", "amount": Decimal("20000000"), "rate": None},
            {"loan_id": "L1", "date": date(2025, 9, 22), "kind": "interest_settled", "amount": None, "rate": None}]
    wrong = [{**r, "date": date(2025, 7, 15)} if r["date"] == date(2025, 7, 10) else r for r in rows]
    true_figures = reference_ledger(rows, rule)["L1"]
    interest, subsidy = planted(wrong, rule, 1)
    rows[1] = {**rows[1], "amount": true_figures[0]["interest"], "subsidy": true_figures[0]["subsidy"]}
    rows[3] = {**rows[3], "amount": interest, "subsidy": subsidy}
    s = reconcile_ledger(as_table(rows), rule).settlements
    assert s["status"].tolist() == ["match", "mismatch"]
    assert s["likely_cause"][1] == "a drawdown's day"
    assert "counted from 2025-07-15" in s["detail"][1]


@pytest.mark.parametrize("rows", [
    [("L1", "2025-03-05", "drawdown", "10000000", "0.036"), ("L1", "2025-03-05", "drawdown", "10000000", None),
     ("L1", "2025-06-23", "interest_settled", "0", None)],
    [("L1", "2025-03-05", "drawdown", "20000000", "0.036"), ("L1", "2025-06-23", "interest_settled", "0", None),
     ("L1", "2025-07-10", "drawdown", "5000000", None)],
], ids=["two drawdown rows on the start day", "a tranche after the settlement"])
def test_review_a_loan_drawn_once_by_the_settlement_is_one_drawdown_day(rows) -> None:
    """Review defect: 'drawn once' counted drawdown rows: two rows on the start day (one opening balance) or a
    tranche drawn after the settlement made the loan's start 'a drawdown's day' before the holiday shift (the
    bank counting to Sunday 22 June 2025, the settlement on Monday 23rd)."""
    from subsidy_engine.service.ledger_reconcile import reconcile_ledger

    table = pd.DataFrame(rows, columns=["loan_id", "date", "kind", "amount", "rate"])
    bank = table.copy()
    bank.loc[bank.kind == "interest_settled", "date"] = "2025-06-22"
    table.loc[table.kind == "interest_settled", "amount"] = str(ledger_settlements(bank).settlements["interest"].iloc[0])
    s = reconcile_ledger(table).settlements
    assert s["likely_cause"].tolist() == ["a holiday shift"]


@pytest.mark.parametrize("dtype", ["category", "object"])
def test_a_blank_id_or_kind_is_missing_in_a_column_of_any_type(dtype: str) -> None:
    """A blank cell (empty, or spaces) of ``loan_id`` or ``kind`` is reported as missing however the column is
    typed: a categorical column (read from a file of few distinct words) gave an empty kind no problem at all
    (the row was kept with no kind, and its loan priced without it) and a blank id 'is not an id'."""
    ledger = pd.DataFrame({
        "loan_id": ["A", "A", "A", " ", "B", "B"],
        "date": ["2025-01-10", "2025-02-10", "2025-03-21", "2025-03-21", "2025-01-10", "2025-03-21"],
        "kind": ["drawdown", "", "interest_settled", "interest_settled", "drawdown", "interest_settled"],
        "amount": ["1000000", "1", "6000", "6000", "1000000", "6000"],
        "rate": ["0.036", None, None, None, "0.036", None]}).astype({"loan_id": dtype, "kind": dtype})
    result = ledger_settlements(ledger)
    got = {(r.row, r.field): r.reason for r in result.rejections.itertuples()}
    assert got == {(1, "kind"): "is missing", (3, "loan_id"): "is missing"}
    assert result.settlements.loan_id.tolist() == ["B"]  # A is left out whole for its bad row

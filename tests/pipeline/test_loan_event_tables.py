"""A portfolio's drawdowns and prepayments tables (issue 18, point 2).

They load from CSV, Parquet and xlsx beside the other tables, every bad row is named with its table,
row, id, field and reason, and the loans they belong to are evaluated, quoted and reconciled with them.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from subsidy_engine import (
    Loan,
    Project,
    evaluate,
    explain,
    interest_subsidy_portfolio,
    load_lpr,
    load_policy,
    load_portfolio,
)
from subsidy_engine.loans.schedule import amortize
from subsidy_engine.measures.interest_subsidy import interest_subsidy
from subsidy_engine.pipeline.inputs import TABLES, PortfolioTables, check_tables, checked_portfolio
from subsidy_engine.service.quote import QuoteRequest, _quote, quote
from subsidy_engine.service.reconcile import reconcile

from workbooks import write_tables

POLICY = load_policy()
YEARS = range(2024, 2031)

PROJECTS = pd.DataFrame({
    "project_id": ["J1", "J2"], "enterprise_id": ["E1", "E2"], "name": ["算力中心", "車聯網平台"],
    "domain": ["public", "economic"], "stage": ["pilot", "demonstration"], "in_library": ["true", "false"],
    "industry_or_software": ["true", "false"], "total_investment": ["300000000", "50000000"],
    "eligible_investment": ["250000000", "40000000"], "start_date": ["2024-01-01", "2024-02-01"]})
LOANS = pd.DataFrame({
    "loan_id": ["L1", "L2", "L3", "L4"], "project_id": ["J1", "J2", "J1", "J2"],
    "principal": ["100000000", "5000000", "8000000", "6000000"],
    "annual_rate": ["0.03", "0.035", "0.03", "0.03"], "term_months": ["60", "36", "48", "48"],
    "start_date": ["2024-03-01"] * 4})
DRAWDOWNS = pd.DataFrame({  # CSV lines 2-7
    "loan_id": ["L1", "L1", "L3", "L4", "L4", "L9"],
    "date": ["2024-03-01", "2024-09-02", "2024-03-01", "2024-03-01", "2024-04-01", "2024-03-01"],
    "amount": ["60000000", "40000000", "1000", "-5", "5000000", "100"]})
PREPAYMENTS = pd.DataFrame({"loan_id": ["L1"], "date": ["2025-03-01"], "amount": ["20000000"],
                            "recompute": ["term"]})
TABLES_GIVEN = {"projects": PROJECTS, "loans": LOANS, "drawdowns": DRAWDOWNS, "prepayments": PREPAYMENTS}


def write(tmp_path, form: str, tables=TABLES_GIVEN):  # noqa: ANN001, ANN201
    return write_tables(tmp_path, form, tables)


def subsidy_by_year(claims: pd.DataFrame, loan_id: str) -> dict[int, Decimal]:
    mine = claims[(claims.instrument == "interest_subsidy") & (claims.item_id == loan_id)]
    return {int(r.year): Decimal(str(r.gross)) for r in mine.itertuples()}


def expected_subsidy(loan_id: str) -> dict[int, Decimal]:
    """The loan priced alone by interest_subsidy_portfolio with its events (proven against the reference)."""
    loan = LOANS[LOANS.loan_id == loan_id].drop(columns="project_id")
    result = interest_subsidy_portfolio(loan, POLICY, drawdowns=DRAWDOWNS[DRAWDOWNS.loan_id == loan_id],
                                        prepayments=PREPAYMENTS[PREPAYMENTS.loan_id == loan_id])
    assert result.rejections.empty
    return {int(r.year): Decimal(str(r.gross)) for r in result.claims.itertuples() if r.year in YEARS}


@pytest.mark.parametrize("form", ["csv", "parquet", "xlsx"])
def test_every_bad_event_row_is_named_and_the_good_loans_are_evaluated_with_their_events(tmp_path, form) -> None:
    portfolio = load_portfolio(write(tmp_path, form))
    first = 2 if form != "parquet" else 1  # the row the user's tool shows for position 0
    problems = portfolio.problems
    said = {(r.table, int(r.row), r.id, r.field): r.reason for r in problems.itertuples()}
    # the bad cell, in its own table, and the loan it rejects
    assert said[("drawdowns", first + 3, "L4", "amount")] == "must be positive (at least 0.01 yuan)"
    assert said[("loans", first + 3, "L4", "drawdowns.amount")] == (
        f"(drawdowns row {first + 3}) must be positive (at least 0.01 yuan)")
    # a loan whose tranches do not add up to its principal, and each of its tranches
    assert said[("loans", first + 2, "L3", "drawdowns")].startswith("drawdowns add up to 1000.00, but principal is")
    assert said[("drawdowns", first + 2, "L3", "loan_id")].startswith(f"its loan L3 is rejected (loans row {first + 2}")
    # the rejected loan's other tranche goes with it, and a tranche of no loan is named
    assert said[("drawdowns", first + 4, "L4", "loan_id")].startswith(f"its loan L4 is rejected (loans row {first + 3}")
    assert said[("drawdowns", first + 5, "L9", "loan_id")] == "is not a loan_id of the loans table"
    assert len(problems) == 6, problems
    assert set(problems.file[problems.table == "drawdowns"]) == {
        str(tmp_path / (f"drawdowns.{form}" if form != "xlsx" else "portfolio.xlsx"))}
    assert portfolio.rejected_rows() == {"loans": 2, "drawdowns": 4}
    assert portfolio.drawdowns.amount.dtype == portfolio.loans.principal.dtype  # typed like every amount

    claims = evaluate(portfolio, POLICY, YEARS).table
    assert set(claims[claims.instrument == "interest_subsidy"].item_id) == {"L1", "L2"}
    assert subsidy_by_year(claims, "L1") == expected_subsidy("L1")
    # the tranche drawn in September and the prepayment change what is paid: not the loan drawn at once
    drawn_at_once = interest_subsidy_portfolio(LOANS[LOANS.loan_id == "L1"].drop(columns="project_id"), POLICY)
    assert subsidy_by_year(claims, "L1") != {int(r.year): Decimal(str(r.gross))
                                             for r in drawn_at_once.claims.itertuples() if r.year in YEARS}


def good_tables() -> dict[str, pd.DataFrame]:
    keep = ["L1", "L2"]
    return {"projects": PROJECTS, "loans": LOANS[LOANS.loan_id.isin(keep)].reset_index(drop=True),
            "insurance": pd.DataFrame(), "events": pd.DataFrame(),
            "drawdowns": DRAWDOWNS[DRAWDOWNS.loan_id.isin(keep)].reset_index(drop=True), "prepayments": PREPAYMENTS}


def test_tables_made_in_python_are_evaluated_with_their_events_however_they_were_built() -> None:
    """checked_portfolio reads the events once with the loans; PortfolioTables built with check_tables (or
    copied) reads them again: the same claims."""
    tables = good_tables()
    checked = checked_portfolio(tables, source="test", digest="test")
    assert checked.problems.empty
    built = PortfolioTables(**tables, problems=check_tables(tables), source="test", digest="test")
    copied = dataclasses.replace(checked)
    claims = [evaluate(t, POLICY, YEARS) for t in (checked, built, copied)]
    got = [c.table for c in claims]
    assert subsidy_by_year(got[0], "L1") == expected_subsidy("L1")
    assert got[0].equals(got[1]) and got[0].equals(got[2])
    said = explain(claims[0], "J1", lang="en")
    assert "Drawn in 2 tranches, each accruing from its own date: 2024-03-01 60,000,000; 2024-09-02 40,000,000." in said
    assert "Prepaid: 2025-03-01 20,000,000 (the payment kept, the term shortened)." in said
    assert set(TABLES) >= {"drawdowns", "prepayments"}


def test_a_quote_prices_a_loan_drawn_in_tranches_and_prepaid_as_evaluate_does() -> None:
    project = Project(project_id="J1", enterprise_id="E1", domain="public", stage="pilot", in_library=True,
                      industry_or_software=True, total_investment=Decimal("300000000"),
                      eligible_investment=Decimal("250000000"), start_date=date(2024, 1, 1))
    loan = {"loan_id": "L1", "annual_rate": "0.03", "term_months": 60, "start_date": "2024-03-01",
            "drawdowns": [{"date": "2024-03-01", "amount": "60000000"}, {"date": "2024-09-02", "amount": "40000000"}],
            "prepayments": [{"date": "2025-03-01", "amount": "20000000", "recompute": "term"}]}
    request = QuoteRequest.model_validate({"project": project.model_dump(mode="json"), "loans": [loan],
                                           "years": [2024, 2030], "lang": "en"})
    answer = quote(request)
    quoted = {c.year: c.gross for c in answer.claims if c.instrument == "interest_subsidy"}
    assert quoted == expected_subsidy("L1")
    # the batch path (a one-project portfolio with its drawdowns and prepayments tables) says the same
    batch = _quote(request, fast=False)
    assert batch.claims == answer.claims and batch.explanation == answer.explanation
    assert ("Drawn in 2 tranches, each accruing from its own date: 2024-03-01 60,000,000; 2024-09-02 40,000,000."
            in answer.explanation)
    assert "Prepaid: 2025-03-01 20,000,000 (the payment kept, the term shortened)." in answer.explanation
    assert Loan(**{k: v for k, v in loan.items() if k != "loan_id"}).principal == Decimal("100000000")


def period_subsidy(loan: Loan, period: int) -> Decimal:
    schedule = amortize(loan)
    fen = interest_subsidy(schedule, POLICY.at(loan.start_date).interest_subsidy_rule()).subsidy_fen[period - 1]
    return Decimal(int(fen)) / 100


@pytest.mark.parametrize(("change", "period", "cause"), [
    ({"prepayments": []}, 14, "the prepayments ignored"),
    ({"drawdowns": []}, 3, "every tranche counted from the first drawdown"),
])
def test_reconcile_names_the_event_a_bank_claim_ignored(change, period, cause) -> None:
    """A bank that claims L1's 貼息 as if the loan were never prepaid, or drawn at once, is told which event it
    left out; the periods it has right match."""
    portfolio = checked_portfolio(good_tables(), source="test", digest="test")
    loan = Loan(annual_rate=Decimal("0.03"), term_months=60, start_date=date(2024, 3, 1),
                drawdowns=[{"date": date(2024, 3, 1), "amount": Decimal(60_000_000)},
                           {"date": date(2024, 9, 2), "amount": Decimal(40_000_000)}],
                prepayments=[{"date": date(2025, 3, 1), "amount": Decimal(20_000_000), "recompute": "term"}])
    ignored = Loan.model_validate({**loan.model_dump(), "principal": loan.principal, **change})
    wrong, right = period_subsidy(ignored, period), period_subsidy(loan, period)
    assert wrong != right
    bank = pd.DataFrame({"loan_id": ["L1", "L1"], "period": [period, period + 30],
                         "subsidy_claimed": [str(wrong), str(period_subsidy(loan, period + 30))]})
    report = reconcile(bank, portfolio, POLICY, lpr=load_lpr())
    assert report.status.tolist() == ["mismatch", "match"]
    assert Decimal(str(report.subsidy_computed.iloc[0])) == right
    assert report.likely_cause.iloc[0] == "the loan's events"
    assert cause in report.detail.iloc[0]



# Review of the tables (issue 18, point 2): five defects, each a test first.
def test_an_event_table_that_cannot_be_read_rejects_the_loans_it_names(tmp_path) -> None:
    """A drawdowns table without its amount column priced L1 as drawn at once, its loan row without a problem."""
    tables = good_tables()
    broken = {**tables, "drawdowns": tables["drawdowns"].drop(columns="amount")}
    write(tmp_path, "csv", {k: v for k, v in broken.items() if len(v.columns)})
    loaded = load_portfolio(tmp_path)
    said = {(r.table, r.id, r.field): r.reason for r in loaded.problems.itertuples()}
    assert said[("loans", "L1", "drawdowns")].startswith("its drawdowns cannot be read")
    assert ("loans", "L2", "drawdowns") not in said  # the table names L1 alone
    claims = evaluate(loaded, POLICY, YEARS).table
    assert set(claims[claims.instrument == "interest_subsidy"].item_id) == {"L2"}
    unknown = {**tables, "prepayments": PREPAYMENTS.assign(notes="x")}  # made in Python: an unknown column
    checked = checked_portfolio(unknown, source="test", digest="test")
    assert ("loans", "L1", "prepayments") in {(r.table, r.id, r.field) for r in checked.problems.itertuples()}
    no_ids = {**tables, "prepayments": PREPAYMENTS.drop(columns="loan_id")}  # which loans: unknown, so every one
    refused = checked_portfolio(no_ids, source="test", digest="test").problems
    assert set(refused[refused.table == "loans"].id) == {"L1", "L2"}


def test_a_duplicate_loan_id_keeps_its_first_row_s_events_on_every_path() -> None:
    """L1 twice: the second row is rejected as a duplicate, its events were reported rejected and yet priced
    with the first row by one path, dropped by the other."""
    tables = good_tables()
    tables["loans"] = pd.concat([tables["loans"], tables["loans"].iloc[[0]]], ignore_index=True)
    checked = checked_portfolio(tables, source="test", digest="test")
    assert set(checked.problems.table) == {"loans"} and checked.rejected_rows() == {"loans": 1}
    for portfolio in (checked, dataclasses.replace(checked)):
        assert subsidy_by_year(evaluate(portfolio, POLICY, YEARS).table, "L1") == expected_subsidy("L1")


def test_event_rows_of_a_loan_rejected_while_evaluating_say_why() -> None:
    """A loan outside the policy's years is rejected by evaluate: its tranches were dropped without a word."""
    tables = good_tables()
    early = LOANS.iloc[[2]].assign(loan_id="L5", principal="8000000", start_date="2019-01-02")
    tables["loans"] = pd.concat([tables["loans"], early], ignore_index=True)
    tables["drawdowns"] = pd.concat([tables["drawdowns"], pd.DataFrame({
        "loan_id": ["L5", "L5"], "date": ["2019-01-02", "2019-06-03"], "amount": ["5000000", "3000000"]})],
        ignore_index=True)
    rejections = evaluate(checked_portfolio(tables, source="test", digest="test"), POLICY, YEARS).rejections
    mine = rejections[rejections.table == "drawdowns"]
    assert mine.row.tolist() == [4, 5] and set(mine.id) == {"L5"}
    assert mine.reason.str.startswith("its loan L5 is rejected (loans row 4, start_date:").all()


def test_the_digest_of_a_folder_tells_its_tables_apart(tmp_path) -> None:
    """The same bytes as prepayments.csv or as drawdowns.csv are two portfolios: two digests."""
    digests = []
    for name in ("prepayments", "drawdowns"):
        folder = tmp_path / name
        folder.mkdir()
        write(folder, "csv", {"projects": PROJECTS, "loans": LOANS.iloc[:2]})
        PREPAYMENTS.drop(columns="recompute").to_csv(folder / f"{name}.csv", index=False)
        digests.append(load_portfolio(folder).digest)
    assert digests[0] != digests[1]


def test_every_problem_of_a_loan_s_events_at_once() -> None:
    """A bad recompute cell hid the next row's date after the loan's last due date until it was fixed."""
    tables = good_tables()
    tables["prepayments"] = pd.DataFrame({"loan_id": ["L1", "L1"], "date": ["2025-03-01", "2030-03-01"],
                                          "amount": ["1000", "1000"], "recompute": ["bogus", "term"]})
    problems = checked_portfolio(tables, source="test", digest="test").problems
    said = {(r.table, int(r.row), r.field): r.reason for r in problems.itertuples()}
    assert ("prepayments", 2, "recompute") in said
    assert "(prepayments row 3)" in said[("loans", 2, "prepayments")]
    assert "is not before the loan's last due date" in said[("loans", 2, "prepayments")]
    # and the row's own problem, under its own field
    assert said[("prepayments", 3, "date")].startswith("2030-03-01 is not before the loan's last due date")


# Review of the convention change and the fixes above: four more, each a test first.
def test_a_repeated_loan_id_column_of_an_event_file_rejects_every_loan(tmp_path) -> None:
    """Only the loans of the first loan_id column were rejected; L2, named in the second, was priced as drawn
    at once."""
    write(tmp_path, "csv", {"projects": PROJECTS, "loans": LOANS.iloc[:2]})
    (tmp_path / "drawdowns.csv").write_text("loan_id,date,amount,loan_id\nL1,2024-03-01,60000000,L2\n",
                                            encoding="utf-8")
    problems = load_portfolio(tmp_path).problems
    assert set(problems[(problems.table == "loans") & (problems.field == "drawdowns")].id) == {"L1", "L2"}


def test_a_repeated_column_of_a_table_made_in_python_is_a_problem_of_its_table() -> None:
    """checked_portfolio raised AttributeError for a table made in Python with a column given twice."""
    tables = good_tables()
    for name, column in (("drawdowns", "amount"), ("loans", "loan_id"), ("prepayments", "loan_id")):
        frame = tables[name]
        doubled = {**tables, name: pd.concat([frame, frame[[column]]], axis=1)}
        problems = checked_portfolio(doubled, source="test", digest="test").problems
        whole = problems[(problems.table == name) & (problems.field == "(table)")]
        assert len(whole) == 1 and f"'{column}' appear more than once" in whole.reason.iloc[0]


def test_an_event_row_quotes_the_problem_of_the_loan_row_its_events_belong_to() -> None:
    """L1 twice: the first row rejected by evaluate (its dates past the business-day calendar), the second as
    a duplicate; the tranches quoted the duplicate's problem."""
    tables = good_tables()
    first = tables["loans"].iloc[[0]].assign(business_day="following", term_months="120")
    tables["loans"] = pd.concat([first, tables["loans"].iloc[[1]], first], ignore_index=True)
    rejections = evaluate(checked_portfolio(tables, source="test", digest="test"), POLICY, YEARS).rejections
    mine = rejections[rejections.table == "drawdowns"]
    assert len(mine) == 2 and mine.reason.str.startswith("its loan L1 is rejected (loans row 2, business_day:").all()


def test_a_quote_shows_the_opening_balances_of_a_loan_drawn_in_tranches() -> None:
    """The quote's openings were the first tranche less each principal: a tranche never added, and a balance
    of -5,000,000.00 after a prepayment."""
    loan = {"loan_id": "L1", "annual_rate": "0.03", "term_months": 60, "start_date": "2024-03-01",
            "drawdowns": [{"date": "2024-03-01", "amount": "60000000"}, {"date": "2024-09-02", "amount": "40000000"}],
            "prepayments": [{"date": "2025-03-01", "amount": "20000000", "recompute": "term"}]}
    project = {"project_id": "J1", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
               "total_investment": "300000000", "eligible_investment": "250000000", "start_date": "2024-01-01"}
    rows = quote(QuoteRequest.model_validate({"project": project, "loans": [loan]})).schedules[0].rows
    expected = amortize(Loan(**{k: v for k, v in loan.items() if k != "loan_id"})).rows
    assert rows is not None and [r.opening_balance for r in rows] == [r.opening_balance for r in expected]


def test_review_categorical_number_loan_ids_meet_their_drawdowns() -> None:
    """Review defect: loan ids in a categorical column of numbers with a blank cell read as '1.0', so the
    drawdowns of loan 1 named no loan and the loan was priced as drawn at once."""
    from subsidy_engine.loans.portfolio import amortize_portfolio

    loans = pd.DataFrame({"loan_id": pd.Categorical([1, 2, None]), "principal": ["1000000"] * 3,
                          "annual_rate": ["0.04"] * 3, "term_months": [12] * 3, "method": ["equal_principal"] * 3,
                          "start_date": ["2024-01-15"] * 3})
    drawdowns = pd.DataFrame({"loan_id": [1, 1], "date": ["2024-01-15", "2024-03-15"], "amount": ["600000", "400000"]})
    result = amortize_portfolio(loans, drawdowns=drawdowns, output="yearly")
    assert "drawdowns.loan_id" not in set(result.rejections["field"])
    assert set(result.rejections["row"]) == {2}  # the blank id only
    assert result.yearly.groupby("loan_id")["interest"].sum().to_dict()[1] == Decimal("20333.33")  # as given

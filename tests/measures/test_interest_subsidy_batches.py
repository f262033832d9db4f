"""Loans priced in batches (measures 1 and 15): the 貼息 of a book amortized LOANS_A_BATCH loans at a time, into one
set of schedule arrays reused batch after batch, is the 貼息 of the book amortized at once, to the fen, with the same
rejections, projections and digest."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from subsidy_engine import InterestSubsidyRule, Loan, evaluate, load_lpr, load_policy
from subsidy_engine.io.column_readers import Read
from subsidy_engine.loans import amortization
from subsidy_engine.loans.arrays import arrays_from_frame
from subsidy_engine.loans.portfolio import amortize_portfolio
from subsidy_engine.measures import interest_subsidy
from subsidy_engine.measures.interest_subsidy import LoanYears, interest_subsidy_rows, subsidy_by_loan_year
from subsidy_engine.pipeline.inputs import checked_portfolio
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL
from subsidy_engine.simulation.synthetic import portfolio

from builders import table_of
from strategies import examples, interest_rules, loans

YEARS = range(2024, 2031)


def _book(seed: int, *, calendar_loans: bool = False):  # noqa: ANN202
    tables = portfolio(400, seed=seed)
    loans = tables.loans.astype({"principal": object})
    loans.loc[3, "principal"] = "-5"  # the reader rejects it
    loans.loc[10, "term_months"] = 0
    if calendar_loans:  # every third loan settles interest on the 20th of each quarter's last month (按季結息)
        loans["interest_frequency"] = np.where(np.arange(len(loans)) % 3 == 0, "quarterly", None)
        loans["interest_dates"] = np.where(np.arange(len(loans)) % 3 == 0, "calendar", None)
    return checked_portfolio({"projects": tables.projects, "loans": loans, "insurance": tables.insurance,
                              "events": tables.events}, source="test", digest=f"seed {seed}")


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.parametrize("held", [False, True])  # without the hold, floating loans past the LPR are rejected
def test_a_book_priced_in_batches_is_the_book_priced_at_once(seed: int, held: bool,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    book = _book(seed)
    lpr = load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL) if held else load_lpr()
    found = {}
    for batch in (10**9, 7):
        monkeypatch.setattr(interest_subsidy, "LOANS_A_BATCH", batch)
        found[batch] = evaluate(book, years=YEARS, lpr=lpr)
    whole, batched = found[10**9], found[7]
    assert len(whole.table) and len(whole.rejections[whole.rejections.table == "loans"]) >= 2
    assert held or whole.rejections.reason.str.contains("LPR").any()
    assert not held or len(whole.projections)
    pd.testing.assert_frame_equal(batched.table, whole.table)
    pd.testing.assert_frame_equal(batched.rejections, whole.rejections)
    pd.testing.assert_frame_equal(batched.projections, whole.projections)
    assert batched.provenance == whole.provenance and batched.notes == whole.notes
    ours, theirs = batched.details["interest_subsidy"], whole.details["interest_subsidy"]
    assert ours.digest == theirs.digest
    for name, column in theirs.columns.items():
        assert list(ours.columns[name]) == list(column), name


@pytest.mark.parametrize("held", [False, True])
@pytest.mark.parametrize("calendar_loans", [False, True])
def test_the_window_rows_of_batches_are_those_of_the_book(held: bool, calendar_loans: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The Monte Carlo's rows (every loan-year of the window, paid or not) come out the same too, and so do the
    rejections, the reader's and the kernel's sorted in among them by row; with loans settling on calendar days,
    whose settlement flags a batch must not take from the batch before."""
    book = _book(5, calendar_loans=calendar_loans)
    read = book.reads["loans"]
    assert not calendar_loans or (read.arrays.interest_months > 0).sum() > 50
    loans = book.loans.reset_index(drop=True)
    lpr = load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL) if held else load_lpr()
    found = {}
    for batch in (10**9, 5):
        monkeypatch.setattr(interest_subsidy, "LOANS_A_BATCH", batch)
        found[batch] = interest_subsidy_rows(loans, load_policy(), lpr=lpr, window_rows=True, read=read)
    whole, batched = found[10**9], found[5]
    for name in ("in_window", "loan_row", "loan_start_day", "set_index", "window_start_day", "window_end_day"):
        assert batched.internal[name].tolist() == whole.internal[name].tolist(), name
    for name in ("amount", "gross", "interest", "year"):
        assert batched.columns[name].tolist() == whole.columns[name].tolist(), name
    kernel_said = whole.rejections.field.isin(["floating", "loan"]).sum()
    assert held or (kernel_said and kernel_said < len(whole.rejections))  # the kernel's and the reader's
    pd.testing.assert_frame_equal(batched.rejections, whole.rejections)


def test_loan_years_of_two_batches_joined_are_those_of_both_at_once() -> None:
    """Every array of :class:`LoanYears`, each loan-year's loan (numbered across the batches) included; the list
    of batches is emptied (each batch's arrays are let go as they are joined, not held beside the whole)."""
    book = _book(7)
    read = book.reads["loans"]
    loans = book.loans.reset_index(drop=True)
    lpr = load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL)

    def years(part):  # noqa: ANN001, ANN202
        result = amortize_portfolio(loans, lpr=lpr, output="schedule", ignore_columns=["project_id"], read=part)
        return subsidy_by_loan_year(result.fen, result.periods, load_policy()), len(result.loan_ids)

    whole, _ = years(read)
    batches = [years(part) for part in interest_subsidy._in_batches(read, 60)]
    assert len(batches) > 1
    joined = LoanYears.joined(batches)
    assert batches == []
    for field in fields(LoanYears):
        mine, theirs = getattr(joined, field.name), getattr(whole, field.name)
        assert (mine.tolist() if isinstance(mine, np.ndarray) else mine) == (
            theirs.tolist() if isinstance(theirs, np.ndarray) else theirs), field.name


def test_outputs_within_buffers_are_their_views_with_every_row_settling_again() -> None:
    """Buffers large enough are reused (views, no new array); their settlement flags are set to True again, and a
    batch that asks for no flags gets none; buffers too small give new arrays."""
    buffers = amortization.Outputs.allocate(10, 0, settles=True)
    buffers.settles[:] = False  # what a batch before left there
    out = amortization.Outputs.within(buffers, 6, 0, settles=True)
    assert np.shares_memory(out.interest, buffers.interest) and out.interest.shape == (6,)
    assert out.settles.tolist() == [True] * 6
    assert amortization.Outputs.within(buffers, 6, 0).settles.shape == (0,)
    bigger = amortization.Outputs.within(buffers, 11, 0, settles=True)
    assert not np.shares_memory(bigger.interest, buffers.interest) and bigger.settles.all()


def _book_of_every_frequency(seed: int):  # noqa: ANN202
    """Loans paid monthly and quarterly, some on the 31st (a month's last day), over the generator's terms and
    windows: the period that pays a window's last days may fall in the year after it."""
    tables = portfolio(400, seed=seed)
    loans = tables.loans.copy()
    loans["frequency"] = np.array(["monthly", "quarterly"])[np.arange(len(loans)) % 2]
    loans["term_months"] = (loans["term_months"].astype(int) // 12).clip(lower=1) * 12
    loans["settlement_day"] = np.where(np.arange(len(loans)) % 5 == 0, 31, None)
    return checked_portfolio({"projects": tables.projects, "loans": loans, "insurance": tables.insurance,
                              "events": tables.events}, source="test", digest=f"frequencies {seed}")


@pytest.mark.parametrize("window_rows", [False, True])
@pytest.mark.parametrize("batch", [10**9, 5])
@pytest.mark.parametrize("book_of", ["calendar", "frequencies", "unheld"])
def test_claims_only_are_the_claim_rows_of_every_loan_year(window_rows: bool, batch: int, book_of: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """What evaluate keeps (the loan-years paid, or with ``window_rows`` those of the window) is every loan-year's
    rows taken at those rows, array by array, in one batch or many; the rejections and digest are the same. Each
    loan the lean loop prices is amortized only through the year that pays the last of its window, so each kept
    year's interest must still be the whole year's; a floating book without the LPR held is rejected in part."""
    book = _book_of_every_frequency(13) if book_of == "frequencies" else _book(9, calendar_loans=book_of == "calendar")
    read = book.reads["loans"]
    loans = book.loans.reset_index(drop=True)
    lpr = load_lpr() if book_of == "unheld" else load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL)
    assert book_of != "frequencies" or set(read.arrays.months_per_period.tolist()) == {1, 3}
    monkeypatch.setattr(interest_subsidy, "LOANS_A_BATCH", batch)
    every = interest_subsidy_rows(loans, load_policy(), lpr=lpr, window_rows=window_rows, read=read)
    kept = interest_subsidy_rows(loans, load_policy(), lpr=lpr, window_rows=window_rows, read=read,
                                 claims_only=True)
    rows = np.flatnonzero(every.internal["in_window"])
    assert 0 < rows.shape[0] < len(every.paid)
    for name, column in every.columns.items():
        assert list(kept.columns[name]) == list(np.asarray(column, dtype=object)[rows]), name
    for name, array in every.internal.items():
        if isinstance(array, np.ndarray):
            assert kept.internal[name].tolist() == array[rows].tolist(), name
    assert kept.paid.tolist() == every.paid[rows].tolist()
    assert kept.reasons.tolist() == np.asarray(every.reasons)[rows].tolist()
    assert kept.digest == every.digest
    pd.testing.assert_frame_equal(kept.rejections, every.rejections)


# the window ends on 25 December 2026, inside the period that 10 January 2027 pays: 2027 holds a claim, and all of
# its periods must be priced for its interest
@example(sample=[Loan(principal="1000000", annual_rate="0.04", term_months=60, start_date=date(2024, 12, 25),
                      settlement_day=10)],
         rule=InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2), window_rows=False)
@settings(max_examples=examples(60), deadline=None)
@given(sample=st.lists(loans(), min_size=1, max_size=8), rule=interest_rules(), window_rows=st.booleans())
def test_loans_stopped_at_their_window_s_year_give_the_whole_schedules_claims(
        sample: list, rule: InterestSubsidyRule, window_rows: bool) -> None:
    """Generated loans (every method, basis, frequency and settlement day, terms up to 50 years, fixed and floating)
    under generated rules (fixed window starts, open windows, both caps): the claim rows of loans amortized through
    the year that pays the last of their window are those of their whole schedules, interest of each year included."""
    table = table_of(sample)
    read = Read(*arrays_from_frame(table))
    lpr = load_lpr().hold_flat(until=date(2080, 12, 31))
    stopped = interest_subsidy_rows(table, rule, lpr=lpr, window_rows=window_rows, read=read, claims_only=True)
    whole = interest_subsidy_rows(table, rule, lpr=lpr, window_rows=window_rows, read=read)
    kept = np.flatnonzero(whole.internal["in_window"])
    for name, column in whole.columns.items():
        assert list(stopped.columns[name]) == list(np.asarray(column, dtype=object)[kept]), name
    for name in ("loan_row", "loan_start_day", "window_start_day", "window_end_day", "in_window"):
        assert stopped.internal[name].tolist() == whole.internal[name][kept].tolist(), name
    pd.testing.assert_frame_equal(stopped.rejections, whole.rejections)
    pd.testing.assert_frame_equal(stopped.internal["projections"], whole.internal["projections"])

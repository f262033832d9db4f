"""Portfolio path: same figures as the scalar path, rejections, yearly totals, streaming."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from subsidy_engine import (
    Loan,
    PortfolioSchemaError,
    PortfolioValidationError,
    amortize,
    amortize_portfolio,
)

from builders import table_of
from strategies import examples, loans


@settings(max_examples=examples(90))
@given(sample=st.lists(loans(), min_size=1, max_size=8), chunk=st.integers(1, 5))
def test_portfolio_equals_scalar_and_yearly_adds_up(sample, chunk, curve) -> None:
    result = amortize_portfolio(table_of(sample), lpr=curve, chunk_size=chunk)
    assert result.rejections.empty
    table, yearly = result.schedule, result.yearly
    for k, loan in enumerate(sample):
        rows = table[table.loan_id == f"L{k}"]
        scalar = amortize(loan, curve).to_frame()
        pd.testing.assert_frame_equal(rows.drop(columns="loan_id").reset_index(drop=True), scalar)
        years = yearly[yearly.loan_id == f"L{k}"]
        by_year = rows.groupby(rows.end_date.map(lambda d: d.year))
        assert years.year.tolist() == sorted(by_year.groups)
        assert years.interest.tolist() == by_year.interest.sum().tolist()
        assert years.principal.tolist() == by_year.principal.sum().tolist()
        assert sum(years.principal) == loan.principal


def test_yearly_only_never_builds_the_long_table(curve) -> None:
    sample = [Loan(principal="1000000", annual_rate="0.04", term_months=360, start_date="2024-01-15")]
    result = amortize_portfolio(table_of(sample), output="yearly")
    assert "interest" not in result.fen and "year_interest" in result.fen
    with pytest.raises(ValueError, match="schedule was not computed"):
        _ = result.schedule
    both = amortize_portfolio(table_of(sample), output="both")
    pd.testing.assert_frame_equal(result.yearly, both.yearly)


def good_table() -> pd.DataFrame:
    return pd.DataFrame({
        "loan_id": [1, 2, 3, 4, 5, 6],
        "principal": ["1000000", "250000.50", "0.001", "500000", "800000", "100000"],
        "annual_rate": ["0.049", None, "0.04", "0.035", "1.5", "0.04"],
        "floating_tenor": [None, "5Y", None, None, None, "1Y"],
        "floating_spread_bp": [None, "-20", None, None, None, "10"],
        "term_months": [360, 120, 12, 13, 60, 24],
        "frequency": ["monthly", "monthly", "monthly", "quarterly", "monthly", "monthly"],
        "start_date": ["2024-01-15", "2023-03-01", "2024-01-01", "2024-01-01", "2024-13-01", "2024-01-01"],
    })


def test_bad_rows_are_reported_and_good_rows_compute() -> None:
    result = amortize_portfolio(good_table())
    report = result.rejections
    by_row = {(r.row, r.field) for r in report.itertuples()}
    assert (2, "principal") in by_row  # a fraction of a fen
    assert (3, "frequency") in by_row  # 13 months is not whole quarters
    assert (4, "annual_rate") in by_row and (4, "start_date") in by_row  # 150%, month 13
    assert (5, "annual_rate, floating") in by_row  # both a fixed and a floating rate
    assert set(report.loan_id) == {2, 3, 4, 5, 6}
    assert all(report.reason.str.len() > 5)
    # the floating loan's resets run beyond the LPR horizon: reported, not guessed
    assert (1, "floating") in by_row
    assert "coverage horizon" in report[report.row == 1].reason.iloc[0]
    assert result.loan_ids.tolist() == [1]
    assert result.schedule.payment.iloc[0] == Decimal("5307.27")


def test_projection_prices_the_floating_row_and_is_reported(curve) -> None:
    result = amortize_portfolio(good_table(), lpr=curve)
    assert result.loan_ids.tolist() == [1, 2]
    assert result.projections.loan_id.tolist() == [2]
    assert result.projections.projected_from.iloc[0] == date(2027, 1, 1)
    assert result.provenance.scenario == "test-walk"
    plain = amortize_portfolio(good_table())
    assert plain.provenance.parameters_sha256 != result.provenance.parameters_sha256
    assert plain.provenance.engine_version == result.provenance.engine_version


def test_strict_mode_raises_with_the_report() -> None:
    with pytest.raises(PortfolioValidationError, match=r"row 2 \(loan_id 3\) principal") as err:
        amortize_portfolio(good_table(), strict=True)
    assert len(err.value.rejections) >= 5


def test_float_money_column_is_refused_whole() -> None:
    table = good_table().iloc[:1].assign(principal=[1000000.0])
    with pytest.raises(PortfolioSchemaError, match="'principal' holds binary floats"):
        amortize_portfolio(table)


def test_unknown_columns_are_refused_unless_ignored() -> None:
    table = good_table().iloc[:1].assign(grace_month=[3])
    with pytest.raises(PortfolioSchemaError, match="unknown columns \\['grace_month'\\]"):
        amortize_portfolio(table)
    assert amortize_portfolio(table, ignore_columns=["grace_month"]).computed == 1


def test_column_forms_give_the_same_result() -> None:
    base = amortize_portfolio(good_table().iloc[:1]).schedule
    forms = [
        {"principal": [Decimal("1000000")], "annual_rate": [Decimal("0.049")]},
        {"principal": pd.array([1000000], dtype="Int64")},
        {"principal": pd.Series(pa.array([Decimal("1000000.00")], pa.decimal128(12, 2)),
                                dtype=pd.ArrowDtype(pa.decimal128(12, 2)))},
        {"start_date": [date(2024, 1, 15)]},
        {"start_date": pd.to_datetime(["2024-01-15"])},
        {"term_months": [360.0]},
    ]
    for form in forms:
        table = good_table().iloc[:1].assign(**form)
        pd.testing.assert_frame_equal(amortize_portfolio(table).schedule, base)


def test_a_nested_floating_column_is_accepted(curve) -> None:
    table = pd.DataFrame({"loan_id": ["F"], "principal": ["500000"], "term_months": [24],
                          "floating": [{"tenor": "1Y", "spread_bp": "15", "reset": "anniversary"}],
                          "start_date": ["2024-05-10"]})
    result = amortize_portfolio(table, lpr=curve)
    assert result.schedule.annual_rate.iloc[0] == Decimal("0.0360")  # 3.45% + 15 bp


def test_no_nan_reaches_money_and_duplicates_are_rejected() -> None:
    table = good_table().iloc[:1]
    table = pd.concat([table, table.assign(principal=[None])], ignore_index=True)
    report = amortize_portfolio(table).rejections
    assert set(report.field) == {"loan_id", "principal"}
    assert report[report.field == "principal"].reason.iloc[0] == "is missing"


def as_row(fields: dict[str, object]) -> pd.DataFrame:
    row = {"loan_id": "X", **fields}
    floating = row.pop("floating", None)
    if isinstance(floating, dict):
        row.update({f"floating_{k}": v for k, v in floating.items()})
    return pd.DataFrame([{k: v for k, v in row.items()}]).astype(object)


values = {
    "principal": st.sampled_from(["100", "0", "-1", "0.005", "1e13", "abc", "12.30", 7]),
    "annual_rate": st.sampled_from(["0.04", "-0.01", "1.01", "0.12345678901", None, "0"]),
    "term_months": st.sampled_from([12, 0, 601, 13, 600, 3]),
    "frequency": st.sampled_from(["monthly", "quarterly", "weekly", None]),
    "method": st.sampled_from(["equal_installment", "interest_only", "custom", "balloon", None]),
    "grace_months": st.sampled_from([0, 3, 6, 12, -3, 2]),
    "interest_basis": st.sampled_from(["monthly", "act_360", "act_366", None]),
    "start_date": st.sampled_from(["2024-01-31", "2024-02-30", "2023-12-01"]),
    "settlement_day": st.sampled_from([None, 1, 20, 31, 0, 32]),
}


@given(fields=st.fixed_dictionaries(values))
def test_a_row_is_rejected_exactly_when_the_model_refuses_it(fields) -> None:
    clean = {k: v for k, v in fields.items() if v is not None}
    try:
        Loan(**clean)
        model_ok = True
    except ValidationError:
        model_ok = False
    result = amortize_portfolio(as_row(clean))
    assert result.rejections.empty == model_ok, result.rejections.to_dict("records")
    if not model_ok:
        assert result.computed == 0


def test_floating_segments_do_not_depend_on_chunks(curve) -> None:
    from subsidy_engine.reference.calculators import reference_schedule

    sample = [Loan(principal=str(100000 * (k + 1)), term_months=12 * (k + 3),
                   floating={"tenor": "5Y" if k % 2 else "1Y", "spread_bp": str(10 * k - 40),
                             "reset": "anniversary" if k % 3 else "january"},
                   start_date=date(2020 + k % 6, 1 + k % 12, 1 + 3 * k), settlement_day=20 if k % 4 else None)
              for k in range(9)]
    whole = amortize_portfolio(table_of(sample), lpr=curve).schedule
    blocked = amortize_portfolio(table_of(sample), lpr=curve, chunk_size=4).schedule
    pd.testing.assert_frame_equal(whole, blocked)
    for k, loan in enumerate(sample):
        rates = whole[whole.loan_id == f"L{k}"].annual_rate.tolist()
        assert rates == [r.annual_rate for r in reference_schedule(loan, curve)[0]]


# Regressions from the first review (each a real failure before its fix)
BASE = {"loan_id": "A", "principal": "1000", "annual_rate": "0.04", "term_months": 12,
        "start_date": "2024-01-15"}


def table(**changes: object) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **changes}]).astype(object)


@pytest.mark.parametrize(("field", "value"), [
    ("annual_rate", "0.059999999999999999999999999999"),  # 30 decimals: rounded by a 28-digit context
    ("principal", "1000.0000000000000000000000001"),
])
def test_values_longer_than_a_decimal_context_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Loan(**{**{k: v for k, v in BASE.items() if k != "loan_id"}, field: value})
    report = amortize_portfolio(table(**{field: value})).rejections
    assert report.field.tolist() == [field]


def test_plan_fractions_are_summed_exactly() -> None:
    with pytest.raises(ValidationError, match="fractions add up to 1.00000000000000000000000000001"):
        Loan(principal="1000", annual_rate="0.04", term_months=2, start_date="2024-01-15",
             method="custom", principal_plan_unit="fraction",
             principal_plan=["0.50000000000000000000000000001", "0.5"])


def test_arrow_date_column() -> None:
    dates = pd.Series([date(2024, 1, 15)], dtype=pd.ArrowDtype(pa.date32()))
    result = amortize_portfolio(table().assign(start_date=dates))
    assert result.rejections.empty
    assert result.schedule.start_date.iloc[0] == date(2024, 1, 15)


@pytest.mark.parametrize(("field", "value"), [
    ("term_months", "+-12"), ("term_months", "²"), ("term_months", "١٢"), ("term_months", 10**20),
    ("settlement_day", "99999999999999999999"), ("principal", Decimal("sNaN")),
    ("principal", Decimal("Infinity")),
])
def test_odd_cells_become_rejections_not_crashes(field: str, value: object) -> None:
    report = amortize_portfolio(table(**{field: value})).rejections
    assert field in report.field.tolist()


def test_pd_na_is_a_blank_cell() -> None:
    result = amortize_portfolio(table(floating=pd.NA, principal_plan=pd.NA))
    assert result.rejections.empty and result.computed == 1


def test_schedules_must_end_within_the_calendar() -> None:
    with pytest.raises(ValidationError, match="ends after the year 9999"):
        Loan(principal="1000", annual_rate="0.04", term_months=600, start_date="9990-01-15")
    report = amortize_portfolio(table(term_months=600, start_date="9990-01-15")).rejections
    assert report.field.tolist() == ["start_date"]


@pytest.mark.parametrize("settlement", [{}, {"interest_dates": "calendar", "interest_frequency": "quarterly",
                                             "settlement_day": "20", "interest_basis": "act_360"}])
@pytest.mark.parametrize("output", ["yearly", "both"])
def test_a_loan_repaid_in_full_before_its_term_has_no_years_after_its_last_row(settlement, output) -> None:
    """Issue 18: a loan of five years prepaid in full in June 2025 showed 0.00 yearly rows for 2026-2029, years in
    which its schedule has no row; a custom plan that repays early keeps its 0.00 rows (and years) to its term."""
    loans = pd.DataFrame({"loan_id": ["P", "C"], "principal": ["1000000", "1000000"], "annual_rate": ["0.04"] * 2,
                          "term_months": [60, 60], "frequency": ["quarterly"] * 2, "start_date": ["2024-01-20"] * 2,
                          "method": ["equal_principal", "custom"],
                          "principal_plan": [None, ["500000", "500000"] + ["0"] * 18],
                          **{k: [v] * 2 for k, v in settlement.items()}})
    prepayments = pd.DataFrame({"loan_id": ["P"], "date": ["2025-06-10"], "amount": ["750000"], "recompute": ["payment"]})
    result = amortize_portfolio(loans, prepayments=prepayments, output=output)
    assert result.rejections.empty
    yearly = result.yearly
    assert yearly[yearly.loan_id == "P"].year.tolist() == [2024, 2025]
    assert yearly[yearly.loan_id == "C"].year.tolist() == [2024, 2025, 2026, 2027, 2028, 2029]
    assert sum(yearly[yearly.loan_id == "P"].principal) == Decimal("1000000")
    if output == "both":
        schedule = result.schedule
        assert schedule[schedule.loan_id == "P"].end_date.max() == date(2025, 6, 10)


def test_each_loan_s_later_tranches_are_summed_exactly_in_a_book_of_any_size() -> None:
    """The opening of a loan drawn in tranches is its principal less what it draws later, summed in integers: a
    book's running sum passes 2**63 here (100,000 loans of 1e12 yuan drawn later), each loan's stays exact."""
    import numpy as np

    from subsidy_engine.loans.arrays import LoanEvents

    loans = 100_000
    amount = np.tile(np.array([10**14 - 1, -7, 10**14 - 3], np.int64), loans)  # drawn, prepaid, drawn
    events = LoanEvents(np.arange(0, 3 * loans + 1, 3, dtype=np.int64), np.zeros(3 * loans, np.int64), amount,
                        np.zeros(3 * loans, np.int64), np.zeros(3 * loans, np.int64))
    drawn = events.drawn_later_fen()
    assert drawn.dtype == np.int64 and (drawn == 2 * 10**14 - 4).all()

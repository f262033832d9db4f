"""Amounts and rates typed as text (issue 15, point 2 and defect 5).

One rule reads every text cell (``money.to_decimal``): commas only as
thousands separators in groups of three, full-width forms as their ASCII
counterparts, ``%`` only where the caller allows a percent (rates), 萬/億/元
only where it allows amount units (money). Anything else is refused with a
reason, never guessed at.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from subsidy_engine import amortize_portfolio
from subsidy_engine.core.money import PLAIN_NUMBER, scaled_integer, to_decimal
from subsidy_engine.errors import MoneyError
from subsidy_engine.io import column_readers
from subsidy_engine.loans.arrays import arrays_from_frame

COMMA = "a comma is only a thousands separator (groups of three, as in 1,000,000.00); write the decimal point as '.'"


def loans(principal: list[object], annual_rate: list[object] | None = None) -> pd.DataFrame:
    n = len(principal)
    return pd.DataFrame({
        "loan_id": [f"L{k}" for k in range(n)],
        "principal": pd.Series(principal, dtype=object),
        "annual_rate": pd.Series(annual_rate or ["0.0385"] * n, dtype=object),
        "term_months": [12] * n,
        "method": ["equal_principal"] * n,
        "start_date": ["2024-01-15"] * n,
    })


def opening_principal(result) -> dict[str, Decimal]:
    first = result.schedule[result.schedule.period == 1]
    return dict(zip(first.loan_id, first.opening_balance))


def first_rate(result) -> dict[str, Decimal]:
    first = result.schedule[result.schedule.period == 1]
    return dict(zip(first.loan_id, first.annual_rate))


# ---------------------------------------------------------------------------
# Rows rejected through amortize_portfolio, with the field and the reason
# ---------------------------------------------------------------------------
REFUSED_PRINCIPALS = [
    ("1000,50", COMMA), ("1,5", COMMA), ("12,34,567.00", COMMA), ("1,000,00", COMMA), (",100", COMMA),
    ("1,,000", COMMA), ("1,000.000,5", COMMA), ("0,500", COMMA), ("100,", COMMA),
    ("1_000", "an underscore is not a digit separator here; write 1000 or 1,000"),
    ("1 000", "a space inside a number is not accepted; write 1000 or 1,000"),
    ("500 萬", "a space inside a number is not accepted"),
    ("5%", "a percent is not an amount; write the amount in yuan, without '%'"),
    ("５％", "a percent is not an amount"),
    ("萬", "is not a decimal number"),
    ("1²", "is not a decimal number"),  # NFKC would read 12: only full-width forms are normalised
    ("٣", "is not a decimal number"),  # Arabic-Indic digit (Decimal itself would read 3)
]


@pytest.mark.parametrize(("text", "reason"), REFUSED_PRINCIPALS)
def test_a_malformed_principal_is_a_row_rejection_naming_field_and_reason(text: str, reason: str) -> None:
    result = amortize_portfolio(loans(["1000.00", text]))
    report = result.rejections
    assert report[["row", "loan_id", "field"]].values.tolist() == [[1, "L1", "principal"]], report
    assert reason in report.reason.iloc[0]
    assert report.reason.iloc[0].startswith(repr(text)), "the reason quotes the cell as written"
    assert result.computed == 1  # the good row still runs


@pytest.mark.parametrize(("text", "reason"), [
    ("500萬", "the units 萬/万, 億/亿 and 元 are for amounts in yuan; write the plain number"),
    ("0.0385元", "are for amounts in yuan"),
    ("0,0385", COMMA),
    ("3.85 %", "a space inside a number"),
    ("%3.85", "is not a decimal number"),
])
def test_a_malformed_rate_is_a_row_rejection(text: str, reason: str) -> None:
    report = amortize_portfolio(loans(["1000.00", "1000.00"], ["0.0385", text])).rejections
    assert report[["row", "field"]].values.tolist() == [[1, "annual_rate"]], report
    assert reason in report.reason.iloc[0]


def test_the_defects_read_from_a_csv_file() -> None:
    """A quoted "1000,50" in a CSV was read as 100,050.00 without a word."""
    text = ('loan_id,principal,annual_rate,term_months,start_date\n'
            'A,"1000,50",0.0385,12,2024-01-15\n'
            'B,"1,000,000.00",3.85%,12,2024-01-15\n')
    result = amortize_portfolio(pd.read_csv(io.StringIO(text), dtype=str))
    assert result.rejections[["loan_id", "field", "reason"]].values.tolist() == [["A", "principal",
                                                                                 f"'1000,50': {COMMA}"]]
    assert opening_principal(result) == {"B": Decimal("1000000.00")}
    assert first_rate(result)["B"] == Decimal("0.0385")


# ---------------------------------------------------------------------------
# Accepted forms give the exact fen
# ---------------------------------------------------------------------------
ACCEPTED_PRINCIPALS = [
    ("1,000,000.00", "1000000.00"), ("12,345", "12345.00"), ("1,234.5", "1234.50"), (" 88.80 ", "88.80"),
    ("１２３４．５０", "1234.50"), ("１，０００", "1000.00"), ("\u3000１，２３４．５６\u3000", "1234.56"),
    ("500萬", "5000000.00"), ("500萬元", "5000000.00"), ("500万", "5000000.00"), ("1.5億", "150000000.00"),
    ("1.5亿元", "150000000.00"), ("1,200萬", "12000000.00"), ("0.01萬", "100.00"), ("１．２５萬", "12500.00"),
    ("88.50元", "88.50"), ("+5", "5.00"), ("1e3", "1000.00"),
]


def test_accepted_principals_give_the_exact_fen() -> None:
    table = loans([text for text, _ in ACCEPTED_PRINCIPALS])
    result = amortize_portfolio(table)
    assert result.rejections.empty, result.rejections.to_dict("records")
    got = opening_principal(result)
    assert [got[f"L{k}"] for k in range(len(ACCEPTED_PRINCIPALS))] == [Decimal(v) for _, v in ACCEPTED_PRINCIPALS]
    arrays, _, _ = arrays_from_frame(table)
    assert arrays.principal_fen.tolist() == [int(Decimal(v) * 100) for _, v in ACCEPTED_PRINCIPALS]


def test_a_percent_rate_is_the_fraction() -> None:
    table = loans(["500萬"] * 4, ["3.85%", "３．８５％", "0.0385", "385%"])
    result = amortize_portfolio(table)
    assert first_rate(result) == {"L0": Decimal("0.0385"), "L1": Decimal("0.0385"), "L2": Decimal("0.0385")}
    assert opening_principal(result)["L0"] == Decimal("5000000.00")
    assert result.rejections[["row", "field"]].values.tolist() == [[3, "annual_rate"]]  # 3.85: above 100%
    arrays, _, _ = arrays_from_frame(table.iloc[:3])
    assert arrays.fixed_units.tolist() == [385_000_000] * 3
    same = amortize_portfolio(table.iloc[[2]]).schedule.drop(columns="loan_id").reset_index(drop=True)
    pct = amortize_portfolio(table.iloc[[0]]).schedule.drop(columns="loan_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(pct, same)


def test_a_percent_finer_than_the_rate_scale_says_what_it_read() -> None:
    report = amortize_portfolio(loans(["100"], ["3.123456789%"])).rejections
    assert report.reason.tolist() == ["3.123456789% (= 0.03123456789) has more than 10 decimal places"]


def test_merit_score_is_a_score_not_money() -> None:
    rej = column_readers.Rejections(3)
    units, bad = column_readers.decimal_units(pd.Series(["5萬", "1,234.5", "5%"]), 2, "merit_score", rej)
    report = rej.frame(pd.Series(["a", "b", "c"], name="id"))
    assert units[1] == 123450 and bad.tolist() == [True, False, True]
    assert report.reason.tolist() == [
        "'5萬': the units 萬/万, 億/亿 and 元 are for amounts in yuan; write the plain number",
        "'5%': a percent is not accepted here; write the plain number, without '%'"]
    # the caller may say otherwise
    units, bad = column_readers.decimal_units(pd.Series(["5萬"]), 2, "merit_score", column_readers.Rejections(1), units=True)
    assert units.tolist() == [5_000_000] and not bad.any()  # 50,000.00


def test_the_spread_in_basis_points_takes_neither_percent_nor_units() -> None:
    table = loans(["1000"] * 2).drop(columns="annual_rate").assign(
        floating_tenor=["1Y", "1Y"], floating_spread_bp=["-20", "20%"])
    report = amortize_portfolio(table).rejections
    assert report[["row", "field"]].values.tolist() == [[1, "floating_spread_bp"]]
    assert "a percent is not accepted here" in report.reason.iloc[0]


def test_plain_to_decimal_is_unchanged_for_non_text_and_plain_text() -> None:
    assert to_decimal(Decimal("1E+2")) == Decimal("1E+2") and to_decimal(7) == Decimal(7)
    assert str(to_decimal("1234.50")) == "1234.50" and str(to_decimal("-0.005")) == "-0.005"
    assert str(to_decimal("1e3")) == "1E+3"  # exponents are read as before
    with pytest.raises(MoneyError, match="'NaN' is not a finite number"):
        to_decimal("NaN")
    with pytest.raises(MoneyError, match="is not a finite number"):
        to_decimal(" -infinity ", percent=True, units=True)
    with pytest.raises(MoneyError, match="1,000,004 digits before the point"):
        to_decimal("1e999999萬", units=True)  # the unit counts in the magnitude guard
    assert to_decimal("0e999999萬", units=True) == 0


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------
amounts = st.decimals(min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=2,
                      allow_nan=False, allow_infinity=False)


@given(amount=amounts)
def test_a_grouped_amount_reads_back_exactly(amount: Decimal) -> None:
    text = f"{amount:,}"
    back = to_decimal(text, "amount", units=True)
    assert back == amount and str(back) == str(amount)
    wide = text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})  # as typed with a Chinese IME
    assert str(to_decimal(wide, "amount")) == str(amount)


@given(amount=amounts, data=st.data())
def test_a_comma_outside_the_groups_is_refused(amount: Decimal, data: st.DataObject) -> None:
    text = f"{amount:,}"
    at = data.draw(st.integers(0, len(text)), label="at")
    broken = text[:at] + "," + text[at:]
    with pytest.raises(MoneyError, match=re.escape(COMMA)):
        to_decimal(broken, "amount", units=True)


def grouping_is_valid(text: str) -> bool:
    """An oracle apart from the parser's regex: the integer part is written as Python groups it."""
    body = text.lstrip("+-")
    whole, _, fraction = body.partition(".")
    if "," in fraction or not whole.replace(",", "").isdigit():
        return False
    return whole == f"{int(whole.replace(',', '')):,}"


@given(digits=st.text("0123456789", min_size=1, max_size=12), fraction=st.sampled_from(["", ".5", ".25"]),
       sign=st.sampled_from(["", "-", "+"]), cuts=st.sets(st.integers(0, 12), min_size=1, max_size=4))
def test_commas_are_read_only_in_valid_groups(digits: str, fraction: str, sign: str, cuts: set[int]) -> None:
    whole = digits
    for at in sorted((c for c in cuts if c <= len(digits)), reverse=True):
        whole = whole[:at] + "," + whole[at:]
    assume("," in whole)
    text = sign + whole + fraction
    if grouping_is_valid(text):
        assert to_decimal(text) == Decimal(sign + digits + fraction)
    else:
        with pytest.raises(MoneyError, match=re.escape(COMMA)):
            to_decimal(text)


cell_text = st.one_of(
    st.from_regex(re.compile(PLAIN_NUMBER, re.ASCII), fullmatch=True).filter(lambda t: len(t) < 30),
    st.text(st.sampled_from("0123456789.,+-eE _%萬元１．"), min_size=1, max_size=10))


@given(cells=st.lists(cell_text, min_size=1, max_size=4), scale=st.sampled_from([2, 10]))
def test_the_arrow_fast_path_accepts_only_what_the_text_rule_reads_alike(cells: list[str], scale: int) -> None:
    for series in (pd.Series(cells, dtype=object), pd.Series(cells, dtype=pd.ArrowDtype(pa.string()))):
        fast = column_readers._decimal_units_arrow(series, scale)
        if fast is None:
            continue
        units, missing = fast
        assert not missing.any()
        for cell, got in zip(cells, units.tolist()):
            number = to_decimal(cell)  # the plain rule: no % or units
            assert scaled_integer(number, scale) == got, (cell, got)


@pytest.mark.parametrize("text", [".1E-500000", "1E-500000", "10E-500000", "1E+500000"])
def test_an_exponent_beyond_arrows_reach_is_read_by_the_text_rule(text: str) -> None:
    """Found by the property above: Arrow's cast read ``.1E-500000`` as 0.00 (its exponent arithmetic
    wraps), while the text rule refuses a value finer than a fen. Such a cell goes to the text rule."""
    for series in (pd.Series([text], dtype=object), pd.Series([text], dtype=pd.ArrowDtype(pa.string()))):
        fast = column_readers._decimal_units_arrow(series, 2)
        assert fast is None or scaled_integer(to_decimal(text), 2) == fast[0][0]


@pytest.mark.parametrize("text", ["1e3", "+5", ".5", "5.", "-0", "00012", "1.5E-1"])
def test_forms_arrow_casts_are_forms_the_rule_reads_to_the_same_value(text: str) -> None:
    fast = column_readers._decimal_units_arrow(pd.Series([text], dtype=object), 2)
    assert fast is not None
    assert Decimal(int(fast[0][0])).scaleb(-2) == to_decimal(text)


@pytest.mark.parametrize("text", [" 12", "12 ", "1,000", "1_000", "３", "3.85%", "500萬", "1 000", "NaN"])
def test_any_other_form_goes_to_the_slow_path(text: str) -> None:
    """Arrow refuses some of these and would accept none wrongly; the guard makes that not depend
    on the Arrow version."""
    assert column_readers._decimal_units_arrow(pd.Series([text, "1"], dtype=object), 2) is None
    rej = column_readers.Rejections(2)
    units, bad = column_readers.decimal_units(pd.Series([text, "1"], dtype=object), 2, "principal", rej)
    try:
        expected = to_decimal(text, units=True)
    except MoneyError:
        assert bad.tolist() == [True, False]
    else:
        assert units.tolist() == [int(expected.scaleb(2)), 100] and not bad.any()
    assert np.asarray(units).dtype == np.int64


def test_an_exponent_beyond_decimal_s_range_is_a_problem_not_a_traceback() -> None:
    """Review: '1e9999999999999999999' raised decimal.InvalidOperation from every reader."""
    from subsidy_engine.core.money import to_decimal
    from subsidy_engine.errors import MoneyError

    with pytest.raises(MoneyError, match="far beyond"):
        to_decimal("1e9999999999999999999")
    table = pd.DataFrame({"loan_id": ["A"], "principal": ["1e9999999999999999999"], "annual_rate": ["0.04"],
                          "term_months": ["12"], "start_date": ["2026-01-01"]})
    assert amortize_portfolio(table).rejections.field.tolist() == ["principal"]


def test_full_width_whole_numbers_and_dates_are_read_as_amounts_are() -> None:
    """Review: '６０' months and '２０２６－０３－０１' were refused where '１２３４．５０' was read."""
    table = pd.DataFrame({"loan_id": ["A"], "principal": ["１０００００"], "annual_rate": ["０．０４"],
                          "term_months": ["６０"], "start_date": ["２０２６－０３－０１"]})
    result = amortize_portfolio(table)
    assert result.rejections.empty and result.schedule.start_date.iloc[0].isoformat() == "2026-03-01"


# ---------------------------------------------------------------------------
# Dates and digits: YYYY-MM-DD, ASCII or full-width digits, nothing else (issue 16, row 12)
# ---------------------------------------------------------------------------
#: Forms Python 3.11's ``date.fromisoformat`` reads that a person writing YYYY-MM-DD does not mean.
NOT_DATES = ["20260315", "2026-W11-7", "2026W117", "2026-074", "٢٠٢٦-٠٣-١٥", "2026-03-1５x", "+2026-03-15",
             "2026-3-15", "2026-03-15T00:00", "2026-02-30"]


@pytest.mark.parametrize("text", NOT_DATES)
def test_a_date_is_year_month_day_and_nothing_else(text: str) -> None:
    """Issue 16, row 12: '20260315' and '2026-W11-7' were read as 2026-03-15 while every message said
    YYYY-MM-DD."""
    table = loans(["1000", "1000"]).assign(start_date=["2024-01-15", text])
    report = amortize_portfolio(table).rejections
    assert report[["row", "field"]].values.tolist() == [[1, "start_date"]], report
    assert report.reason.iloc[0].startswith(repr(text)) and "YYYY-MM-DD" in report.reason.iloc[0]


def test_the_one_date_rule() -> None:
    """Issue 16, row 12: one parser for every date typed as text."""
    from datetime import date

    from subsidy_engine.core.dates import parse_date
    from subsidy_engine.errors import DateError

    assert parse_date(" 2026-03-15 ", "start_date") == date(2026, 3, 15)
    assert parse_date("２０２６－０３－１５", "start_date") == date(2026, 3, 15)  # as a Chinese IME types it
    for text in NOT_DATES:
        with pytest.raises(DateError, match=re.escape(f"start_date: {text!r} is not an ISO date 'YYYY-MM-DD'")):
            parse_date(text, "start_date")
    with pytest.raises(DateError, match=r"\(day is out of range for month\)"):
        parse_date("2026-02-30", "start_date")
    with pytest.raises(DateError, match=r"\.\.\. \(100,000 characters\)"):
        parse_date("2" * 100_000, "start_date")  # a hostile cell is shown by its start


@pytest.mark.parametrize("value", ["20260315", "2026-W11-7", 1773532800, 20260315, datetime(2026, 3, 15),
                                   Decimal(20260315)])
def test_models_take_a_date_or_year_month_day_text_only(value: object) -> None:
    """Issue 16, row 12: pydantic reads '20260315' and integers (unix time) as dates; the models'
    date type refuses them."""
    from pydantic import TypeAdapter, ValidationError

    from subsidy_engine import Loan
    from subsidy_engine.core.dates import IsoDate

    adapter = TypeAdapter(IsoDate)
    assert adapter.validate_python("2026-03-15") == adapter.validate_python(date(2026, 3, 15)) == date(2026, 3, 15)
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        adapter.validate_python(value)
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        Loan(principal="1000", annual_rate="0.04", term_months=12, start_date=value)


def test_the_policy_file_s_dates_are_year_month_day(tmp_path) -> None:
    """Issue 16, row 12: a parameter set's dates follow the one date rule (a quoted '2021-07-22' is a
    date, 20210722 is not)."""
    from subsidy_engine.errors import PolicyError
    from subsidy_engine.params.lpr import schedules_dir
    from subsidy_engine.params.policy import load_policy

    text = (schedules_dir() / "policy-78.yaml").read_text(encoding="utf-8")
    assert "valid_from: 2021-07-22" in text
    quoted = tmp_path / "quoted.yaml"
    quoted.write_text(text.replace("valid_from: 2021-07-22", 'valid_from: "2021-07-22"'), encoding="utf-8")
    assert load_policy(quoted).coverage[0] == date(2021, 7, 22)
    for bad in ("20210722", '"20210722"', "1626912000"):
        path = tmp_path / "bad.yaml"
        path.write_text(text.replace("valid_from: 2021-07-22", f"valid_from: {bad}"), encoding="utf-8")
        with pytest.raises(PolicyError, match=r"valid_from: .*YYYY-MM-DD"):
            load_policy(path)


def test_lpr_dates_follow_the_rule(tmp_path) -> None:
    """Issue 16, row 12: an LPR file's '20190820' and a projection's '2027W011' were read as dates."""
    from subsidy_engine import load_lpr

    lpr = tmp_path / "lpr.csv"
    lpr.write_text("date,lpr_1y_pct,lpr_5y_pct,status,source\n20190820,4.25,4.85,official,pbc\n")
    with pytest.raises(ValueError, match=r"line 2: date: '20190820' is not an ISO date 'YYYY-MM-DD'"):
        load_lpr(lpr)
    with pytest.raises(ValueError, match="'2027W011' is not an ISO date"):
        load_lpr().with_projection([{"date": "2027W011", "lpr_1y_pct": "3", "lpr_5y_pct": "3.5"}],
                                   until=date(2030, 1, 1), label="x")


def test_bank_rows_read_dates_and_whole_numbers_by_the_rules() -> None:
    """Issue 16, row 12: a bank row's period '1_000' or '١' (Arabic-Indic) was a whole number, and its
    from_date '20250101' a date."""
    from subsidy_engine.params.lpr import load_lpr
    from subsidy_engine.service.reconcile import reconcile
    from subsidy_engine.simulation.synthetic import portfolio

    tables = portfolio(30, seed=3)
    loan = tables.loans.loan_id.iloc[0]
    rows = [({"period": "1_0", "subsidy_claimed": "1"}, "period '1_0' is not a whole number"),
            ({"period": "١", "subsidy_claimed": "1"}, "period '١' is not a whole number"),
            ({"from_date": "20250101", "to_date": "2025-12-31", "subsidy_claimed": "1"},
             "from_date '20250101' is not a date (write YYYY-MM-DD)"),
            ({"from_date": "2025-01-01", "to_date": "2025-W52-7", "subsidy_claimed": "1"},
             "to_date '2025-W52-7' is not a date (write YYYY-MM-DD)"),
            ({"period": "１", "subsidy_claimed": "0"}, None),  # full-width: read as 1
            ({"from_date": "２０２５－０１－０１", "to_date": "2025-12-31", "subsidy_claimed": "0"}, None)]
    bank = pd.DataFrame([{"loan_id": loan, **r} for r, _ in rows])
    report = reconcile(bank, tables, lpr=load_lpr().hold_flat(date(2045, 12, 31)))
    for k, (_, reason) in enumerate(rows):
        if reason is None:
            assert report.status.iloc[k] != "invalid", report.detail.iloc[k]
        else:
            assert report.status.iloc[k] == "invalid" and reason in report.detail.iloc[k], (k, report.detail.iloc[k])


@pytest.mark.parametrize("text", ["1_000", "١٠٠٠", "٣", "१०", "1²"])
def test_scenario_numbers_follow_the_text_rule(text: str, tmp_path) -> None:
    """Issue 16, row 12: a scenario's cap '1_000' or '١٠٠٠' (Arabic-Indic digits; ``Decimal`` reads
    both) was read as 1000."""
    from subsidy_engine.errors import ScenarioError
    from subsidy_engine.simulation.scenario import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(f"id: s\nbudget:\n  caps: {{gaojingjian_fund: '{text}'}}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=re.escape(repr(text))):
        load_scenario(path)


def test_scenario_dates_follow_the_rule(tmp_path) -> None:
    """Issue 16, row 12: a scenario's LPR shift 'from: 20270120' was read as a date."""
    from subsidy_engine.errors import ScenarioError
    from subsidy_engine.simulation.scenario import load_scenario

    path = tmp_path / "s.yaml"
    for shift, hold in (("'20270120'", "2030-12-31"), ("2027-01-20", "'20301231'"), ("20270120", "2030-12-31")):
        path.write_text(f"id: s\nlpr:\n  shifts: [{{from: {shift}, bp: -25}}]\n  hold_until: {hold}\n",
                        encoding="utf-8")
        with pytest.raises(ScenarioError, match="YYYY-MM-DD"):
            load_scenario(path)
    path.write_text("id: s\nlpr:\n  shifts: [{from: '2027-01-20', bp: -25}]\n  hold_until: 2030-12-31\n",
                    encoding="utf-8")
    assert load_scenario(path).file.lpr.shifts[0].from_date == date(2027, 1, 20)


@pytest.mark.parametrize(("text", "reason"), [("9" * 5000, "is far too large"), ("1_2", "is not a whole number"),
                                              ("١٢", "is not a whole number"), ("12.0", "is not a whole number")])
def test_a_whole_number_cell_follows_the_digit_rule(text: str, reason: str) -> None:
    """Issue 16, row 12: a 5,000-digit term_months stopped the whole table (int() refuses more than
    4,300 digits with a ValueError); '1_2' and Arabic-Indic digits are not whole numbers."""
    table = loans(["1000", "1000"]).assign(term_months=["12", text])
    report = amortize_portfolio(table).rejections
    assert report[["row", "field", "reason"]].values.tolist() == [[1, "term_months", reason]]


@pytest.mark.parametrize("blank", ["", "   ", "\u3000"])
def test_a_blank_amount_cell_is_missing_once_not_also_unreadable(blank: str) -> None:
    """Noted in issue 18's sessions: an empty-string amount was reported twice, "'' is not a decimal number"
    and "is missing"; a blank cell is a missing value, whatever the column's type."""
    from subsidy_engine.loans.arrays import arrays_from_frame

    loans = pd.DataFrame({"loan_id": ["A"], "principal": [blank], "annual_rate": ["0.04"], "term_months": [12],
                          "start_date": ["2024-01-10"]}, dtype=object)
    rejections = arrays_from_frame(loans)[2]
    assert rejections[["field", "reason"]].values.tolist() == [["principal", "is missing"]]

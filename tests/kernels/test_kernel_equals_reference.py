"""The numba kernel equals the Decimal reference to the fen, with the invariants."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from subsidy_engine import Loan, amortize, amortize_portfolio, load_policy
from subsidy_engine.core.money import div_half_up
from subsidy_engine.kernels import amortize as amortize_family
from subsidy_engine.kernels import calendar, ledger, segments, subsidy
from subsidy_engine.kernels import text as text_kernels
from subsidy_engine.kernels import threads as kernel_threads
from subsidy_engine.kernels.amortize import annuity_payment
from subsidy_engine.kernels.arithmetic import mul_div_half_up
from subsidy_engine.kernels.caps import pay_under_shared_caps
from subsidy_engine.kernels.threads import FEW_ITEMS
from subsidy_engine.loans.amortization import calendar_arrays
from subsidy_engine.measures.interest_subsidy import interest_subsidy_rows
from subsidy_engine.reference.calculators import _annuity_payment_fen, reference_schedule

from builders import table_of
from strategies import examples, loans, shared_caps

# one rule for every loan: the generated loans are drawn from 2000 on, before the policy's first set
RULE = load_policy().at(date(2024, 1, 1)).interest_subsidy_rule()


def assert_invariants(rows, principal: Decimal, first_drawn: Decimal | None = None) -> None:
    """Principal repaid equals principal drawn, balances never negative, the balance ends at 0.00."""
    assert sum(r.principal for r in rows) == principal == (first_drawn or principal) + sum(r.drawn for r in rows)
    assert rows[-1].closing_balance == Decimal("0.00")
    assert rows[0].opening_balance == (first_drawn or principal)
    for prev, row in zip(rows, rows[1:]):
        assert row.opening_balance == prev.closing_balance
        assert row.start_date == prev.end_date
    for r in rows:
        assert r.payment == r.interest + r.principal
        assert r.closing_balance == r.opening_balance + r.drawn - r.principal
        assert r.closing_balance >= 0 and r.principal >= 0 and r.interest >= 0 and r.drawn >= 0
        assert r.days == (r.end_date - r.start_date).days > 0


@given(loan=loans())
def test_kernel_equals_reference(loan: Loan, curve) -> None:
    schedule = amortize(loan, curve if loan.floating else None)
    expected, projected = reference_schedule(loan, curve)
    assert schedule.rows == expected
    assert (schedule.projected_from is not None) == projected
    assert_invariants(expected, loan.principal)


@given(loan=loans())
def test_the_lean_loop_of_a_loan_without_events_equals_the_loop_of_every_loan(loan: Loan, curve) -> None:
    """The kernel runs a loan drawn at once and repaid on its plan through a lean copy of its loop (the
    events' branches cost a third of the tightest loop's time): both give the same rows and years."""
    from subsidy_engine.loans.amortization import run
    from subsidy_engine.loans.arrays import arrays_from_loans

    arrays = arrays_from_loans([loan])
    lpr = curve if loan.floating else None
    lean, general = (run(arrays, lpr, rows=True, years=True, general=g) for g in (False, True))
    for name in ("end_day", "segment", "interest", "principal", "year_interest", "year_principal"):
        assert getattr(lean.out, name).tolist() == getattr(general.out, name).tolist(), name
    assert lean.written.tolist() == general.written.tolist() and lean.errors == general.errors


@given(loan=loans(floating=True))
def test_floating_loans_equal_reference(loan: Loan, curve) -> None:
    assert amortize(loan, curve).rows == reference_schedule(loan, curve)[0]


@given(a=st.integers(0, 10**14), k=st.integers(0, 10**10 * 130), den=st.sampled_from(
    [10**10 * 12, 10**10 * 4, 10**10 * 360, 10**10 * 365]))
@example(a=15_000_000, k=807_500_000 * 90, den=10**10 * 360)  # 3,028.125 yuan
@example(a=10**14, k=10**10 * 130, den=10**10 * 4)
def test_mul_div_half_up_is_exact(a: int, k: int, den: int) -> None:
    assert mul_div_half_up(a, k, den) == div_half_up(a * k, den)


@given(balance=st.integers(1, 10**13), rate=st.integers(1, 24 * 10**8), ppy=st.sampled_from([12, 4]),
       m=st.integers(1, 600))
def test_annuity_payment_is_exact_or_flagged(balance: int, rate: int, ppy: int, m: int) -> None:
    fen, ambiguous = annuity_payment(balance, rate, ppy, m)
    if not ambiguous:
        assert fen == _annuity_payment_fen(balance, rate, ppy, m)


def test_ambiguous_payments_are_rare_for_ordinary_loans() -> None:
    rng = random.Random(7)
    flagged = sum(annuity_payment(rng.randint(10**6, 10**10), rng.randint(10**8, 10**9), 12,
                                  rng.randint(12, 360))[1] for _ in range(20000))
    assert flagged < 5


def test_ambiguous_payment_takes_the_exact_path() -> None:
    # 1e11 yuan over 600 months: the float payment is within error of half a fen
    # far more often; whatever the kernel flags, the schedule still equals the reference.
    loan = Loan(principal="99999999999.99", annual_rate="0.0437", term_months=600,
                start_date="2024-02-29")
    assert amortize(loan).rows == reference_schedule(loan)[0]


def test_reset_recomputes_payment_over_remaining_term(curve) -> None:
    loan = Loan(principal="1000000", floating={"tenor": "5Y", "spread_bp": "-20", "reset": "january"},
                term_months=120, start_date="2022-06-15")
    rows = amortize(loan, curve).rows
    changes = [r.period for prev, r in zip(rows, rows[1:]) if r.annual_rate != prev.annual_rate]
    assert changes and all(rows[p - 1].start_date.month == 1 for p in changes)
    # the payment changes exactly where the rate changes (before the last period)
    pay_changes = [r.period for prev, r in zip(rows[:-1], rows[1:-1]) if r.payment != prev.payment]
    assert pay_changes == [p for p in changes if p < len(rows)]
    assert rows[0].annual_rate == Decimal("0.0425")  # 2022-05-20 5Y 4.45% - 20 bp


def test_stub_first_period_accrues_actual_days() -> None:
    base = dict(principal="100000", annual_rate="0.0365", term_months=12, start_date="2024-03-05",
                settlement_day=20, interest_basis="act_365")
    rows = amortize(Loan(**base)).rows
    assert rows[0].end_date == date(2024, 4, 20) and rows[0].days == 46
    assert rows[0].interest == Decimal("460.00")  # 100,000 x 3.65% x 46 / 365
    monthly = amortize(Loan(**{**base, "interest_basis": "monthly"})).rows
    # the monthly basis charges the stub one month (Mar 20 -> Apr 20) and 15 odd days: 100,000 x 3.65% x 45/360
    assert monthly[0].interest == Decimal("456.25")


def test_grace_then_equal_installment() -> None:
    rows = amortize(Loan(principal="120000", annual_rate="0.06", term_months=24, grace_months=6,
                         start_date="2024-01-31")).rows
    assert all(r.principal == 0 and r.interest == Decimal("600.00") for r in rows[:6])
    assert rows[6].payment == amortize(Loan(principal="120000", annual_rate="0.06", term_months=18,
                                            start_date="2024-07-31")).rows[0].payment
    assert [r.end_date for r in rows[:2]] == [date(2024, 2, 29), date(2024, 3, 31)]


def test_zero_rate_and_single_period() -> None:
    rows = amortize(Loan(principal="100.01", annual_rate="0", term_months=3, start_date="2024-01-01")).rows
    assert [r.payment for r in rows] == [Decimal("33.34"), Decimal("33.34"), Decimal("33.33")]
    one = amortize(Loan(principal="0.01", annual_rate="0.24", term_months=1, start_date="2024-01-01"))
    assert one.rows[0].payment == Decimal("0.01")


def test_kernel_handles_many_loans_identically_to_one_by_one(curve) -> None:
    rng = np.random.default_rng(3)
    sample = []
    for k in range(40):
        sample.append(Loan(principal=str(int(rng.integers(1, 10**9))), annual_rate=f"0.0{rng.integers(1, 9)}",
                           term_months=int(rng.integers(1, 361)), start_date=date(2024, 1, 1 + k % 28),
                           method=["equal_installment", "equal_principal", "interest_only"][k % 3]))
    from subsidy_engine.loans.amortization import run
    from subsidy_engine.loans.arrays import arrays_from_loans
    res = run(arrays_from_loans(sample), None, rows=True, years=False)
    for j, loan in enumerate(sample):
        lo, hi = res.row_ptr[j], res.row_ptr[j + 1]
        expected = [int(r.interest * 100) for r in reference_schedule(loan)[0]]
        assert res.out.interest[lo:hi].tolist() == expected


# Loans whose float annuity payment lies within the error bound of half a fen:
# the kernel flags them and the exact paths take over.
FLAGGED_FIXED = [(8570896301344, "0.0690452470", 307), (1267166610751, "0.0477329191", 326),
                 (8537045740621, "0.0348381610", 70)]


def test_flagged_fixed_rate_loans_are_settled_exactly() -> None:
    from subsidy_engine.loans.amortization import run
    from subsidy_engine.loans.arrays import arrays_from_loans

    sample = [Loan(principal=Decimal(fen).scaleb(-2), annual_rate=rate, term_months=months,
                   start_date="2024-01-31") for fen, rate, months in FLAGGED_FIXED]
    for loan in sample:  # each really is flagged by the float path
        fen = loan.principal_fen
        assert annuity_payment(fen, int(loan.annual_rate.scaleb(10)), 12, loan.periods)[1]
    result = run(arrays_from_loans(sample), None, rows=True, years=True)
    assert result.exact_fallbacks == 3
    for j, loan in enumerate(sample):
        expected = reference_schedule(loan)[0]
        lo, hi = result.row_ptr[j], result.row_ptr[j + 1]
        assert result.out.interest[lo:hi].tolist() == [int(r.interest * 100) for r in expected]
        assert result.out.principal[lo:hi].tolist() == [int(r.principal * 100) for r in expected]
        years = result.out.year_interest[result.year_ptr[j]:result.year_ptr[j + 1]]
        assert int(years.sum()) == sum(int(r.interest * 100) for r in expected)


def test_flagged_floating_loan_takes_the_reference_path(curve) -> None:
    # 5Y LPR 3.50% + 0 bp from 2025-06: the first payment is flagged.
    loan = Loan(principal=Decimal(6651798854346).scaleb(-2), term_months=135,
                floating={"tenor": "5Y", "spread_bp": "0", "reset": "january"}, start_date="2025-06-03")
    schedule = amortize(loan, curve)
    assert schedule.rows == reference_schedule(loan, curve)[0]
    from subsidy_engine.loans.amortization import run
    from subsidy_engine.loans.arrays import arrays_from_loans
    assert run(arrays_from_loans([loan]), curve, rows=False, years=True).exact_fallbacks == 1


def test_kernel_calendar_helpers_agree_with_numpy_and_python() -> None:
    from subsidy_engine.kernels.calendar import calendar_year, days_from_civil

    days = np.arange(-800_000, 3_000_000, 7, dtype=np.int64)  # 0779 to 9183
    years = np.empty_like(days)
    calendar_year(days, years)
    assert np.array_equal(years, days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)
    for y, m, d in ((1, 1, 1), (1600, 2, 29), (1969, 12, 31), (2024, 2, 29), (9999, 12, 31)):
        assert days_from_civil(y, m, d) == (date(y, m, d) - date(1970, 1, 1)).days


@given(st.lists(st.tuples(st.dates(date(1900, 1, 1), date(2200, 12, 31)), st.integers(-5, 60)), max_size=20))
@example([(date(2024, 2, 29), 1), (date(2024, 2, 29), 4), (date(2000, 2, 29), 0), (date(1970, 1, 1), -1)])
def test_add_years_is_calendar_arithmetic(cases: list[tuple[date, int]]) -> None:
    """The window's end: the same day so many years on, 29 February falling back to the 28th."""
    import calendar

    from subsidy_engine.core.dates import epoch_days
    from subsidy_engine.kernels.calendar import add_years

    def plain(day: date, years: int) -> date:
        year = day.year + years
        return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))

    got = add_years(np.array([epoch_days(d) for d, _ in cases], np.int64), np.array([y for _, y in cases], np.int64))
    assert got.tolist() == [epoch_days(plain(d, y)) for d, y in cases]


@settings(max_examples=examples(40))
@given(sample=st.lists(loans(), min_size=1, max_size=24))
def test_the_kernels_give_the_same_on_threads_and_on_the_calling_thread(sample: list[Loan], curve) -> None:
    """A few items run the serial twin of each parallel kernel (amortize, floating segments, calendar years,
    the 貼息 per loan-year), a portfolio the threaded one: the same figures, row for row, on the same loans."""
    table = table_of(sample)

    def run(few: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(kernel_threads, "FEW_ITEMS", {"loans": few, "days": few})
            schedule = amortize_portfolio(table, lpr=curve).schedule
            subsidy = interest_subsidy_rows(table, RULE, lpr=curve, window_rows=True)
        return schedule, {**subsidy.columns, **subsidy.internal}

    (threads, subsidy_threads), (serial, subsidy_serial) = run(0), run(10**9)
    pd.testing.assert_frame_equal(threads, serial)
    assert subsidy_threads.keys() == subsidy_serial.keys()
    for name, values in subsidy_threads.items():
        assert np.array_equal(np.asarray(values), np.asarray(subsidy_serial[name])), name


def test_each_serial_twin_is_its_own_compilation_without_threads() -> None:
    """numba's disk cache does not key a compilation by ``parallel``: a twin under its kernel's name could be
    served the threaded code. Each twin has its own name and no ``parallel`` option."""
    for name, family, public_name in (("amortize_kernel", amortize_family, None), ("floating_segments", segments, None),
                                      ("calendar_year", calendar, None), ("portfolio_subsidy", subsidy, None),
                                      ("ledger", ledger, "ledger_kernel"), ("ledger_checks", ledger, None),
                                      ("lean_kernel", amortize_family, None), ("first_years", amortize_family, None),
                                      ("ledger_layout", ledger, None), ("text_lookup", text_kernels, None)):
        public = getattr(family, public_name or name)
        assert public.__name__ == name and public.threaded.targetoptions.get("parallel") is True
        assert "parallel" not in public.serial.targetoptions
        assert public.serial.py_func.__qualname__ == f"_{name}_serial" != public.threaded.py_func.__qualname__
        assert public.serial.py_func.__code__.co_code == public.threaded.py_func.__code__.co_code


def test_a_quote_never_starts_the_thread_pool() -> None:
    """The largest quote (100 loans of 360 months, MAX_PERIODS) runs every kernel on the calling thread: the service's
    threads never enter a parallel region (and a quote never waits on the pool's workers)."""
    import subprocess
    import sys

    from subsidy_engine.service.quote import MAX_ITEMS, MAX_TERM_MONTHS

    assert FEW_ITEMS["loans"] > MAX_ITEMS and FEW_ITEMS["days"] > MAX_ITEMS * MAX_TERM_MONTHS
    script = """
import numba
from subsidy_engine.service.quote import QuoteRequest, quote
loans = [{"loan_id": f"L{k}", "principal": "1000000", "annual_rate": "0.04", "term_months": 360,
          "start_date": "2026-03-15"} for k in range(100)]
response = quote(QuoteRequest.model_validate({"project": {
    "project_id": "P1", "enterprise_id": "E1", "domain": "economic", "stage": "pilot",
    "total_investment": "500000000", "eligible_investment": "400000000", "start_date": "2026-03-01"},
    "loans": loans}))
assert len(response.schedules) == 100
try:
    numba.threading_layer()
except ValueError:
    print("no pool")
else:
    print("pool started")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "no pool"


@given(shared_caps())
@example(([8, 9], [[0, 1], [0, -1]], [[10, 3], [10, -1]], 2))  # the docstring's: [[8, 3], [7, 7]]
def test_pay_under_shared_caps_pays_each_row_the_least_of_its_rooms(case) -> None:
    """The one-pass kernel of stacking's caps against a plain loop: each row is paid the least of its amount and
    its room under each cap (the cap less what its group has been paid); the cut is attributed cap by cap."""
    amounts, groups, caps, n_groups = case
    n, k = len(amounts), len(groups[0]) if groups else 1
    # the rows stored backwards, paid in the case's order: the kernel reads and writes them where they are
    stored = np.array(amounts[::-1] + [-1], np.int64)  # and a row under no cap, left as it was
    rows = np.arange(n - 1, -1, -1, dtype=np.int64)
    after = np.full((k, n + 1), -7, np.int64)
    last = np.full((1, n + 1), -7, np.int64)
    for out in (after, last):
        pay_under_shared_caps(stored, rows, np.array(groups, np.int64).reshape(n, k),
                              np.array(caps, np.int64).reshape(n, k), n_groups, out)
    assert after[:, n].tolist() == [-7] * k and last[0, n] == -7
    paid_in: dict[int, int] = {}
    for i, amount in enumerate(amounts):
        rooms = [max(caps[i][c] - paid_in.get(groups[i][c], 0), 0) if groups[i][c] >= 0 and caps[i][c] >= 0
                 else None for c in range(k)]
        expected = [min([amount, *(r for r in rooms[:c + 1] if r is not None)]) for c in range(k)]
        assert after[:, rows[i]].tolist() == expected and last[0, rows[i]] == expected[-1], i
        for c in range(k):
            if groups[i][c] >= 0:
                paid_in[groups[i][c]] = paid_in.get(groups[i][c], 0) + expected[-1]


# LPR-linked loans whose payment after a rate reset (not the first one) lies within float error of half a fen:
# found by running the kernel over random 1e9-1e12 yuan loans (5Y LPR, January resets).
FLAGGED_AFTER_A_RESET = [("554815069183.73", 210, "0", "2021-07-23"), ("579948108735.70", 136, "18", "2021-06-28"),
                         ("426201846169.32", 143, "70", "2020-01-14")]


def test_a_payment_flagged_after_a_reset_is_settled_exactly(curve) -> None:
    """The exact settlement is production's own (integers, the kernel run again with the payment forced per rate
    segment), not the reference's; a payment flagged after a reset needs a second round, and the schedule still
    equals the reference to the fen."""
    from subsidy_engine.kernels.amortize import amortize_kernel
    from subsidy_engine.loans.amortization import first_year, payment_slots, pointers, run, year_counts
    from subsidy_engine.loans.arrays import arrays_from_loans
    from subsidy_engine.loans.repricing import rate_segments

    sample = [Loan(principal=principal, term_months=months, start_date=start,
                   floating={"tenor": "5Y", "spread_bp": spread, "reset": "january"})
              for principal, months, spread, start in FLAGGED_AFTER_A_RESET]
    arrays = arrays_from_loans(sample)
    segments = rate_segments(arrays, curve)
    first_pass = np.full((len(sample), 4), -1, np.int64)
    plan_ptr, plan_fen = arrays.plan_csr()
    slots = payment_slots(arrays, segments.ptr)
    events = arrays.events_csr()
    no_rows = (np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64))
    amortize_kernel(
        (arrays.principal_fen, arrays.periods, arrays.months_per_period, arrays.method, arrays.grace, arrays.basis,
         arrays.start_y, arrays.start_m, arrays.start_d, arrays.due_day, first_year(arrays), arrays.periods),
        (arrays.business_day, *calendar_arrays(None), arrays.interest_months, arrays.interest_day),
        (segments.ptr, segments.first_period, segments.rate_units, plan_ptr, plan_fen, slots,
         np.full(int(slots[-1]), -1, np.int64)),
        (events.ptr, events.day, events.amount, events.recompute),
        (False, pointers(arrays.periods), *no_rows, np.empty(0, np.bool_)),
        (False, pointers(year_counts(arrays)), np.empty(0, np.int64), np.empty(0, np.int64)),
        (first_pass, np.full((len(sample), 2), -1, np.int64), np.empty(len(sample), np.int64),
         np.diff(pointers(year_counts(arrays)))), False)
    assert (first_pass[:, 1] > segments.ptr[:-1]).all()  # each is flagged at a later segment, not the first
    result = run(arrays, curve, rows=True, years=True)
    assert result.exact_fallbacks == len(sample)
    for j, loan in enumerate(sample):
        expected = reference_schedule(loan, curve)[0]
        lo, hi = result.row_ptr[j], result.row_ptr[j + 1]
        assert result.out.interest[lo:hi].tolist() == [int(r.interest * 100) for r in expected]
        assert result.out.principal[lo:hi].tolist() == [int(r.principal * 100) for r in expected]
        assert amortize(loan, curve).rows == expected


def test_the_exact_payment_is_the_references_on_ties_and_extremes() -> None:
    """Production's integer payment (loans.amortization) and the reference's own agree, half-fen ties included."""
    from subsidy_engine.loans.amortization import annuity_payment_fen
    from subsidy_engine.reference.calculators import _annuity_payment_fen

    rng = random.Random(17)
    cases = [(1, 1, 12, 1), (10**14, 10**10, 12, 600), (10**14, 1, 4, 200), (3, 0, 12, 2), (1, 0, 12, 2)]
    cases += [(rng.randint(1, 10**14), rng.randint(0, 10**10), rng.choice((4, 12)), rng.randint(1, 600))
              for _ in range(300)]
    for case in cases:
        assert annuity_payment_fen(*case) == _annuity_payment_fen(*case), case


def test_ranges_of_loans_price_every_loan_once_on_threads() -> None:
    """The threaded 貼息 and ledger kernels hand their threads ranges of ``LOANS_A_CALL`` loans: on more loans
    than three ranges and a part, each loan is priced once, as the serial twin prices it (a range's bounds off
    by one would skip or repeat the loans at its edges)."""
    from subsidy_engine import ledger_settlements
    from subsidy_engine.kernels.threads import LOANS_A_CALL

    count = 3 * LOANS_A_CALL + 5
    sample = [Loan(principal=str(100_000 + 7919 * k), annual_rate=f"0.0{3 + k % 4}", term_months=12 + k % 50,
                   start_date=date(2024, 1 + k % 12, 1 + k % 28)) for k in range(count)]
    table = table_of(sample)
    ledger = pd.DataFrame({
        "loan_id": np.repeat([f"P{k}" for k in range(count)], 3),
        "date": ["2025-03-05", "2025-04-18", "2025-06-20"] * count,
        "kind": ["drawdown", "drawdown", "interest_settled"] * count,
        "amount": [a for k in range(count) for a in (str(300_000 + k), str(200_000 + 3 * k), "1")],
        "rate": [r for k in range(count) for r in (f"0.0{3 + k % 5}", None, None)]})

    def run(few: int) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(kernel_threads, "FEW_ITEMS", {"loans": few, "days": few})
            subsidy = interest_subsidy_rows(table, RULE, window_rows=True)
            return {**subsidy.columns, **subsidy.internal}, ledger_settlements(ledger, RULE).settlements

    (subsidy_threads, ledger_threads), (subsidy_serial, ledger_serial) = run(0), run(10**9)
    for name, values in subsidy_threads.items():
        assert np.array_equal(np.asarray(values), np.asarray(subsidy_serial[name])), name
    assert len(ledger_threads) == count and ledger_threads.loan_id.nunique() == count
    pd.testing.assert_frame_equal(ledger_threads, ledger_serial)


def test_ranges_of_loans_amortize_every_loan_once_on_threads() -> None:
    """The amortization kernels hand each loop ranges of ``LOANS_A_CALL`` loans, every loop a range of its own
    (the lean loop, the loop of tranche loans, the calendar loop): on a book of more than three ranges and a part
    whose loans take the three loops in turn, each loan's rows and yearly totals are those it has in a book of
    seven loans on the calling thread (a range's bounds off by one, or a loop that skips or repeats a kind of
    loan, would give the loans at other places other figures)."""
    from subsidy_engine.kernels.threads import LOANS_A_CALL

    count = 3 * LOANS_A_CALL + 5

    def loan(k: int) -> Loan:
        common = {"annual_rate": f"0.0{3 + k % 4}", "term_months": 12 + k % 37,
                  "start_date": date(2024, 1 + k % 12, 1 + k % 28)}
        if k % 3 == 0:  # the lean loop
            return Loan(principal=str(100_000 + 7919 * k), **common)  # type: ignore[arg-type]
        drawn = [{"date": common["start_date"], "amount": str(60_000 + 13 * k)},
                 {"date": date(2024 + (k % 12 + 2) // 12, (k % 12 + 2) % 12 + 1, 10), "amount": str(40_000 + k)}]
        if k % 3 == 1:  # the loop of tranche loans
            return Loan(drawdowns=drawn, **common)  # type: ignore[arg-type]
        return Loan(drawdowns=drawn, interest_dates="calendar", interest_frequency="quarterly", settlement_day=20,
                    interest_basis="act_360", **common)  # type: ignore[arg-type]  # the calendar loop

    book = [loan(k) for k in range(count)]

    def run(first: int, last: int, few: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(kernel_threads, "FEW_ITEMS", {"loans": few, "days": few})
            result = amortize_portfolio(table_of(book[first:last]), output="both")
        assert not len(result.rejections)
        for frame in (result.schedule, result.yearly):  # table_of numbers the loans from L0: the book's ids
            frame["loan_id"] = "L" + (frame.loan_id.str[1:].astype(int) + first).astype(str)
        return result.schedule, result.yearly

    schedule, yearly = run(0, count, 0)
    parts = [run(k, k + 7, 10**9) for k in range(0, count, 7)]
    assert schedule.loan_id.nunique() == count
    pd.testing.assert_frame_equal(schedule, pd.concat([p[0] for p in parts], ignore_index=True))
    pd.testing.assert_frame_equal(yearly, pd.concat([p[1] for p in parts], ignore_index=True))


def test_a_month_s_day_is_the_calendar_inside_and_outside_the_month_table() -> None:
    """The kernels read a month's first day and length from a table of 1900-2299 and compute them outside it."""
    import calendar as gregorian

    from subsidy_engine.kernels.calendar import MONTH_FIRST, MONTH_TABLE_START, days_from_civil, month_day

    assert MONTH_FIRST.tolist() == [days_from_civil(k // 12, k % 12 + 1, 1)
                                    for k in range(MONTH_TABLE_START, MONTH_TABLE_START + MONTH_FIRST.shape[0])]
    months = [*range(12, 1898 * 12, 97), *range(1898 * 12, 1902 * 12), *range(2298 * 12, 2302 * 12),
              *range(2302 * 12, 9999 * 12 + 12, 89), 9999 * 12 + 11]
    for index in months:
        y, m = index // 12, index % 12 + 1
        for day in (1, 15, 28, 29, 30, 31):
            d = min(day, gregorian.monthrange(y, m)[1])
            assert month_day(index, day) == (y, m, d, (date(y, m, d) - date(1970, 1, 1)).days), (y, m, day)


@pytest.mark.parametrize("start", ["1899-05-31", "2299-05-31"])
@pytest.mark.parametrize("fields", [
    {"term_months": 24, "interest_basis": "act_365"},
    {"term_months": 24, "frequency": "quarterly", "interest_basis": "30_360", "method": "equal_principal"},
    {"term_months": 24, "interest_basis": "monthly", "settlement_day": 30},
    {"term_months": 24, "frequency": "quarterly", "interest_basis": "act_360", "interest_dates": "calendar",
     "interest_frequency": "quarterly", "settlement_day": 31},
    {"term_months": 24, "interest_basis": "act_360", "prepayments": [{"date": "+400", "amount": "100000",
                                                                       "recompute": "term"}]},
])
def test_loans_across_the_month_table_s_edges_equal_the_reference(start, fields) -> None:
    """Due dates and settlements stepping out of the month table (into 1900, past 2299) as inside it."""
    from datetime import timedelta

    from subsidy_engine.reference.calculators import reference_schedule

    first = date.fromisoformat(start)
    given = {**fields}
    if "prepayments" in given:
        given["prepayments"] = [{**p, "date": (first + timedelta(days=int(p["date"]))).isoformat()}
                                for p in given["prepayments"]]
    loan = Loan(principal="1000000", annual_rate="0.05", start_date=start, **given)
    assert amortize(loan).rows == reference_schedule(loan)[0]

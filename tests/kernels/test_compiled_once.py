"""Each kernel is compiled for one kind of argument, whichever path calls it.

numba compiles a function once per signature: an unsigned loop index (``prange``'s), a read-only array (a
quote's cached columns) or an int64 array where another caller gives int32 is a second compilation of the
same loop. The calendar loop alone takes about 15 s to compile on a cold cache, and a fresh install (and the
CI's fresh clone) pays each compilation again, so a second signature is a defect. This test runs one loan of
each loop through every path (a portfolio over threads and on the calling thread, a schedule, a quote, a
bank's ledger) and finds one signature of each.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from subsidy_engine import (
    InterestSubsidyRule,
    Loan,
    amortize,
    amortize_portfolio,
    interest_subsidy,
    interest_subsidy_portfolio,
    ledger_settlements,
)
from subsidy_engine.kernels import amortize as amortize_kernels
from subsidy_engine.kernels import calendar as calendar_kernels
from subsidy_engine.kernels import ledger as ledger_kernels
from subsidy_engine.kernels import subsidy as subsidy_kernels
from subsidy_engine.kernels.threads import FEW_ITEMS
from subsidy_engine.service.quote import QuoteRequest, quote

from builders import table_of

RULE = InterestSubsidyRule(form="points_on_balance", points="0.01", max_years=2)
LOAN_FIELDS = [
    {"principal": "1000000", "annual_rate": "0.049", "term_months": 36, "start_date": "2026-03-15"},  # lean loop
    {"annual_rate": "0.036", "term_months": 24, "method": "equal_principal", "interest_basis": "act_360",
     "settlement_day": 20, "drawdowns": [{"date": "2026-03-05", "amount": "3000000"},
                                         {"date": "2026-06-18", "amount": "2000000"}],
     "prepayments": [{"date": "2027-07-01", "amount": "1000000", "recompute": "term"}]},  # tranches
    {"principal": "5000000", "annual_rate": "0.03", "term_months": 12, "frequency": "quarterly",
     "method": "equal_principal", "start_date": "2025-11-20", "settlement_day": 20, "interest_dates": "calendar",
     "interest_frequency": "quarterly", "business_day": "following"},  # calendar settlement
]
LOANS = [Loan(**fields) for fields in LOAN_FIELDS]  # type: ignore[arg-type]
LEDGER = pd.DataFrame({
    "loan_id": ["P-7"] * 4, "date": ["2025-03-05", "2025-04-18", "2025-06-20", "2025-09-22"],
    "kind": ["drawdown", "drawdown", "interest_settled", "interest_settled"],
    "amount": ["3000000", "2000000", "45200", "42700"], "rate": ["0.036", None, None, None]})


def _signatures(dispatcher: object) -> list[str]:
    """The signatures ``dispatcher`` was compiled for in this process (a kernel's compiled code loaded from
    numba's disk cache counts: it is loaded per signature)."""
    return sorted(str(s) for s in dispatcher.signatures)  # type: ignore[attr-defined]


def test_every_path_compiles_each_loop_once() -> None:
    many = table_of(LOANS * (FEW_ITEMS["loans"] // len(LOANS) + 1))  # over the thread pool
    few = table_of(LOANS)  # on the calling thread
    lean = table_of([LOANS[0]] * FEW_ITEMS["loans"])  # a book of loans that all run the lean loop: its own kernel
    for table in (many, few, lean):
        assert not len(amortize_portfolio(table).rejections)
        interest_subsidy_portfolio(table, RULE)
    for loan in LOANS:
        interest_subsidy(amortize(loan), RULE)
    assert ledger_settlements(LEDGER, RULE).settlements.interest.sum() > Decimal(0)
    ledgers = pd.concat([LEDGER.assign(loan_id=f"P-{k}") for k in range(FEW_ITEMS["loans"])], ignore_index=True)
    assert len(ledger_settlements(ledgers, RULE).settlements) == 2 * FEW_ITEMS["loans"]
    request = QuoteRequest.model_validate({  # the portal's path: read-only cached columns
        "project": {"project_id": "P1", "enterprise_id": "E1", "domain": "economic", "stage": "pilot",
                    "total_investment": "500000000", "eligible_investment": "400000000",
                    "start_date": "2026-03-01"},
        "loans": [{"loan_id": f"L{k}", **fields} for k, fields in enumerate(LOAN_FIELDS)]})
    assert quote(request).claims

    loops = {"_amortize_calendar": amortize_kernels._amortize_calendar,
             "_first_years_of_loans": amortize_kernels._first_years_of_loans,
             "_amortize_one": amortize_kernels._amortize_one,
             "_amortize_plain": amortize_kernels._amortize_plain,
             "_subsidy_of_loans": subsidy_kernels._subsidy_of_loans,
             "_ledger_of_loans": ledger_kernels._ledger_of_loans,
             "_checks_of_loans": ledger_kernels._checks_of_loans,
             "_layout_of_loans": ledger_kernels._layout_of_loans}
    kernels = {"amortize_kernel (threads)": amortize_kernels.amortize_kernel.threaded,
               "amortize_kernel (serial)": amortize_kernels.amortize_kernel.serial,
               "lean_kernel (threads)": amortize_kernels.lean_kernel.threaded,
               "lean_kernel (serial)": amortize_kernels.lean_kernel.serial,
               "first_years (threads)": amortize_kernels.first_years.threaded,
               "first_years (serial)": amortize_kernels.first_years.serial,
               "portfolio_subsidy (threads)": subsidy_kernels.portfolio_subsidy.threaded,
               "portfolio_subsidy (serial)": subsidy_kernels.portfolio_subsidy.serial,
               "ledger_kernel (threads)": ledger_kernels.ledger_kernel.threaded,
               "ledger_kernel (serial)": ledger_kernels.ledger_kernel.serial,
               "ledger_checks (threads)": ledger_kernels.ledger_checks.threaded,
               "ledger_checks (serial)": ledger_kernels.ledger_checks.serial,
               "ledger_layout (threads)": ledger_kernels.ledger_layout.threaded,
               "ledger_layout (serial)": ledger_kernels.ledger_layout.serial,
               "calendar_year (serial)": calendar_kernels.calendar_year.serial,  # threads above 65,536 days
               "later_drawdowns_fen": amortize_kernels.later_drawdowns_fen}
    compiled = {name: _signatures(d) for name, d in kernels.items()}
    assert [name for name, s in compiled.items() if not s] == []  # every kernel ran
    # A loop called by a kernel is compiled only when its caller is (not when the caller's code is loaded from
    # the disk cache): its signatures are checked when this process compiled it, as a fresh clone's does.
    compiled.update({name: _signatures(d) for name, d in loops.items()})
    twice = {name: s for name, s in compiled.items() if len(s) > 1}
    assert not twice, twice


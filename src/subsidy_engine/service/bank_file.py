"""A bank's 貼息 claims file for the reconciliation demo: the engine's figures, some planted wrong.

``subsidy-engine reconcile`` without ``--claims`` reconciles this file against the
demo portfolio, so the report shows each kind of difference a bank's file has in
practice and the convention that explains it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

from subsidy_engine.core.money import FEN_PER_YUAN, fen_to_yuan, round_fen
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import load_policy
from subsidy_engine.pipeline.inputs import PortfolioTables
from subsidy_engine.service.reconcile import loan_cases


def bank_claims(tables: PortfolioTables, lpr: LprCurve, n_loans: int = 200, seed: int = 78) -> pd.DataFrame:
    """A bank's 貼息 claims on loans of ``tables``, most right and some planted wrong (seeded).

    Columns: ``loan_id``, ``period`` or ``from_date``/``to_date`` (a calendar year of due dates),
    ``interest_charged``, ``subsidy_claimed``, and ``bank_note`` (what was planted; reconcile
    ignores it). About three in four rows are the engine's own figures; the others follow
    another convention: interest on act_365, the subsidy rounded once over a year, a period
    after the subsidy window, the figures of the period before, or a typing error of a few fen.

    >>> from subsidy_engine import load_lpr
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> bank = bank_claims(portfolio(300, seed=78), load_lpr(), n_loans=5)
    >>> list(bank.columns)
    ['loan_id', 'period', 'from_date', 'to_date', 'interest_charged', 'subsidy_claimed', 'bank_note']
    """
    rng = np.random.default_rng(seed)
    cases = [(loan_id, case) for loan_id, case in loan_cases(tables, load_policy(), lpr).items()
             if not isinstance(case, str)]
    rows: list[dict[str, object]] = []
    for k in rng.permutation(len(cases)):
        if len(rows) >= n_loans:
            break
        loan_id, case = cases[int(k)]
        frame = case.periods()
        if frame is None or int((frame.subsidy > 0).sum()) < 3:
            continue
        paid = frame[frame.subsidy > 0]
        kind = rng.choice(["as computed", "act_365", "rounded once", "after the window", "period before",
                           "typing error"], p=[0.75, 0.06, 0.05, 0.05, 0.04, 0.05])
        year = int(paid.end_date.iloc[len(paid) // 2].year)
        by_year = rng.random() < 0.5 or kind == "rounded once"
        pick = paid[[d.year == year for d in paid.end_date]] if by_year else paid.iloc[[1]]
        row: dict[str, object] = ({"from_date": date(year, 1, 1), "to_date": date(year, 12, 31)} if by_year
                                  else {"period": int(pick.period.iloc[0])})
        interest, subsidy = sum(pick.interest, Decimal(0)), sum(pick.subsidy, Decimal(0))
        if kind == "act_365" and case.loan.basis.value != "act_365":
            loan = type(case.loan).model_validate({**case.loan.model_dump(), "interest_basis": "act_365"})
            other = case.periods("bank file: act_365", loan)
            if other is None:
                continue
            chosen = other[other.period.isin(set(pick.period))]
            interest, subsidy = sum(chosen.interest, Decimal(0)), sum(chosen.subsidy, Decimal(0))
        elif kind == "rounded once":
            accruals = case.accruals()
            assert accruals is not None  # the standard periods were computed above
            accrual = sum(accruals.values["accrual"][np.isin(accruals.period, pick.period)].tolist(), Fraction(0))
            subsidy = fen_to_yuan(round_fen(accrual * FEN_PER_YUAN))  # the exact sum, rounded once
        elif kind == "after the window" and case.rule.max_years is not None:
            rule = case.rule.model_copy(update={"max_years": None})
            open_window = case.periods("bank file: no window end", rule=rule)
            after = None if open_window is None else open_window[open_window.period > int(paid.period.iloc[-1])]
            if after is None or after.empty:
                continue
            row = {"period": int(after.period.iloc[0])}
            interest, subsidy = after.interest.iloc[0], after.subsidy.iloc[0]
        elif kind == "period before" and not by_year:
            row = {"period": int(pick.period.iloc[0]) + 1}
        elif kind == "typing error":
            subsidy += Decimal(int(rng.integers(1, 100))) / 100
        else:
            kind = "as computed"
        rows.append({"loan_id": loan_id, **row, "interest_charged": str(interest), "subsidy_claimed": str(subsidy),
                     "bank_note": str(kind)})
    frame = pd.DataFrame(rows)
    for column in ("period", "from_date", "to_date"):
        if column not in frame:
            frame[column] = None
    frame["period"] = frame["period"].astype("Int64")
    return frame[["loan_id", "period", "from_date", "to_date", "interest_charged", "subsidy_claimed", "bank_note"]]


__all__ = ["bank_claims"]

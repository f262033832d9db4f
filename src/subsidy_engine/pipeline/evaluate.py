"""Every payable amount of a portfolio under 78號: :func:`evaluate` -> :class:`Claims`.

The calculators of each measure run over the whole portfolio at once (loans:
貼息, measures 1 and 15; insurance: measure 7; events: measures 13 and 14;
projects: measures 1, 2 and 4), each item under the parameter set in force on
its own anchor date. Their claims are then combined per project and enterprise,
in this order, every cut kept in its own column:

1. **The instrument's own rules** (``cut_by_item_rules``): per period the 貼息
   window and interest ceiling, then each loan's annual and lifetime caps; the
   premium subsidy's annual cap per enterprise, the listing grants' lifetime
   cap, the investment subsidy's ceilings.
2. **Most favourable only** (從優不重複, ``cut_by_most_favourable``): for each
   group of ``stacking.most_favourable_only``, a project keeps the instrument
   with the largest total after its own rules (1) over its whole life (not only
   the years asked for, so the choice does not depend on the window); the
   others are cut to zero. A tie keeps the instrument named first in the group.
   The choice comes before the caps below, so that what a project gives up
   never uses room under them: a cap limits what is paid, and its room is used
   only by amounts that are paid. (So the choice does not see those caps,
   which depend on the enterprise's other projects: a project may keep 貼息
   that 3 then cuts below the alternative it gave up.)
3. **貼息 per enterprise and year** (``cut_by_enterprise_cap``): an enterprise's
   kept 貼息 of a calendar year, all its loans together, is at most
   ``interest_subsidy.annual_cap_per_enterprise`` (earlier drawdowns first,
   then loan_id; ids compare as text, wherever a tie is broken).
4. **貼息 per project** (``cut_by_project_cap``): a project's kept 貼息 over its
   life, all its loans together, is at most ``interest_subsidy.total_cap_per_project``
   (earliest years first, then drawdown date, then loan_id).
5. **Total cap** (``cut_by_total_cap``): a project's kept claims of the
   instruments in ``stacking.total_cap_instruments`` together stay within
   ``stacking.total_cap_share_of_investment`` x total investment (rounded down
   to the fen), earliest years first.

The caps 3 to 5 are applied together, in one pass, not one after another: a
cap limits what is paid, and its room is used only by amounts that are paid.
Every row under one of them is taken in one order over the whole portfolio
(year, then drawdown or anchor date, then instrument in the order of
:data:`~subsidy_engine.params.policy.INSTRUMENTS`, then item id; within each cap's
groups this is the order given above) and paid the least of its amount and
its room under each of the caps that apply to it, a room being the cap less
what the rows before it in the group were *paid*
(:func:`~subsidy_engine.kernels.caps.pay_under_shared_caps`). So 貼息 cut by its
project's cap or by the total cap leaves the enterprise's yearly room it is not
paid to the enterprise's other loans. A row's cut is attributed to the caps in
the order 3, 4, 5: ``cut_by_enterprise_cap = amount - min(amount, enterprise
room)``, ``cut_by_project_cap`` the further cut by the project room,
``cut_by_total_cap`` the rest.

The cut columns are in this order (:data:`CUT_COLUMNS`). Stacking (2, 5)
follows the parameter set in force on the project's start date.
Only then are the rows restricted to the ``years`` asked for, so caps count
what earlier years already paid.

**Funding sources** (closing paragraph of 78號): a claim of an industry or
software enterprise's project (``industry_or_software``) may draw on the
高精尖產業發展資金 (``gaojingjian_fund``), the others on the budget of their
sector's department (``sector_budget:<sector>``); the project's district adds
matching funds (``district_matching:<district>``). ``funding_sources`` lists
them joined by ``|``. An event or policy without a project takes the
attributes of its enterprise's project with the smallest ``project_id`` (a
text sort, so the order of the rows changes nothing); an enterprise
with no project in the table may draw on ``gaojingjian_fund|sector_budget``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

import numpy as np
import pandas as pd

from subsidy_engine.core.provenance import Provenance
from subsidy_engine.errors import EvaluationError
from subsidy_engine.io import column_readers
from subsidy_engine.measures.claims import ClaimRows
from subsidy_engine.params.business_days import BusinessCalendar
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import Policy, load_policy
from subsidy_engine.pipeline.inputs import (
    LOAN_EVENT_TABLES,
    PROBLEM_COLUMNS,
    TABLES,
    PortfolioTables,
    empty_problems,
    event_rows_not_evaluated,
    load_portfolio,
)
from subsidy_engine.pipeline.steps import (
    ATTRIBUTE_COLUMNS,
    CLAIM_COLUMNS,
    CUT_COLUMNS,
    GOVERNMENT_INVESTMENT_RESULT,
    MEASURE_OF,
    Rows,
    add_loans,
    add_other_instruments,
    build_context,
    claims_provenance,
    combine,
    government_investment_of,
    not_paid_items,
    requested_years,
)


@dataclass(frozen=True)
class Claims:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    table : DataFrame
        One row per claim (item and calendar year): ``claim_id, project_id,
        enterprise_id, measure, instrument, item_id, year, gross``, the five cut
        columns, ``amount`` (exact decimals; ``gross`` minus the cuts),
        ``funding_sources``, ``parameter_set`` and ``parameter`` (the parameter
        the amount is computed from). A claim cut to zero stays, so its cuts show.
    not_paid : DataFrame
        ``instrument, item_id, reason``: valid items that are paid nothing.
    rejections : DataFrame
        ``table, row, id, field, reason``: rows that could not be evaluated.
    projections : DataFrame
        ``loan_id, projected_from``: loans priced partly from a projected LPR.
    years : tuple of int, or None (every year)
    notes : tuple of str
        What was not evaluated and why (e.g. no investment-subsidy rate given), and what the figures
        assume beyond the data: an LPR projection some loans are priced on, a parameter file that
        states no end of its coverage.
    provenance : Provenance
    attributes : DataFrame
        Row for row with ``table``: the attributes of the project describing each
        claim (its own, or its enterprise's project with the smallest id) that a budget's funding
        rules read: ``sector, district, industry_or_software, in_library``, the list flags ``solution_list,
        scenario_opened, demonstration_case`` (measures 6, 8, 9) and ``merit_score``.
    """

    table: pd.DataFrame
    not_paid: pd.DataFrame
    rejections: pd.DataFrame
    projections: pd.DataFrame
    years: tuple[int, ...] | None
    notes: tuple[str, ...]
    provenance: Provenance
    portfolio: PortfolioTables = field(repr=False)
    policy: Policy = field(repr=False)
    rate_by_stage: dict[str, str] | None = field(repr=False)
    details: dict[str, ClaimRows] = field(repr=False)
    attributes: pd.DataFrame = field(repr=False)
    #: ``table.amount`` in fen as evaluate computed it, for ``allocate``; only for ``table`` itself
    #: (:meth:`amounts_fen` checks), so a copy with another table is read from its decimals
    amount_fen: np.ndarray | None = field(default=None, repr=False)
    amount_table: pd.DataFrame | None = field(default=None, repr=False)
    #: Measures 1 and 4: the government's direct investment and capital injection of the evaluated projects in
    #: ``years``, never a claim nor in a subsidy total (``investment_id, project_id, enterprise_id, district,
    #: sector``, the project's flags, ``measure, kind, year, amount``).
    government_investment: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {c: pd.Series(dtype=object) for c in GOVERNMENT_INVESTMENT_RESULT}), repr=False)

    def amounts_fen(self) -> np.ndarray | None:
        """``table.amount`` in fen, without reading the decimals again, when ``table`` is the one evaluate made;
        None otherwise (``dataclasses.replace(claims, table=...)``)."""
        if self.amount_fen is None or self.amount_table is not self.table or len(self.amount_fen) != len(self.table):
            return None
        return self.amount_fen

    @property
    def total(self) -> Decimal:
        """The exact sum of ``amount``."""
        return Decimal(sum(self.table.amount, Decimal(0)))

    def summary(self, by: Iterable[str] = ("year", "measure")) -> pd.DataFrame:
        """Exact totals of ``gross``, the cuts and ``amount`` grouped by ``by``."""
        keys = list(by)
        money = ["gross", *CUT_COLUMNS, "amount"]
        return self.table.groupby(keys, sort=True)[money].sum().reset_index()


def evaluate(portfolio: PortfolioTables | str | os.PathLike[str], policy: Policy | None = None,
             years: int | Iterable[int] | None = None, *, rate_by_stage: dict[str, str] | None = None,
             lpr: LprCurve | None = None, strict: bool = False, calendar: BusinessCalendar | None = None) -> Claims:
    """Every claim of a portfolio under 78號, per project, measure and calendar year.

    Parameters
    ----------
    portfolio : PortfolioTables or path
        The tables (:func:`subsidy_engine.load_portfolio`), or where to load them from.
    policy : Policy, optional
        The parameter file (the bundled 78號 defaults when None).
    years : int or iterable of int, optional
        Calendar years to report (all when None). Caps still count earlier years.
    rate_by_stage : dict, optional
        The investment-subsidy rate of each stage, e.g. ``{"pilot": "0.3", ...}``.
        78號 publishes none, so without it no investment subsidy is evaluated (said in ``notes``).
    lpr : LprCurve, optional
        For floating loans; extend it explicitly (``hold_flat``) to price resets past its horizon.
    strict : bool
        Raise :class:`EvaluationError` on any rejected row instead of reporting it.
    calendar : BusinessCalendar, optional
        The business days loans with a ``business_day`` rule move their due dates to (China's by default);
        ``china_calendar().with_weekend_projection()`` prices due dates past its data, said in ``notes``.

    Returns
    -------
    Claims

    Notes
    -----
    For each claim, ``amount = gross - cut_by_item_rules - cut_by_most_favourable
    - cut_by_enterprise_cap - cut_by_project_cap - cut_by_total_cap``, the cuts
    in the order they are applied (this module's docstring).

    Examples
    --------
    >>> from subsidy_engine.simulation.synthetic import portfolio
    >>> claims = evaluate(portfolio(300, seed=5), years=range(2024, 2027))
    >>> sorted(claims.table.measure.unique().tolist())
    [1, 5, 7, 13, 14, 15]
    >>> bool((claims.table.amount <= claims.table.gross).all())
    True
    """
    tables = portfolio if isinstance(portfolio, PortfolioTables) else load_portfolio(portfolio)
    policy = policy if policy is not None else load_policy()
    chosen_years = requested_years(years)
    ctx = build_context(tables, policy)
    rows = Rows()
    details: dict[str, ClaimRows] = {}
    projections = pd.DataFrame({"loan_id": pd.Series(dtype=object), "projected_from": pd.Series(dtype=object)})
    if len(ctx.loans):
        subsidy = add_loans(ctx, rows, ctx.loans, ctx.loan_project, ctx.kept_rows["loans"], lpr,
                            read=ctx.table_read("loans"), calendar=calendar)
        details["interest_subsidy"] = subsidy
        ctx.notes.extend(subsidy.internal.get("notes", ()))  # a projection of the business-day calendar
        projections = subsidy.internal["projections"]
        if len(projections):  # a figure that rests on a projection says so (issue 16, row 11)
            assert lpr is not None
            ctx.notes.append(lpr.projection_note(len(projections), min(projections.projected_from)))
    add_other_instruments(ctx, rows, details, rate_by_stage)
    moved_on = details["interest_subsidy"].internal.get("calendar_digest") if "interest_subsidy" in details else None
    table, attributes, amount_fen = combine(rows, ctx, chosen_years)
    invested = government_investment_of(ctx, chosen_years)
    not_paid = not_paid_items(details)
    # the tranches and prepayments of a loan rejected while evaluating (its start outside the policy, a due date
    # beyond the calendar) say so too
    ctx.problems.extend(event_rows_not_evaluated(tables.loans, {name: getattr(tables, name) for name in
                                                                LOAN_EVENT_TABLES}, ctx.problems,
                                                 tables.row_numbers, tables.files))
    rejections = sorted_problems(ctx.problems)
    raise_if_strict(rejections, strict)
    return Claims(table=table, not_paid=not_paid, rejections=rejections, projections=projections,
                  years=chosen_years, notes=tuple(ctx.notes),
                  provenance=claims_provenance(tables.digest, policy, lpr, rate_by_stage, moved_on),
                  portfolio=tables, policy=policy, rate_by_stage=rate_by_stage,
                  details=details, attributes=attributes,
                  amount_fen=amount_fen, amount_table=table, government_investment=invested)


def raise_if_strict(rejections: pd.DataFrame, strict: bool) -> None:
    """``strict``: an :class:`EvaluationError` listing every rejected row, when there is one."""
    if strict and len(rejections):
        raise EvaluationError(column_readers.problems_message(rejections, "the portfolio",
                                                     lambda r: f"{r.table} row {r.row} ({r.id!r})"
                                                     if not pd.isna(r.row) else f"table {r.table}:"), rejections)


def sorted_problems(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The problems of every stage as one report, by table (in the portfolio's order) and position."""
    found = [p for p in parts if not p.empty]
    if not found:
        return empty_problems()
    problems = pd.concat(found, ignore_index=True)[PROBLEM_COLUMNS]
    order = {name: k for k, name in enumerate(TABLES)}
    key = problems.assign(_t=problems.table.map(order), _p=problems.position.fillna(-1))
    return problems.take(key.sort_values(["_t", "_p"], kind="stable").index).reset_index(drop=True)  # type: ignore[arg-type]  # pandas-stubs: take() refuses an Index of positions


__all__ = ["ATTRIBUTE_COLUMNS", "CLAIM_COLUMNS", "Claims", "EvaluationError", "MEASURE_OF", "evaluate"]

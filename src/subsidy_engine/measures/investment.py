"""Investment subsidy (投資補助 / 投資補貼): measures 1, 2 and 4 of 京經信發〔2021〕78號.

Measure 1 lets public-domain projects (公共領域) receive direct investment,
capital injection, investment subsidy or 貼息, and supports economic-domain
projects (經濟領域) preferably through preferential credit, 貼息 and rewards; it
asks for support differentiated by stage (試點 / 示範 / 推廣, measure 2) but sets
no amounts and no ordering. Measure 4 lets quasi-operating platforms
(準經營性: some direct return, not enough to recover the cost) receive an
investment subsidy, against free services; non-profit platforms are built with
government direct investment. Measure 2's library gives priority when other
conditions are equal: an allocation tie-breaker, not an amount.

The rules, each rounding named:

* Who gets an investment subsidy: public-domain projects, and quasi-operating
  platforms with a free-service obligation whose expected returns are below
  their total investment. Economic-domain projects and non-profit platforms get
  none here and are listed in ``not_paid`` with the reason (a non-profit
  platform is government direct investment, kept out of subsidy totals).
* ``gross = round(rate[stage] x eligible_investment)`` (*investment subsidy
  rounding*, half-up). There is **no default rate**: none is published,
  so the rule must give one for every stage.
* Cuts, in order, each reported: at most ``ceiling_share x total_investment``
  (rounded *down* to the fen, so the ceiling is never passed), then the
  per-project cap (``compute_or_network`` projects have their own).
* Each project is evaluated under the parameter set in force on its start date.
"""

from __future__ import annotations

from datetime import date
from operator import attrgetter
from typing import Annotated, Any, Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ValidationInfo, field_validator

from subsidy_engine.core.dates import as_date, epoch_days
from subsidy_engine.core.fields import STRICT_MODEL, Money, Score
from subsidy_engine.core.language import id_of_name
from subsidy_engine.core.money import rate_to_units, yuan_to_fen
from subsidy_engine.core.vocabulary import RULE_FLAGS, Domain, PlatformType, Stage
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.caps import cap_fen, share_of_amounts
from subsidy_engine.measures.claims import ClaimRows, ClaimsResult, read_items
from subsidy_engine.params.policy import MEASURE_OF, QUASI_OPERATING_MEASURE, Policy, rules_in_force
from subsidy_engine.params.rules import InvestmentSubsidyRule

Category = Literal["compute_or_network", "other"]


class Project(BaseModel):
    """A row of the ``projects`` table (measures 1, 2 and 4; funding-source fields for allocation)."""

    model_config = STRICT_MODEL

    project_id: str
    enterprise_id: str
    name: str | None = None
    sector: str | None = None
    district: str | None = None
    industry_or_software: bool = False  # decides 高精尖 fund eligibility (allocation)
    domain: Annotated[Domain, BeforeValidator(Domain.parse)]
    stage: Annotated[Stage, BeforeValidator(Stage.parse)]
    in_library: bool = False
    # measures 6, 8 and 9 (LIST_FLAGS): no money of their own, read by a budget's priority tiers and merit points
    solution_list: bool = False
    scenario_opened: bool = False
    demonstration_case: bool = False
    merit_score: Score | None = None  # expert review score for merit (擇優) allocation; exact, 0.01 steps
    platform_type: Annotated[PlatformType, BeforeValidator(PlatformType.parse)] = PlatformType.NONE
    free_service_obligation: bool = False
    category: Category = "other"
    total_investment: Money
    eligible_investment: Money
    expected_returns: Money | None = None
    start_date: Annotated[date, BeforeValidator(as_date)]

    @field_validator("sector", "district")
    @classmethod
    def _as_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A sector or district named in Chinese (海淀区) is its id (haidian), as a table's are read."""
        return None if value is None else id_of_name(value, f"{info.field_name}s")


PROJECT_COLUMNS = tuple(Project.model_fields)
#: The projects' yes/no columns: blank is no (:func:`flag_column`).
PROJECT_FLAGS = (*RULE_FLAGS, "free_service_obligation")
#: The columns a projects table must have (the others may be left out).
PROJECT_REQUIRED = ("project_id", "enterprise_id", "domain", "stage", "total_investment", "eligible_investment",
                    "start_date")


#: The words of a yes/no cell: the first four say yes (是 and 否 as the template's guide says them).
TRUE_WORDS = ("true", "yes", "1", "是")
FLAG_WORDS = (*TRUE_WORDS, "false", "no", "0", "否")


def flag_column(series: pd.Series | None, name: str, rej: column_readers.Rejections, n: int) -> np.ndarray:
    """A yes/no column (true/false, yes/no, 1/0, 是/否, or booleans); blank is no."""
    if series is None:
        return np.zeros(n, bool)
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.fillna(False).to_numpy(dtype=bool)
    index, blank = column_readers.vocabulary_index(series, FLAG_WORDS)
    rej.add(~blank & (index < 0), name, "is not true or false")
    return (index >= 0) & (index < len(TRUE_WORDS))


def read_projects(table: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    table, rej = column_readers.rows_to_read(table, "projects", PROJECT_COLUMNS, PROJECT_REQUIRED, "project_id")
    n = len(table)
    out: dict[str, np.ndarray] = {}
    for name, enum, default in (("domain", Domain, None), ("stage", Stage, None),
                                ("platform_type", PlatformType, PlatformType.NONE)):
        out[name] = column_readers.enum_column(table.get(name), enum, name, default, rej, n)
    out["compute_or_network"] = np.zeros(n, bool)
    if "category" in table.columns:
        category = table["category"].astype("string").str.strip()
        blank = column_readers.blank_cells(table["category"])
        rej.add(~blank & ~category.isin(["compute_or_network", "other"]).fillna(False).to_numpy(), "category",
                "is not 'compute_or_network' or 'other'")
        out["compute_or_network"] = (category == "compute_or_network").fillna(False).to_numpy(dtype=bool)
    for name in PROJECT_FLAGS:
        out[name] = flag_column(table.get(name), name, rej, n)
    for name in ("total_investment", "eligible_investment", "expected_returns", "merit_score"):
        if name not in table.columns:
            out[name], out["no_" + name] = np.zeros(n, np.int64), np.ones(n, bool)
            continue
        fen, unusable = column_readers.decimal_units(table[name], 2, name, rej)
        rej.add(~unusable & (fen < 0), name, "must not be negative")  # merit_score: in units of 0.01
        out[name], out["no_" + name] = fen, unusable
    rej.add(~out["no_total_investment"] & (out["total_investment"] == 0), "total_investment", "must be positive")
    rej.add((out["eligible_investment"] > out["total_investment"]) & ~out["no_total_investment"]
            & ~out["no_eligible_investment"], "eligible_investment",
            "is more than total_investment")
    out["day"], _ = column_readers.date_column(table["start_date"], "start_date", rej)
    good = np.flatnonzero(~rej.bad)
    return column_readers.accepted_rows(out, good, n), good, rej.frame(table["project_id"])


#: The amounts of a project (fen; the merit score in units of 0.01), each with its ``no_`` flag.
_PROJECT_AMOUNTS = ("total_investment", "eligible_investment", "expected_returns", "merit_score")
_PROJECT_CODES = ("domain", "stage", "platform_type")
#: The arrays :func:`project_arrays` makes: the integers' (codes, amounts, the start day), then the flags'.
_INTEGER_NAMES = (*_PROJECT_CODES, *_PROJECT_AMOUNTS, "day")
_FLAG_NAMES = ("compute_or_network", *PROJECT_FLAGS, *("no_" + name for name in _PROJECT_AMOUNTS))
#: A model's codes, amounts and flags, each group read in one call (a quote reads one project per request)
_codes_of, _amounts_of, _flags_of = (attrgetter(*names) for names in (_PROJECT_CODES, _PROJECT_AMOUNTS, PROJECT_FLAGS))


def project_arrays(projects: Sequence[Project]) -> dict[str, np.ndarray]:
    """The arrays of :func:`read_projects` for validated ``Project`` models (which have no problem to report): one
    matrix of their integers and one of their flags, a column per row of each (a quote's project is read in two
    numpy calls rather than one per column)."""
    integers, flags = [], []
    for p in projects:
        amounts = _amounts_of(p)
        integers.append((*(code.code for code in _codes_of(p)),
                         *(0 if value is None else yuan_to_fen(value) for value in amounts), epoch_days(p.start_date)))
        flags.append((p.category == "compute_or_network", *_flags_of(p), *(value is None for value in amounts)))
    integer_rows = np.array(integers, dtype=np.int64).reshape(len(projects), len(_INTEGER_NAMES)).T.copy()
    flag_rows = np.array(flags, dtype=np.bool_).reshape(len(projects), len(_FLAG_NAMES)).T.copy()
    return dict(zip(_INTEGER_NAMES + _FLAG_NAMES, (*integer_rows, *flag_rows)))


def investment_subsidy(projects: pd.DataFrame | list[Project], rules: InvestmentSubsidyRule | Policy,
                       rate_by_stage: dict[str, str] | None = None) -> ClaimsResult:
    """Investment subsidy claims of every project (measures 1, 2 and 4).

    Parameters
    ----------
    projects : DataFrame or list of Project
    rules : InvestmentSubsidyRule or Policy
        One rule, or a policy file whose ceilings apply by each project's start date
        (then ``rate_by_stage`` is required: 78號 publishes no rate).
    rate_by_stage : dict, optional
        With a Policy: the rate of each stage, e.g. ``{"pilot": "0.3", ...}``.

    Returns
    -------
    ClaimsResult
        ``claims``: project_id, enterprise_id, measure, instrument, in_library,
        gross, amount, cut_by_investment_ceiling, cut_by_project_cap, parameter_set.

    Examples
    --------
    >>> from subsidy_engine import load_policy
    >>> p = Project(project_id="P", enterprise_id="E", domain="public", stage="pilot",
    ...             total_investment="300000000", eligible_investment="250000000", start_date="2024-01-01")
    >>> rates = {"pilot": "0.30", "demonstration": "0.20", "promotion": "0.10"}
    >>> claims = investment_subsidy([p], load_policy(), rate_by_stage=rates).claims
    >>> claims[["gross", "amount"]].values.tolist()   # 30% of 2.5亿, within 50% of 3亿 and 2亿
    [[Decimal('75000000.00'), Decimal('75000000.00')]]
    """
    return ClaimsResult.of(investment_subsidy_rows(projects, rules, rate_by_stage))


def investment_subsidy_rows(projects: pd.DataFrame | list[Project] | dict[str, np.ndarray],
                            rules: InvestmentSubsidyRule | Policy,
                            rate_by_stage: dict[str, str] | None = None, *,
                            read: tuple[dict[str, np.ndarray], Any, pd.DataFrame] | None = None
                            ) -> ClaimRows:
    """:func:`investment_subsidy` as arrays (money in fen), for :func:`subsidy_engine.evaluate`
    (which passes the projects already ``read`` by :func:`read_items`: arrays, the table or a mapping
    of its ``project_id`` and ``enterprise_id`` columns, rejections; ``projects`` is then those columns)."""
    if read is None:
        assert not isinstance(projects, dict), "a mapping of columns comes with what was read"
        read = read_items(projects, PROJECT_COLUMNS, read_projects)
    arrays, table, rejections = read
    n = arrays["day"].shape[0]
    if isinstance(rules, Policy):
        if rate_by_stage is None:
            raise ValueError("rate_by_stage is required: 78號 publishes no investment-subsidy rate")
        stage_rates = rate_by_stage
        in_force = rules_in_force(rules, arrays["day"],
                                  lambda s: s.investment_subsidy_rule(stage_rates))
    else:
        in_force = rules_in_force(rules, arrays["day"], lambda s: rules)
    set_index, rule_list = in_force.set_index, in_force.rules

    public = arrays["domain"] == Domain.PUBLIC.code
    quasi = arrays["platform_type"] == PlatformType.QUASI_OPERATING.code
    non_profit = arrays["platform_type"] == PlatformType.NON_PROFIT.code
    short_of_cost = ~arrays["no_expected_returns"] & (arrays["expected_returns"] < arrays["total_investment"])
    eligible = (quasi & arrays["free_service_obligation"] & short_of_cost) | (public & ~quasi & ~non_profit)
    reason = np.full(n, None, dtype=object)
    reason[~public & ~quasi & ~non_profit] = ("economic-domain projects are supported by preferential credit, "
                                              "貼息 and rewards (measure 1), not an investment subsidy")
    reason[non_profit] = ("non-profit platform: government direct investment (measure 4), "
                          "kept out of subsidy totals")
    reason[quasi & ~arrays["free_service_obligation"]] = "quasi-operating platform without a free-service obligation"
    reason[quasi & arrays["free_service_obligation"] & ~short_of_cost] = (
        "quasi-operating platform whose expected returns cover its investment (or are not given)")

    rate = np.empty(n, np.int64)
    for k, r in enumerate(rule_list):
        for stage, value in r.rate_by_stage.items():
            rate[(set_index == k) & (arrays["stage"] == stage.code)] = rate_to_units(value)
    gross = np.empty(n, np.int64)
    share_of_amounts(arrays["eligible_investment"], np.where(eligible, rate, 0), True, gross)
    ceiling_share = in_force.per_item(lambda r: rate_to_units(r.ceiling_share_of_total_investment)
                             if r.ceiling_share_of_total_investment is not None else -1)
    ceiling = np.empty(n, np.int64)
    share_of_amounts(arrays["total_investment"], np.maximum(ceiling_share, 0), False, ceiling)
    after_ceiling = np.where(ceiling_share >= 0, np.minimum(gross, ceiling), gross)
    cap = np.where(arrays["compute_or_network"],
                   in_force.per_item(lambda r: cap_fen(r.per_project_cap_compute_or_network)),
                   in_force.per_item(lambda r: cap_fen(r.per_project_cap)))
    amount = np.where(cap >= 0, np.minimum(after_ceiling, cap), after_ceiling)

    return ClaimRows(columns={
        "project_id": table["project_id"], "enterprise_id": table["enterprise_id"],
        "measure": np.where(quasi, QUASI_OPERATING_MEASURE, MEASURE_OF["investment_subsidy"]).astype(np.int32), "instrument": "investment_subsidy",
        "in_library": arrays["in_library"].copy(),  # the result's own (what was read is shared: evaluate)
        "gross": gross, "amount": amount,
        "cut_by_investment_ceiling": gross - after_ceiling, "cut_by_project_cap": after_ceiling - amount,
        "parameter_set": np.array(in_force.ids, dtype=object)[set_index],
    }, money=("gross", "amount", "cut_by_investment_ceiling", "cut_by_project_cap"), paid=eligible,
        id_column="project_id", reasons=reason, rejections=rejections, digest=in_force.digest,
        internal={"set_index": set_index, "rate": rate})


__all__ = ["Project", "investment_subsidy", "investment_subsidy_rows"]

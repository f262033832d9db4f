"""Insurance premium subsidy (保費補貼): measure 7 of 京經信發〔2021〕78號.

Measure 7 subsidises the premiums of insurance for autonomous driving,
satellite internet, network security, common software, AI and blockchain
products, "按照保費給予補貼", with no figures. The defaults (policy-78.yaml,
each with its source; the set of four `inferred`) follow 首台(套) insurance
compensation: 80% of the premium, the premium rate recognised up to 3% of the
insured amount, at most 100万 per enterprise a year, for at most 3 years.

The rules, each rounding named:

* A policy runs ``years`` policy-years from ``start_date``; ``premium`` is the
  premium of each policy-year. Policy-years beyond ``max_years`` get nothing; a
  product field that is not eligible gets nothing and is listed in
  ``not_paid`` (never silently dropped).
* Each policy-year: ``gross = round(share x min(premium, premium_rate_cap x
  insured_amount))`` (*premium subsidy rounding*, half-up, once).
* The annual cap per enterprise applies to the calendar year in which the
  policy-year starts; an enterprise's policy-years are paid in order of their
  start date, then policy_id, until the cap is reached; the cut is reported.
* Each policy is evaluated under the parameter set in force on its start date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, field_validator

from subsidy_engine.core.columns import repeated_text
from subsidy_engine.core.dates import as_date, epoch_days
from subsidy_engine.core.fields import STRICT_MODEL, Money
from subsidy_engine.core.money import scaled_integer, yuan_to_fen
from subsidy_engine.core.vocabulary import ProductField
from subsidy_engine.io import column_readers
from subsidy_engine.kernels.calendar import add_years, years_of
from subsidy_engine.kernels.caps import cap_fen, pay_under_group_caps
from subsidy_engine.kernels.subsidy import premium_subsidy_gross
from subsidy_engine.measures.claims import ClaimRows, ClaimsResult, read_items, take
from subsidy_engine.params.policy import ParameterSet, Policy, rules_in_force
from subsidy_engine.params.rules import PremiumSubsidyRule, ProductFieldName


class InsurancePolicy(BaseModel):
    """One insurance policy (a row of the ``insurance`` table)."""

    model_config = STRICT_MODEL

    policy_id: str
    enterprise_id: str
    project_id: str | None = None
    product_field: ProductFieldName
    insured_amount: Money
    premium: Money
    start_date: Annotated[date, BeforeValidator(as_date)]
    years: int

    @field_validator("insured_amount", "premium")
    @classmethod
    def _positive(cls, amount: Decimal) -> Decimal:
        if amount <= 0:
            raise ValueError(f"{amount} must be positive")
        return amount

    @field_validator("years")
    @classmethod
    def _years(cls, years: int) -> int:
        if not 1 <= years <= MAX_POLICY_YEARS:
            raise ValueError(f"{years} must be between 1 and {MAX_POLICY_YEARS}")
        return years


#: The policy-years an insurance row may cover.
MAX_POLICY_YEARS = 50

INSURANCE_COLUMNS = ("policy_id", "enterprise_id", "project_id", "product_field", "insured_amount",
                     "premium", "start_date", "years")
#: The columns an insurance table must have (``project_id`` may be left out).
INSURANCE_REQUIRED = tuple(c for c in INSURANCE_COLUMNS if c != "project_id")


def read_insurance(table: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    """Validate the insurance table column by column (the rules of ``InsurancePolicy``)."""
    table, rej = column_readers.rows_to_read(table, "insurance", INSURANCE_COLUMNS, INSURANCE_REQUIRED, "policy_id",
                                             blank_checked=("policy_id", "enterprise_id"))
    out: dict[str, np.ndarray] = {}
    for name in ("insured_amount", "premium"):
        fen, unusable = column_readers.decimal_units(table[name], 2, name, rej)
        rej.add(column_readers.blank_cells(table[name]), name, "is missing")
        rej.add(~unusable & (fen <= 0), name, "must be positive")
        out[name] = fen
    out["field"] = column_readers.enum_column(table["product_field"], ProductField, "product_field", None,
                                      rej, len(table))
    rej.add(column_readers.blank_cells(table["product_field"]), "product_field", "is missing")
    years, no_years = column_readers.int_column(table["years"], "years", rej)
    rej.add(column_readers.blank_cells(table["years"]), "years", "is missing")
    rej.add(~no_years & ((years < 1) | (years > MAX_POLICY_YEARS)), "years", f"must be between 1 and {MAX_POLICY_YEARS}")
    out["years"] = years
    days, _ = column_readers.date_column(table["start_date"], "start_date", rej)
    rej.add(column_readers.blank_cells(table["start_date"]), "start_date", "is missing")
    out["start_day"] = days
    good = np.flatnonzero(~rej.bad)
    return column_readers.accepted_rows(out, good, len(table)), good, rej.frame(table["policy_id"])


def premium_subsidy(insurance: pd.DataFrame | list[InsurancePolicy],
                    rules: Policy | PremiumSubsidyRule) -> ClaimsResult:
    """Premium subsidy claims of every policy-year (measure 7).

    Parameters
    ----------
    insurance : DataFrame or list of InsurancePolicy
        The ``insurance`` table: policy_id, enterprise_id, project_id,
        product_field, insured_amount, premium (per policy-year), start_date, years.
    rules : Policy or PremiumSubsidyRule
        A policy file (each policy under the set in force on its start date) or one rule.

    Returns
    -------
    ClaimsResult
        ``claims``: policy_id, enterprise_id, project_id, policy_year, year,
        start_date, premium, gross, amount, cut_by_annual_cap, parameter_set;
        ``not_paid``: the policies of ineligible product fields, with the reason.

    Notes
    -----
    ``gross = round(share x min(premium, cap x insured))``, then the annual cap
    per enterprise, earlier policy-years first.

    Examples
    --------
    >>> from subsidy_engine import load_policy
    >>> policy = InsurancePolicy(policy_id="P1", enterprise_id="E1", product_field="ai",
    ...     insured_amount="10000000", premium="400000", start_date="2024-03-01", years=5)
    >>> result = premium_subsidy([policy], load_policy())
    >>> result.claims.amount.tolist()   # 80% of min(400,000, 3% x 10,000,000), 3 years
    [Decimal('240000.00'), Decimal('240000.00'), Decimal('240000.00')]
    """
    return ClaimsResult.of(premium_subsidy_rows(insurance, rules))


def insurance_arrays(policies: Sequence[InsurancePolicy]) -> dict[str, np.ndarray]:
    """The arrays of :func:`read_insurance` for validated models (which have no problem left to report)."""
    n = len(policies)
    return {"insured_amount": np.fromiter((yuan_to_fen(p.insured_amount) for p in policies), np.int64, n),
            "premium": np.fromiter((yuan_to_fen(p.premium) for p in policies), np.int64, n),
            "field": np.fromiter((p.product_field.code for p in policies), np.int64, n),
            "years": np.fromiter((p.years for p in policies), np.int64, n),
            "start_day": np.fromiter((epoch_days(p.start_date) for p in policies), np.int64, n)}


def premium_subsidy_rows(insurance: pd.DataFrame | list[InsurancePolicy],
                         rules: Policy | PremiumSubsidyRule, *, read: column_readers.Read | None = None) -> ClaimRows:
    """:func:`premium_subsidy` as arrays (money in fen), for :func:`subsidy_engine.evaluate` (``read``: the
    table as :func:`read_insurance` read it already)."""
    arrays, table, rejections = read_items(insurance, INSURANCE_COLUMNS, read_insurance, read)
    ids = {name: table[name] if name in table else None
           for name in ("policy_id", "enterprise_id", "project_id", "product_field")}
    return premium_rows(arrays, ids, rejections, rules)


def premium_rows(arrays: dict[str, np.ndarray], ids: Mapping[str, Any], rejections: pd.DataFrame,
                 rules: Policy | PremiumSubsidyRule) -> ClaimRows:
    """The premium subsidy of policies read into ``arrays`` (:func:`read_insurance` or
    :func:`insurance_arrays`); ``ids`` holds their ``policy_id, enterprise_id, project_id`` (or None) and
    ``product_field`` columns, as Series or arrays."""
    n = arrays["start_day"].shape[0]

    in_force = rules_in_force(rules, arrays["start_day"], ParameterSet.premium_subsidy_rule)
    set_index, rule_list, set_ids, digest = in_force.set_index, in_force.rules, in_force.ids, in_force.digest

    eligible_by_set = np.zeros((len(rule_list), len(ProductField)), dtype=bool)
    for k, r in enumerate(rule_list):
        eligible_by_set[k, [f.code for f in r.eligible_fields]] = True
    eligible = eligible_by_set[set_index, arrays["field"]]
    max_years = in_force.per_item(lambda r: r.max_years if r.max_years is not None else 10**6)
    counts = np.where(eligible, np.minimum(arrays["years"], max_years), 0)

    row_policy = np.repeat(np.arange(n), counts)
    policy_year = np.arange(row_policy.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    # policy-year k starts k years on, on the start day clamped to the month's end
    year_start = add_years(arrays["start_day"][row_policy], policy_year)
    calendar_year = years_of(year_start)

    share = in_force.per_item(lambda r: scaled_integer(r.share, 6))[row_policy]
    has_cap = in_force.per_item(lambda r: r.premium_rate_cap is not None, np.bool_)[row_policy]
    cap = in_force.per_item(lambda r: scaled_integer(r.premium_rate_cap, 6) if r.premium_rate_cap is not None else 0)
    gross = np.empty(row_policy.shape[0], np.int64)
    premium_subsidy_gross(arrays["premium"][row_policy], arrays["insured_amount"][row_policy], share,
                          cap[row_policy], has_cap, gross)

    # annual cap per enterprise: pay in (enterprise, year, start date, policy_id, policy-year) order
    enterprise_code = pd.factorize(ids["enterprise_id"])[0][row_policy]
    policy_code = pd.factorize(ids["policy_id"], sort=True)[0][row_policy]
    order = np.lexsort((policy_year, policy_code, year_start, calendar_year, enterprise_code))
    annual_cap = in_force.per_item(lambda r: cap_fen(r.annual_cap_per_enterprise))[row_policy]
    group_start = np.ones(order.shape[0], dtype=np.bool_)
    group_start[1:] = ((enterprise_code[order][1:] != enterprise_code[order][:-1])
                       | (calendar_year[order][1:] != calendar_year[order][:-1]))
    paid_sorted = np.empty(order.shape[0], np.int64)
    pay_under_group_caps(gross[order], annual_cap[order], group_start, paid_sorted)
    paid = np.empty_like(paid_sorted)
    paid[order] = paid_sorted

    ineligible = np.flatnonzero(~eligible)
    left_out = {name: take(ids[name], ineligible) for name in ("policy_id", "enterprise_id", "product_field")}
    left_out["reason"] = repeated_text(ineligible.shape[0], "product field is not eligible under measure 7")
    return ClaimRows(columns={
        "policy_id": take(ids["policy_id"], row_policy),
        "enterprise_id": take(ids["enterprise_id"], row_policy),
        "project_id": take(ids["project_id"], row_policy) if ids["project_id"] is not None else None,
        "policy_year": (policy_year + 1).astype(np.int32),
        "year": calendar_year.astype(np.int32),
        "start_date": year_start,
        "premium": arrays["premium"][row_policy],
        "gross": gross, "amount": paid, "cut_by_annual_cap": gross - paid,
        "parameter_set": np.array(set_ids, dtype=object)[set_index[row_policy]],
    }, money=("premium", "gross", "amount", "cut_by_annual_cap"), dates=("start_date",),
        paid=np.ones(row_policy.shape[0], bool), id_column="policy_id", reasons=np.empty(0, object),
        rejections=rejections, digest=digest, not_paid=left_out,
        internal={"set_index": set_index[row_policy]})


__all__ = ["InsurancePolicy", "insurance_arrays", "premium_rows", "premium_subsidy",
           "premium_subsidy_rows"]

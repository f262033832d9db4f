"""Table calculators at portfolio scale (measures 7, 13/14, 1/2/4) against their plain references."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from subsidy_engine import (
    Event,
    InsurancePolicy,
    Project,
    event_grants,
    investment_subsidy,
    load_policy,
    premium_subsidy,
)
from subsidy_engine.reference.calculators import (
    reference_event_grants,
    reference_investment_subsidy,
    reference_premium_subsidy,
)

ROWS = 100_000
SAMPLE = 2_000
RATES = {"pilot": "0.30", "demonstration": "0.20", "promotion": "0.10"}


def days(rng: np.random.Generator, n: int) -> pd.Series:
    return pd.Series(np.datetime64("2022-01-01") + rng.integers(0, 1500, n).astype("timedelta64[D]")).dt.date


def insurance_table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "policy_id": [f"P{k}" for k in range(n)], "enterprise_id": [f"E{k}" for k in rng.integers(0, n // 4, n)],
        "project_id": None, "product_field": rng.choice(["ai", "blockchain", "satellite_internet", "other"], n),
        "insured_amount": [str(v) for v in rng.integers(10**6, 10**9, n)],
        "premium": [str(v) for v in rng.integers(10**4, 10**7, n)], "start_date": days(rng, n),
        "years": rng.integers(1, 6, n)})


def event_table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(13)
    kind = rng.choice(["listing", "reits_issuance"], n, p=[0.8, 0.2])
    listing = kind == "listing"
    return pd.DataFrame({
        "event_id": [f"V{k}" for k in range(n)], "kind": kind,
        "enterprise_id": [f"E{k}" for k in rng.integers(0, n // 3, n)],
        "venue": np.where(listing, rng.choice(["a_share_ipo", "neeq_select", "overseas_direct"], n), None),
        "stage": np.where(listing, rng.choice(["acceptance", "listing"], n), None), "date": days(rng, n)})


def project_table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(21)
    total = rng.integers(10**6, 10**10, n)
    return pd.DataFrame({
        "project_id": [f"J{k}" for k in range(n)], "enterprise_id": [f"E{k}" for k in rng.integers(0, n, n)],
        "domain": rng.choice(["public", "economic"], n), "stage": rng.choice(list(RATES), n),
        "platform_type": rng.choice(["none", "non_profit", "quasi_operating"], n, p=[0.8, 0.1, 0.1]),
        "free_service_obligation": rng.choice(["true", "false"], n),
        "total_investment": [str(v) for v in total],
        "eligible_investment": [str(v) for v in (total * rng.random(n)).astype(np.int64)],
        "expected_returns": [str(v) for v in (total * rng.random(n)).astype(np.int64)],
        "start_date": days(rng, n)})


POLICY = load_policy()
PREMIUM_RULE = POLICY.sets[0].premium_subsidy_rule()
GRANT_RULES = POLICY.sets[0].grant_rules()
INVESTMENT_RULE = POLICY.sets[0].investment_subsidy_rule(RATES)

# (table maker, row model, engine call, plain reference over row models): rules built once for both
CASES = {
    "premium subsidy (measure 7)": (insurance_table, InsurancePolicy, lambda t: premium_subsidy(t, POLICY),
                                    lambda items: reference_premium_subsidy(items, lambda p: PREMIUM_RULE)),
    "REITs and listing grants (13, 14)": (event_table, Event, lambda t: event_grants(t, POLICY),
                                          lambda items: reference_event_grants(items, lambda e: GRANT_RULES)),
    "investment subsidy (1, 2, 4)": (project_table, Project,
                                     lambda t: investment_subsidy(t, POLICY, rate_by_stage=RATES),
                                     lambda items: reference_investment_subsidy(items, INVESTMENT_RULE)),
}


def as_model(model, row: dict) -> object:  # noqa: ANN001
    fields = {k: v for k, v in row.items() if v is not None and v == v}
    if "free_service_obligation" in fields:
        fields["free_service_obligation"] = fields["free_service_obligation"] == "true"
    if "years" in fields:
        fields["years"] = int(fields["years"])
    return model(**fields)


@pytest.mark.parametrize("name", list(CASES))
def test_table_calculator(benchmark, report, name) -> None:
    make, model, run, reference = CASES[name]
    table = make(ROWS)
    run(table.head(10))
    benchmark.pedantic(run, args=(table,), rounds=3, warmup_rounds=1)
    rows = table.head(SAMPLE).astype(object).to_dict("records")
    started = time.perf_counter()
    items = [as_model(model, row) for row in rows]
    validated = time.perf_counter()
    reference(items)
    done = time.perf_counter()
    compute_per_row, total_per_row = (done - validated) / SAMPLE, (done - started) / SAMPLE
    seconds = benchmark.stats.stats.min
    report(name, f"{ROWS / seconds:.3g} rows/s ({seconds * 1e3:.0f} ms for {ROWS:,}, validation included); "
           f"plain loop validating each row {1 / total_per_row:.3g}/s -> {total_per_row * ROWS / seconds:.1f}x; "
           f"plain reference on ready models {1 / compute_per_row:.3g}/s -> "
           f"{compute_per_row * ROWS / seconds:.1f}x")

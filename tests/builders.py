"""Plain builders the tests share: tables of loans, policy files with two parameter sets, small budgets and
claims, and the allocation's invariants."""

from __future__ import annotations

import copy
import re
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import yaml

from subsidy_engine import (
    Budget,
    Loan,
)
from subsidy_engine.core.language import name, text
from subsidy_engine.params.lpr import schedules_dir
from subsidy_engine.pipeline.inputs import TABLES, PortfolioTables, check_tables


def fen(series: pd.Series) -> np.ndarray:
    return np.array([int(Decimal(v) * 100) for v in series], dtype=np.int64)


def check_invariants(result, table: pd.DataFrame, budget: Budget) -> None:  # noqa: ANN001
    awards, by_source = result.awards, result.by_source
    claimed, awarded = fen(awards.claimed), fen(awards.awarded)
    assert (awarded >= 0).all() and (awarded <= claimed).all()
    assert (fen(awards.cut) == claimed - awarded).all()
    # every claim: the sum awarded never passes its amount; the unfunded list has the rest
    amount = dict(zip(table.claim_id, fen(table.amount)))
    paid = awards.assign(a=awarded).groupby("claim_id")["a"].sum().to_dict()
    assert set(paid) == set(amount)  # nothing dropped
    assert all(paid[k] <= amount[k] for k in amount)
    unfunded = dict(zip(result.unfunded.claim_id, fen(result.unfunded.unfunded)))
    assert unfunded == {k: amount[k] - paid[k] for k in amount if paid[k] < amount[k]}
    # every source-year: awarded + remaining = cap + carried_in, nothing above the cap
    cap, carried, available = fen(by_source.cap), fen(by_source.carried_in), fen(by_source.available)
    spent, remaining = fen(by_source.awarded), fen(by_source.remaining)
    assert (available == cap + carried).all() and (spent + remaining == available).all() and (remaining >= 0).all()
    booked = awards.dropna(subset=["source_id"]).assign(a=awarded[awards.source_id.notna().to_numpy()]).groupby(
        ["source_id", "year"])["a"].sum()
    for row, s in zip(by_source.itertuples(), spent):
        assert booked.get((row.source_id, row.year), 0) == s
    # what the claims asked of each source for a year (the awards' claimed), and whether it passed the money
    asked = awards.dropna(subset=["source_id"]).assign(c=claimed[awards.source_id.notna().to_numpy()]).groupby(
        ["source_id", "year"], observed=True)["c"].sum()
    demand = np.array([asked.get((row.source_id, row.year), 0) for row in by_source.itertuples()], np.int64)
    assert (fen(by_source.asked) == demand).all()
    # a source whose money ran short left some part asked of it unpaid by it (the year's remaining money may be a few
    # fen: an item of several years gets one share of each year's need)
    exceeded = by_source.cap_exceeded.to_numpy(bool)
    cut = awards.dropna(subset=["source_id"]).assign(cut=claimed[awards.source_id.notna().to_numpy()]
                                                     - awarded[awards.source_id.notna().to_numpy()])
    cut_sources = set(cut[cut.cut > 0].source_id.astype(str))
    assert set(by_source.source_id[exceeded].astype(str)) <= cut_sources
    # per-project and per-enterprise caps of each source, per year
    keys = [c for c in ("project_id", "enterprise_id") if c in table.columns]
    joined = awards.drop(columns=keys).assign(a=awarded).merge(table[["claim_id", *keys]], on="claim_id")
    for source in budget.sources:
        for column, limit in (("project_id", source.per_project_cap), ("enterprise_id", source.per_enterprise_cap)):
            if limit is None or column not in keys:
                continue
            mine = joined[(joined.source_id == source.id) & joined[column].notna()]
            assert (mine.groupby([column, "year"])["a"].sum() <= int(limit * 100)).all()


def claims(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["claim_id", "measure", "year", "amount", "in_library", "merit_score"])


BUNDLED = yaml.safe_load((schedules_dir() / "policy-78.yaml").read_text(encoding="utf-8"))


def write(tmp_path, data) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def two_sets(first_to: date, second_from: date) -> dict:
    data = copy.deepcopy(BUNDLED)
    data.pop("covers_until")  # the second set open-ended: dates far on are in force
    first = data["parameter_sets"][0]
    second = copy.deepcopy(first)
    first["valid_to"] = first_to
    second.update(id="implementing-rules-2025", valid_from=second_from, valid_to=None)
    second["parameters"]["interest_subsidy"]["points"].update(value="0.015", status="official")
    data["parameter_sets"].append(second)
    return data


def loan_row(loan: Loan, loan_id: object) -> dict[str, object]:
    row = loan.model_dump(exclude={"floating", "drawdowns", "prepayments"})
    row["loan_id"] = loan_id
    for key in ("frequency", "method", "principal_plan_unit", "interest_basis"):
        row[key] = None if row[key] is None else str(row[key].value)
    if loan.floating is not None:
        row["floating_tenor"] = str(loan.floating.tenor)
        row["floating_spread_bp"] = loan.floating.spread_bp
        row["floating_reset"] = loan.floating.reset.value
    return row


def table_of(sample: list[Loan]) -> pd.DataFrame:
    return pd.DataFrame([loan_row(x, f"L{k}") for k, x in enumerate(sample)])


def _compiled_pattern(lang: str) -> re.Pattern[str]:
    said = re.escape(name("cli", "compiled", lang))
    return re.compile(said.replace(re.escape("{count}"), "[0-9,]+").replace(re.escape("{seconds}"), "[0-9.,]+"))


def stderr_lines(err: str) -> list[str]:
    """A command's standard error, line by line, without numba's compile notices: a run on an empty numba cache
    (an install's first) says it compiles the kernels it needs, which reading the tables already does (the ids'
    hashes), before anything else it has to say."""
    compiling = {text("cli", "compiling", lang) for lang in ("zh", "en")}
    compiled = [_compiled_pattern(lang) for lang in ("zh", "en")]
    return [line for line in err.strip().splitlines()
            if line.strip() not in compiling and not any(p.fullmatch(line.strip()) for p in compiled)]


def as_tables(rows: dict[str, list[dict[str, object]]]) -> PortfolioTables:
    """Checked tables of rows given as dicts by table (a table without rows keeps its columns)."""
    frames = {name: pd.DataFrame(rows.get(name, []), columns=list(columns) if not rows.get(name) else None, dtype=object)
              for name, (_, columns) in TABLES.items()}
    frames["loans"] = frames["loans"] if rows["loans"] else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in ("loan_id", "project_id", "principal", "term_months", "start_date")})
    return PortfolioTables(**frames, problems=check_tables(frames), source="test", digest="test")

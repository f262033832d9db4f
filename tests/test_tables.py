"""The four portfolio tables: CSV folder, Parquet folder and workbook load alike; problems say where."""

from __future__ import annotations

import pandas as pd
import pytest

from subsidy_engine import PortfolioSchemaError, load_portfolio

TABLES = {
    "projects": pd.DataFrame({
        "project_id": ["J1", "J2"], "enterprise_id": ["E1", "E2"], "name": ["算力中心", "車聯網平台"],
        "domain": ["public", "economic"], "stage": ["pilot", "demonstration"], "in_library": ["true", "false"],
        "industry_or_software": ["true", "false"], "total_investment": ["300000000", "50000000.50"],
        "eligible_investment": ["250000000", "40000000"], "start_date": ["2024-01-01", "2024-02-01"]}),
    "loans": pd.DataFrame({
        "loan_id": ["L1", "L2"], "project_id": ["J1", "J9"], "principal": ["100000000", "5000000"],
        "annual_rate": ["0.03", "0.035"], "term_months": ["60", "36"], "start_date": ["2024-03-01"] * 2}),
    "insurance": pd.DataFrame({
        "policy_id": ["P1"], "enterprise_id": ["E1"], "project_id": ["J1"], "product_field": ["ai"],
        "insured_amount": ["10000000"], "premium": ["400000"], "start_date": ["2024-03-01"], "years": ["3"]}),
    "events": pd.DataFrame({
        "event_id": ["V1", "V2"], "kind": ["listing", "listing"], "enterprise_id": ["E2", "E2"],
        "project_id": [None, None], "venue": ["a_share_ipo", "moon"], "stage": ["acceptance", "listing"],
        "date": ["2024-05-06", "2024-06-01"]}),
}


def write(tmp_path, form: str):
    if form == "xlsx":
        path = tmp_path / "portfolio.xlsx"
        with pd.ExcelWriter(path) as book:
            for name, frame in TABLES.items():
                frame.to_excel(book, sheet_name=name, index=False)
        return path
    for name, frame in TABLES.items():
        if form == "csv":
            frame.to_csv(tmp_path / f"{name}.csv", index=False)
        else:
            frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return tmp_path


@pytest.mark.parametrize("form", ["csv", "parquet", "xlsx"])
def test_every_form_loads_the_same_tables_and_problems(tmp_path, form) -> None:
    portfolio = load_portfolio(write(tmp_path, form))
    for name, frame in TABLES.items():
        loaded = getattr(portfolio, name)
        assert loaded.astype(object).where(loaded.notna(), None).values.tolist() == \
            frame.astype(object).where(frame.notna(), None).values.tolist()
    assert portfolio.problems.values.tolist() == [
        ["loans", 1, "L2", "project_id", "is not a project of the projects table"],
        ["events", 1, "V2", "venue", "is not one of 'a_share_ipo', 'neeq_select', 'overseas_direct'"],
    ]
    assert len(portfolio.digest) == 64


def test_unknown_and_missing_tables_are_schema_errors(tmp_path) -> None:
    TABLES["loans"].to_csv(tmp_path / "loans.csv", index=False)
    with pytest.raises(PortfolioSchemaError, match="no projects table"):
        load_portfolio(tmp_path)
    TABLES["projects"].to_csv(tmp_path / "projects.csv", index=False)
    TABLES["projects"].to_csv(tmp_path / "projekts.csv", index=False)
    with pytest.raises(PortfolioSchemaError, match=r"unknown tables \['projekts.csv'\]"):
        load_portfolio(tmp_path)


def test_a_bad_column_names_its_table(tmp_path) -> None:
    TABLES["projects"].to_csv(tmp_path / "projects.csv", index=False)
    TABLES["insurance"].assign(premium_rate=["0.04"]).to_csv(tmp_path / "insurance.csv", index=False)
    with pytest.raises(PortfolioSchemaError, match=r"table 'insurance': .*unknown columns \['premium_rate'\]"):
        load_portfolio(tmp_path)

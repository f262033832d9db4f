"""Tables are read and validated once (issue 17, point 3).

Loading checks every table with its reader; evaluation (and each Monte Carlo path) takes the arrays that check
made instead of reading the tables again. A copy with another table, made with ``dataclasses.replace`` or built
without the check, is read anew: what was read never outlives the table it was read from.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy_engine import evaluate, load_lpr, load_policy, load_portfolio
from subsidy_engine.loans import portfolio as loan_portfolio
from subsidy_engine.measures import grants, investment, premium_subsidy
from subsidy_engine.pipeline import inputs, steps
from subsidy_engine.pipeline.inputs import PortfolioTables, check_tables, checked_portfolio
from subsidy_engine.simulation.montecarlo import monte_carlo
from subsidy_engine.simulation.scenario import MonteCarloSettings
from subsidy_engine.simulation.synthetic import portfolio

from strategies import examples, portfolios

TABLE_NAMES = ("projects", "loans", "insurance", "events")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each table is read, by every reader the package calls."""
    count: Counter[str] = Counter()

    def counted(table: str, reader: Callable[..., Any]) -> Callable[..., Any]:
        def read(*args: Any, **kwargs: Any) -> Any:
            count[table] += 1
            return reader(*args, **kwargs)
        return read

    for table, module, name in (("projects", investment, "read_projects"), ("projects", steps, "read_projects"),
                                ("insurance", premium_subsidy, "read_insurance"), ("events", grants, "read_events"),
                                ("loans", loan_portfolio, "arrays_from_frame")):
        monkeypatch.setattr(module, name, counted(table, getattr(module, name)))
    for table in TABLE_NAMES:
        monkeypatch.setitem(inputs._READERS, table, counted(table, inputs._READERS[table]))
    return count


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("portfolio")
    tables = portfolio(300, seed=17)
    for name in TABLE_NAMES:
        getattr(tables, name).to_csv(path / f"{name}.csv", index=False)
    return path


def test_each_table_is_read_once_from_the_file_to_the_claims(folder: Path, reads: Counter[str]) -> None:
    tables = load_portfolio(folder)
    assert all(len(getattr(tables, name)) for name in TABLE_NAMES)
    evaluate(tables, years=range(2026, 2031), rate_by_stage={"pilot": "0.3", "demonstration": "0.2",
                                                              "promotion": "0.1"})
    assert reads == {name: 1 for name in TABLE_NAMES}


def test_a_monte_carlo_path_reads_no_table(reads: Counter[str]) -> None:
    from subsidy_engine import load_budget

    tables = portfolio(300, seed=5)  # checked and read as it is made
    history = load_lpr()
    monte_carlo(tables, (2026, 2027), policy=load_policy(), budget=load_budget(), history=history, changes=[],
                settings=MonteCarloSettings(paths=3, seed=1, monthly_sigma_bp="20"), hold_until=date(2045, 12, 31))
    assert reads == {name: 1 for name in TABLE_NAMES}


def test_a_copy_with_another_table_is_read_anew(folder: Path) -> None:
    tables = load_portfolio(folder)
    loans = tables.loans.copy()
    first = loans.loan_id.iloc[0]
    loans["principal"] = loans["principal"].where(loans.loan_id != first, Decimal("1.00"))
    changed = dataclasses.replace(tables, loans=loans)
    assert tables.reads and not changed.reads
    before, after = (evaluate(t, years=range(2021, 2041)).table for t in (tables, changed))
    paid = {t: frame[(frame.instrument == "interest_subsidy") & (frame.item_id == first)].gross.sum()
            for t, frame in (("before", before), ("after", after))}
    assert paid["after"] < paid["before"]


@settings(max_examples=examples(60))  # a whole portfolio evaluated twice an example: the suite's slowest test
@given(portfolios())
def test_claims_from_what_the_check_read_equal_claims_read_anew(rows: dict[str, list[dict[str, object]]]) -> None:
    frames = {name: pd.DataFrame(rows.get(name, []), columns=list(columns) if not rows.get(name) else None, dtype=object)
              for name, (_, columns) in inputs.TABLES.items()}
    read_once = checked_portfolio(frames, source="test", digest="test")
    read_anew = PortfolioTables(**frames, problems=check_tables(frames), source="test", digest="test")
    assert not read_anew.reads
    policy = load_policy()
    first, second = (evaluate(t, policy, rate_by_stage={"pilot": "0.3", "demonstration": "0.2",
                                                         "promotion": "0.1"}) for t in (read_once, read_anew))
    pd.testing.assert_frame_equal(first.table, second.table)
    pd.testing.assert_frame_equal(first.rejections, second.rejections)
    assert first.provenance == second.provenance


def _read_arrays(read: Any) -> dict[str, Any]:
    """Every array a reader made: a loan reader's tranches, prepayments and custom plans included."""
    arrays = read.arrays if isinstance(read.arrays, dict) else {
        f.name: getattr(read.arrays, f.name) for f in dataclasses.fields(read.arrays)}
    events = arrays.get("events")
    if dataclasses.is_dataclass(events):
        arrays = {**arrays, **{f"events.{f.name}": getattr(events, f.name) for f in dataclasses.fields(events)}}
    plans = arrays.get("plans")
    if isinstance(plans, dict):  # a custom plan's fen by loan: as arrays, to compare
        arrays = {**arrays, **{f"plans.{k}": np.asarray(v) for k, v in plans.items()}}
    return {name: value for name, value in arrays.items() if isinstance(value, np.ndarray)}


def test_no_array_of_the_claims_is_one_the_check_read() -> None:
    """An evaluation's results are the caller's to change: none of them is an array the tables' check read (and
    every evaluation of the tables shares), or an edit of one would change the next evaluation's figures."""
    tables = portfolio(300, seed=5)
    c = evaluate(tables, load_policy(), rate_by_stage={"pilot": "0.3", "demonstration": "0.2", "promotion": "0.1"})
    read = [(f"{table}.{name}", value) for table, r in tables.reads.items()
            for name, value in _read_arrays(r).items() if value.size]
    results = [(f"details[{name}].{where}[{key}]", value) for name, rows in c.details.items()
               for where, values in (("columns", rows.columns), ("internal", rows.internal))
               for key, value in values.items() if isinstance(value, np.ndarray)]
    results += [(f"{frame_name}[{column}]", c_frame[column].to_numpy()) for frame_name, c_frame in
                (("table", c.table), ("attributes", c.attributes)) for column in c_frame.columns]
    shared = [(mine, theirs) for mine, value in results for theirs, checked in read
              if value.dtype != object and np.shares_memory(value, checked)]
    assert shared == []


def test_a_table_whose_rows_were_all_accepted_is_evaluated_on_the_check_s_arrays_not_a_copy() -> None:
    """A national book's loans are 120 MB of arrays: evaluate takes them as the check left them."""
    tables = portfolio(60, seed=3)
    every_row = np.arange(len(tables.loans))
    shared = tables.read_of("loans", tables.loans, every_row)
    assert shared.arrays is tables.reads["loans"].arrays
    assert shared.positions.tolist() == every_row.tolist() and shared.rejections.empty
    some_rows = tables.read_of("loans", tables.loans.iloc[1:], every_row[1:])
    assert some_rows.arrays.principal_fen.tolist() == tables.reads["loans"].arrays.principal_fen[1:].tolist()


@settings(max_examples=examples(30))
@given(portfolios(), st.booleans())
def test_evaluate_and_a_monte_carlo_path_write_nothing_into_what_the_check_read(
        rows: dict[str, list[dict[str, object]]], with_paths: bool) -> None:
    """The check's arrays are shared with every evaluation of the tables (not copied): none may change them."""
    frames = {name: pd.DataFrame(rows.get(name, []), columns=list(columns) if not rows.get(name) else None, dtype=object)
              for name, (_, columns) in inputs.TABLES.items()}
    tables = checked_portfolio(frames, source="test", digest="test")
    before = {(table, name): value.copy() for table, read in tables.reads.items()
              for name, value in _read_arrays(read).items()}
    rates = {"pilot": "0.3", "demonstration": "0.2", "promotion": "0.1"}
    evaluate(tables, load_policy(), rate_by_stage=rates, lpr=load_lpr().hold_flat(until=date(2060, 12, 31)))
    if with_paths:
        from subsidy_engine import load_budget

        monte_carlo(tables, (2026, 2027), policy=load_policy(), budget=load_budget(), history=load_lpr(), changes=[],
                    settings=MonteCarloSettings(paths=3, seed=1, monthly_sigma_bp="20"), hold_until=date(2045, 12, 31),
                    rate_by_stage=rates)
    after = {(table, name): value for table, read in tables.reads.items() for name, value in _read_arrays(read).items()}
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert np.array_equal(value, after[key]), key


def test_the_synthetic_book_s_evaluation_and_paths_write_nothing_into_what_the_check_read() -> None:
    """The generated portfolios above have fixed loans only: the synthetic book has floating ones (repriced on
    each path), insurance, listing events and projects of every stage."""
    from subsidy_engine import load_budget

    tables = portfolio(300, seed=5)
    before = {(table, name): value.copy() for table, read in tables.reads.items()
              for name, value in _read_arrays(read).items()}
    rates = {"pilot": "0.3", "demonstration": "0.2", "promotion": "0.1"}
    first = evaluate(tables, load_policy(), rate_by_stage=rates)
    monte_carlo(tables, (2026, 2027), policy=load_policy(), budget=load_budget(), history=load_lpr(), changes=[],
                settings=MonteCarloSettings(paths=3, seed=1, monthly_sigma_bp="20"), hold_until=date(2045, 12, 31),
                rate_by_stage=rates)
    for key, value in before.items():
        assert np.array_equal(value, _read_arrays(tables.reads[key[0]])[key[1]]), key
    pd.testing.assert_frame_equal(evaluate(tables, load_policy(), rate_by_stage=rates).table, first.table)


def test_what_was_read_is_the_reader_s_own_not_a_view_of_the_caller_s_frame() -> None:
    # a reader that accepted every row hands back its arrays without a copy: none of them may be a view of the
    # caller's columns, or an edit of the frame after the check (refused by the check) reaches evaluate unchecked
    insurance = pd.DataFrame({"policy_id": ["I1"], "enterprise_id": ["E1"], "product_field": ["blockchain"],
                              "insured_amount": ["1000000"], "premium": ["10000"], "start_date": ["2025-01-01"],
                              "years": [3]})
    arrays, _, _ = premium_subsidy.read_insurance(insurance)
    insurance.loc[0, "years"] = 0
    assert arrays["years"].tolist() == [3] and arrays["years"].flags.writeable
    projects = pd.DataFrame({"project_id": ["P1"], "enterprise_id": ["E1"], "domain": ["public"], "stage": ["pilot"],
                             "total_investment": ["100"], "eligible_investment": ["50"], "start_date": ["2025-01-01"],
                             "in_library": [True]})
    read, _, _ = investment.read_projects(projects)
    projects.loc[0, "in_library"] = False
    assert read["in_library"].tolist() == [True]

    tables = portfolio(60, seed=3)
    for read in tables.reads.values():  # every array of every reader, loans' included, is its own
        arrays = read.arrays if isinstance(read.arrays, dict) else {
            f.name: getattr(read.arrays, f.name) for f in dataclasses.fields(read.arrays)}
        assert all(v.flags.owndata and v.flags.writeable for v in arrays.values() if hasattr(v, "flags"))
    before = evaluate(tables)
    tables.insurance.loc[2, "years"] = 0  # the check refused 0 years; the tables hold what it read
    after = evaluate(tables)
    assert after.table.amount.sum() == before.table.amount.sum()
    assert (after.table.item_id == "I2").sum() == (before.table.item_id == "I2").sum() > 0


def test_the_tables_checked_are_the_tables_evaluated_whatever_the_caller_does_with_its_frames() -> None:
    # checked_portfolio holds what it checked: an edit of the caller's frames afterwards (ids repeated, an
    # enterprise blanked or changed, a start moved before the policy) is not evaluated unchecked
    tables = portfolio(60, seed=3)
    given = {name: getattr(tables, name).copy() for name in (*TABLE_NAMES, "drawdowns", "prepayments")}
    checked = checked_portfolio(given, source="test", digest="test")
    before = evaluate(checked)
    given["insurance"].loc[1, "policy_id"] = given["insurance"].loc[0, "policy_id"]
    given["insurance"].loc[0, "enterprise_id"] = "   "
    given["loans"].loc[0, "loan_id"] = given["loans"].loc[1, "loan_id"]
    given["projects"].loc[:, "start_date"] = date(1990, 1, 1)
    given["projects"].loc[0, "sector"] = "nowhere"
    after = evaluate(checked)
    pd.testing.assert_frame_equal(after.table, before.table)

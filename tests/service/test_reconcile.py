"""reconcile(): a bank's 貼息 claims against the engine, and the likely cause of each difference (issue 6)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from subsidy_engine import Loan, evaluate, load_lpr, load_policy
from subsidy_engine.pipeline.inputs import PortfolioTables, check_tables
from subsidy_engine.reference.calculators import reference_interest_subsidy, reference_schedule
from subsidy_engine.service.bank_file import bank_claims
from subsidy_engine.service.cli import main
from subsidy_engine.service.reconcile import loan_cases, reconcile, reconcile_totals
from subsidy_engine.simulation.scenario import Scenario
from subsidy_engine.simulation.synthetic import portfolio

LPR = load_lpr().hold_flat(until=date(2045, 12, 31))


@pytest.fixture(scope="module")
def tables() -> PortfolioTables:
    return portfolio(400, seed=21)


def test_computed_figures_are_the_batch_engine_s(tables: PortfolioTables) -> None:
    """A calendar year of a loan's periods gives evaluate's 貼息 for that loan-year, before the cross-loan caps."""
    claims = evaluate(tables, load_policy(), lpr=LPR).table
    loans = claims[claims.instrument == "interest_subsidy"].head(120)
    item_rules = loans.gross - loans.cut_by_item_rules
    bank = pd.DataFrame({"loan_id": loans.item_id.astype(str).to_numpy(),
                         "from_date": [date(int(y), 1, 1) for y in loans.year],
                         "to_date": [date(int(y), 12, 31) for y in loans.year],
                         "subsidy_claimed": [str(v) for v in item_rules]})
    report = reconcile(bank, tables, lpr=LPR)
    assert (report.status == "match").all()
    assert list(report.subsidy_computed) == list(item_rules)


def test_the_planted_differences_are_named(tables: PortfolioTables) -> None:
    bank = bank_claims(tables, LPR, n_loans=150, seed=4)
    report = reconcile(bank, tables, lpr=LPR).assign(note=bank.bank_note)
    assert (report[report.note == "as computed"].status == "match").all()
    mismatched = report[report.status == "mismatch"]
    assert set(mismatched.note) >= {"typing error", "act_365"}
    for note, cause in (("act_365", {"interest basis"}), ("rounded once", {"rounding stage"}),
                        ("after the window", {"the window", "period boundaries"}),
                        ("period before", {"period boundaries", "interest basis"}), ("typing error", {None})):
        causes = {None if pd.isna(c) else c for c in mismatched[mismatched.note == note].likely_cause}
        assert causes <= cause, (note, causes)
    typos = mismatched[mismatched.note == "typing error"]
    assert ((typos["diff"] > 0) & (typos["diff"] < 1)).all()
    totals = reconcile_totals(report).set_index("status")
    assert totals.rows.drop("compared").sum() == len(report)
    compared = totals.loc["compared"]
    assert compared.subsidy_claimed - compared.subsidy_computed == compared["diff"] == sum(report["diff"].dropna(),
                                                                                           Decimal(0))


def _one_loan(loan: dict[str, object]) -> PortfolioTables:
    project = portfolio(1, seed=2).projects
    frames = {"projects": project,
              "loans": pd.DataFrame([{"loan_id": "B1", "project_id": project.project_id.iloc[0], **loan}]),
              "insurance": pd.DataFrame({"policy_id": pd.Series(dtype=str)}),
              "events": pd.DataFrame({"event_id": pd.Series(dtype=str)})}
    return PortfolioTables(**frames, problems=check_tables(frames), source="one loan", digest="one loan")


def test_a_bank_that_keeps_the_drawdown_rate(tables: PortfolioTables) -> None:
    terms = {"principal": "80000000", "floating_tenor": "5Y", "floating_spread_bp": "-50", "term_months": 60,
             "method": "equal_installment", "start_date": "2024-03-15"}
    one = _one_loan(terms)
    case = loan_cases(one, load_policy(), LPR)["B1"]
    held = Loan(principal="80000000", annual_rate=LPR.rate("5Y", date(2024, 3, 15)) - Decimal("0.005"),
                term_months=60, start_date="2024-03-15")
    rows, _ = reference_schedule(held, LPR)
    subsidy = reference_interest_subsidy(held, rows, case.rule)
    chosen = [k for k, r in enumerate(rows) if r.end_date.year == 2025]
    bank = pd.DataFrame({"loan_id": ["B1"], "from_date": ["2025-01-01"], "to_date": ["2025-12-31"],
                         "interest_charged": [str(sum(rows[k].interest for k in chosen))],
                         "subsidy_claimed": [str(sum(subsidy[k].subsidy for k in chosen))]})
    report = reconcile(bank, one, lpr=LPR)
    assert report.status.iloc[0] == "mismatch" and report.likely_cause.iloc[0] == "rate used"
    assert "drawdown rate held" in report.detail.iloc[0]


def test_a_bank_that_ignores_a_cap_and_one_that_takes_start_dates() -> None:
    policy = Scenario.of({"id": "small cap", "parameters": {"interest_subsidy.total_cap_per_project": "300000"}}
                         ).policy(load_policy())
    one = _one_loan({"principal": "50000000", "annual_rate": "0.04", "term_months": 36,
                     "method": "interest_only", "start_date": "2025-02-10"})
    case = loan_cases(one, policy, LPR)["B1"]
    uncapped = case.periods("test", None, case.rule.model_copy(update={"lifetime_cap": None}))
    capped = case.periods()
    year = capped[capped.end_date.map(lambda d: d.year) == 2026]
    assert sum(year.subsidy) < sum(uncapped[uncapped.end_date.map(lambda d: d.year) == 2026].subsidy)
    bank = pd.DataFrame({"loan_id": ["B1"], "from_date": ["2026-01-01"], "to_date": ["2026-12-31"],
                         "subsidy_claimed": [str(sum(uncapped[uncapped.end_date.map(lambda d: d.year) == 2026].subsidy))]})
    report = reconcile(bank, one, policy, lpr=LPR)
    assert report.likely_cause.tolist() == ["a cap"] and "without the lifetime cap" in report.detail.iloc[0]

    standard = loan_cases(one, load_policy(), LPR)["B1"].periods()
    by_start = standard[standard.start_date.map(lambda d: d.year) == 2025]
    bank = pd.DataFrame({"loan_id": ["B1"], "from_date": ["2025-01-01"], "to_date": ["2025-12-31"],
                         "subsidy_claimed": [str(sum(by_start.subsidy))]})
    report = reconcile(bank, one, lpr=LPR)
    assert report.likely_cause.tolist() == ["period boundaries"] and "start dates" in report.detail.iloc[0]


def test_bad_rows_are_invalid_with_the_reason(tables: PortfolioTables) -> None:
    loan = tables.loans.loan_id.iloc[0]
    rows = [({"period": 1, "subsidy_claimed": None}, "subsidy_claimed is missing"),
            ({"period": 1, "subsidy_claimed": 1.5}, "floats are not accepted"),
            ({"period": 1, "subsidy_claimed": "-1"}, "must be between 0 and 1e12 yuan"),
            ({"period": 1, "subsidy_claimed": "1e30"}, "must be between 0 and 1e12 yuan"),
            ({"period": 1, "subsidy_claimed": "1e999999"}, "digits before the point"),
            ({"period": 1, "subsidy_claimed": "1", "interest_charged": Decimal("1E+40")}, "between 0 and 1e12"),
            ({"from_date": "now", "to_date": "2025-12-31", "subsidy_claimed": "1"}, "is not a date"),
            ({"from_date": pd.Timestamp("2025-01-01 10:00"), "to_date": "2025-12-31", "subsidy_claimed": "1"},
             "is not a date"),
            ({"from_date": pd.NaT, "to_date": "2025-12-31", "subsidy_claimed": "1"}, "give either period or both"),
            ({"period": 1, "subsidy_claimed": "1.001"}, "two decimals at most"),
            ({"period": 1, "from_date": "2025-01-01", "to_date": "2025-12-31", "subsidy_claimed": "1"},
             "give either period or both"),
            ({"subsidy_claimed": "1"}, "give either period or both"),
            ({"from_date": "2025-01-01", "subsidy_claimed": "1"}, "give either period or both"),
            ({"period": 0, "subsidy_claimed": "1"}, "must be at least 1"),
            ({"period": "x", "subsidy_claimed": "1"}, "not a whole number"),
            ({"period": 9999, "subsidy_claimed": "1"}, "no period of the loan is period 9999"),
            ({"from_date": "2025-13-01", "to_date": "2025-12-31", "subsidy_claimed": "1"}, "from_date '2025-13-01'"),
            ({"from_date": "2025-12-31", "to_date": "2025-01-01", "subsidy_claimed": "1"}, "is after to_date")]
    bank = pd.DataFrame([{"loan_id": loan, **r} for r, _ in rows] + [{"loan_id": "NOPE", "period": 1,
                                                                     "subsidy_claimed": "1"}])
    report = reconcile(bank, tables, lpr=LPR)
    for k, (_, reason) in enumerate(rows):
        assert report.status.iloc[k] == "invalid" and reason in report.detail.iloc[k], (k, report.detail.iloc[k])
    assert report.status.iloc[-1] == "unknown_loan" and "'NOPE' is not in the portfolio" in report.detail.iloc[-1]
    with pytest.raises(ValueError, match="need loan_id and subsidy_claimed"):
        reconcile(pd.DataFrame({"loan": ["x"]}), tables, lpr=LPR)


def test_a_rejected_loan_row_makes_its_claims_invalid(tables: PortfolioTables) -> None:
    loans = tables.loans.astype({"principal": object})
    loans.loc[0, "principal"] = Decimal("-5")
    frames = {"projects": tables.projects, "loans": loans, "insurance": tables.insurance, "events": tables.events}
    broken = PortfolioTables(**frames, problems=check_tables(frames), source="broken", digest="broken")
    report = reconcile(pd.DataFrame({"loan_id": [loans.loan_id.iloc[0]], "period": [1], "subsidy_claimed": ["1"]}),
                       broken, lpr=LPR)
    assert report.status.iloc[0] == "invalid" and "loan row 2 is rejected: principal" in report.detail.iloc[0]


def test_reconcile_command(tmp_path: Path, tables: PortfolioTables, capsys) -> None:  # noqa: ANN001
    assert main(["reconcile", "--projects", "300", "--out", str(tmp_path / "demo"), "--lang", "en"]) == 1  # planted
    out = capsys.readouterr().out
    assert "Mismatches by likely cause" in out and "compared" in out
    totals = reconcile_totals(reconcile(bank_claims(portfolio(300, seed=78), LPR), portfolio(300, seed=78), lpr=LPR))
    compared = next(line for line in out.splitlines() if line.lstrip().startswith("compared")).split()
    # every amount printed as the summary's exact figure, thousands separated alike
    assert compared[2:] == [f"{totals[c].iloc[-1]:,}" for c in ("subsidy_claimed", "subsidy_computed", "diff")]
    book = openpyxl.load_workbook(tmp_path / "demo" / "reconcile.xlsx", read_only=True)
    assert book.sheetnames == ["rows", "totals"]
    assert "bank_note" in pd.read_csv(tmp_path / "demo" / "reconcile.csv").columns
    # in Chinese by default: the summary and the workbook (the CSV keeps the engine's ids, for programs)
    assert main(["reconcile", "--projects", "300", "--out", str(tmp_path / "zh")]) == 1
    out = capsys.readouterr().out
    assert "不一致的可能原因" in out and "已比对合计" in out
    book = openpyxl.load_workbook(tmp_path / "zh" / "reconcile.xlsx", read_only=True)
    assert book.sheetnames == ["逐行核对", "合计"]
    rows = list(book["逐行核对"].iter_rows(values_only=True))
    assert rows[0][:2] == ("位置（从0起）", "贷款编号") and {r[rows[0].index("核对结果")] for r in rows[1:]} <= {
        "一致", "不一致", "未知贷款", "无效"}
    assert set(pd.read_csv(tmp_path / "zh" / "reconcile.csv").status) <= {"match", "mismatch", "unknown_loan",
                                                                           "invalid"}
    # a bank file that agrees with the engine exits 0
    folder = tmp_path / "portfolio"
    folder.mkdir()
    for name in ("projects", "loans", "insurance", "events"):
        getattr(tables, name).to_csv(folder / f"{name}.csv", index=False)
    case = next(c for c in loan_cases(tables, load_policy(), LPR).values() if not isinstance(c, str)
                and (c.periods().subsidy > 0).any())
    first = case.periods()[case.periods().subsidy > 0].iloc[0]
    loan_id = next(k for k, c in loan_cases(tables, load_policy(), LPR).items() if c is not None
                   and not isinstance(c, str) and c.loan == case.loan)
    pd.DataFrame({"loan_id": [loan_id], "period": [int(first.period)], "interest_charged": [str(first.interest)],
                  "subsidy_claimed": [str(first.subsidy)]}).to_csv(tmp_path / "bank.csv", index=False)
    assert main(["reconcile", str(tmp_path / "bank.csv"), "--portfolio", str(folder),
                 "--out", str(tmp_path / "mine")]) == 0
    assert main(["reconcile", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x")]) == 2
    assert "missing.csv" in capsys.readouterr().err


def test_cells_are_read_as_evaluate_reads_them(tables: PortfolioTables) -> None:
    """Timestamps, float periods, signed digit text and blanks; duplicate and project-less loans as evaluate."""
    claims = evaluate(tables, load_policy(), lpr=LPR).table
    row = claims[claims.instrument == "interest_subsidy"].iloc[0]
    amount = str(row.gross - row.cut_by_item_rules)
    bank = pd.DataFrame({"loan_id": [row.item_id, row.item_id],
                         "from_date": [pd.Timestamp(f"{row.year}-01-01"), None],
                         "to_date": [pd.Timestamp(f"{row.year}-12-31"), None],
                         "period": [float("nan"), 1.0], "subsidy_claimed": [amount, "0.00"]})
    report = reconcile(bank, tables, lpr=LPR)
    assert report.status.iloc[0] == "match" and report.status.iloc[1] in ("match", "mismatch")

    loans = tables.loans.astype(object)
    target = loans.index[loans.loan_id == row.item_id][0]
    loans.loc[target, "term_months"] = f"+{loans.term_months[target]}"
    loans.loc[target, "grace_months"] = "  "
    duplicate = loans.loc[[target]].assign(principal=Decimal("1"))
    orphan = loans.loc[[0]].assign(loan_id="ORPHAN", project_id=None)
    loans = pd.concat([loans, duplicate, orphan], ignore_index=True)
    frames = {"projects": tables.projects, "loans": loans, "insurance": tables.insurance, "events": tables.events}
    edited = PortfolioTables(**frames, problems=check_tables(frames), source="edited", digest="edited")
    assert evaluate(edited, load_policy(), lpr=LPR).table.item_id.eq(row.item_id).any()
    report = reconcile(pd.DataFrame({"loan_id": [row.item_id, "ORPHAN"], "from_date": [f"{row.year}-01-01"] * 2,
                                     "to_date": [f"{row.year}-12-31"] * 2, "subsidy_claimed": [amount, "1"]}),
                       edited, lpr=LPR)
    assert report.status.tolist() == ["match", "invalid"]
    assert "project_id is missing" in report.detail.iloc[1]


def test_the_report_s_columns_are_exact_and_typed(tables: PortfolioTables) -> None:
    """Money as Arrow decimals (as every result of the API), period and row as integers, blanks as nulls."""
    import pyarrow as pa

    from subsidy_engine.core.columns import MONEY_TYPE

    case_id, case = next((k, c) for k, c in loan_cases(tables, load_policy(), LPR).items()
                         if not isinstance(c, str) and (c.periods().subsidy > 0).sum() > 2)
    periods = case.periods()
    first = periods[periods.subsidy > 0].iloc[0]
    year = periods.end_date.iloc[-1].year
    in_year = periods[periods.end_date.map(lambda d: d.year) == year]
    bank = pd.DataFrame({"loan_id": [case_id, case_id, case_id, "NOPE", case_id],
                         "period": [int(first.period), None, int(first.period), 1, "x"],
                         "from_date": [None, f"{year}-01-01", None, None, None],
                         "to_date": [None, f"{year}-12-31", None, None, None],
                         "interest_charged": [str(first.interest), None, None, None, None],
                         "subsidy_claimed": [str(first.subsidy), "12345678901.01", "0.1", "1", "1"]})
    report = reconcile(bank, tables, lpr=LPR)
    money = pd.ArrowDtype(MONEY_TYPE)
    expected = {"row": pd.ArrowDtype(pa.int64()), "loan_id": pd.ArrowDtype(pa.string()),
                "period": pd.ArrowDtype(pa.int64()), "from_date": pd.ArrowDtype(pa.date32()),
                "to_date": pd.ArrowDtype(pa.date32()), "interest_charged": money, "interest_computed": money,
                "subsidy_claimed": money, "subsidy_computed": money, "diff": money,
                "status": pd.ArrowDtype(pa.string()), "likely_cause": pd.ArrowDtype(pa.string()),
                "detail": pd.ArrowDtype(pa.string())}
    assert list(report.columns) == list(expected)
    assert report.dtypes.to_dict() == expected
    assert report.row.tolist() == [0, 1, 2, 3, 4]
    assert report.status.tolist() == ["match", "mismatch", "mismatch", "unknown_loan", "invalid"]
    assert report.period.tolist()[:4] == [int(first.period), pd.NA, int(first.period), 1]
    assert report.period.isna().tolist() == [False, True, False, False, True]  # 'x' is not a period: null
    assert report.from_date.tolist()[1] == date(year, 1, 1) and report.to_date.isna().tolist()[0]
    # exact values, and nulls where nothing is given or computed
    assert report.subsidy_claimed.tolist()[:4] == [first.subsidy, Decimal("12345678901.01"), Decimal("0.10"),
                                                   Decimal("1.00")]
    assert report.interest_charged.tolist()[0] == first.interest and report.interest_charged.isna()[1:].all()
    computed = sum(in_year.subsidy, Decimal(0))
    assert report.subsidy_computed.tolist()[:3] == [first.subsidy, computed, first.subsidy]
    assert report.interest_computed.tolist()[1] == sum(in_year.interest, Decimal(0))
    assert report["diff"].tolist()[:3] == [Decimal(0), Decimal("12345678901.01") - computed,
                                           Decimal("0.10") - first.subsidy]
    assert report[["subsidy_computed", "diff"]].iloc[3:].isna().all().all()
    assert report.subsidy_claimed.isna().tolist()[4] and report.likely_cause.isna().tolist()[0]
    assert report.detail.iloc[4] == "period 'x' is not a whole number"
    # the totals still add up exactly over the typed columns
    totals = reconcile_totals(report).set_index("status")
    assert totals.loc["compared", "subsidy_claimed"] == first.subsidy + Decimal("12345678901.01") + Decimal("0.1")
    assert totals.loc["compared", "diff"] == sum(report["diff"].dropna(), Decimal(0))
    assert totals.loc["unknown_loan", "subsidy_claimed"] == Decimal("1.00")
    assert totals.loc["invalid", "subsidy_claimed"] == Decimal(0) and totals.rows.drop("compared").sum() == 5


def test_an_empty_claims_table_gives_an_empty_typed_report(tables: PortfolioTables) -> None:
    import pyarrow as pa

    from subsidy_engine.core.columns import MONEY_TYPE

    report = reconcile(pd.DataFrame({"loan_id": [], "period": [], "subsidy_claimed": []}), tables, lpr=LPR)
    assert len(report) == 0 and report["diff"].dtype == pd.ArrowDtype(MONEY_TYPE)
    assert report.period.dtype == pd.ArrowDtype(pa.int64())
    assert reconcile_totals(report).subsidy_claimed.tolist() == [Decimal(0)] * 5


def test_a_portfolio_without_readable_loans_reconciles_without_crashing(tables: PortfolioTables) -> None:
    """Review of issue 17: with every loan row rejected, or no loan at all, the loans were read from an empty
    table holding both spellings of the floating rate, and reconcile raised instead of reporting."""
    import dataclasses

    loans = tables.loans.copy()
    loans["principal"] = "x"
    frames = {"projects": tables.projects, "loans": loans, "insurance": tables.insurance, "events": tables.events}
    rejected = PortfolioTables(**frames, problems=check_tables(frames), source="test", digest="test")
    cases = loan_cases(rejected, load_policy(), LPR)
    assert len(cases) == len(loans) and all("is rejected: principal" in str(c) for c in cases.values())
    no_loans = dataclasses.replace(tables, loans=tables.loans.iloc[:0])
    assert loan_cases(no_loans, load_policy(), LPR) == {}
    report = reconcile(pd.DataFrame({"loan_id": ["L1"], "period": [1], "subsidy_claimed": ["1"]}), no_loans, lpr=LPR)
    assert report.status.tolist() == ["unknown_loan"]


def test_an_unreadable_table_of_another_kind_does_not_stop_the_loans(tables: PortfolioTables) -> None:
    """Review of issue 17: the context read every table up front, so an insurance table without its premium
    column (a problem of the whole table) made reconciling loans raise."""
    frames = {"projects": tables.projects, "loans": tables.loans,
              "insurance": tables.insurance.drop(columns="premium"), "events": tables.events}
    checked = PortfolioTables(**frames, problems=check_tables(frames), source="test", digest="test")
    priced = [{k for k, c in loan_cases(t, load_policy(), LPR).items() if not isinstance(c, str)}
              for t in (checked, tables)]
    assert priced[0] and priced[0] == priced[1]


def test_a_claim_that_did_not_move_a_due_date_off_a_holiday_is_named() -> None:
    """Issue 18: the loan's first due date, Saturday 1 February 2025, falls in the Spring Festival holiday and
    moves to Wednesday the 5th; a bank that charged the period to the 1st is told it is a holiday shift."""
    from subsidy_engine.loans.schedule import amortize
    from subsidy_engine.measures.interest_subsidy import interest_subsidy
    from subsidy_engine.pipeline.inputs import checked_portfolio

    projects = pd.DataFrame({"project_id": ["J1"], "enterprise_id": ["E1"], "domain": ["economic"],
                             "stage": ["pilot"], "total_investment": ["300000000"],
                             "eligible_investment": ["250000000"], "start_date": ["2025-01-01"]})
    loans = pd.DataFrame({"loan_id": ["L1"], "project_id": ["J1"], "principal": ["100000000"],
                          "annual_rate": ["0.03"], "term_months": [12], "start_date": ["2025-01-01"],
                          "business_day": ["following"]})
    tables = checked_portfolio({"projects": projects, "loans": loans}, source="test", digest="test")
    assert tables.problems.empty
    unmoved = Loan(principal=Decimal(100_000_000), annual_rate=Decimal("0.03"), term_months=12,
                   start_date=date(2025, 1, 1))
    rule = load_policy().at(date(2025, 1, 1)).interest_subsidy_rule()
    claimed = Decimal(int(interest_subsidy(amortize(unmoved), rule).subsidy_fen[0])) / 100
    report = reconcile(pd.DataFrame({"loan_id": ["L1"], "period": [1], "subsidy_claimed": [str(claimed)]}), tables,
                       lpr=LPR)
    assert report.status.tolist() == ["mismatch"], report.detail.tolist()
    assert report.likely_cause.iloc[0] == "a holiday shift"
    assert "due dates not moved off days off" in report.detail.iloc[0]


def test_a_loan_settling_interest_on_calendar_days_is_reconciled_without_the_bases_it_cannot_have() -> None:
    """Calendar settlement accrues by the day: the monthly basis is no alternative for it (the loan model refuses
    it), so reconcile skips that one instead of failing with the model's refusal."""
    one = _one_loan({"principal": "60000000", "annual_rate": "0.035", "term_months": 36, "frequency": "quarterly",
                     "start_date": "2025-02-10", "interest_dates": "calendar", "interest_frequency": "quarterly",
                     "interest_basis": "act_360"})
    assert one.problems.empty, one.problems.to_dict("records")
    computed = reconcile(pd.DataFrame({"loan_id": ["B1"], "from_date": ["2026-01-01"], "to_date": ["2026-12-31"],
                                       "subsidy_claimed": ["1"]}), one, lpr=LPR)
    claimed = computed.subsidy_computed.iloc[0] + Decimal("0.01")
    report = reconcile(pd.DataFrame({"loan_id": ["B1"], "from_date": ["2026-01-01"], "to_date": ["2026-12-31"],
                                     "subsidy_claimed": [str(claimed)]}), one, lpr=LPR)
    assert report.status.tolist() == ["mismatch"]
    assert "basis monthly" not in str(report.detail.iloc[0])

"""The command line: the README's main job and the file-to-file command."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook
from pydantic import ValidationError

from subsidy_engine import Loan, load_lpr
from subsidy_engine.core.chinese import to_simplified
from subsidy_engine.io.files import demo_loans_path
from subsidy_engine.service.cli import main

from builders import stderr_lines


def test_demo_prints_the_sample_loan_and_the_portfolio(capsys) -> None:
    assert main(["demo", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "monthly payment              5,307.27" in out
    assert "Loans: 240 in the table, 237 computed, 3 rejected" in out
    assert "BJ-0018   principal       1000000.005 has more than 2 decimal places" in out
    assert "priced partly from the projection 'flat'" in out
    assert "engine 0.1.0" in out
    assert "Claims of a synthetic portfolio (demo.portfolio(5000, seed=78): 5,000 projects" in out
    assert "Allocated to funding sources under the demo budget (budget-demo.yaml, 27 sources" in out
    assert "claims not paid in full" in out
    assert "measure 15" in out and "investment subsidy (measures 1, 2, 4) not evaluated" in out


def test_demo_and_amortize_speak_simplified_chinese_by_default(capsys) -> None:
    """The sample loan, the loan table's summary (its rejected rows' reasons too), the synthetic portfolio's
    claims and the allocation are worded in Simplified Chinese unless --lang en."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "示例贷款：本金1,000,000.00元，年利率4.90%，期限360个月，等额本息" in out
    assert "每月还款额" in out and "5,307.27" in out
    assert "贷款：表中240笔，已计算237笔，拒绝3笔" in out
    assert "1000000.005的小数超过2位（不足一分）" in out and "须在1至600个月之间" in out
    assert "措施15" in out and "按规则削减（元）：单项规则" in out and "高精尖产业发展资金" in out
    assert "未足额安排" in out and "说明：未测算投资补助（措施1、2、4）" in out
    assert to_simplified(out) == out  # no Traditional character (等額本息 was)
    assert main(["amortize", str(demo_loans_path())]) == 1
    out = capsys.readouterr().out
    assert "某次利率重定价日超出LPR数据的覆盖期（2026-06-19）" in out and "组合各年度的利息和本金" in out


def test_amortize_writes_exact_csv(tmp_path, capsys) -> None:
    code = main(["amortize", str(demo_loans_path()), "--out-dir", str(tmp_path), "--output", "both",
                 "--hold-lpr-until", "2045-12-31"])
    assert code == 1  # ran, with three rows rejected
    yearly = pd.read_csv(tmp_path / "yearly.csv", dtype=str)
    schedule = pd.read_csv(tmp_path / "schedule.csv", dtype=str)
    rejections = pd.read_csv(tmp_path / "rejections.csv")
    assert len(rejections) == 3
    assert (rejections.file_row == rejections.row + 2).all()  # the CSV line: the header is line 1
    # amounts are written as exact two-place decimals and add up across the files
    assert yearly.interest.str.fullmatch(r"\d+\.\d\d").all()
    assert sum(map(Decimal, yearly.interest)) == sum(map(Decimal, schedule.interest))
    first = schedule[schedule.loan_id == "BJ-0001"].iloc[0]
    assert Decimal(first.payment) == Decimal(first.interest) + Decimal(first.principal)


def test_without_a_projection_beyond_the_horizon_rows_are_rejected(capsys) -> None:
    assert main(["amortize", str(demo_loans_path()), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "beyond the LPR coverage horizon 2026-06-19" in out


def test_strict_mode_fails_with_the_reason(capsys) -> None:
    assert main(["amortize", str(demo_loans_path()), "--strict", "--hold-lpr-until", "2045-12-31"]) == 2
    assert "row 17 (loan_id 'BJ-0018') principal" in capsys.readouterr().err


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`subsidy-engine demo | head -1`: the pipe closes under a buffered writer, the usual case."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    run = subprocess.Popen([sys.executable, "-c", "from subsidy_engine.service.cli import main; raise SystemExit(main())",
                            "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert run.stdout is not None and run.stderr is not None
    run.stdout.close()  # before the first line: whatever it writes meets a closed pipe
    error = run.stderr.read().decode()
    assert run.wait(timeout=120) == 141, error
    assert "Traceback" not in error and "Exception ignored" not in error, error


# --- issue 15: a bad path, option or cell is one line on stderr and exit code 2, never a traceback ---

def _one_line_error(capsys, argv: list[str], *named: str) -> str:
    """Run the command; it must exit 2 with one line on stderr that names ``named``, and no traceback."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err and "errors.pydantic.dev" not in err, err
    lines = stderr_lines(err)  # an empty numba cache's compile notices aside
    assert len(lines) == 1, err
    for name in named:
        assert name in lines[0], lines[0]
    return lines[0]


def test_a_missing_portfolio_is_named(capsys) -> None:
    _one_line_error(capsys, ["explain", "P46", "--portfolio", "/nonexistent"], "/nonexistent")


def test_a_missing_or_unreadable_loan_table_is_named(tmp_path, capsys) -> None:
    _one_line_error(capsys, ["amortize", "/nonexistent.csv"], "/nonexistent.csv")
    _one_line_error(capsys, ["amortize", str(tmp_path)], str(tmp_path))  # a folder, not a file
    bad = tmp_path / "loans.parquet"
    bad.write_text("not parquet")
    _one_line_error(capsys, ["amortize", str(bad)], str(bad))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("loan_id,principal\nB\xe9,100\n".encode("latin-1"))
    _one_line_error(capsys, ["amortize", str(latin)], str(latin))


def test_a_rate_that_is_not_a_number(capsys) -> None:
    line = _one_line_error(capsys, ["explain", "P1", "--projects", "20", "--rates", "pilot=abc"], "--rates")
    assert "pilot=abc: 'abc' is not a decimal number" in line


def test_rates_for_some_stages_only(tmp_path, capsys) -> None:
    line = _one_line_error(capsys, ["simulate", "--projects", "20", "--rates", "pilot=0.3", "--out",
                                    str(tmp_path / "sim")], "--rates")
    assert "no rate for stages 'demonstration', 'promotion'" in line
    assert "pilot, demonstration, promotion" in line
    assert not (tmp_path / "sim").exists()


@pytest.mark.parametrize(("rates", "said"), [
    ("pilot", "stage=rate"),
    ("", "stage=rate"),
    ("pilot=0.3,demonstration=0.2,promotion=1.5", "promotion=1.5: 1.5 is not a fraction between 0 and 1"),
    ("pilot=0.3,demonstration=0.2,promotion=-0.1", "promotion=-0.1"),
    ("pilot=0.3,demonstration=0.2,promotion=0.1,stage4=0.1", "'stage4' is not a stage"),
    ("pilot=0.3,pilot=0.2,demonstration=0.2,promotion=0.1", "pilot is given twice"),
    ("pilot=0.3,demonstration=0.2,promotion=0.12345678901", "promotion=0.12345678901"),
    ("pilot=nan,demonstration=0.2,promotion=0.1", "pilot=nan"),
    ("pilot=,demonstration=0.2,promotion=0.1", "pilot=: no rate"),
])
def test_every_command_reads_rates_alike(rates: str, said: str, tmp_path, capsys) -> None:
    for argv in (["explain", "P1", "--projects", "20"], ["simulate", "--projects", "20", "--out", str(tmp_path)]):
        _one_line_error(capsys, [*argv, "--rates", rates], "--rates", said)


def test_rates_are_read_exactly() -> None:
    from subsidy_engine.service.cli import _rates

    assert _rates(None) is None
    assert _rates(" Pilot = 0.3 , demonstration=20%,promotion=0.1") == {
        "pilot": "0.3", "demonstration": "0.20", "promotion": "0.1"}
    assert _rates("pilot=0,demonstration=1,promotion=0.0000000001")["promotion"] == "0.0000000001"


@pytest.mark.parametrize("command", [["explain", "P1", "--projects", "20"], ["amortize", str(demo_loans_path())],
                                     ["reconcile", "--projects", "20"], ["demo"],
                                     ["simulate", "--projects", "20", "--quiet"]])
def test_a_bad_lpr_file_or_date_is_named(command: list[str], tmp_path, capsys) -> None:
    out = ["--out", str(tmp_path / "rec")] if command[0] in ("reconcile", "simulate") else []
    _one_line_error(capsys, [*command, *out, "--hold-lpr-until", "notadate"], "--hold-lpr-until", "'notadate'")
    _one_line_error(capsys, [*command, *out, "--lpr", "/nonexistent"], "--lpr", "/nonexistent")
    _one_line_error(capsys, [*command, *out, "--lpr", str(demo_loans_path())], str(demo_loans_path()))
    empty = tmp_path / "lpr.csv"
    empty.write_text("date,lpr_1y_pct,lpr_5y_pct,status,source\n")
    _one_line_error(capsys, [*command, *out, "--lpr", str(empty)], str(empty))


def test_an_unknown_project_is_one_line(capsys) -> None:
    _one_line_error(capsys, ["explain", "NOPE", "--projects", "20"], "'NOPE'")


def test_a_portfolio_file_that_cannot_be_read_is_named(tmp_path, capsys) -> None:
    for name, content in (("book.xlsx", b"not a workbook"), ("zip.xlsx", b"PK\x05\x06" + bytes(18)),
                          ("a/loans.parquet", b"not parquet"), ("b/loans.csv", "loan_id\nB\xe9\n".encode("latin-1")),
                          ("d/extra.csv", b"x\n1\n")):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        where = str(path if path.suffix == ".xlsx" else path.parent)
        _one_line_error(capsys, ["explain", "P1", "--portfolio", where], where)
    _one_line_error(capsys, ["explain", "P1", "--portfolio", "/nonexistent"], "--portfolio /nonexistent")


# --- issue 16, row 12 and build point 5: validate checks what evaluate checks ---

def _write_tables(folder, tables: dict[str, pd.DataFrame]) -> None:
    folder.mkdir(exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)


def _evaluated(folder) -> pd.DataFrame:
    """What simulate and explain would reject: evaluate with their default LPR projection."""

    from subsidy_engine import evaluate, load_portfolio

    return evaluate(load_portfolio(folder), lpr=load_lpr().hold_flat(until=date(2045, 12, 31))).rejections


def test_validate_lists_a_date_before_the_policy_and_a_loan_without_a_project(tmp_path, capsys) -> None:
    """Issue 16, row 12: validate passed a loan drawn in 2019 (no parameter set in force) and a loan
    without a project_id, which evaluate then rejected."""
    from workbooks import people_portfolio

    tables = people_portfolio(20, seed=3)
    loans = tables["loans"].copy()
    loans.loc[0, "start_date"] = "2019-05-01"
    loans.loc[1, "project_id"] = None
    _write_tables(tmp_path / "bad", {**tables, "loans": loans})
    assert main(["validate", str(tmp_path / "bad"), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    first, second = loans.loan_id.iloc[0], loans.loan_id.iloc[1]
    assert f"{first} start_date no parameter set of" in " ".join(out.split())
    assert f"{second} project_id is missing" in " ".join(out.split())
    _write_tables(tmp_path / "clean", tables)
    assert main(["validate", str(tmp_path / "clean"), "--lang", "en"]) == 0
    assert "no problems found" in capsys.readouterr().out
    assert _evaluated(tmp_path / "clean").empty


MUTATIONS = [  # (table, column, value): each makes a row that evaluate rejects
    ("loans", "start_date", "2019-05-01"), ("loans", "project_id", None), ("projects", "start_date", "2020-12-31"),
    ("insurance", "start_date", "2018-01-01"), ("events", "date", "2021-07-21"), ("loans", "principal", "1_000"),
    ("projects", "total_investment", "١٠٠٠"), ("loans", "start_date", "20240315"), ("loans", "term_months", "0"),
    ("insurance", "premium", "-5"), ("projects", "stage", "someday"), ("loans", "loan_id", "L0\x00"),
]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_validate_lists_exactly_the_rows_evaluate_rejects(seed: int, tmp_path, capsys) -> None:
    """Issue 16, build point 5: a clean validate means no rejection later; for generated bad portfolios
    the rows validate lists are evaluate's rejections, reason for reason."""
    import random

    from subsidy_engine.service.cli import _problems_table

    from workbooks import people_portfolio

    rng = random.Random(seed)
    tables = {k: v.copy() for k, v in people_portfolio(30, seed=seed).items()}
    for table, column, value in rng.sample(MUTATIONS, 5):
        frame = tables[table]
        frame.loc[rng.randrange(len(frame)), column] = value
    folder = tmp_path / f"p{seed}"
    _write_tables(folder, tables)
    expected = _evaluated(folder)
    assert len(expected)
    assert main(["validate", str(folder), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert _problems_table(expected) in out
    assert f"; {len(expected)} problems" in out


@pytest.mark.parametrize("given", ["20451231", "2045-W52-7", "2045-365"])
def test_hold_lpr_until_is_year_month_day(given: str, capsys) -> None:
    """Issue 16, row 12: --hold-lpr-until 20451231 was read as 2045-12-31 while the help says YYYY-MM-DD."""
    line = _one_line_error(capsys, ["explain", "P1", "--projects", "20", "--hold-lpr-until", given],
                           "--hold-lpr-until")
    assert f"{given!r} is not an ISO date 'YYYY-MM-DD'" in line


def test_a_validation_error_without_a_field_never_names_a_class() -> None:
    """issue 16, row 12: a model-level error (no field) was said as its model's name, e.g. 'Loan: ...'."""

    from subsidy_engine.core.messages import one_line as _one_line

    with pytest.raises(ValidationError) as caught:
        Loan(principal="1000", term_months=12, start_date="2024-01-01")  # neither rate: the model's own check
    said = _one_line(caught.value)
    assert "Loan" not in said and said.startswith("annual_rate, floating: give exactly one"), said


# Regressions from the first review (each a real failure before its fix)
def test_cli_reports_a_projection_that_ends_too_early(capsys) -> None:
    from subsidy_engine.io.files import demo_loans_path

    assert main(["amortize", str(demo_loans_path()), "--hold-lpr-until", "2025-01-01"]) == 2
    assert "must not end before its data" in capsys.readouterr().err


def test_amortize_reads_a_loan_books_tranches_and_prepayments(tmp_path, capsys) -> None:
    """Issue 18: `amortize --drawdowns F --prepayments F` prices tranche loans; a bad event row rejects its
    loan, named with the row its file shows, and the run ends 1."""
    import csv

    (tmp_path / "loans.csv").write_text(
        "loan_id,principal,annual_rate,term_months,method,interest_basis,start_date\n"
        "A,10000000,0.036,12,interest_only,act_360,2024-01-10\n"
        "B,100,0.04,12,interest_only,act_360,2024-01-10\n", encoding="utf-8")
    (tmp_path / "drawdowns.csv").write_text(
        "loan_id,date,amount\nA,2024-01-10,6000000\nA,2024-02-25,4000000\nB,2024-01-10,-100\n", encoding="utf-8")
    (tmp_path / "prepayments.csv").write_text("loan_id,date,amount,recompute\nA,2024-06-03,1000000,term\n",
                                              encoding="utf-8")
    out = tmp_path / "out"
    code = main(["amortize", str(tmp_path / "loans.csv"), "--drawdowns", str(tmp_path / "drawdowns.csv"),
                 "--prepayments", str(tmp_path / "prepayments.csv"), "--out-dir", str(out), "--output", "schedule"])
    assert code == 1
    schedule = list(csv.DictReader((out / "schedule.csv").open(encoding="utf-8")))
    assert {r["loan_id"] for r in schedule} == {"A"}
    # Feb 10 - Mar 10: 6,000,000 x 29 days + 4,000,000 x 14 days at 3.6% / 360
    assert (schedule[1]["drawn"], schedule[1]["interest"]) == ("4000000.00", "23000.00")
    rejected = list(csv.DictReader((out / "rejections.csv").open(encoding="utf-8")))
    assert [(r["file_row"], r["loan_id"], r["field"]) for r in rejected] == [("3", "B", "drawdowns.amount")]
    assert rejected[0]["reason"] == "(drawdowns row 4) must be positive (at least 0.01 yuan)"


def test_amortize_counts_rejected_loans_not_event_rows_of_no_loan(tmp_path, capsys) -> None:
    """Review of issue 18: the summary counted the -1 row of event rows without a loan as a rejected loan."""
    (tmp_path / "loans.csv").write_text("loan_id,principal,annual_rate,term_months,start_date\n"
                                       "A,100,0.04,12,2024-01-10\n", encoding="utf-8")
    (tmp_path / "prepayments.csv").write_text("loan_id,date,amount\nZ,2024-03-01,1\nY,2024-03-01,1\n",
                                              encoding="utf-8")
    assert main(["amortize", str(tmp_path / "loans.csv"), "--prepayments", str(tmp_path / "prepayments.csv"),
                 "--lang", "en"]) == 1
    assert "1 in the table, 1 computed, 0 rejected" in capsys.readouterr().out


def test_reconcile_a_banks_ledger(tmp_path, capsys) -> None:
    """Issue 18: ``reconcile --ledger FILE`` checks each settlement of a bank's ledger under the bundled policy
    (2.5 points of the balance), names the event behind a difference, reports a bad row with the row its file
    shows, and exits 1."""
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("loan_id,date,kind,amount,rate,subsidy\n"
                      "P-7,2025-03-05,drawdown,30000000,0.036,\n"
                      "P-7,2025-04-18,drawdown,20000000,,\n"
                      "P-7,2025-06-20,interest_settled,452000,,313888.89\n"
                      "P-7,2025-08-11,repayment,10000000,,\n"
                      "P-7,2025-09-01,rate_change,,0.033,\n"
                      "P-7,2025-09-22,interest_settled,427000,,296527.78\n"
                      "Q-1,2025-03-05,drawdown,-5,0.036,\n", encoding="utf-8")
    assert main(["reconcile", "--ledger", str(ledger), "--out", str(tmp_path / "out"), "--lang", "en"]) == 1
    said = capsys.readouterr().out
    assert "2 settlements of 1 loans, 1 not matching; 1 rows rejected" in said
    assert "Mismatches by likely cause: an event ignored 1" in said
    assert "row 8 (loan_id 'Q-1') amount: must be positive" in said
    written = pd.read_csv(tmp_path / "out" / "ledger_reconcile.csv", dtype=str)
    assert written["status"].tolist() == ["match", "mismatch"] and written["row"].tolist() == ["4", "7"]
    assert written["detail"][1].startswith("without the rate_change to 0.033 on 2025-09-01 (row 6)")
    assert main(["reconcile", "--ledger", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o2")]) == 2
    capsys.readouterr()
    # in Chinese by default: the summary, the cause, the rejected row's reason, and the workbook's detail
    assert main(["reconcile", "--ledger", str(ledger), "--out", str(tmp_path / "zh")]) == 1
    said = capsys.readouterr().out
    assert "1笔贷款的2次结息，1次不一致；1行被拒绝" in said and "不一致的可能原因：遗漏了某笔事项 1" in said
    assert "第8行（贷款编号'Q-1'）amount：必须为正数（至少0.01元）" in said
    book = load_workbook(tmp_path / "zh" / "ledger_reconcile.xlsx")
    assert book.sheetnames == ["结息对账", "被拒绝的行"]
    mismatch = [str(cell) for cell in list(book["结息对账"].values)[2]]
    assert "不一致" in mismatch and "遗漏了某笔事项" in mismatch, mismatch
    assert any(cell.startswith("去掉2025-09-01的利率变动（至0.033）（第6行）：利息为") for cell in mismatch), mismatch


def test_simulate_opts_in_to_the_business_day_projection(tmp_path, capsys) -> None:
    """Issue 18: a portfolio whose loans move their due dates past 2026 is priced with
    ``--business-days-beyond weekends``, and the run says so; without it those loans are rejected, with why."""
    from subsidy_engine.simulation.synthetic import portfolio

    tables = portfolio(40, seed=18)
    folder = tmp_path / "book"
    folder.mkdir()
    for name in ("projects", "loans", "insurance", "events"):
        frame = getattr(tables, name)
        if name == "loans":
            frame = frame.assign(business_day="following")
        frame.to_csv(folder / f"{name}.csv", index=False)
    assert main(["simulate", "--portfolio", str(folder), "--out", str(tmp_path / "refused"), "--quiet"]) == 1
    code = main(["simulate", "--portfolio", str(folder), "--out", str(tmp_path / "projected"),
                 "--business-days-beyond", "weekends", "--lang", "en"])
    said = capsys.readouterr().out
    assert code == 0 and "Monday to Friday business days" in said


# -- subsidy-engine quote (issue 19, point 6) ------------------------------------------------------------------------
QUOTE_REQUEST = {
    "project": {"project_id": "P1", "enterprise_id": "E1", "domain": "economic", "stage": "pilot",
                "total_investment": "500000000", "eligible_investment": "400000000", "start_date": "2026-03-01"},
    "loans": [{"loan_id": "L1", "principal": "200000000", "annual_rate": "0.035", "term_months": 360,
               "start_date": "2026-03-15"}]}


def test_quote_prints_the_json_the_service_answers(tmp_path, capsys) -> None:
    import json

    from fastapi.testclient import TestClient

    from subsidy_engine.service.serve import create_app

    request = tmp_path / "request.json"
    request.write_text(json.dumps(QUOTE_REQUEST, ensure_ascii=False), encoding="utf-8")
    assert main(["quote", str(request)]) == 0
    printed = json.loads(capsys.readouterr().out)
    answered = TestClient(create_app()).post("/quote", json=QUOTE_REQUEST)
    assert answered.status_code == 200
    assert printed == answered.json()
    assert [(c["year"], c["amount"]) for c in printed["claims"]][:1] == [(2026, "3726231.94")]


def test_quote_names_each_problem_of_a_request_and_exits_2(tmp_path, capsys) -> None:
    import json

    request = tmp_path / "request.json"
    bad = {**QUOTE_REQUEST, "loans": [{**QUOTE_REQUEST["loans"][0], "principal": "-5", "term_months": 0}]}
    request.write_text(json.dumps(bad), encoding="utf-8")
    assert main(["quote", str(request)]) == 2
    err = capsys.readouterr().err
    assert f"error: {request}: loans.0.principal:" in err and f"error: {request}: loans.0.term_months:" in err
    request.write_text("{not json", encoding="utf-8")
    assert main(["quote", str(request)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["quote", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


# -- help on every option, examples that parse, one name for the output folder (issue 19, point 6) ----------------
def _commands():  # noqa: ANN202
    import argparse

    from subsidy_engine.service.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, subparsers.choices


def test_every_option_and_positional_of_every_command_has_help() -> None:
    import argparse

    _, commands = _commands()
    missing = [f"{name} {action.dest}" for name, command in commands.items() for action in command._actions
               if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip()]
    assert not missing, missing


def test_each_command_s_help_ends_with_examples_that_parse() -> None:
    import shlex

    parser, commands = _commands()
    for name, command in commands.items():
        text = command.format_help()
        assert "Examples:" in text, name
        examples = [line.strip() for line in text.split("Examples:", 1)[1].splitlines()
                    if line.strip().startswith("subsidy-engine ")]
        assert examples, name
        for example in examples:
            words = shlex.split(example.split("  #")[0])[1:]
            assert parser.parse_args(words).command == name, example


def test_the_output_folder_is_out_for_every_command_and_out_dir_still_works(tmp_path) -> None:
    parser, commands = _commands()
    writing = [name for name, command in commands.items()
               if any("--out" in action.option_strings for action in command._actions)]
    assert sorted(writing) == ["amortize", "reconcile", "simulate"]
    loans = str(demo_loans_path())
    assert parser.parse_args(["amortize", loans, "--out", "a"]).out == "a"
    assert parser.parse_args(["amortize", loans, "--out-dir", "b"]).out == "b"  # the old spelling


def test_quote_exits_1_when_the_engine_rejects_a_loan(tmp_path, capsys) -> None:
    import json

    beyond = {**QUOTE_REQUEST, "loans": [{"loan_id": "L1", "principal": "1000000", "annual_rate": "0.04",
                                          "term_months": 36, "start_date": "2025-06-15", "business_day": "following"}]}
    request = tmp_path / "beyond.json"
    request.write_text(json.dumps(beyond), encoding="utf-8")
    assert main(["quote", str(request)]) == 1  # ran, with a rejected row: printed, and said by the exit code
    assert json.loads(capsys.readouterr().out)["rejections"][0]["field"] == "business_day"


def test_quote_names_the_size_of_an_oversize_file_and_a_closed_standard_input(tmp_path, capsys, monkeypatch) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2_000_000 + b"{}")
    assert main(["quote", str(big)]) == 2
    err = capsys.readouterr().err
    assert f"error: {big}: the request is 2,000,002 bytes, more than the 1,000,000 bytes allowed" in err
    monkeypatch.setattr("sys.stdin", None)
    assert main(["quote", "-"]) == 2
    assert "error: standard input:" in capsys.readouterr().err


def test_quote_prints_utf8_json_whatever_the_terminal_s_encoding(tmp_path) -> None:
    import json
    import subprocess
    import sys

    request = tmp_path / "request.json"
    request.write_text(json.dumps(QUOTE_REQUEST), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "subsidy_engine.service.cli", "quote", str(request)],
                          capture_output=True, env={**__import__("os").environ, "PYTHONIOENCODING": "ascii"},
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert "贷款贴息" in json.loads(done.stdout.decode("utf-8"))["explanation"]  # Chinese by default


def test_quote_says_an_error_made_while_wording_the_answer_and_exits_2(tmp_path, capsys, monkeypatch) -> None:
    """Review of issue 20's thirteenth session: a quote's words are made when the answer is written; an error
    then (here planted) was raised outside the command's handling, a traceback rather than its one line."""
    import json

    import subsidy_engine.service.quote as module

    def fails(*_: object) -> str:
        raise ValueError("the words could not be made")

    monkeypatch.setattr(module, "explain_facts", fails)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(QUOTE_REQUEST, ensure_ascii=False), encoding="utf-8")
    assert main(["quote", str(request)]) == 2
    assert "the words could not be made" in capsys.readouterr().err

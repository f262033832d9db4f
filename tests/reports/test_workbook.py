"""report.xlsx as a finance officer opens it (issue 19, points 1 and 2): Chinese sheets and headers by default
(English on request), a number format on every amount and share, a frozen and filtered bold header, names beside
ids, the project detail with who each project is, the unfunded claims with the reason in words, the parameters
with their status (illustrations shaded), a cover; read back with openpyxl and opened by LibreOffice."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from subsidy_engine import load_policy
from subsidy_engine.core.language import name
from subsidy_engine.params.lpr import load_lpr
from subsidy_engine.reports.simulation_report import write_outputs
from subsidy_engine.simulation.montecarlo import monte_carlo
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL, MonteCarloSettings
from subsidy_engine.simulation.simulate import Simulation, simulate
from subsidy_engine.simulation.synthetic import portfolio

YEARS = range(2026, 2031)
ZH_SHEETS = ["封面", "年度汇总", "说明", "按资金来源", "按措施", "按区", "项目明细", "未足额安排", "参数", "被拒绝的行",
             "政府投资"]


@pytest.fixture(scope="module")
def run() -> Simulation:
    return simulate(portfolio(2000, seed=3), YEARS, lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))


@pytest.fixture(scope="module")
def book_zh(run: Simulation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zh")
    write_outputs(run, folder, charts=False)
    return folder / "report.xlsx"


def _rows(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[tuple[object, ...]]:
    return list(sheet.iter_rows(values_only=True))


def test_the_sheets_and_headers_are_chinese_the_header_frozen_filtered_and_bold(book_zh: Path) -> None:
    book = openpyxl.load_workbook(book_zh)
    assert book.sheetnames == ZH_SHEETS
    summary = book["年度汇总"]
    assert [c.value for c in summary[1]] == ["年度", "申请金额（元）", "安排金额（元）", "未安排金额（元）"]
    for sheet in book.worksheets[1:]:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:"), sheet.title
        assert all(c.font.b for c in sheet[1]), sheet.title
        widths = [sheet.column_dimensions[c.column_letter].width for c in sheet[1]]
        assert all(w and w >= 6 for w in widths), sheet.title
    # a header as wide as its text: 以前年度已承诺（元） is ten wide characters
    by_source = book["按资金来源"]
    headers = [c.value for c in by_source[1]]
    assert by_source.column_dimensions["G"].width >= 20 and headers[6] == "以前年度已承诺（元）"


def test_every_amount_has_a_thousands_format_and_reads_back_exactly(run: Simulation, book_zh: Path) -> None:
    book = openpyxl.load_workbook(book_zh)
    detail = book["项目明细"]
    headers = [c.value for c in detail[1]]
    money = [k for k, h in enumerate(headers) if str(h).endswith("（元）")]
    assert len(money) == 4
    for row in detail.iter_rows(min_row=2, max_row=50):
        for k in money:
            assert row[k].number_format == "#,##0.00"
        assert row[headers.index("年度")].number_format == "0"
    # the totals of the detail are the run's, to the fen
    column = headers.index("安排金额（元）")
    total = sum(Decimal(str(r[column])) for r in detail.iter_rows(min_row=2, values_only=True))
    assert total == run.allocation.total_awarded
    first = _rows(book["年度汇总"])[1]
    assert Decimal(str(first[1])) == run.by_year().claimed[0]


def test_names_stand_beside_ids_and_the_project_detail_says_who_each_project_is(run: Simulation,
                                                                               book_zh: Path) -> None:
    book = openpyxl.load_workbook(book_zh, read_only=True)
    measures = _rows(book["按措施"])
    assert measures[0][:3] == ("年度", "措施", "措施名称")
    assert {(m, n) for _, m, n, *_ in measures[1:]} <= {(k, name("measures", k)) for k in range(1, 16)}
    sources = _rows(book["按资金来源"])
    assert sources[0][:2] == ("资金来源代码", "资金来源")
    assert ("gaojingjian_fund", "高精尖产业发展资金") in {r[:2] for r in sources[1:]}
    assert ("district_matching:haidian", "海淀区配套资金") in {r[:2] for r in sources[1:]}
    detail = _rows(book["项目明细"])
    assert detail[0] == ("项目编号", "项目名称", "企业编号", "区代码", "区", "行业代码", "行业领域", "阶段代码", "阶段",
                         "入库项目", "前沿技术方案清单", "开放应用场景", "应用示范案例",
                         "年度", "测算金额（元）", "申请金额（元）", "安排金额（元）", "未安排金额（元）")
    projects = run.claims.portfolio.projects.set_index("project_id")
    flags = ("in_library", "solution_list", "scenario_opened", "demonstration_case")
    seen = set()
    for row in detail[1:]:
        if row[0] is None:  # an item without a project (a listing): its enterprise; no project, no flags
            assert row[2] and row[9:13] == (None,) * 4
            continue
        project = projects.loc[row[0]]
        assert row[1] == project["name"] and row[2] == project["enterprise_id"]
        assert row[4] == name("districts", project["district"]) and row[8] == name("stages", project["stage"])
        assert row[9:13] == tuple("是" if project[flag] else "否" for flag in flags)
        seen |= {(flag, row[k]) for k, flag in enumerate(flags, start=9)}
        assert Decimal(str(row[15])) - Decimal(str(row[16])) == Decimal(str(row[17]))
    assert seen == {(flag, said) for flag in flags for said in ("是", "否")}  # the demo has each flag both ways


def test_the_unfunded_sheet_gives_the_amount_cut_and_the_reason_in_words(run: Simulation, book_zh: Path) -> None:
    book = openpyxl.load_workbook(book_zh, read_only=True)
    rows = _rows(book["未足额安排"])
    headers = rows[0]
    assert headers[-1] == "原因" and "未安排金额（元）" in headers and "项目名称" in headers
    unfunded = run.allocation.unfunded
    assert len(rows) - 1 == len(unfunded) > 0
    words = run.allocation.reasons("zh")
    reasons = [r[-1] for r in rows[1:]]
    assert reasons == [words[str(r)] for r in unfunded.reason]
    assert all("资金" in r or "上限" in r or "来源" in r for r in reasons)
    assert not any("gaojingjian_fund" in r or "money" in r for r in reasons)  # names, not ids, and no English
    cut = headers.index("未安排金额（元）")
    assert sum(Decimal(str(r[cut])) for r in rows[1:]) == sum(unfunded.unfunded, Decimal(0))


def test_the_parameters_sheet_lists_every_value_with_its_status_and_shades_the_illustrations(book_zh: Path) -> None:
    book = openpyxl.load_workbook(book_zh)
    sheet = book["参数"]
    headers = [c.value for c in sheet[1]]
    status, parameter = headers.index("依据类别"), headers.index("参数")
    listed = {row[parameter].value: row for row in sheet.iter_rows(min_row=2)}
    policy = load_policy().sets[0].parameters
    for section, values in policy:
        for key, value in values:
            row = listed[f"{section}.{key}"]
            assert row[status].value == name("statuses", value.status)
            shaded = row[0].fill.fill_type == "solid"
            assert shaded == (value.status != "official"), (section, key)
    assert listed["insurance_premium.eligible_fields"][status].value == "官方"
    assert listed["budget.gaojingjian_fund.caps"][status].value == "推断（示意）"
    assert sheet.cell(row=3, column=headers.index("起始日期") + 1).number_format == "yyyy-mm-dd"


def test_the_cover_says_what_was_run_on_what_with_which_engine_and_the_caveat(run: Simulation,
                                                                               book_zh: Path) -> None:
    cover = dict(r for r in _rows(openpyxl.load_workbook(book_zh, read_only=True)["封面"]) if r[0] is not None)
    assert cover["新型基础设施支持政策资金测算报告"] is None  # the title row
    assert cover["引擎版本"] == run.allocation.provenance.engine_version
    assert cover["输入哈希（SHA-256，含参数文件、预算与情景）"] == run.inputs_sha256
    assert cover["项目组合"] == run.claims.portfolio.source and cover["项目数"] == 2000
    assert "示意" in cover["重要提示"] and "并非实际补贴标准" in cover["重要提示"]
    assert Decimal(str(cover["安排金额合计（元）"])) == run.allocation.total_awarded
    assert cover["未足额安排"] == "未足额安排的申请、差额及原因"  # what each sheet holds


def test_english_on_request(run: Simulation, tmp_path: Path) -> None:
    write_outputs(run, tmp_path, charts=False, lang="en")
    book = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    assert book.sheetnames == ["cover", "summary", "notes", "by source", "by measure", "by district",
                               "project detail", "unfunded", "parameters", "rejected rows", "government investment"]
    assert _rows(book["by measure"])[0] == ("year", "measure", "measure name", "claimed (yuan)", "awarded (yuan)")
    reasons = {r[-1] for r in _rows(book["unfunded"])[1:]}
    assert reasons == {str(r) for r in run.allocation.unfunded.reason}  # the API's words


def test_a_monte_carlo_probability_is_a_percentage(run: Simulation, tmp_path: Path) -> None:
    history = load_lpr()
    mc = monte_carlo(run.claims.portfolio, YEARS, policy=run.claims.policy, budget=run.allocation.budget,
                     history=history, changes=[], settings=MonteCarloSettings(paths=4, seed=2),
                     hold_until=DEFAULT_HOLD_UNTIL)
    write_outputs(run, tmp_path, charts=False, monte_carlo=mc)
    sheet = openpyxl.load_workbook(tmp_path / "report.xlsx")["预算风险"]
    headers = [c.value for c in sheet[1]]
    column = headers.index("超出上限的概率") + 1
    assert sheet.cell(row=2, column=column).number_format == "0.0%"
    assert headers[:2] == ["资金来源代码", "资金来源"]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed here")
def test_libreoffice_opens_the_report_and_shows_the_amounts_as_formatted(run: Simulation, book_zh: Path,
                                                                         tmp_path: Path) -> None:
    # to CSV, every sheet, each cell as shown (LibreOffice's CSV filter options: comma, quote, UTF-8, from line 1,
    # ..., "save cell contents as shown", all sheets)
    options = "44,34,76,1,,0,false,true,true,false,false,-1"
    done = subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
                           "--convert-to", f"csv:Text - txt - csv (StarCalc):{options}", "--outdir", str(tmp_path),
                           str(book_zh)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    written = {p.name.removeprefix("report-").removesuffix(".csv"): p for p in tmp_path.glob("report-*.csv")}
    assert sorted(written) == sorted(ZH_SHEETS), done.stdout
    summary = pd.read_csv(written["年度汇总"], dtype=str)
    assert list(summary.columns) == ["年度", "申请金额（元）", "安排金额（元）", "未安排金额（元）"]
    assert summary.iloc[0, 1] == f"{run.by_year().claimed[0]:,}"  # shown with its thousands separators
    detail = pd.read_csv(written["项目明细"], dtype=str)
    assert len(detail) == openpyxl.load_workbook(book_zh, read_only=True)["项目明细"].max_row - 1


@pytest.mark.parametrize("mode", ["waterfall", "merit", "optimal"])
def test_every_reason_of_every_mode_has_chinese_words(run: Simulation, mode: str) -> None:
    from subsidy_engine import allocate
    from subsidy_engine.core.chinese import to_simplified

    allocation = allocate(run.claims, run.allocation.budget, mode)  # type: ignore[arg-type]
    words = allocation.reasons("zh")
    used = {str(r) for r in allocation.awards.reason} | {str(r) for r in allocation.unfunded.reason}
    assert used <= set(words)
    for english in used:
        chinese = words[english]
        assert chinese != english and to_simplified(chinese) == chinese
        assert not any(source.id in chinese for source in allocation.budget.sources), chinese
    assert allocation.reasons("en") == {r: r for r in words}


def test_rows_rejected_are_counted_as_rows_and_the_scenario_s_are_in_the_workbook(tmp_path: Path) -> None:
    """Review of issue 19: the cover counted problems (a loan row with two bad cells counted twice) where the
    summary line counts rows; and the scenario's rejected rows, a sheet of their own before, were left out."""
    from subsidy_engine.simulation.simulate import Comparison

    tables = portfolio(300, seed=3)
    loans = tables.loans.astype(object).copy()
    loans.loc[0, "frequency"], loans.loc[0, "method"] = "按月", "等额本息"  # one row, two problems
    from subsidy_engine.pipeline.inputs import checked_portfolio

    bad = checked_portfolio({"projects": tables.projects, "loans": loans, "insurance": tables.insurance,
                             "events": tables.events}, source="test", digest="0" * 64)
    lpr = load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL)
    run = simulate(bad, YEARS, lpr=lpr)
    assert len(run.claims.rejections) == 2
    other = simulate(bad, YEARS, lpr=lpr, label="other")
    write_outputs(run, tmp_path, charts=False, comparison=Comparison(run, other))
    book = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    cover = dict(r for r in _rows(book["封面"]) if r[0] is not None)
    assert cover["被拒绝的输入行"] == 1
    assert "情景被拒绝的行" in book.sheetnames and book["情景被拒绝的行"].max_row == 3  # header and 2 problems
    import json

    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["rejected_rows"] == 1

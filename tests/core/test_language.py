"""The vocabulary file (issue 19, point 1): every name in both languages, the Chinese in Simplified characters,
the same fields in both wordings of a sentence, and a name for everything the engine shows."""

from __future__ import annotations

import re
import string
import typing

import pytest

from subsidy_engine import load_policy
from subsidy_engine.core.chinese import to_simplified
from subsidy_engine.core.language import LANGUAGES, Lang, column_kind, name, source_name, text, vocabulary
from subsidy_engine.core.vocabulary import STAGES, VENUES, Domain, PlatformType, ProductField, Stage
from subsidy_engine.params.policy import Instrument
from subsidy_engine.simulation.synthetic import DISTRICTS, SECTORS

KINDS = {"money", "share", "number", "integer", "year", "date", "boolean", "text", "long_text"}


def _entries() -> list[tuple[str, str, dict[str, object]]]:
    return [(section, key, entry) for section, entries in vocabulary().items() for key, entry in entries.items()]


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_every_name_has_both_languages_simplified_chinese_and_the_same_fields() -> None:
    for section, key, entry in _entries():
        assert set(LANGUAGES) <= set(entry) <= {*LANGUAGES, "kind"}, (section, key, entry)  # an unquoted comma
        zh, en = entry["zh"], entry["en"]
        assert isinstance(zh, str) and isinstance(en, str) and zh.strip() and en.strip(), (section, key)
        assert to_simplified(zh) == zh, (section, key, zh)  # no Traditional character
        assert _fields(zh) == _fields(en), (section, key)
        if section == "columns":
            assert entry["kind"] in KINDS, key


def test_everything_the_engine_shows_has_a_name() -> None:
    assert [name("measures", n) for n in range(1, 16)] == [name("measures", str(n)) for n in range(1, 16)]
    assert all(name("measures", n) != str(n) for n in range(1, 16))
    known = {"instruments": typing.get_args(Instrument), "sectors": SECTORS, "districts": DISTRICTS,
             "stages": [s.value for s in Stage], "domains": [d.value for d in Domain],
             "platform_types": [p.value for p in PlatformType], "product_fields": [f.value for f in ProductField],
             "statuses": ["official", "official-analog", "inferred"], "modes": ["waterfall", "merit", "optimal"],
             "venues": VENUES, "listing_stages": STAGES}
    for section, keys in known.items():
        missing = set(keys) - set(vocabulary()[section])
        assert not missing, (section, missing)
    parameters = load_policy().sets[0].parameters.model_dump()
    dotted = {f"{s}.{p}" for s, values in parameters.items() for p in values}
    assert not dotted - set(vocabulary()["parameters"])


def test_an_unknown_key_is_shown_by_its_id_and_an_unknown_language_is_refused() -> None:
    assert name("sectors", "quantum_networks") == "quantum_networks"
    assert name("sectors", "quantum_networks", default="") == ""
    assert column_kind("claimed") == "money" and column_kind("not_a_column") is None
    with pytest.raises(ValueError, match="'zh', 'en'"):
        Lang.parse("fr")
    assert Lang.parse(" EN ") is Lang.EN


def test_source_names_come_from_the_budget_in_chinese_else_from_the_id() -> None:
    assert source_name("gaojingjian_fund", None, "zh") == "高精尖产业发展资金"
    assert source_name("gaojingjian_fund", "市高精尖资金", "zh") == "市高精尖资金"
    assert source_name("gaojingjian_fund", "市高精尖资金", "en") == "Gaojingjian fund (high-end industry)"
    assert source_name("sector_budget:smart_city", None, "zh") == "智慧城市主管部门预算"
    assert source_name("district_matching:beijing_eda", None, "en") == "Beijing E-Town (BDA) district matching"
    assert source_name("lottery_fund", "彩票公益金", "en") == "彩票公益金"  # no English known: its own name
    assert source_name("lottery_fund", None, "en") == "lottery_fund"
    assert text("reasons", "joined", "zh", first="甲", second="乙") == "甲；乙"


def test_every_worded_reason_is_one_a_reader_gives() -> None:
    """The input reasons are keyed by their exact English text: each must still be written in the package, so
    that a reworded reason does not silently lose its Chinese."""
    from datetime import date
    from pathlib import Path

    import subsidy_engine

    source = "".join(p.read_text(encoding="utf-8") for p in Path(subsidy_engine.__file__).parent.rglob("*.py"))
    source = re.sub(r"[\"']\s*\n\s*f?[\"']", "", source)  # a text the code writes over two lines, as one
    pythons = set()  # Python's own words for a date that does not exist, which the date reader quotes
    for made in ((2026, 13, 1), (2026, 2, 30)):
        try:
            date(*made)
        except ValueError as exc:
            pythons.add(str(exc))
    for key, entry in vocabulary()["input_reasons"].items():
        english = str(entry["en"])
        if "{" in english:  # a template with values: read back from what the readers write (the tests below)
            continue
        if key == english:
            assert english in source, english
        else:
            assert english in pythons, english


def test_the_readers_reasons_with_values_are_read_back_in_chinese() -> None:
    """Each reason with values is made here through the reader that writes it, and must read back in Chinese:
    the vocabulary's English template and the reader's words cannot drift apart unnoticed."""
    import numpy as np
    import pandas as pd

    from subsidy_engine.core.language import reason_in
    from subsidy_engine.io import column_readers

    rej = column_readers.Rejections(6)
    column_readers.decimal_units(pd.Series(["abc", "1000,50", "1 000", "5%", "78.123", "12"]), 2, "amount", rej,
                                 percent=False, units=True)
    column_readers.date_column(pd.Series(["2026-13-01", "x", None, None, None, None]), "date", rej)
    reasons = [str(r) for rows, _, reason in rej.items for r in np.atleast_1d(reason)[: len(rows)]]
    assert len(reasons) == 7, reasons
    for english in reasons:
        chinese = reason_in(english, "zh")
        assert chinese != english and to_simplified(str(chinese)) == chinese, english
    nested = "its project P1 is rejected (row 4, total_investment: 'abc' is not a decimal number)"
    assert reason_in(nested, "zh") == "所属项目P1已被拒绝（第4行，total_investment：'abc'不是数字）"


def test_every_note_the_engine_words_renders_its_english_from_the_same_template() -> None:
    """A note's English is the engine's text; its vocabulary entry must say the same, so that the Chinese beside
    it translates what the English says (a note of each kind made through its code)."""
    from datetime import date

    from subsidy_engine.core.language import Sentence, in_language
    from subsidy_engine.params.business_days import BusinessCalendar

    note = BusinessCalendar.of([], [], date(2025, 1, 1), date(2025, 12, 31), "test").with_weekend_projection(
    ).projection_note()
    assert isinstance(note, Sentence)
    assert text("notes", note.key, "en", **note.fields) == note
    assert in_language(note, "zh").startswith("2025-12-31（工作日历test的最后一天）之后")


def test_the_rarer_reasons_read_in_chinese() -> None:
    """Hostile loans, plans and events make the readers' rarer reasons (the suite's guard, conftest's
    ``every_reason_is_worded``, holds every reason any test makes to a Chinese wording): each reads in
    Chinese, a nested one too."""
    from datetime import datetime

    import pandas as pd

    from subsidy_engine.core.language import reason_in
    from subsidy_engine.loans.arrays import arrays_from_frame
    from subsidy_engine.pipeline.inputs import check_tables

    base = {"principal": "1000000", "annual_rate": "0.0385", "term_months": "36", "start_date": "2024-03-01"}
    hostile = [
        {"annual_rate": "1.5"}, {"annual_rate": None, "floating_tenor": "1y", "floating_spread_bp": "20000"},
        {"term_months": "700"}, {"method": "custom", "grace_months": "3"}, {"settlement_day": "40"},
        {"start_date": "9998-06-01"}, {"annual_rate": "3万"}, {"principal": "1e99999999999999999999"},
        {"principal": "1" + "0" * 40}, {"principal": True}, {"start_date": 3.5}, {"principal": "1_000"},
        {"start_date": datetime(2024, 3, 1, 10, 30)}, {"start_date": "2024-02-30"},
        {"interest_dates": "calendar", "interest_frequency": "monthly", "interest_basis": "monthly"},
        {"method": "custom", "principal_plan": "abc"}, {"method": "custom", "principal_plan": ["1"] * 5},
        {"method": "custom", "principal_plan": ["-1"] * 36},
        {"method": "custom", "principal_plan_unit": "fraction", "principal_plan": ["0.5"] * 36},
        {"method": "custom", "principal_plan_unit": "fraction", "principal_plan": ["0." + "1" * 30] * 36},
        {"method": "custom", "principal_plan": ["1"] * 36}, {"method": "custom", "principal_plan": ["x"] * 36},
    ]
    loans = pd.DataFrame([{**base, **row, "loan_id": f"L{k}"} for k, row in enumerate(hostile)])
    reasons = set(arrays_from_frame(loans)[2].reason)
    projects = pd.DataFrame([{"project_id": "P1", "enterprise_id": "E1", "domain": "economic", "stage": "pilot",
                              "total_investment": "1e8", "eligible_investment": "1e8", "start_date": "2024-01-01"}])
    plain = pd.DataFrame([{**base, "loan_id": f"L{k}", "project_id": "P1"} for k in range(4)])
    drawdowns = pd.DataFrame([("L0", "2024-03-01", "500000"), ("L0", "2024-03-01", "500000"),
                              ("L1", "2024-03-01", "400000"), ("L1", "2024-06-01", "600000")],
                             columns=["loan_id", "date", "amount"])
    prepayments = pd.DataFrame([("L1", "2024-02-01", "100", "payment"), ("L3", "2028-03-01", "100", "term")],
                               columns=["loan_id", "date", "amount", "recompute"])
    reasons |= set(check_tables({"projects": projects, "loans": plain, "drawdowns": drawdowns,
                                 "prepayments": prepayments}).reason)
    assert len(reasons) >= 28, sorted(reasons)
    for english in reasons:
        chinese = str(reason_in(english, "zh"))
        assert chinese != english and to_simplified(chinese) == chinese, english
        assert not re.search(r"[a-z]{3,} [a-z]{3,}", chinese), chinese  # no English sentence left inside


def test_places_kinds_and_lists_inside_a_sentence_are_worded_and_other_texts_left_alone() -> None:
    """Review of issue 19: a sheet of a workbook, a column without a header, a ledger row's kind, the interest
    bases and the list of tables are worded inside a sentence; a text that only looks like a template (" of "
    in it) is left as it is, not garbled."""
    from subsidy_engine.core.language import Sentence, in_language, reason_in

    assert in_language(Sentence("x", "column_set_aside", where="h4.xlsx, sheet 'projects'", column="column S")) == \
        "h4.xlsx，工作表“projects”：第S列有数据但没有表头，已略过"
    assert in_language(Sentence("x", "sheet_set_aside", file="a.xlsx", sheet="说明", tables="projects, loans")) == \
        "a.xlsx：工作表“说明”不是数据表（projects、loans），已略过"
    assert reason_in("interest_dates 'calendar' accrues each day's balance, on act_360 or act_365") == \
        "按日历结息按每日余额计息，计息基准须为act_360或act_365"
    assert reason_in("without the repayment of 10,000,000.00 on 2025-08-11 (row 4), the interest is 282,000.00") \
        == "去掉2025-08-11的10,000,000.00的还款（第4行）：利息为282,000.00"
    for untouched in ("the sum of the drawdowns is zero", "'\"it's\" is not one of 'a', 'b'", "is not a date: 1"):
        assert reason_in(untouched) == untouched


def test_a_hostile_value_is_quoted_by_its_start_and_a_long_text_is_not_read() -> None:
    """Review of issue 19: a 30,000-character word in a column of choices was quoted whole in its reason, and
    reading such a reason back against the templates backtracked for minutes. The reason quotes the value's
    start and length; a text longer than any the engine writes is left as it is, unread."""
    import pandas as pd

    from subsidy_engine.core.language import LONGEST_READ, reason_in
    from subsidy_engine.measures.investment import read_projects

    crafted = "1 is not the rate in force on 2 (" * 900
    projects = pd.DataFrame([{"project_id": "P1", "enterprise_id": "E1", "domain": "economic", "stage": crafted,
                              "total_investment": "1e8", "eligible_investment": "1e8", "start_date": "2024-01-01"}])
    reason = read_projects(projects)[2].reason.iloc[0]
    assert len(reason) < 200 and f"({len(crafted):,} characters)" in reason, reason
    assert reason_in(reason) != reason  # worded
    too_long = f"'{crafted}' is not a decimal number"
    assert len(too_long) > LONGEST_READ and reason_in(too_long) == too_long


def test_an_event_of_tables_made_in_python_is_worded_by_its_position() -> None:
    """Tables made in Python have no file rows: a loan's event is named ``prepayments[0]`` (a Monte Carlo test's
    loan refused on some paths showed it in English, nested in its prepayment row's reason)."""
    from subsidy_engine.core.language import reason_in

    inner = "prepayments[0]: 9436400.00 on 2027-03-10 is more than the balance then (9432238.33)"
    assert reason_in(inner, "zh") == "提前还款表[0]：2027-03-10的9436400.00超过当时的余额（9432238.33）"
    assert reason_in(f"its loan Y is rejected (loans row 4, loan: {inner})", "zh") == (
        "所属贷款Y已被拒绝（贷款表第4行，loan：提前还款表[0]：2027-03-10的9436400.00超过当时的余额（9432238.33））")


def test_a_table_of_python_types_that_cannot_be_read_says_so_in_chinese() -> None:
    """Review: a float or boolean money column of a table built in Python is a problem of the whole table, whose
    reason had no Chinese wording."""
    import pandas as pd

    from subsidy_engine.core.language import reason_in
    from subsidy_engine.pipeline.inputs import check_tables

    awards = {"award_id": ["A1"], "enterprise_id": ["E"], "kind": ["reward"], "decision_date": ["2026-05-01"]}
    for amount, said in (([1000.5], "列'amount'为二进制浮点数（float64）"), ([True], "列'amount'为是/否值，不是数字")):
        problems = check_tables({"awards": pd.DataFrame({**awards, "amount": amount})})
        chinese = reason_in(problems.reason[problems.table == "awards"].iloc[0], "zh")
        assert str(chinese).startswith(said) and str(chinese).endswith("其1行均未读取"), chinese

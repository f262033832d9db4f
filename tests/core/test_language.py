"""The vocabulary file (issue 19, point 1): every name in both languages, the Chinese in Simplified characters,
the same fields in both wordings of a sentence, and a name for everything the engine shows."""

from __future__ import annotations

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
    from pathlib import Path

    import subsidy_engine

    source = "".join(p.read_text(encoding="utf-8") for p in Path(subsidy_engine.__file__).parent.rglob("*.py"))
    for english, entry in vocabulary()["input_reasons"].items():
        if "{" in str(entry["en"]):  # a template with values: read back from what the readers write (the next test)
            continue
        assert f'"{english}"' in source and entry["en"] == english, english


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

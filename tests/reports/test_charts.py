"""Charts a finance officer can read (issue 19, point 4): Chinese drawn with the font the package carries, sources by
name, a unit chosen per chart so that no amount that is not zero reads 0, and each source's cap drawn."""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from hypothesis import given
from hypothesis import strategies as st

from subsidy_engine.core.language import names, vocabulary
from subsidy_engine.params.budget import load_budget
from subsidy_engine.params.lpr import load_lpr
from subsidy_engine.reports.charts import FONT_FILE, amount_label, caps_chart, font_family, outlay_chart, unit_for
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL
from subsidy_engine.simulation.simulate import Simulation, simulate
from subsidy_engine.simulation.synthetic import portfolio

FONT = resources.files("subsidy_engine.reports").joinpath("fonts", FONT_FILE)


@pytest.fixture(scope="module")
def run() -> Simulation:
    return simulate(portfolio(2000, seed=3), range(2026, 2031), lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))


def test_the_package_carries_its_font_and_it_has_every_character_the_charts_write() -> None:
    assert FONT.is_file() and resources.files("subsidy_engine.reports").joinpath("fonts", "LICENSE-OFL.txt").is_file()
    cmap = TTFont(str(FONT)).getBestCmap()
    written = "".join(str(entry["zh"]) for entries in vocabulary().values() for entry in entries.values())
    written += "".join(s.name or "" for s in load_budget().sources) + "0123456789,.%-"
    missing = {c for c in written if ord(c) not in cmap and not c.isspace()}
    assert not missing
    from matplotlib import font_manager

    found = font_manager.findfont(font_manager.FontProperties(family=font_family()), fallback_to_default=False)
    assert Path(found).name == FONT_FILE  # matplotlib draws with the packaged file, not a system font


@given(st.integers(min_value=1, max_value=10**13), st.sampled_from([10**8, 10**4, 1]), st.booleans(),
       st.sampled_from(["zh", "en"]))
def test_no_amount_that_is_not_zero_reads_zero(fen: int, unit_size: int, negative: bool, lang: str) -> None:
    yuan = (-fen if negative else fen) / 100
    key = {10**8: "yi", 10**4: "wan", 1: "yuan"}[unit_size]
    label = amount_label(yuan, (key, unit_size), lang)
    digits = label.rstrip("亿万元 abcdefghijklmnopqrstuvwxyz").replace(",", "")
    assert float(digits) != 0, label


def test_the_unit_follows_the_largest_amount() -> None:
    assert [unit_for(v)[0] for v in (5.9e9, 1e8, 99_999_999, 1e4, 9_999.99, 0)] == ["yi", "yi", "wan", "wan", "yuan",
                                                                                     "yuan"]
    assert amount_label(1_867_708.33, ("yi", 10**8)) == "186.8万元"
    assert amount_label(1_867_708.33, ("yi", 10**8), "en") == "1,867,708 yuan"


def test_the_charts_draw_in_chinese_and_in_english_with_no_glyph_missing(run: Simulation, tmp_path: Path) -> None:
    for lang in ("zh", "en"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outlay = outlay_chart(run, tmp_path / f"outlay_{lang}.png", lang=lang)
            caps = caps_chart(run, tmp_path / f"caps_{lang}.png", lang=lang)
        glyphs = [str(w.message) for w in caught if "Glyph" in str(w.message) or "missing from" in str(w.message)]
        assert not glyphs, glyphs
        for png in (outlay, caps):
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    assert set(names("source_groups", "zh").values()) >= {"高精尖产业发展资金", "区级配套资金"}


def test_a_source_named_in_traditional_characters_is_drawn_without_a_missing_glyph(tmp_path: Path) -> None:
    """Review of issue 19: the packaged font holds GB 2312; a budget naming its sources in Traditional characters
    (as the bundled files once did) drew boxes. A chart in Chinese shows the names in Simplified characters (the
    report keeps them as given)."""
    from subsidy_engine import Budget

    budget = Budget.of({"id": "city", "status": "inferred", "basis": "a test", "years": [2026, 2030],
                        "sources": [{"id": "gaojingjian_fund", "name": "高精尖產業發展資金", "level": "municipal",
                                     "caps": "900000000"},
                                    {"id": "district_matching:haidian", "name": "海澱區配套資金", "level": "district",
                                     "matching_share": "0.5", "caps": "300000000"}]})
    run = simulate(portfolio(300, seed=8), range(2026, 2031), budget=budget,
                   lpr=load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        caps_chart(run, tmp_path / "caps.png")
        outlay_chart(run, tmp_path / "outlay.png")
    glyphs = [str(w.message) for w in caught if "Glyph" in str(w.message)]
    assert not glyphs, glyphs

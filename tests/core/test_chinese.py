"""Clause quotes of 78號 in Simplified characters (issue 19, point 1): the parameter file keeps the source's text,
the people-facing text converts it with OpenCC, and the source's artefacts of an earlier conversion come out as
the Simplified words they stand for."""

from __future__ import annotations

from subsidy_engine import load_policy
from subsidy_engine.core.chinese import to_simplified


def test_the_clauses_are_quoted_in_simplified_characters_and_the_file_keeps_its_text() -> None:
    clauses = load_policy().clauses
    closing = clauses["closing"]
    # the file is verbatim: 機製 and 製定 are the source's (a Simplified text once converted to Traditional)
    assert "機製" in closing and "製定" in closing
    simplified = to_simplified(closing)
    assert "机制" in simplified and "制定" in simplified and "高精尖产业发展资金" in simplified
    for quote in map(to_simplified, clauses.values()):
        assert not set(quote) & set("幹製機資產業發貼經號與為"), quote  # no Traditional form left
    assert to_simplified("若幹") == "若干" and to_simplified("京經信發〔2021〕78號") == "京经信发〔2021〕78号"


def test_explain_quotes_the_clauses_it_cites_in_simplified_characters() -> None:
    from subsidy_engine.pipeline.explain import _References  # the block that lists the clauses cited

    refs = _References(load_policy())
    refs.clause("closing")
    text = "\n".join(refs.lines())
    assert "进一步制定实施细则" in text and "製定" not in text

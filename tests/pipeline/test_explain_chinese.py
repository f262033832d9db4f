"""explain in Simplified Chinese by default (issue 19, point 1): every instrument's lines, the cuts and the
references in Chinese words from the vocabulary file, and the English wording on request."""

from __future__ import annotations

import re

from subsidy_engine import evaluate, explain, load_policy
from subsidy_engine.core.chinese import to_simplified
from subsidy_engine.params.lpr import load_lpr
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL
from subsidy_engine.simulation.synthetic import portfolio

ENGLISH = re.compile(r"\b(Project|Rule|Loan|Formula|Values|Own caps|Gross|Amount|May draw on|Funding|Note|Policy|"
                     r"Listing step|REITs issuance|Drawn in|Prepaid|claim\(s\)|measure|Sources of|Clauses of)\b")


def test_every_instrument_is_explained_in_chinese_and_in_english_on_request() -> None:
    claims = evaluate(portfolio(600, seed=4), load_policy(), range(2024, 2031), lpr=load_lpr().hold_flat(
        until=DEFAULT_HOLD_UNTIL), rate_by_stage={"pilot": "0.3", "demonstration": "0.2", "promotion": "0.1"})
    table = claims.table.dropna(subset=["project_id"])
    covered: set[str] = set()
    picked = []
    for project, instruments in table.groupby("project_id")["instrument"]:
        if not set(instruments) <= covered:
            covered |= set(instruments)
            picked.append(str(project))
    assert covered >= {"interest_subsidy", "premium_subsidy", "investment_subsidy", "reits_grant"}, covered
    for project in picked:
        said = explain(claims, project)
        assert said.startswith(f"项目{project}，企业"), said[:80]
        for line in said.splitlines():
            if re.match(r"^\s+\[\d+\]", line):  # a source's title, as the parameter file gives it
                continue
            # a parameter cited (its name and value as the file gives them), and claim ids, are data
            shown = re.sub(r"[A-Za-z_]+\.[a-z_]+ = [^（]*|[a-z_]+:[A-Za-z0-9_:]+|beijing-analog-defaults", "", line)
            assert not ENGLISH.search(shown), line
            assert not re.search(r"\b[a-z]+_[a-z_]+\b", shown), line  # an instrument or field by its id
            assert to_simplified(line) == line, line
        english = explain(claims, project, lang="en")
        assert english.startswith(f"Project {project} of enterprise") and "Formula:" in english


def test_a_parameter_changed_in_place_is_cited_as_it_is_now() -> None:
    """Review of issue 20's thirteenth session: citations were remembered by parameter set and name, so a group of
    從優不重複 changed in place (which stacking reads by value) was still cited as it had been."""
    from subsidy_engine import load_policy
    from subsidy_engine.pipeline.explain import _References

    policy = load_policy()  # this test's own: its list is changed in place below
    parameters = policy.sets[0]
    groups = parameters.parameters.stacking.most_favourable_only.value
    first = _References(policy, "en").cite(parameters, "stacking.most_favourable_only")
    groups[0].append("premium_subsidy")
    try:
        again = _References(policy, "en").cite(parameters, "stacking.most_favourable_only")
    finally:
        groups[0].pop()
    assert "premium_subsidy" not in first and "premium_subsidy" in again

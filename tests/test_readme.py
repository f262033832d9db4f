"""The README's Python example runs, and its first section has the two commands CI uses."""

import re
from decimal import Decimal
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for code in blocks:  # in order, sharing names, as a reader would type them
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["schedule"].total_interest == Decimal("910615.12")
    assert len(namespace["result"].rejections) > 0
    assert namespace["subsidy"].total == Decimal("49274.69")  # = the Decimal reference
    claims = namespace["claims"]
    assert claims.rejections.empty and claims.total > 0
    notes = list(claims.notes)
    assert not [n for n in notes if "investment subsidy" in n]  # rates were given
    assert [n for n in notes if "LPR projection 'flat'" in n]  # issue 16, row 11: the projection is said
    comparison = namespace["comparison"]
    assert (comparison.by_year().delta_awarded != 0).any()
    assert namespace["paths"].awarded_fen.shape[0] == 20
    tranches = namespace["tranches"]  # issue 18: a tranche loan prepaid keeping its payment
    assert (tranches.rows[2].drawn, tranches.rows[2].interest) == (Decimal("20000000.00"), Decimal("97000.00"))
    assert tranches.periods == 51 and tranches.rows[-1].closing_balance == 0
    settled = namespace["settled"]  # issue 18: 按季結息 on the 20th across the Spring Festival
    assert [(str(r.end_date), r.interest, r.principal) for r in settled.rows[:3]] == [
        ("2025-12-22", Decimal("137500.00"), Decimal("0.00")), ("2026-02-24", Decimal("0.00"), Decimal("12500000.00")),
        ("2026-03-20", Decimal("340625.00"), Decimal("0.00"))]
    assert str(settled.rows[6].end_date) == "2026-09-20"
    checked = namespace["checked"].settlements  # issue 18: a bank's ledger reconciled
    assert checked["status"].tolist() == ["match", "mismatch"]
    assert checked["interest"].tolist() == [Decimal("452000.00"), Decimal("419666.67")]
    assert checked["detail"][1] == ("without the rate_change to 0.033 on 2025-09-01 (row 4), the interest is "
                                    "427,000.00, the subsidy is 118,611.11")


def test_ci_runs_the_readme_test_command() -> None:
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.*?)\n```", text, re.S)
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert commands[1] == ci
    assert commands[0].endswith("subsidy-engine simulate")


def test_the_table_of_the_fifteen_measures_quotes_each_clause_as_the_parameter_file_has_it() -> None:
    """Issue 21, point 4: each measure has a row, and each excerpt is the policy's words as the parameter file
    quotes them (explain cites the same file)."""
    import yaml

    from subsidy_engine.params.lpr import schedules_dir

    clauses = yaml.safe_load((schedules_dir() / "policy-78.yaml").read_text(encoding="utf-8"))["clauses"]
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### What each of the fifteen measures becomes"):text.index("## On a fresh machine")]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| #")]
    by_measure = {row[0]: row for row in rows}
    assert [k for k in by_measure if k.isdigit()] == [str(m) for m in range(1, 16)]
    for measure, row in by_measure.items():
        quoted = clauses["closing" if measure == "all" else measure]
        for excerpt in row[3].split("…"):
            assert excerpt and excerpt in quoted, (measure, excerpt)

"""A district or sector named in Chinese is its id wherever the engine reads one (second review of issue 19): a
file, tables built in Python, a quote, a claims table given to allocate, a budget's eligibility. The same project
gets the same money however its district is written."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from subsidy_engine import Budget, allocate, evaluate, load_budget, load_lpr, load_policy
from subsidy_engine.core.language import id_of_name, name
from subsidy_engine.pipeline.inputs import checked_portfolio
from subsidy_engine.simulation.scenario import DEFAULT_HOLD_UNTIL
from subsidy_engine.simulation.synthetic import portfolio

LPR = load_lpr().hold_flat(until=DEFAULT_HOLD_UNTIL)
YEARS = range(2026, 2031)


def test_names_in_any_spelling_are_ids_and_other_text_stays() -> None:
    assert [id_of_name(v, "districts") for v in ("海淀区", "海淀", "海澱區", "豐台區", "丰台", "Haidian", " 朝阳 区 ",
                                                  "ｈａｉｄｉａｎ", "北京市海淀区", "区")] == [
        "haidian", "haidian", "haidian", "fengtai", "fengtai", "haidian", "chaoyang", "haidian", "北京市海淀区", "区"]
    assert id_of_name("５Ｇ網絡", "sectors") == "5g_network" and id_of_name("人工智能", "sectors") == "artificial_intelligence"


def _awarded(tables: object, budget: Budget) -> tuple[Decimal, list[str]]:
    claims = evaluate(tables, load_policy(), YEARS, lpr=LPR)  # type: ignore[arg-type]
    allocation = allocate(claims, budget)
    return allocation.total_awarded, sorted(set(claims.table.funding_sources))


def test_tables_built_in_python_with_chinese_names_get_the_money_of_their_ids() -> None:
    ids = portfolio(400, seed=3)
    projects = ids.projects.astype(object).copy()
    projects["district"] = [name("districts", d) for d in projects.district]
    projects["sector"] = [name("sectors", s) for s in projects.sector]
    named = checked_portfolio({"projects": projects, "loans": ids.loans, "insurance": ids.insurance,
                               "events": ids.events, "awards": ids.awards}, source="named", digest="1" * 64)
    budget = load_budget()
    assert _awarded(named, budget) == _awarded(ids, budget)
    # the claims table given to allocate may name them in Chinese too
    claims = evaluate(ids, load_policy(), YEARS, lpr=LPR)
    table = claims.table.assign(**{c: claims.attributes[c] for c in claims.attributes.columns})
    table["district"] = [name("districts", d) if isinstance(d, str) else d for d in table.district]
    assert allocate(table, budget).total_awarded == allocate(claims, budget).total_awarded


def test_a_budget_naming_its_districts_in_chinese_still_matches() -> None:
    data = load_budget().file.model_dump(mode="json")
    for source in data["sources"]:
        districts = source["eligible"].get("districts")
        if districts:
            source["eligible"]["districts"] = [name("districts", d) for d in districts]
    chinese = Budget.of(data)
    assert chinese.sources[-1].eligible.districts == ("yanqing",)  # 延庆区 in the file
    ids = portfolio(400, seed=3)
    assert _awarded(ids, chinese)[0] == _awarded(ids, load_budget())[0]


def test_a_quote_names_its_district_in_chinese() -> None:
    from subsidy_engine.service.quote import QuoteRequest, quote

    body = {"lang": "en", "project": {"project_id": "P1", "enterprise_id": "E1", "domain": "public", "stage": "pilot",
                                      "total_investment": "500000000", "eligible_investment": "400000000",
                                      "start_date": "2026-03-01", "district": "海淀区", "sector": "算力中心"},
            "loans": [{"loan_id": "L1", "principal": "20000000", "annual_rate": "0.035", "term_months": 60,
                       "start_date": "2026-03-15"}]}
    answer = quote(QuoteRequest.model_validate(body), lpr=LPR)
    assert "May draw on: sector_budget:computing_centre, district_matching:haidian" in answer.explanation
    assert all(pd.notna(c.amount) for c in answer.claims)

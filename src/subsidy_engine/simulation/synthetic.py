"""A seeded, synthetic Beijing portfolio: projects with their loans, insurance and events.

``portfolio(n_projects, seed)`` builds the tables of :func:`subsidy_engine.load_portfolio`
in memory, typed the way a Parquet file holds them (Arrow strings, exact decimal
money, dates), so that the same seed always gives the same portfolio. Nothing
in it is real: the names are made up and the proportions are assumptions chosen
to look like a city's new-infrastructure pipeline, stated here so that a reader
can judge what a simulation on it means:

* **Enterprises**: one per three projects; 60% are industry or software
  enterprises (the 高精尖 fund pays them, closing paragraph); each enterprise
  has one sector and one home district, weighted towards 海淀, 朝阳 and 经开区.
* **Projects**: 55% public domain; stages pilot / demonstration / promotion
  30 / 40 / 30%; 35% in the key-project library (measure 2); an expert review
  score (``merit_score``, for merit allocation) uniform from 60.00 to 100.00; 6% on the
  frontier-solution list (measure 6), 10% with an opened application scenario (measure 8), and 8% of the
  demonstration and promotion projects published as demonstration cases (measure 9); 8% quasi-operating
  platforms, most with a free-service obligation, 3% non-profit platforms
  (measure 4); 15% compute or network projects; total investment 500万 to 20亿
  (log-uniform, whole 万), of which 60-100% eligible; start dates 2022-01-01
  to 2026-06-19.
* **Loans** (measure 15): 70% of projects borrow, a fifth of them twice; up to
  80% of the project's investment; 3, 5, 7 or 10 years; 40% floating on the
  5-year LPR (-80 to +20 bp), the rest fixed at 2.80-4.20%; equal installment,
  equal principal or interest-only (先息後本), some with 6-24 months of grace.
* **Insurance** (measure 7): 25% of projects insure a new product, mostly in a
  field measure 7 names, premium 0.5-4% of the insured amount, 1-5 years.
* **Events**: 1% of projects issue REITs (5亿 to 50亿 raised, measure 13);
  4% of enterprises take listing steps (measure 14), acceptance then listing.
* **Decided awards**: 5% of economic-domain projects get a reward (measure 1,
  50万 to 500万, paid over 1 or 2 years); 3% of projects get research funding
  (measure 5, 100万 to 2000万, over 1 to 3 years); each decided 30 days to a
  year after the project starts (within the window), paid from that year.
* **Government investment** (measures 1 and 4, never a subsidy): 4% of the
  public-domain projects that are not non-profit platforms, half as direct
  investment, half as capital injection (measure 1), and 30% of the non-profit
  platforms as direct investment (measure 4); 10-30% of the project's total
  investment (whole 万), paid in its start year or the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from subsidy_engine.core.columns import date_series, money_series
from subsidy_engine.core.dates import epoch_days
from subsidy_engine.core.language import names
from subsidy_engine.core.provenance import engine_version
from subsidy_engine.kernels.calendar import years_of
from subsidy_engine.pipeline.inputs import PortfolioTables, checked_portfolio

DISTRICTS = ("haidian", "chaoyang", "beijing_eda", "dongcheng", "xicheng", "fengtai", "shijingshan",
             "mentougou", "fangshan", "tongzhou", "shunyi", "changping", "daxing", "huairou", "pinggu",
             "miyun", "yanqing")
DISTRICT_WEIGHTS = (18, 14, 12, 5, 5, 6, 4, 2, 3, 7, 6, 7, 6, 2, 1, 1, 1)
SECTORS = ("5g_network", "computing_centre", "industrial_internet", "connected_vehicles", "satellite_internet",
           "artificial_intelligence", "blockchain", "smart_city", "data_centre")
FIELDS = ("autonomous_driving", "satellite_internet", "network_security", "common_software", "ai",
          "blockchain", "other")
#: What the generator makes, in its portfolio's hash beside the call and the engine's version: the same call
#: that gained tables (the awards, the list flags, the government's investment) names other inputs.
GENERATOR_REVISION = "2: awards, list flags, government investment"
DEFAULT_FIRST_DAY, DEFAULT_LAST_DAY = epoch_days(date(2022, 1, 1)), epoch_days(date(2026, 6, 19))


def _text(values: np.ndarray | Sequence[str | None]) -> pd.Series:
    return pd.Series(pa.array(values, type=pa.string()), dtype=pd.ArrowDtype(pa.string()))


def _ids(prefix: str, numbers: np.ndarray) -> pd.Series:
    return _text(np.char.add(prefix, numbers.astype(str)))


def _flags(values: np.ndarray) -> pd.Series:
    return pd.Series(pa.array(values, type=pa.bool_()), dtype=pd.ArrowDtype(pa.bool_()))


def _choice(rng: np.random.Generator, words: tuple[str, ...], n: int, weights: tuple[float, ...] | None = None
            ) -> np.ndarray:
    p = None if weights is None else np.asarray(weights, float) / sum(weights)
    return np.asarray(words, dtype=object)[rng.choice(len(words), n, p=p)]


def _wan(rng: np.random.Generator, low_yuan: float, high_yuan: float, n: int) -> np.ndarray:
    """Log-uniform amounts in whole 万 (10,000 yuan), as fen."""
    yuan = np.exp(rng.uniform(np.log(low_yuan), np.log(high_yuan), n))
    return np.maximum(np.round(yuan / 10_000), 1).astype(np.int64) * 1_000_000


def portfolio(n_projects: int = 5_000, seed: int = 78, *, start_between: tuple[date, date] | None = None,
              id_prefix: str = "") -> PortfolioTables:
    """A synthetic portfolio of ``n_projects`` projects (see the module's docstring).

    ``start_between`` moves every date into that window (default 2022-01-01 to
    2026-06-19: projects start in it, and loans, insurance and events fall in it
    too); ``id_prefix`` prefixes every id, so that portfolios can be joined
    (scenario growth: ``G2027-P0``...).

    Examples
    --------
    >>> tables = portfolio(200, seed=1)
    >>> len(tables.projects), tables.problems.empty
    (200, True)
    >>> portfolio(200, seed=1).digest == tables.digest
    True
    """
    if n_projects < 1:
        raise ValueError(f"n_projects must be at least 1, not {n_projects}")
    rng = np.random.default_rng(seed)
    n = n_projects
    first_day, last_day = ((DEFAULT_FIRST_DAY, DEFAULT_LAST_DAY) if start_between is None
                           else (epoch_days(start_between[0]), epoch_days(start_between[1])))
    if last_day - first_day < 300:  # listing steps are spread over the window less 200 days
        raise ValueError(f"start_between must span at least 300 days, not {start_between}")
    n_enterprises = max(n // 3, 1)
    ent_industry = rng.random(n_enterprises) < 0.6
    ent_sector = _choice(rng, SECTORS, n_enterprises)
    sector_names = names("sectors", "zh")
    ent_district = _choice(rng, DISTRICTS, n_enterprises, DISTRICT_WEIGHTS)
    owner = rng.integers(0, n_enterprises, n)

    platform = _choice(rng, ("none", "quasi_operating", "non_profit"), n, (89, 8, 3))
    total = _wan(rng, 5e6, 2e9, n)
    eligible = (total * rng.uniform(0.6, 1.0, n)).astype(np.int64) // 100 * 100
    start = rng.integers(first_day, last_day + 1, n)
    projects = pd.DataFrame({
        "project_id": _ids(id_prefix + "P", np.arange(n)),
        "enterprise_id": _ids(id_prefix + "E", owner),
        "name": _text([f"{sector_names[s]}项目{k}" for k, s in enumerate(ent_sector[owner])]),
        "sector": _text(ent_sector[owner].tolist()),
        "district": _text(ent_district[owner].tolist()),
        "industry_or_software": _flags(ent_industry[owner]),
        "domain": _text(_choice(rng, ("public", "economic"), n, (55, 45)).tolist()),
        "stage": _text(_choice(rng, ("pilot", "demonstration", "promotion"), n, (30, 40, 30)).tolist()),
        "in_library": _flags(rng.random(n) < 0.35),
        "platform_type": _text(platform.tolist()),
        "free_service_obligation": _flags((platform != "none") & (rng.random(n) < 0.85)),
        "category": _text(np.where(rng.random(n) < 0.15, "compute_or_network", "other").tolist()),
        "total_investment": money_series(total),
        "eligible_investment": money_series(eligible),
        "expected_returns": money_series((total * rng.uniform(0.3, 1.3, n)).astype(np.int64) // 100 * 100),
        "start_date": date_series(start),
    })

    # loans: 70% of projects borrow, a fifth of those twice
    borrows = rng.random(n) < 0.7
    count = np.where(borrows, 1 + (rng.random(n) < 0.2), 0)
    of = np.repeat(np.arange(n), count)
    m = of.shape[0]
    floating = rng.random(m) < 0.4
    method = _choice(rng, ("equal_installment", "equal_principal", "interest_only"), m, (50, 30, 20))
    term = _choice(rng, ("36", "60", "84", "120"), m, (20, 35, 20, 25)).astype(np.int64)
    grace = np.where((method != "interest_only") & (rng.random(m) < 0.2), rng.integers(6, 25, m), 0)
    share = rng.uniform(0.2, 0.8, m) / count[of]
    principal = np.maximum((total[of] * share).astype(np.int64) // 1_000_000, 1) * 1_000_000
    drawdown = np.minimum(start[of] + rng.integers(0, 180, m), last_day)
    fixed_bp = rng.integers(280, 421, m)
    loans = pd.DataFrame({
        "loan_id": _ids(id_prefix + "L", np.arange(m)),
        "project_id": _ids(id_prefix + "P", of),
        "principal": money_series(principal),
        "annual_rate": _text(np.where(floating, None, np.char.add("0.0", fixed_bp.astype(str))).tolist()),  # type: ignore[call-overload]  # numpy stubs: where() refuses None (an object scalar)
        "floating_tenor": _text(np.where(floating, "5Y", None).tolist()),  # type: ignore[call-overload]  # numpy stubs: where() refuses None (an object scalar)
        "floating_spread_bp": _text(np.where(floating, rng.integers(-80, 21, m).astype(str), None).tolist()),  # type: ignore[call-overload]  # numpy stubs: where() refuses None (an object scalar)
        "term_months": pd.Series(term, dtype="int64"),
        "method": _text(method.tolist()),
        "grace_months": pd.Series(grace, dtype="int64"),
        "start_date": date_series(drawdown),
    })

    # insurance: a quarter of projects, one policy each
    insured_of = np.flatnonzero(rng.random(n) < 0.25)
    k = insured_of.shape[0]
    insured = _wan(rng, 5e6, 5e8, k)
    insurance = pd.DataFrame({
        "policy_id": _ids(id_prefix + "I", np.arange(k)),
        "enterprise_id": _ids(id_prefix + "E", owner[insured_of]),
        "project_id": _ids(id_prefix + "P", insured_of),
        "product_field": _text(_choice(rng, FIELDS, k, (15, 10, 15, 15, 20, 10, 15)).tolist()),
        "insured_amount": money_series(insured),
        "premium": money_series((insured * rng.uniform(0.005, 0.04, k)).astype(np.int64) // 100 * 100),
        "start_date": date_series(np.minimum(start[insured_of] + rng.integers(0, 365, k), last_day)),
        "years": pd.Series(rng.integers(1, 6, k), dtype="int64"),
    })

    # events: REITs on 1% of projects; listing steps for 4% of enterprises
    reits_of = np.flatnonzero(rng.random(n) < 0.01)
    listing_ent = np.flatnonzero(rng.random(n_enterprises) < 0.04)
    venue = _choice(rng, ("a_share_ipo", "neeq_select", "overseas_direct"), listing_ent.shape[0], (60, 25, 15))
    accepted = rng.integers(first_day, last_day - 200, listing_ent.shape[0])
    listed = rng.random(listing_ent.shape[0]) < 0.6
    n_reits, n_steps = reits_of.shape[0], listing_ent.shape[0] + int(listed.sum())
    events = pd.DataFrame({
        "event_id": _ids(id_prefix + "V", np.arange(n_reits + n_steps)),
        "kind": _text(["reits_issuance"] * n_reits + ["listing"] * n_steps),
        "enterprise_id": _text(np.concatenate([np.char.add(id_prefix + "E", owner[reits_of].astype(str)),
                                               np.char.add(id_prefix + "E", listing_ent.astype(str)),
                                               np.char.add(id_prefix + "E", listing_ent[listed].astype(str))]).tolist()),
        "project_id": _text(np.concatenate([np.char.add(id_prefix + "P", reits_of.astype(str)).astype(object),
                                            np.full(n_steps, None, dtype=object)]).tolist()),
        "venue": _text(np.concatenate([np.full(n_reits, None, dtype=object), venue, venue[listed]]).tolist()),
        "stage": _text([None] * n_reits + ["acceptance"] * listing_ent.shape[0] + ["listing"] * int(listed.sum())),
        "date": date_series(np.concatenate([np.minimum(start[reits_of] + 365, last_day), accepted,
                                            np.minimum(accepted[listed] + rng.integers(120, 200, int(listed.sum())),
                                                       last_day)])),
        "amount_raised": money_series(np.concatenate([_wan(rng, 5e8, 5e9, n_reits),
                                                      np.zeros(n_steps, np.int64)])).where(
            pd.Series(np.arange(n_reits + n_steps) < n_reits)),
    })
    # drawn last, so that adding it left every earlier draw (and the portfolio) as it was
    in_library = projects.columns.get_loc("in_library")
    assert isinstance(in_library, int)  # the columns are unique: one position
    projects.insert(in_library + 1, "merit_score", money_series(rng.integers(6000, 10001, n)))
    # the list flags (measures 6, 8, 9), drawn after it for the same reason
    on_list = rng.random(n) < 0.06
    scenario = rng.random(n) < 0.10
    later_stage = projects["stage"].isin(["demonstration", "promotion"]).to_numpy(dtype=bool)
    case = later_stage & (rng.random(n) < 0.08)
    for offset, (flag, values) in enumerate((("solution_list", on_list), ("scenario_opened", scenario),
                                             ("demonstration_case", case)), start=1):
        projects.insert(in_library + offset, flag, _flags(values))
    # decided awards, drawn after every other table: rewards (measure 1) for economic-domain projects, research
    # funding (measure 5) for any project
    economic = projects["domain"].to_numpy(dtype=object) == "economic"
    rewarded = np.flatnonzero(economic & (rng.random(n) < 0.05))
    researched = np.flatnonzero(rng.random(n) < 0.03)
    of_award = np.concatenate([rewarded, researched])
    n_awards = of_award.shape[0]
    decided = np.minimum(start[of_award] + rng.integers(30, 366, n_awards), last_day)
    awards = pd.DataFrame({
        "award_id": _ids(id_prefix + "A", np.arange(n_awards)),
        "enterprise_id": _ids(id_prefix + "E", owner[of_award]),
        "project_id": _ids(id_prefix + "P", of_award),
        "kind": _text(["reward"] * rewarded.shape[0] + ["research_funding"] * researched.shape[0]),
        "amount": money_series(np.concatenate([_wan(rng, 5e5, 5e6, rewarded.shape[0]),
                                               _wan(rng, 1e6, 2e7, researched.shape[0])])),
        "decision_date": date_series(decided),
        "payment_years": pd.Series(np.concatenate([rng.integers(1, 3, rewarded.shape[0]),
                                                   rng.integers(1, 4, researched.shape[0])]), dtype="int64"),
    })
    # government investment, drawn last of all: direct investment or capital injection in public-domain projects
    # (measure 1), direct investment in common technology platforms (measure 4)
    non_profit = platform == "non_profit"  # measure 4: direct investment in non-profit platforms
    public = projects["domain"].to_numpy(dtype=object) == "public"  # measure 1: public-domain projects
    invested_in = np.flatnonzero((public & ~non_profit & (rng.random(n) < 0.04)) | (non_profit & (rng.random(n) < 0.3)))
    k_inv = invested_in.shape[0]
    injection = ~non_profit[invested_in] & (rng.random(k_inv) < 0.5)
    share = rng.uniform(0.1, 0.3, k_inv)
    first_year = years_of(start[invested_in]).astype(np.int64)
    government_investment = pd.DataFrame({
        "investment_id": _ids(id_prefix + "G", np.arange(k_inv)),
        "project_id": _ids(id_prefix + "P", invested_in),
        "kind": _text(np.where(injection, "capital_injection", "direct_investment").tolist()),
        "measure": pd.Series(np.where(non_profit[invested_in], 4, 1), dtype="int64"),
        "year": pd.Series(first_year + rng.integers(0, 2, k_inv), dtype="int64"),
        "amount": money_series((total[invested_in] * share).astype(np.int64) // 1_000_000 * 1_000_000),
    })
    tables = {"projects": projects, "loans": loans, "insurance": insurance, "events": events, "awards": awards,
              "government_investment": government_investment}
    window = "" if start_between is None else f", start_between=({start_between[0]}, {start_between[1]})"
    call = f"demo.portfolio({n}, seed={seed}{window}" + (f", id_prefix={id_prefix!r})" if id_prefix else ")")
    digest = hashlib.sha256(f"subsidy_engine.{call} {engine_version()} {GENERATOR_REVISION}".encode()).hexdigest()
    return checked_portfolio(tables, source=call, digest=digest)


__all__ = ["portfolio"]



"""What a cluster's worker receives travels by pickle (issue 20, point 3): the parameters, the budget, the LPR and
the portfolio come back equal, with the same hash, and compute the same figures."""

from __future__ import annotations

import pickle

from subsidy_engine import evaluate, load_budget, load_lpr, load_policy
from subsidy_engine.simulation.scenario import Scenario
from subsidy_engine.simulation.synthetic import portfolio


def test_the_inputs_of_a_run_travel_by_pickle() -> None:
    scenario = Scenario.of({"id": "p", "parameters": {"insurance_premium.share": "0.6"},
                            "budget": {"scale": {"*": "0.9"}}})
    policy, budget = scenario.policy(load_policy()), scenario.budget(load_budget())
    lpr, tables = load_lpr(), portfolio(100, seed=4)
    for value in (policy, budget, lpr, tables):
        again = pickle.loads(pickle.dumps(value))
        assert again.digest == value.digest
    copied = pickle.loads(pickle.dumps(policy))
    assert copied.origin == policy.origin and copied.sets == policy.sets and copied.sources == policy.sources
    assert copied.covers_until == policy.covers_until and copied.clauses == policy.clauses
    first = evaluate(tables, policy, range(2026, 2029))
    second = evaluate(pickle.loads(pickle.dumps(tables)), copied, range(2026, 2029))
    assert first.provenance == second.provenance
    assert list(first.table.amount) == list(second.table.amount)

"""A plan built from rules read once (Monte Carlo, issue 20): the layout of a path whose claims have money in the
same parts as an earlier path's is read again, and each plan is the plan built from nothing, array for array."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy_engine.budgeting import plan as plan_module
from subsidy_engine.budgeting.plan import build_plan, claims_for, plan_rules, run_plan
from subsidy_engine.kernels.allocate import allocate_kernel, sources_in_funding_order

from builders import claims
from strategies import budget_of, budgets, claims_tables, examples

PROPERTY = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same_plan(a: plan_module.Plan | plan_module.FundingOrder, b: plan_module.Plan | plan_module.FundingOrder) -> None:
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        elif isinstance(x, plan_module.FundingOrder):
            same_plan(x, y)
        elif f.name != "claims":
            assert x == y, f.name


@PROPERTY
@given(table=claims_tables(), budget=budgets(), mode=st.sampled_from(["waterfall", "merit"]),
       seed=st.integers(0, 2**32 - 1))
def test_a_plan_from_rules_is_the_plan_from_nothing(table, budget, mode: str, seed: int) -> None:  # noqa: ANN001
    claims_to_fund = claims_for(table, budget, mode)
    rules = plan_rules(claims_to_fund, budget, mode)
    rng = np.random.default_rng(seed)
    for _ in range(4):  # amounts moved, some to zero: other parts have money, another layout
        amount = claims_to_fund.amount * rng.integers(0, 3, claims_to_fund.amount.shape[0])
        moved = replace(claims_to_fund, amount=amount)
        reused, fresh = build_plan(moved, budget, mode, rules), build_plan(moved, budget, mode)
        same_plan(reused, fresh)
        a, b = run_plan(reused), run_plan(fresh)
        assert all(np.array_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))


def test_rules_remember_a_few_layouts(monkeypatch: pytest.MonkeyPatch) -> None:
    table = claims([("A", 15, 2026, "10.00", True, None), ("B", 15, 2026, "20.00", False, None),
                    ("C", 15, 2027, "30.00", False, None), ("D", 15, 2027, "40.00", True, None)])
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "60.00"},
                        {"id": "district", "level": "district", "caps": "20.00", "matching_share": "0.5"}])
    c = claims_for(table, budget, "waterfall")
    rules = plan_rules(c, budget, "waterfall")
    monkeypatch.setattr(plan_module, "_LAYOUTS_KEPT", 3)
    masks = [np.array([m >> k & 1 for k in range(4)]) for m in range(1, 16)]
    for mask in masks:
        build_plan(replace(c, amount=c.amount * mask), budget, "waterfall", rules)
        assert len(rules.layouts) <= 3
    first = build_plan(replace(c, amount=c.amount * masks[-1]), budget, "waterfall", rules)
    assert first.row_request.shape[0] == build_plan(replace(c, amount=c.amount * masks[-1]), budget,
                                                    "waterfall").row_request.shape[0]


def test_threads_sharing_the_rules_each_get_their_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dask worker with several threads gives its tasks one PlanRules: remembering and forgetting layouts at once
    must neither fail (a KeyError when two threads forgot the same one) nor mix them up."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    table = claims([(f"C{k}", 15, 2026 + k % 2, f"{10 + k}.00", k % 3 == 0, None) for k in range(10)])
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "60.00"},
                        {"id": "district", "level": "district", "caps": "20.00", "matching_share": "0.5"}])
    c = claims_for(table, budget, "waterfall")
    rules = plan_rules(c, budget, "waterfall")
    monkeypatch.setattr(plan_module, "_LAYOUTS_KEPT", 2)
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: the window between two steps is open
    try:
        masks = [np.array([m >> k & 1 for k in range(10)]) for m in range(1, 200)]

        def one(mask: np.ndarray) -> bool:
            moved = replace(c, amount=c.amount * mask)
            reused, fresh = build_plan(moved, budget, "waterfall", rules), build_plan(moved, budget, "waterfall")
            same_plan(reused, fresh)
            return True

        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(one, masks * 3))
    finally:
        sys.setswitchinterval(switching)


def test_rules_travel_to_a_worker_without_their_layouts() -> None:
    import pickle

    table = claims([("A", 15, 2026, "10.00", True, None), ("B", 15, 2027, "20.00", False, None)])
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "60.00"}])
    c = claims_for(table, budget, "waterfall")
    rules = plan_rules(c, budget, "waterfall")
    build_plan(c, budget, "waterfall", rules)
    assert len(rules.layouts) == 1
    again = pickle.loads(pickle.dumps(rules))
    assert len(again.layouts) == 0 and np.array_equal(again.share, rules.share)
    same_plan(build_plan(c, budget, "waterfall", again), build_plan(c, budget, "waterfall"))


@PROPERTY
@given(table=claims_tables(), budget=budgets(), mode=st.sampled_from(["waterfall", "merit"]))
def test_funding_order_funds_as_the_plan_s_own_order(table, budget, mode: str) -> None:  # noqa: ANN001
    # the kernel reads the items renumbered in funding order (a layout's FundingOrder): the same items in the same
    # order with the same rows, so the records are those of the kernel over the plan's own numbering
    p = build_plan(claims_for(table, budget, mode), budget, mode)
    f = p.funding
    assert np.array_equal(np.sort(f.rows), np.arange(p.row_year.shape[0]))
    assert np.array_equal(f.item_tier, p.item_tier[p.item_order]) and np.array_equal(f.eligible, p.eligible[p.item_order])
    capacity = int((np.diff(p.item_ptr) * p.eligible.sum(axis=1)).sum())
    assert f.capacity == capacity
    source_items, year_start = sources_in_funding_order(p.item_order, p.item_year, p.eligible, len(p.years))
    records, carried_in, committed = allocate_kernel(
        p.item_ptr, p.row_year, p.row_request, source_items, year_start, p.item_tier, p.cap, p.carry, p.group_cap,
        p.row_group, capacity)
    ran = run_plan(p)
    assert all(np.array_equal(x, y) for x, y in zip(records, (ran.row, ran.source, ran.asked, ran.limit, ran.award,
                                                               ran.code, ran.binding)))
    assert np.array_equal(carried_in, ran.carried_in) and np.array_equal(committed, ran.committed)


def _hashed_in_turn(c: plan_module.ClaimsToFund) -> str:
    """The digest as the plan's docstring defines it, hashed here in turn: each array's bytes, then each text
    column's buffers (a dictionary's words at its indices), columns by name."""
    import hashlib

    import pyarrow as pa

    h = hashlib.sha256()
    for values in (c.amount, c.year, c.measure, c.claim_id, *(c.attributes[k] for k in sorted(c.attributes))):
        if isinstance(values, np.ndarray):
            h.update(np.ascontiguousarray(values).tobytes())
            continue
        if isinstance(values, pa.DictionaryArray):
            values = values.dictionary.take(values.indices)
        values = pa.concat_arrays([values]) if values.offset else values
        for buffer in values.buffers():
            h.update(b"-" if buffer is None else buffer)
    return h.hexdigest()


@PROPERTY
@given(table=claims_tables(), budget=budgets(), mode=st.sampled_from(["waterfall", "merit"]))
def test_a_caller_s_table_is_hashed_on_another_thread_as_it_was_in_turn(table, budget, mode: str) -> None:  # noqa: ANN001
    """A caller's claims table is hashed while its plan is built: the digest is what hashing it in turn gives,
    and a copy sent to a worker (pickled) carries the digest made, not the hash under way."""
    import pickle

    c = claims_for(table, budget, mode)
    assert c.digest == _hashed_in_turn(c) and isinstance(c.hashing, str)
    again = claims_for(table, budget, mode)
    assert pickle.loads(pickle.dumps(again)).hashing == c.digest


def _allocate_in_child(frame, budget, queue) -> None:  # noqa: ANN001
    from subsidy_engine import allocate

    queue.put(str(allocate(frame, budget, "waterfall").provenance))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork: POSIX only")
def test_a_forked_child_hashes_a_caller_s_table_too() -> None:
    """A process forked after its parent hashed a table on another thread (multiprocessing's default start on
    Linux) hashes its own: the parent's thread is not in it (this hung, waiting on a thread that never ran), and a
    hash the parent had under way at the fork is made in the child."""
    import multiprocessing

    from subsidy_engine import allocate

    table = claims([("A", 15, 2026, "10.00", True, None), ("B", 15, 2027, "20.00", False, None)])
    budget = budget_of([{"id": "fund", "level": "municipal", "caps": "60.00"}])
    made = str(allocate(table, budget, "waterfall").provenance)
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    child = fork.Process(target=_allocate_in_child, args=(table, budget, queue))
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung and child.exitcode == 0 and queue.get(timeout=5) == made


def test_a_hash_under_way_at_a_fork_is_made_in_the_child() -> None:
    """In a forked child, a hash the parent's thread was making (that thread is not in the child) is made where it
    is asked for; one made before the fork is read as made."""
    values = [np.arange(5, dtype=np.int64)]
    hashing = plan_module.Hashing(values)
    expected = hashing.result()
    under_way = plan_module.Hashing.__new__(plan_module.Hashing)
    under_way.values, under_way.pid, under_way.digest, under_way.error = values, -1, None, None  # another process's
    assert under_way.result() == expected

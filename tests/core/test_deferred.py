"""Fields made when first read (core.deferred): every way of looking at the model sees them as if made at once."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from pydantic import Field, PrivateAttr

from subsidy_engine.core.deferred import Deferred


class Inner(Deferred):
    rows: list[int]


class Reply(Deferred):
    total: int
    words: str
    inner: Inner | None
    notes: list[str]


class Plain(Reply):
    pass


def _reply(calls: list[str]) -> Reply:
    inner = Inner.deferring({}, lambda: calls.append("inner") or {"rows": [1, 2]})
    return Reply.deferring({"total": 3, "inner": inner, "notes": ["n"]},
                           lambda: calls.append("words") or {"words": "three"}, validate={"words": ""})


WHOLE = {"total": 3, "words": "three", "inner": {"rows": [1, 2]}, "notes": ["n"]}


def test_nothing_is_made_until_read_and_then_once() -> None:
    calls: list[str] = []
    reply = _reply(calls)
    assert reply.total == 3 and reply.notes == ["n"] and calls == []
    assert reply.words == "three" and reply.words == "three" and calls == ["words"]
    assert reply.inner is not None and reply.inner.rows == [1, 2] and calls == ["words", "inner"]


def test_the_json_is_the_one_of_a_model_made_at_once_in_the_fields_order() -> None:
    calls: list[str] = []
    made_at_once = Reply.model_validate(WHOLE).model_dump_json()
    assert _reply(calls).model_dump_json() == made_at_once == json.dumps(WHOLE, separators=(",", ":"))
    assert _reply(calls).model_dump() == WHOLE


def test_compared_copied_pickled_and_shown_whole() -> None:
    calls: list[str] = []
    whole = Reply.model_validate(WHOLE)
    assert _reply(calls) == whole and whole == _reply(calls)
    assert Reply.model_validate_json(_reply(calls).model_dump_json()) == _reply(calls)
    assert pickle.loads(pickle.dumps(_reply(calls))) == whole
    assert copy.deepcopy(_reply(calls)) == whole and _reply(calls).model_copy() == whole
    assert "words='three'" in repr(_reply(calls)) and "rows=[1, 2]" in repr(_reply(calls))
    assert _reply(calls).model_fields_set == whole.model_fields_set


def test_a_value_given_by_model_copy_wins_over_the_maker() -> None:
    calls: list[str] = []
    emptied = _reply(calls).model_copy(update={"words": ""})
    assert emptied.words == "" and json.loads(emptied.model_dump_json())["words"] == ""
    assert emptied == Reply.model_validate({**WHOLE, "words": ""})


def test_the_schema_is_the_fields() -> None:
    for mode in ("validation", "serialization"):
        schema: dict[str, Any] = Reply.model_json_schema(mode=mode)  # type: ignore[arg-type]
        assert schema["required"] == ["total", "words", "inner", "notes"]
        assert list(schema["properties"]) == ["total", "words", "inner", "notes"]


def test_a_model_validated_from_data_defers_nothing() -> None:
    reply = Reply.model_validate(WHOLE)
    assert reply.__pydantic_private__ == {"_maker": None} and reply.words == "three"


def test_threads_reading_a_new_model_at_once_see_it_whole() -> None:
    """Review of issue 20's thirteenth session: made() emptied the model's dict and refilled it, so a thread reading
    at that moment found a given field missing (AttributeError, or JSON without it or out of order)."""
    import sys
    import threading

    replies = [_reply([]) for _ in range(3000)]
    failures: list[str] = []
    whole = json.dumps(WHOLE, separators=(",", ":"))

    def read(kind: int) -> None:
        for reply in replies:
            try:
                if kind == 0:
                    assert reply.total == 3 and reply.notes == ["n"]
                elif kind == 1:
                    assert reply.words == "three"
                else:
                    assert reply.model_dump_json() == whole
            except Exception as exc:  # noqa: BLE001 - every failure is reported
                failures.append(f"{type(exc).__name__}: {exc}")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=read, args=(k % 3,)) for k in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


def test_iterating_a_model_gives_its_deferred_fields_too() -> None:
    """dict(model) and ``for name, value in model`` read every field, the deferred ones made first."""
    assert dict(_reply([])) == {**dict(Reply.model_validate(WHOLE))}
    assert dict(Inner.deferring({}, lambda: {"rows": [1]})) == {"rows": [1]}


class _Cached(Deferred):
    total: int
    words: str
    _cache: dict[str, int] = PrivateAttr(default_factory=dict)
    _unset: int = PrivateAttr()


class _WithDefault(Deferred):
    total: int
    words: str
    note: str = "n"


class _Aliased(Deferred):
    total: int = Field(alias="Total")
    words: str


class _Posted(Deferred):
    total: int
    words: str

    def model_post_init(self, context: Any) -> None:
        self.__pydantic_private__["_seen"] = True  # type: ignore[index]


@pytest.mark.parametrize("model, values", [(_Cached, {"total": 3}), (_WithDefault, {"total": 3}),
                                           (_Aliased, {"Total": 3}), (Plain, {"total": 3, "bogus": 1}),
                                           (_Posted, {"total": 3})])
def test_a_model_is_built_as_model_construct_builds_it(model, values) -> None:
    """Private attributes from their factories (those without a default left out), a field's default, an alias,
    a key that is no field and a model's own post-init: as pydantic's model_construct makes them (the review of
    the twentieth session: a direct build of the attributes had none of these)."""
    made = {k: v for k, v in {"words": "three", "inner": None, "notes": []}.items() if k in model.model_fields}
    deferred = model.deferring(values, lambda: made)
    constructed = model.model_construct(**values)
    private = {k: v for k, v in deferred.__pydantic_private__.items() if k != "_maker"}
    assert private == {k: v for k, v in (constructed.__pydantic_private__ or {}).items() if k != "_maker"}
    assert deferred.model_dump() == {**made, **constructed.model_dump()}
    assert deferred.model_fields_set == set(made) | set(constructed.__dict__)  # what made() counts as set

"""The id rule as a column reads it: the fast path for plain ASCII ids equals the rule itself."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from subsidy_engine.core.ids import compared_id, compared_ids

# text near the fast path's edges: ASCII letters, spaces at either end, controls, full-width spaces,
# decomposed accents and invisible format characters
_CHARS = st.sampled_from(list("aZ09-_ .") + ["\x00", "\t", "\x7f", "\u3000", "e\u0301", "\u00e9", "\u200b", "\u202e",
                                             "號", "\n"])
_TEXT = st.lists(_CHARS, max_size=6).map("".join)
_CELL = st.one_of(_TEXT, st.integers(-10, 10**12), st.none(), st.floats(allow_nan=True), st.text(max_size=5))


@given(st.lists(_CELL, max_size=30))
def test_a_column_of_ids_reads_as_each_id_alone(values):
    assert compared_ids(values) == [compared_id(v) for v in values]


def test_plain_ids_are_kept_and_others_normalised():
    assert compared_ids(["L1", "L 1", " L1", "L1 ", "", "L\x7f", "e\u0301"]) == ["L1", "L 1", "L1", "L1", None, None,
                                                                             "\u00e9"]


def test_a_subclass_of_str_takes_the_rule():
    class Tagged(str):
        pass

    value = Tagged("L1")
    assert compared_ids([value]) == ["L1"] and type(compared_ids([value])[0]) is str

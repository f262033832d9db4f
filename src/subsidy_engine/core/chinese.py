"""Chinese text for people: Simplified characters, converted from the Traditional text the sources keep.

The policy file keeps 78號's clauses as its source gives them (Traditional characters, with the artefacts of an
earlier Simplified-to-Traditional conversion such as 機製 for 机制 and 製定 for 制定); what people read is converted
with OpenCC's ``t2s`` table (``opencc-python-reimplemented``, a pure-Python port of OpenCC's tables), which maps those
artefacts to the words they stand for (a test checks every clause).
"""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def _converter() -> Any:
    from opencc import OpenCC  # type: ignore[import-untyped]  # no type information shipped

    return OpenCC("t2s")


@functools.lru_cache(maxsize=4096)  # the same clauses and names again and again: a quote converts about 20
def to_simplified(text: str) -> str:
    """``text`` in Simplified characters (OpenCC ``t2s``).

    >>> to_simplified("京經信發〔2021〕78號: 各部門應在本措施內容基礎上進一步製定實施細則")
    '京经信发〔2021〕78号: 各部门应在本措施内容基础上进一步制定实施细则'
    """
    return str(_converter().convert(text))

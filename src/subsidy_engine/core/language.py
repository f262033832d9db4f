"""The words people read, in Simplified Chinese by default or in English: one vocabulary file, ``names.yaml``.

Reports, charts, command-line summaries and explanations name what they show through this module:
:func:`name` for a known thing (a measure, a sector, a column, a sheet), :func:`text` for a sentence with
fields. Identifiers stay as the data has them; only the names shown beside them change with the language.
A thing the file does not know (a sector a bureau added) is shown by its own id, never dropped.

Examples
--------
>>> name("measures", 15)
'提供优惠利率信贷'
>>> name("sectors", "smart_city", "en")
'smart city'
>>> text("reasons", "tier_pro_rata", "zh", tier="其他", source="高精尖产业发展资金", year=2026)
'“其他”档内按比例分配：高精尖产业发展资金2026年资金不足'
>>> source_name("district_matching:haidian", None, "zh"), source_name("sector_budget:blockchain", None, "en")
('海淀区配套资金', 'blockchain department budget')
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

from subsidy_engine.core.chinese import to_simplified
from subsidy_engine.core.vocabulary import Lang

DEFAULT_LANG = Lang.ZH
LANGUAGES: tuple[str, ...] = tuple(lang.value for lang in Lang)


@functools.lru_cache(maxsize=1)
def vocabulary() -> dict[str, dict[str, Any]]:
    """The vocabulary file, read once: section -> key -> ``{"zh": ..., "en": ...}``."""
    raw = resources.files("subsidy_engine.core").joinpath("names.yaml").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = yaml.safe_load(raw)
    # keys are looked up as text whatever YAML made of them (measure numbers are integers there)
    return {section: {str(key): entry for key, entry in entries.items()} for section, entries in data.items()}


def name(section: str, key: object, lang: Lang | str = DEFAULT_LANG, default: str | None = None) -> str:
    """The name of ``key`` in ``section`` (``measures``, ``sectors``, ``columns``...), in ``lang``.

    An unknown key gives ``default`` if one is given, else the key itself as text.
    """
    found = _section(section, lang if isinstance(lang, Lang) else Lang.parse(lang)).get(str(key))
    if found is None:
        return str(key) if default is None else default
    return found


@functools.lru_cache(maxsize=256)
def _section(section: str, lang: Lang) -> dict[str, str]:
    """Every name of ``section`` in ``lang``, by key: a quote words a hundred sentences, one look-up each."""
    return {key: str(entry[lang.value]) for key, entry in vocabulary()[section].items()}


def sentences(section: str, lang: Lang | str = DEFAULT_LANG) -> Mapping[str, str]:
    """Every entry of ``section`` in ``lang`` by key, read only: for a caller that words many (an explanation says
    about fifty sentences, and a quote's must be made in well under a millisecond).

    >>> sentences("explain", "en")["yes"]
    'yes'
    """
    return MappingProxyType(_section(section, lang if isinstance(lang, Lang) else Lang.parse(lang)))


def names(section: str, lang: Lang | str = DEFAULT_LANG) -> dict[str, str]:
    """Every key of ``section`` with its name in ``lang``."""
    return dict(_section(section, Lang.parse(lang)))


def text(section: str, key: str, lang: Lang | str = DEFAULT_LANG, **fields: object) -> str:
    """The sentence ``key`` of ``section`` in ``lang`` with its ``{fields}`` filled in."""
    return name(section, key, lang).format(**fields)


def joined(items: Iterable[object], lang: Lang | str = DEFAULT_LANG, by: str = "parts") -> str:
    """``items`` joined as ``lang`` writes a list: ``by`` is ``items`` (、), ``parts`` (，) or ``clauses`` (；).

    >>> joined(["a", "b"]), joined(["a", "b"], "en", "clauses")
    ('a，b', 'a; b')
    """
    return name("separators", by, lang).join(str(item) for item in items)


def _name_key(text: str) -> str:
    """How a name is compared: NFKC (full-width letters and digits as ASCII), Simplified characters, no spaces,
    lower case."""
    return "".join(to_simplified(unicodedata.normalize("NFKC", text)).split()).lower()


@functools.lru_cache(maxsize=8)
def ids_by_name(section: str) -> dict[str, str]:
    """The ids of ``section`` (``sectors``, ``districts``) by the compared form (:func:`_name_key`) of the names
    people write for them: the Chinese name, a district's name without 区, the English name, the id itself."""
    found: dict[str, str] = {}
    for key, entry in vocabulary()[section].items():
        chinese = str(entry["zh"])
        forms = {chinese, chinese.removesuffix("区") if len(chinese) > 2 else chinese, str(entry["en"]), key}
        for form in forms:
            found.setdefault(_name_key(form), key)
    return found


@functools.lru_cache(maxsize=4096)  # a portfolio's few distinct values, and every quote's project
def id_of_name(value: str, section: str) -> str:
    """The id ``value`` names in ``section`` when it is one of its names in any spelling (海淀区, 海淀, 海澱區,
    Haidian, ｈａｉｄｉａｎ -> haidian); otherwise ``value`` as given (a bureau's own sector).

    >>> id_of_name("豐台區", "districts"), id_of_name("５Ｇ網絡", "sectors"), id_of_name("北京市海淀区", "districts")
    ('fengtai', '5g_network', '北京市海淀区')
    """
    return ids_by_name(section).get(_name_key(value), value)


def reason_in(reason: object, lang: Lang | str = DEFAULT_LANG) -> object:
    """A reader's reason for a rejected row in ``lang``: one of the vocabulary's ``input_reasons`` (or a note of
    ``notes``, which ``--strict`` turns into a reason), by its exact English text or, for a reason with values,
    by its English template; any other as it is.

    Reconcile's ``detail`` is read the same way (``reconcile_details``). A nested sentence (the fields
    ``reason``, ``why``, ``coverage``, ``note``, ``label``, ``what``, ``others``) is read the same way, and so
    is each part of one that joins several with ``"; "`` (or ``", "``, a list of conventions). Fields that
    name something are worded (:func:`_named_fields`: a ``table`` -> 提款表, a ``policy`` title in
    Simplified characters...).

    >>> reason_in("is missing"), reason_in("is missing", "en"), reason_in("is not a date: 2026-13-01")
    ('缺失', 'is missing', 'is not a date: 2026-13-01')
    >>> reason_in(text("input_reasons", "not_one_of_value", "en", value="等额本息", allowed="'custom'"))
    "“等额本息”不是可选值之一：'custom'"
    >>> reason_in("(drawdowns row 4) must be positive (at least 0.01 yuan)")
    '（提款表第4行）必须为正数（至少0.01元）'
    """
    if not isinstance(reason, str) or Lang.parse(lang) is Lang.EN:
        return reason
    read = _read_reason(reason, Lang.parse(lang))
    return reason if read is None else read[1]


#: The sections whose sentences are read back from the English the engine wrote (:func:`reason_in`).
_READ_BACK = ("input_reasons", "reconcile_details", "notes")
#: The fields of a template that hold a sentence of their own (worded the same way).
_NESTED = frozenset({"reason", "why", "coverage", "note", "label", "what", "others"})
#: The fields read by a narrow pattern: a row number, a table's or a column's id.
_NARROW = {"row": r"\d+", "scale": r"\d+", "table": r"[a-z_]+", "field": r"[\w.]+(?:, [\w.]+)*",
           "kind": r"[a-z_]+", "amount": r"-?[\d,]+(?:\.\d+)?"}


@functools.lru_cache(maxsize=65_536)  # a portfolio's reasons repeat; a file's many bad values each once
def _read_reason(reason: str, lang: Lang) -> tuple[int, str] | None:
    """``reason`` read against the vocabulary: how much of its text the wording accounts for (its literal
    words, and those of the reasons nested in it), and the wording in ``lang``; None when nothing matches.

    Several templates can match one text (a value is any text, so ``{value} is not an ISO date`` also matches
    ``(drawdowns row 2) 'x' is not an ISO date``): the reading that accounts for the most text wins, which is
    the one that reads the nested reason too."""
    entry = _reasons_by_english().get(reason)
    if entry is not None:
        return len(reason), str(entry[lang.value])
    if len(reason) > LONGEST_READ:
        return None  # no reason the engine writes is this long (its values are cut): not one of its own
    best: tuple[int, str] | None = None
    # a template's longest literal words must be in the text: a cheap test that spares most templates the regex
    for section, key, pattern in [p[1:] for p in _reason_patterns() if p[0] in reason]:
        found = pattern.fullmatch(reason)
        if found is None:
            continue
        fields: dict[str, object] = dict(found.groupdict())
        score = len(reason) - sum(len(str(value)) for field_name, value in fields.items() if field_name not in _NARROW)
        for field_name in _NESTED & fields.keys():
            nested_score, fields[field_name] = _read_parts(str(fields[field_name]), lang)
            score += nested_score
        if best is not None and score <= best[0]:
            continue
        best = score, text(section, key, lang, **_named_fields(fields, lang))
    return best


def _named_fields(fields: dict[str, object], lang: Lang) -> dict[str, object]:
    """The fields of a sentence as ``lang`` shows them: a ``table``, a ledger row's ``kind`` and a parameter's
    ``status`` by their names, a place in a file (``where``, ``column``) and a list (``bases``, ``tables``) in
    its words, a ``policy`` (the parameter file's title) in Simplified characters."""
    named = dict(fields)
    if "table" in named:
        named["table"] = name("tables", named["table"], lang)
    if "kind" in named:
        named["kind"] = name("ledger_kinds", named["kind"], lang)
    for field_name, key in (("where", "sheet_of_file"), ("column", "column_named")):  # a place in a file
        if isinstance(named.get(field_name), str):
            named[field_name] = _place(str(named[field_name]), key, lang)
    if "bases" in named:  # the interest bases allowed, as the reader lists them
        named["bases"] = joined(str(named["bases"]).split(" or "), lang, "or")
    if "tables" in named:
        named["tables"] = joined(str(named["tables"]).split(", "), lang, "items")
    if "status" in named:
        named["status"] = name("statuses", named["status"], lang)
    if "policy" in named and lang is Lang.ZH:
        named["policy"] = to_simplified(str(named["policy"]))
    return named


def _place(place: str, key: str, lang: Lang) -> str:
    """A place in a file (``places``: a workbook's sheet, a column without a header) in ``lang``, read from its
    English; any other text as it is."""
    found = re.fullmatch(_place_patterns()[key], place, re.DOTALL)
    return place if found is None else text("places", key, lang, **found.groupdict())


@functools.lru_cache(maxsize=1)
def _place_patterns() -> dict[str, str]:
    return {key: _template_pattern(str(entry["en"]), {}) for key, entry in vocabulary()["places"].items()}


def _template_pattern(english: str, narrow: dict[str, str]) -> str:
    """The regex that reads a template's ``{fields}`` back from a text written with it: each field any text
    (or its ``narrow`` pattern), a field named twice the same text both times."""
    parts = re.split(r"\{(\w+)\}", english.replace("{{", "{").replace("}}", "}"))
    pattern, seen = [], set()
    for k, part in enumerate(parts):
        if k % 2 == 0:
            pattern.append(re.escape(part))
        elif part in seen:
            pattern.append(f"(?P={part})")
        else:
            seen.add(part)
            pattern.append(f"(?P<{part}>{narrow.get(part, '.*')})")
    return "".join(pattern)


def _read_parts(reason: str, lang: Lang) -> tuple[int, str]:
    """A nested reason read as a whole, or as its ``"; "``-joined parts (a table's problems of its whole, as
    the reader joins them), whichever accounts for more; a part the vocabulary does not word stays as it is."""
    best = _read_reason(reason, lang)
    for separator, by in (("; ", "clauses"), (", ", "items")):
        parts = reason.split(separator)
        if len(parts) > 1:
            read = [_read_reason(part, lang) for part in parts]
            score = sum(r[0] for r in read if r is not None)
            if best is None or score > best[0]:
                best = score, joined([part if r is None else r[1] for r, part in zip(read, parts)], lang, by)
    return (0, reason) if best is None else best


@functools.lru_cache(maxsize=1)
def _reasons_by_english() -> dict[str, dict[str, Any]]:
    """Every ``input_reasons`` entry without fields, by its English text."""
    return {str(entry["en"]): entry for section in _READ_BACK for entry in vocabulary()[section].values()
            if not re.search(r"\{\w+\}", str(entry["en"]))}


#: The longest text :func:`reason_in` reads: the engine quotes a value by its first 30 characters, so its
#: reasons, nested two deep, stay well under this; a longer text could make a template's regex backtrack long.
LONGEST_READ = 2_000


@functools.lru_cache(maxsize=1)
def _reason_patterns() -> list[tuple[str, str, str, re.Pattern[str]]]:
    """Each template with fields of the sections read back, as its longest literal words and a pattern that
    reads its fields back from the English text the engine wrote with it (``text(section, key, "en", ...)``).
    A field named twice must read the same text both times."""
    found = []
    for section in _READ_BACK:
        for key, entry in vocabulary()[section].items():
            english = str(entry["en"]).replace("{{", "{").replace("}}", "}")
            literals = re.split(r"\{\w+\}", english)
            if len(literals) == 1:
                continue
            found.append((max(literals, key=len), section, key,
                          re.compile(_template_pattern(english, _NARROW), re.DOTALL)))
    return found


def column_kind(column: str) -> str | None:
    """How a report column is formatted (``money``, ``share``, ``integer``...), or None for one not named."""
    entry = vocabulary()["columns"].get(column)
    return None if entry is None else str(entry["kind"])


def source_name(source_id: str, given: str | None, lang: Lang | str = DEFAULT_LANG) -> str:
    """A funding source's name: in Chinese the name its budget file gives, when it gives one; otherwise from
    its id, ``gaojingjian_fund``, ``sector_budget:<sector>`` or ``district_matching:<district>``; otherwise
    the id itself."""
    code = Lang.parse(lang)
    if given and code is Lang.ZH:
        return given
    kind, _, rest = source_id.partition(":")
    if kind not in vocabulary()["source_kinds"] or kind == "other":
        return given or source_id
    of = {"sector_budget": "sectors", "district_matching": "districts"}.get(kind)
    return text("source_kinds", kind, code, name=name(of, rest, code) if of else rest)


class Sentence(str):
    """An English sentence (a note of a result) that can also be said in another language: it is the English text
    itself, as it always was (so JSON, logs and comparisons see no change), and carries the key of its wording in
    the vocabulary's ``notes`` and the fields that fill it (:func:`in_language`).

    >>> note = Sentence("2 loans are late", "example", count=2)
    >>> note == "2 loans are late", note.key, note.fields
    (True, 'example', {'count': 2})
    """

    key: str
    fields: dict[str, object]

    def __new__(cls, english: str, key: str, **fields: object) -> Sentence:
        made = super().__new__(cls, english)
        made.key, made.fields = key, fields
        return made

    def __reduce__(self) -> tuple[Any, tuple[str, str, dict[str, object]]]:
        return _sentence, (str(self), self.key, self.fields)


def _sentence(english: str, key: str, fields: dict[str, object]) -> Sentence:
    return Sentence(english, key, **fields)


def in_language(note: str, lang: Lang | str = DEFAULT_LANG) -> str:
    """``note`` in ``lang``: a :class:`Sentence` in the words of its vocabulary key; any other text as it is
    (English)."""
    if Lang.parse(lang) is Lang.EN or not isinstance(note, Sentence) or note.key not in vocabulary()["notes"]:
        return str(note)
    return text("notes", note.key, lang, **_named_fields(note.fields, Lang.parse(lang)))


__all__ = ["DEFAULT_LANG", "LANGUAGES", "Lang", "Sentence", "column_kind", "id_of_name", "ids_by_name", "in_language",
           "joined", "name", "names", "reason_in", "sentences", "source_name", "text", "vocabulary"]

"""Errors said to people: one line, naming the field, never a class of the engine.

Every command and the HTTP service say an error through :func:`one_line` (or, field by
field, :func:`validation_messages`), so that pydantic's wording (``"1 validation error for
InvestmentSubsidyRule"``, ``"instance of QuoteProject"``) never reaches a user.
"""

from __future__ import annotations

from pydantic import ValidationError

#: pydantic's messages that name a model class (``ctx["class_name"]``), said without it.
_WITHOUT_CLASS = {"model_type": "must be a JSON object", "model_attributes_type": "must be a JSON object",
                  "dataclass_type": "must be a JSON object", "dataclass_exact_type": "must be a JSON object",
                  "is_instance_of": "is not of the kind expected here",
                  "is_subclass_of": "is not of the kind expected here"}


def validation_messages(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str, str]]:
    """Each problem of a validation error as (location, one-line message, type), in people's words.

    pydantic's ``"Value error, "`` prefix is dropped and a message naming a class of the engine (``"Input should
    be a valid dictionary or instance of QuoteProject"``) is said without it; ``str(exc)`` would start with
    ``"1 validation error for InvestmentSubsidyRule"``.
    """
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        if "class_name" in error.get("ctx", {}):
            message = _WITHOUT_CLASS.get(error["type"], "is not of the kind expected here")
        else:
            message = " ".join(error["msg"].removeprefix("Value error, ").split())
        problems.append((_fields_and_keys(error["loc"]), message, error["type"], _is_branch(error["loc"])))
    # a value that may take several forms fails each: say only the form it took (the deepest path), not
    # "expected str, got dict" for the form it did not
    return [(loc, message, kind) for loc, message, kind, branch in problems
            if not (branch and any(other[3] and len(other[0]) > len(loc) and other[0][:len(loc)] == loc
                                   for other in problems))]


def _is_tag(part: int | str) -> bool:
    """pydantic's name for one of the forms a value may take (``dict[int,function-before[_money(), decimal]]``)."""
    return isinstance(part, str) and ("[" in part or "(" in part)


def _is_branch(loc: tuple[int | str, ...]) -> bool:
    return any(map(_is_tag, loc))


def _fields_and_keys(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The path as the user wrote it: fields, list positions and keys, without pydantic's form names."""
    return tuple(part for part in loc if not _is_tag(part))


def one_line(exc: BaseException) -> str:
    """An error as one line: a validation error's problems by field (a model's own check without a
    field is said alone, never under the model's name), any other message's lines joined.

    >>> one_line(ValueError("two\\n  lines"))
    'two lines'
    >>> one_line(KeyError("a key's message"))
    "a key's message"
    """
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, loc))}: {message}" if loc else message
                         for loc, message, _ in validation_messages(exc))
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        return str(exc.args[0])  # str(KeyError) would quote the message
    return " ".join(str(exc).split())


__all__ = ["one_line", "validation_messages"]

"""Fields of a model made when first read: a quote's words and schedule tables are made when someone reads them.

A quote's figures take a fraction of a millisecond; its explanation (some fifty sentences) and its schedules'
columns (a 30-year loan: 2,160 exact amounts) cost as much again each. A portal comparing twenty loan structures
reads the totals of each and the words of one. A :class:`Deferred` model holds a function that makes such fields,
and calls it once, the first time any of them is read, or the model is dumped (JSON included), compared, shown or
pickled: every way of looking at the model sees the same values as if they had been made at once.

The model's JSON schema is its fields', as without deferral; a model validated from data holds every field and
nothing deferred. Two threads reading the same model at once may both make the fields; they make the same values,
and each reader sees the model whole. The model's ``__dict__`` itself, read directly, holds only what is made.

Examples
--------
>>> class Reply(Deferred):
...     total: int
...     words: str
>>> made = []
>>> reply = Reply.deferring({"total": 3}, lambda: made.append(1) or {"words": "three"})
>>> made, reply.total
([], 3)
>>> reply.words, made
('three', [1])
>>> Reply.deferring({"total": 3}, lambda: {"words": "three"}).model_dump_json()
'{"total":3,"words":"three"}'
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Self

from pydantic import BaseModel, PrivateAttr, SerializerFunctionWrapHandler, model_serializer

#: What makes a model's deferred fields: their values by name.
Maker = Callable[[], Mapping[str, Any]]


class Deferred(BaseModel):
    """A model whose fields absent at construction are made by its maker when first needed (module docstring)."""

    _maker: Maker | None = PrivateAttr(default=None)

    @classmethod
    def deferring(cls, values: Mapping[str, Any], maker: Maker, *, validate: Mapping[str, Any] | None = None
                  ) -> Self:
        """A model of ``values`` (not validated: made by the engine) whose other fields ``maker`` makes later.

        ``validate``: placeholders of the deferred fields, to validate ``values`` as :meth:`model_validate` does
        (nested models built from mappings); they are dropped before anyone reads them.
        """
        if validate is None:
            model = cls.model_construct(**values)
        else:
            model = cls.model_validate({**values, **validate})
            for name in validate:
                del model.__dict__[name]
                model.__pydantic_fields_set__.discard(name)
        private = model.__pydantic_private__  # set by both ways above (the model has a private attribute, _maker);
        assert private is not None  # written into directly: pydantic's __setattr__ looks the name up first
        private["_maker"] = maker
        return model

    def made(self) -> Self:
        """This model with every field made (its maker called if it had not been)."""
        maker = self.__pydantic_private__.get("_maker") if self.__pydantic_private__ else None
        if maker is not None:
            values = {**maker(), **self.__dict__}  # a value given (or updated by model_copy) wins over the maker's
            # the fields in their declared order (the JSON writes them in the order of the model's dict), in a new
            # dict put in place at once: a thread reading meanwhile sees the old dict or the new, both whole in
            # what they hold (it may make the fields too: the same values)
            object.__setattr__(self, "__dict__", {name: values[name] for name in type(self).model_fields
                                                  if name in values})
            self.__pydantic_fields_set__ |= set(values)
            self._maker = None
        return self

    def __getattr__(self, name: str) -> Any:
        # (called for a name the model's dict lacks: a deferred field, made now or by another thread meanwhile)
        if name in type(self).model_fields and self.__pydantic_private__ is not None:
            made = self.made().__dict__
            if name in made:
                return made[name]
        return super().__getattr__(name)  # type: ignore[misc]  # pydantic defines it outside TYPE_CHECKING

    # no return annotation: pydantic would take it for the serialized schema (``Any``: an empty JSON schema); without
    # one, the JSON schema is the fields'
    @model_serializer(mode="wrap")
    def _dumped_whole(self, handler: SerializerFunctionWrapHandler):
        return handler(self.made())

    @property
    def model_fields_set(self) -> set[str]:
        return self.made().__pydantic_fields_set__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Deferred):
            other.made()
        self.made()
        return super().__eq__(other)

    def __iter__(self) -> Any:
        return super(Deferred, self.made()).__iter__()

    def __repr_args__(self) -> Any:
        return super(Deferred, self.made()).__repr_args__()

    def __getstate__(self) -> dict[Any, Any]:
        return super(Deferred, self.made()).__getstate__()


__all__ = ["Deferred", "Maker"]

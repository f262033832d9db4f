"""Values made once from frozen objects, found again by those objects' identity.

A quote asks the same frozen parameter objects for the same derived values (a
貼息 rule, stacking's caps, the kernel's rule columns) on every call. Keying by
``id()`` is cheap where hashing a nested model is not; the memo holds the
objects themselves, so an id is never reused while its entry lives, and a
scenario's rebuilt object is a new key. Anything the objects hold that a caller
could change in place (a list inside a frozen model) goes in ``also``, by value.
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class IdentityMemo(Generic[T]):
    """At most ``limit`` values; past it the memo starts again (the objects are few: a policy's sets)."""

    def __init__(self, limit: int) -> None:
        self._made: dict[tuple[tuple[int, ...], Hashable], tuple[tuple[object, ...], T]] = {}
        self._limit = limit

    def get(self, objects: tuple[object, ...], make: Callable[[], T], also: Hashable = None) -> T:
        """The value made from ``objects`` (and ``also``), made by ``make()`` the first time.

        >>> memo: IdentityMemo[list[int]] = IdentityMemo(4)
        >>> source = (1, 2)
        >>> memo.get((source,), lambda: list(source)) is memo.get((source,), lambda: [])
        True
        """
        key = (tuple(map(id, objects)), also)
        known = self._made.get(key)
        if known is not None and all(held is given for held, given in zip(known[0], objects)):
            return known[1]
        value = make()
        if len(self._made) >= self._limit:
            self._made.clear()
        self._made[key] = (objects, value)
        return value


__all__ = ["IdentityMemo"]

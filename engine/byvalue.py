"""``ByValue``: comparing, hashing and showing a frozen dataclass by its fields, written once.

``dataclass`` writes ``__eq__``, ``__hash__`` and ``__repr__`` out as source text and compiles
them anew for every class it makes. The frozen values that every command loads (the events,
the stored records, the settings) are many classes, and making them was a fifth of a command
line's start (bench/README.md, "Every target's benchmark at the twelfth session"). Such a class
is declared ``@dataclass(frozen=True, slots=True, ..., repr=False, eq=False)`` over ``ByValue``
and takes the three from here, with the meaning ``dataclass`` gives them: equal to another of
the very same class whose fields are equal, in their order; hashed by those values; shown as
``Name(field=value, ...)``.

Only for frozen dataclasses whose fields all take part in comparing and showing (no
``field(compare=False)`` or ``field(repr=False)``): a mutable one must not be hashed by its
values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any

__all__ = ["ByValue"]

_NAMES: dict[type, tuple[str, ...]] = {}
_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The names of a dataclass's fields, in their order (cached per class)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _getter(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """The values of a class's fields as one tuple, read in C (``attrgetter``)."""
    names = _field_names(cls)
    if not names:
        return lambda value: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda value: (one(value),)
    return attrgetter(*names)


class ByValue:
    """A frozen dataclass's ``__eq__``, ``__hash__`` and ``__repr__`` (see the module)."""

    __slots__ = ()

    def _values(self) -> tuple[Any, ...]:
        cls = type(self)
        getter = _GETTERS.get(cls)
        if getter is None:
            getter = _GETTERS[cls] = _getter(cls)
        return getter(self)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, ByValue)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _field_names(type(self)))
        return f"{type(self).__qualname__}({shown})"

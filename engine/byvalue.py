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

Such a class is also made faster than ``dataclass`` makes it. A frozen dataclass's ``__init__``
sets each field through ``object.__setattr__``, the way around its own ``__setattr__`` that
refuses every change; that was a tenth of ``audit verify`` (which makes a few of these per
event, see bench/README.md, "Every target's benchmark at the fourteenth session"). Where the
class is slotted and its ``__init__`` only stores its arguments (no ``__post_init__``, no
``default_factory``, no ``InitVar``, no field left out of it), its first instance has the
``__init__`` replaced by one with the same parameters and defaults that stores each argument
through its field's slot directly (about a third less time per value). Not at import: a
command line would pay for classes it never makes.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
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


def _stored_directly(cls: type, made: Callable[..., None]) -> Callable[..., None] | None:
    """An ``__init__`` for ``cls`` that takes what ``made`` (the one ``dataclass`` wrote)
    takes and stores each argument through its slot; None where ``made`` does more than that
    or a field has no slot."""
    if hasattr(cls, "__post_init__"):
        return None
    found = fields(cls)
    names = [f.name for f in found]
    if "self" in names or any(
        f.default_factory is not dataclasses.MISSING or not f.init for f in found
    ):
        return None
    parameters = list(inspect.signature(made).parameters.values())[1:]
    if [p.name for p in parameters] != names:  # an InitVar, say
        return None
    scope: dict[str, Any] = {}
    for name in names:
        slot = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if not isinstance(slot, types.MemberDescriptorType):
            return None
        scope[f"_set_{name}"] = slot.__set__
    written: list[str] = []
    for p in parameters:
        if p.kind is p.KEYWORD_ONLY and "*" not in written:
            written.append("*")
        if p.default is p.empty:
            written.append(p.name)
        else:
            scope[f"_default_{p.name}"] = p.default
            written.append(f"{p.name}=_default_{p.name}")
    body = "".join(f"    _set_{name}(self, {name})\n" for name in names) or "    pass\n"
    exec(f"def __init__(self, {', '.join(written)}):\n{body}", scope)
    init = scope["__init__"]
    # Named as the class's own in what a wrong call raises ("Name.__init__() missing ...").
    init.__code__ = init.__code__.replace(co_qualname=f"{cls.__qualname__}.__init__")
    init.__qualname__ = made.__qualname__
    init.__doc__ = made.__doc__
    init.__wrapped__ = made  # (what it stands for: its signature, say)
    return init  # type: ignore[no-any-return]


def _on_first_value(cls: type, made: Callable[..., None]) -> Callable[..., None]:
    """``cls``'s ``__init__`` until its first value: it puts ``_stored_directly``'s in its
    place (or ``made`` again) and makes that value with it."""

    @functools.wraps(made)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = _stored_directly(cls, made) or made
        type.__setattr__(cls, "__init__", init)
        init(self, *args, **kwargs)

    return __init__


class ByValue:
    """A frozen dataclass's ``__eq__``, ``__hash__`` and ``__repr__`` (see the module)."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ``dataclass(slots=True)`` makes the class anew, with its fields, its ``__init__``
        # and its slots: this runs once more then, for the class that is kept.
        params = cls.__dict__.get("__dataclass_params__")
        made: Any = cls.__dict__.get("__init__")
        if (
            params is not None
            and params.frozen
            and params.init
            and "__slots__" in cls.__dict__
            and getattr(getattr(made, "__code__", None), "co_filename", None) == "<string>"
        ):  # (written by ``dataclass``, not by the class itself)
            type.__setattr__(cls, "__init__", _on_first_value(cls, made))

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

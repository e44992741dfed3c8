"""``ByValue`` and ``value_class``: frozen value classes made without compiling anything at
import, compared, hashed and shown by their fields through methods written once.

``dataclass`` writes the methods of each class it makes out as source text and compiles them
anew for every class: for a frozen one its ``__init__``, ``__setattr__`` and ``__delattr__``,
and ``__eq__``, ``__hash__`` and ``__repr__``. The frozen values a command loads (the events,
the stored records, the settings) are some fifty classes, and making them was a fifth of a
command line's start (bench/README.md, "Every target's benchmark at the twelfth session" and
"at the fifteenth session"). Such a class is declared

    @value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
    class Name(ByValue): ...

with the arguments ``dataclass`` takes (and the type checker reads as ``dataclass``'s):

- ``ByValue`` compares, hashes and shows it with the meaning ``dataclass`` gives those: equal
  to another of the very same class whose fields are equal, in their order; hashed by those
  values; shown as ``Name(field=value, ...)``. It refuses every change to a value
  (``FrozenInstanceError``, as a frozen dataclass does) and pickles and copies it by its
  fields.
- ``value_class`` has ``dataclass`` make the class with its fields and slots and nothing
  compiled. Its ``__init__``, with the parameters and defaults ``dataclass`` would give it,
  is compiled when the class makes its first value, not at import (a command line would pay
  for classes it never makes), and stores each argument through its field's slot: about a
  third less time per value than the ``object.__setattr__`` a frozen dataclass's ``__init__``
  goes through, which was a tenth of ``audit verify`` (bench/README.md, "Every target's
  benchmark at the fourteenth session").

Only for classes whose fields all take part in comparing and showing (no
``field(compare=False)`` or ``field(repr=False)``), and whose ``__init__`` only stores its
arguments: ``value_class`` refuses a ``__post_init__``, a ``default_factory``, an ``InitVar``, a
field left out of ``__init__`` and an ``__init__`` of the class's own. Such a class is a frozen
``dataclass`` over ``ByValue`` instead (``dataclass``'s own methods then stand).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable
from dataclasses import FrozenInstanceError, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["ByValue", "value_class"]

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


def _in_order(found: tuple[dataclasses.Field[Any], ...]) -> list[dataclasses.Field[Any]]:
    """The fields in the order of ``__init__``'s parameters: the positional ones, then the
    keyword-only ones (as ``dataclass`` orders them)."""
    return [f for f in found if not f.kw_only] + [f for f in found if f.kw_only]


def _signature(cls: type) -> inspect.Signature:
    """The signature ``dataclass`` would give ``cls.__init__``."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = [inspect.Parameter("self", kinds[0])]
    for f in _in_order(fields(cls)):
        default = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        parameters.append(
            inspect.Parameter(f.name, kinds[f.kw_only is True], default=default, annotation=f.type)
        )
    return inspect.Signature(parameters, return_annotation=None)


def _stored_directly(cls: type, signature: inspect.Signature | None = None) -> Callable[..., None]:
    """``cls``'s ``__init__``: what ``dataclass`` would write for it (``signature``, its
    ``_signature`` when given), storing each argument through its field's slot."""
    signature, names = signature or _signature(cls), _field_names(cls)
    scope: dict[str, Any] = {}
    for name in names:
        slot = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if not isinstance(slot, types.MemberDescriptorType):
            raise TypeError(f"{cls.__qualname__}.{name} has no slot of its own")
        scope[f"_set_{name}"] = slot.__set__
    written: list[str] = []
    for p in list(signature.parameters.values())[1:]:  # (self is written below)
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
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__signature__ = signature
    return init  # type: ignore[no-any-return]


def _on_first_value(cls: type) -> Callable[..., None]:
    """``cls``'s ``__init__`` until its first value: it puts ``_stored_directly``'s in its
    place and makes that value with it."""

    signature = _signature(cls)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = _stored_directly(cls, signature)
        type.__setattr__(cls, "__init__", init)
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__signature__ = signature  # type: ignore[attr-defined]
    return __init__


T = TypeVar("T", bound=type)

if TYPE_CHECKING:
    from dataclasses import dataclass as value_class
else:

    def value_class(
        *, frozen: bool, slots: bool, repr: bool, eq: bool, kw_only: bool = False
    ) -> Callable[[T], T]:
        """The class decorated made a value class over ``ByValue`` (see the module)."""
        if not frozen or not slots or repr or eq:
            raise TypeError(
                "a value class is declared frozen=True, slots=True, repr=False, eq=False: "
                "ByValue refuses changes and compares, hashes and shows it"
            )

        def make(cls: T) -> T:
            if not issubclass(cls, ByValue):
                raise TypeError(f"{cls.__qualname__} is a value class, but not a ByValue")
            if "__init__" in vars(cls) or hasattr(cls, "__post_init__"):
                raise TypeError(
                    f"{cls.__qualname__}: a value class only stores its arguments (make one "
                    "with an __init__ or __post_init__ a frozen dataclass over ByValue)"
                )
            made = dataclasses.dataclass(
                cls, init=False, repr=False, eq=False, frozen=False, slots=True, kw_only=kw_only
            )
            _check(made)
            type.__setattr__(made, "__init__", _on_first_value(made))
            return made

        return make


def _check(cls: type) -> None:
    """TypeError for what ``dataclass`` would make an ``__init__`` of that does more than
    store its arguments, or for defaults it would refuse."""
    found = fields(cls)
    declared = cls.__dict__["__dataclass_fields__"]
    for name, f in declared.items():
        if f not in found and "InitVar" in str(f.type):
            raise TypeError(f"{cls.__qualname__}.{name}: a value class takes no InitVar")
    seen_default = False
    for f in found:
        if f.default_factory is not dataclasses.MISSING or not f.init:
            raise TypeError(
                f"{cls.__qualname__}.{f.name}: a value class's fields are each given to "
                "__init__, with a default or none (no default_factory, no init=False)"
            )
        if not f.kw_only:
            if f.default is not dataclasses.MISSING:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")


class ByValue:
    """A frozen dataclass's ``__eq__``, ``__hash__`` and ``__repr__``; for a value class, also
    its refusal of changes and its pickling (see the module)."""

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

    # A value class is a dataclass that is not frozen as far as ``dataclass`` knows (that would
    # have it compile ``__setattr__`` and ``__delattr__`` for each class): these refuse as
    # those would. (A frozen dataclass over ByValue has its own, which stand.)
    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    # Pickled and copied by its fields' values, set again through ``object.__setattr__`` (the
    # default would set them through ``__setattr__``, which refuses), as ``dataclass`` does for
    # a frozen class with slots.
    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(_field_names(type(self)), state, strict=True):
            object.__setattr__(self, name, value)

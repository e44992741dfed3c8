"""The frozen values that take comparing, hashing and showing from ``engine.byvalue.ByValue``
behave as the methods ``dataclass`` would write for them: each is held against a dataclass
made from its own fields in the ordinary way."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import sys
from datetime import UTC, date, datetime
from typing import Any

import pytest

from engine.app.settings import Settings
from engine.byvalue import ByValue, value_class
from engine.errors import Problem, Unmet
from engine.ports import ChildRow, StoredEvent
from engine.runtime.events import (
    EVENT_TYPES,
    ApprovalRecorded,
    InstanceMigrated,
    InstanceStarted,
    MilestoneDone,
    MilestoneReopened,
    MilestoneSkipped,
    Regie,
)
from engine.runtime.instance import ApprovalRecord, PauseRecord

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
GEMEENTE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("a@zwolle.nl",))

CASES: list[tuple[type[Any], dict[str, Any]]] = [
    (Regie, {"type": "gemeente", "organisation": "Gemeente Zwolle", "contacts": ("a@b.nl",)}),
    (MilestoneDone, {"at": AT, "by": "kernteam", "milestone": "m1", "note": "klaar"}),
    (
        ApprovalRecorded,
        {"at": AT, "by": "college", "approval": "college", "phase": "p1", "decision": "go"},
    ),
    (
        InstanceStarted,
        {
            "at": AT,
            "by": "t",
            "key": "wk-a",
            "title": "Assendorp",
            "workflow_key": "wijkkompas",
            "workflow_version": 1,
            "workflow_hash": "ab" * 32,
            "phase": "samen-starten",
            "regie": GEMEENTE,
            "areas": ("WK019301",),
        },
    ),
    (
        StoredEvent,
        {
            "seq": 1,
            "type": "note_added",
            "at": AT,
            "recorded_at": AT,
            "actor": "t",
            "reason": None,
            "payload": {"text": "x"},
            "previous": None,
            "hash": "cd" * 32,
        },
    ),
    (
        Problem,
        {"severity": "error", "message": "unknown key", "source": "w.yaml", "line": 3, "column": 1},
    ),
    (Unmet, {"code": "milestone", "phase": "p1", "subject": "m1", "message": "m1 is open"}),
    (ApprovalRecord, {"decision": "no-go", "day": date(2026, 3, 2), "by": "college"}),
    (PauseRecord, {"button": "geld", "reason": "subsidie", "since": AT}),
    (
        ChildRow,
        {
            "key": "wk-a-d1",
            "title": "Flats",
            "state": "samen-starten",
            "workflow_id": 1,
            "regie_type": "woningcorporatie",
            "regie_organisation": None,
        },
    ),
    (Settings, {"db": "sqlite:///x.db", "workflows": ("w",)}),
]


def reference(cls: type[Any]) -> type[Any]:
    """A dataclass with ``cls``'s fields (each keyword-only where it is) whose methods
    ``dataclass`` writes itself."""
    made = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            made.append((f.name, f.type, dataclasses.field(default=f.default, kw_only=f.kw_only)))
        elif f.default_factory is not dataclasses.MISSING:
            made.append(
                (
                    f.name,
                    f.type,
                    dataclasses.field(default_factory=f.default_factory, kw_only=f.kw_only),
                )
            )
        else:
            made.append((f.name, f.type, dataclasses.field(kw_only=f.kw_only)))
    return dataclasses.make_dataclass(cls.__name__, made, frozen=True)


def hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def changed(value: Any) -> Any:
    """Another value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "!"
    if isinstance(value, tuple):
        return (*value, "z")
    if isinstance(value, datetime | date):
        return value.replace(year=value.year + 1)
    if isinstance(value, dict):
        return {**value, "z": 1}
    if isinstance(value, Regie):
        return dataclasses.replace(value, type="woningcorporatie")
    return "other" if value is None else None


@pytest.mark.parametrize(("cls", "values"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_a_value_compares_hashes_and_shows_as_its_dataclass_would(
    cls: type[Any], values: dict[str, Any]
) -> None:
    assert issubclass(cls, ByValue)
    Reference = reference(cls)
    ours, theirs = cls(**values), Reference(**values)
    assert repr(ours) == repr(theirs)
    assert ours == cls(**values)
    assert (ours != cls(**values)) is False
    assert hashable(ours) is hashable(theirs)
    if hashable(ours):
        assert hash(ours) == hash(theirs) == hash(cls(**values))
    for f in dataclasses.fields(cls):
        other = {**values, f.name: changed(getattr(ours, f.name))}
        assert (ours == cls(**other)) is (theirs == Reference(**other)) is False, f.name
        assert ours != cls(**other), f.name
    assert ours != theirs  # another class, however alike
    assert ours.__eq__(theirs) is NotImplemented
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(ours, first, changed(getattr(ours, first)))
    assert not hasattr(ours, "__dict__")  # still slotted


def test_kinds_of_event_with_the_same_fields_are_never_equal() -> None:
    skipped = MilestoneSkipped(at=AT, by="t", milestone="m1")
    reopened = MilestoneReopened(at=AT, by="t", milestone="m1")
    assert dataclasses.astuple(skipped) == dataclasses.astuple(reopened)
    assert skipped != reopened
    assert len({skipped, reopened, MilestoneSkipped(at=AT, by="t", milestone="m1")}) == 2


def test_every_kind_of_event_is_a_value_with_a_docstring_of_its_own() -> None:
    """A class without a docstring costs ``dataclass`` a signature at import (it writes one)."""
    for cls in EVENT_TYPES.values():
        assert issubclass(cls, ByValue)
        assert "__dict__" not in dir(cls)
        assert cls.__doc__, cls
        assert not cls.__doc__.startswith(cls.__name__ + "("), cls


def test_a_migration_with_its_dicts_cannot_be_hashed_as_before() -> None:
    migrated = InstanceMigrated(
        at=AT,
        by="t",
        plan="p",
        from_workflow="w v1",
        from_hash="a",
        to_workflow="w v2",
        to_hash="b",
        before={},
        after={},
    )
    with pytest.raises(TypeError):
        hash(migrated)


def test_every_value_class_of_the_engine_keeps_what_byvalue_asks() -> None:
    """Slotted; every field compared, hashed and shown (``field(compare=False)`` would be
    compared here all the same); no comparing, hashing or showing of its own; refusing every
    change, as a frozen dataclass (``dataclass``'s own methods, or ``ByValue``'s for a value
    class, which nothing of its own overrides)."""
    found = _engine_values()
    assert len(found) >= 50
    made_light = 0
    for cls in found:
        params = cls.__dataclass_params__
        assert (params.eq, params.repr, params.order) == (False, False, False), cls
        if params.frozen:  # a frozen dataclass over ByValue
            assert "__setattr__" in vars(cls), cls
        else:  # a value class
            assert not params.init, cls
            assert cls.__setattr__ is ByValue.__setattr__, cls
            assert cls.__delattr__ is ByValue.__delattr__, cls
            made_light += 1
        assert "__slots__" in vars(cls), cls
        for f in dataclasses.fields(cls):
            assert (f.compare, f.repr, f.hash) == (True, True, None), (cls, f.name)
        for name in ("__eq__", "__hash__", "__repr__"):
            assert name not in vars(cls), (cls, name)
    assert made_light >= 45


def _engine_values() -> list[type[Any]]:
    """Every class of the engine's modules that takes its methods from ``ByValue``."""
    import importlib
    import pkgutil

    import engine

    for module in pkgutil.walk_packages(engine.__path__, "engine."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found = []
    pending: list[type[Any]] = [ByValue]
    while pending:
        for cls in pending.pop().__subclasses__():
            pending.append(cls)
            # (``slots=True`` makes a new class: the one it was made from stays a subclass)
            module = sys.modules[cls.__module__]
            if cls.__module__.startswith("engine.") and vars(module).get(cls.__name__) is cls:
                found.append(cls)
    return found


def test_a_value_without_fields_is_equal_to_every_other_of_its_class() -> None:
    @value_class(frozen=True, slots=True, repr=False, eq=False)
    class Nothing(ByValue):
        """No fields at all."""

    @dataclasses.dataclass(frozen=True)
    class Reference:
        pass

    assert Nothing() == Nothing()
    assert hash(Nothing()) == hash(Reference())
    assert repr(Nothing()).endswith("Nothing()")
    assert inspect.signature(Nothing) == inspect.signature(Reference)


def test_a_value_stores_its_arguments_as_the_init_dataclass_wrote_would() -> None:
    @value_class(frozen=True, slots=True, repr=False, eq=False)
    class Mixed(ByValue):
        """Positional fields, one with a default, and keyword-only ones."""

        first: int
        second: str = "two"
        _: dataclasses.KW_ONLY
        third: tuple[int, ...]
        fourth: int | None = None

    @dataclasses.dataclass(frozen=True, slots=True)
    class Reference:
        first: int
        second: str = "two"
        _: dataclasses.KW_ONLY
        third: tuple[int, ...]
        fourth: int | None = None

    # Before its first value (nothing compiled yet) and after, the signature dataclass gives.
    assert inspect.signature(Mixed) == inspect.signature(Reference)
    assert Mixed.__init__.__code__.co_filename == inspect.getfile(value_class)
    for args, kwargs in [((1,), {"third": ()}), ((1, "b"), {"third": (3,), "fourth": 4})]:
        ours, theirs = Mixed(*args, **kwargs), Reference(*args, **kwargs)
        assert repr(ours).partition("(")[2] == repr(theirs).partition("(")[2]
        assert dataclasses.astuple(ours) == dataclasses.astuple(theirs)
    # The first value put the stored-directly __init__ in place, with the same signature.
    assert Mixed.__init__.__code__.co_filename == "<string>"
    assert inspect.signature(Mixed) == inspect.signature(Reference)
    assert inspect.signature(Mixed.__init__) == inspect.signature(Reference.__init__)
    for args, kwargs in [((), {"third": ()}), ((1, "b", (3,)), {}), ((1,), {"fifth": 5})]:
        with pytest.raises(TypeError) as ours_raised:
            Mixed(*args, **kwargs)
        with pytest.raises(TypeError) as theirs_raised:
            Reference(*args, **kwargs)
        # The same complaint, under the class's own name.
        assert str(ours_raised.value).startswith(f"{Mixed.__qualname__}.__init__() ")
        assert (
            str(ours_raised.value).partition("() ")[2]
            == str(theirs_raised.value).partition("() ")[2]
        )
    value, reference_value = Mixed(1, third=()), Reference(1, third=())
    for change in (lambda v: setattr(v, "first", 2), lambda v: delattr(v, "first")):
        with pytest.raises(dataclasses.FrozenInstanceError) as ours_refused:
            change(value)
        with pytest.raises(dataclasses.FrozenInstanceError) as theirs_refused:
            change(reference_value)
        assert str(ours_refused.value) == str(theirs_refused.value)
    assert value.first == 1


def test_a_value_is_pickled_copied_and_replaced_by_its_fields() -> None:
    """Through ``ByValue``'s state, not ``__setattr__`` (which refuses): an audit process
    hands its reports back pickled."""
    event = MilestoneDone(at=AT, by="kernteam", milestone="m1", note="klaar")
    for again in (
        pickle.loads(pickle.dumps(event)),
        copy.copy(event),
        copy.deepcopy(event),
    ):
        assert again == event
        assert again is not event
        assert type(again) is MilestoneDone
    moved = dataclasses.replace(event, note=None)
    assert (moved.note, moved.milestone) == (None, "m1")
    assert dataclasses.asdict(event)["note"] == "klaar"


def test_a_value_class_takes_no_init_that_does_more_than_store() -> None:
    """A default_factory, a __post_init__, an InitVar, a field out of __init__, an __init__ of
    its own, or a default before a field without one: refused when the class is made, not
    when it makes its first value. Such a class is a frozen dataclass over ByValue."""
    declare = value_class(frozen=True, slots=True, repr=False, eq=False)

    class Listed(ByValue):
        items: list[int] = dataclasses.field(default_factory=list)

    class Checked(ByValue):
        number: int

        def __post_init__(self) -> None:
            pass

    class Given(ByValue):
        number: int
        scale: dataclasses.InitVar[int] = 1

    class Hidden(ByValue):
        number: int = dataclasses.field(default=1, init=False)

    class Own(ByValue):
        number: int

        def __init__(self, number: int) -> None:
            object.__setattr__(self, "number", number)

    class Unordered(ByValue):
        first: int = 1
        second: str

    class Plain:
        number: int

    for cls in (Listed, Checked, Given, Hidden, Own, Unordered, Plain):
        with pytest.raises(TypeError):
            declare(cls)
    with pytest.raises(TypeError, match="frozen=True"):
        value_class(frozen=False, slots=True, repr=False, eq=False)


def test_a_frozen_dataclass_over_byvalue_keeps_the_init_dataclass_wrote() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, repr=False, eq=False)
    class Listed(ByValue):
        """A default_factory: each value a list of its own."""

        items: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True, repr=False, eq=False)
    class Checked(ByValue):
        """A __post_init__ that refuses what it does not take."""

        number: int

        def __post_init__(self) -> None:
            if self.number < 0:
                raise ValueError("negative")

    first, second = Listed(), Listed()
    assert first.items == []
    assert first.items is not second.items
    assert first == second
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    assert Checked(1).number == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        Checked(1).number = 2  # type: ignore[misc]
    assert copy.deepcopy(Checked(2)) == Checked(2)


def test_every_value_class_of_the_engine_is_made_with_the_signature_dataclass_gave_it() -> None:
    from engine.byvalue import _stored_directly

    for cls in _engine_values():
        if cls.__dataclass_params__.frozen:  # a frozen dataclass over ByValue: its own
            continue
        theirs = reference(cls)
        assert inspect.signature(cls) == inspect.signature(theirs), cls
        direct = _stored_directly(cls)
        assert inspect.signature(direct) == inspect.signature(theirs.__init__), cls

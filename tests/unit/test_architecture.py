"""The house's rules (DESIGN.md), stated once as data and enforced on the tree.

Every rule is checked by :func:`violations`, which reads a tree of source files (the repository,
or a copy of it with a planted violation) and returns what breaks the rules. The tests below run
it on the repository, where it must find nothing, and on copies with one violation planted per
rule, where it must find exactly that one: a rule that cannot fail protects nothing.

The rooms, from the ground up (a room may import the rooms below it, never above):

    engine.errors, engine.clock        the words every room uses
    engine.workflow                    the definition; knows no running instance
    engine.runtime                     one instance, driven by the machine compiled for it
    engine.ports, engine.testing       the contracts the application needs, and doubles for them
    engine.reminders                   planning, wording and delivering reminders
    engine.app                         the service, its read models, audit, settings
    engine.persistence                 SQL: only the composition root and tests import it
    engine.compose                     the composition root: builds the application from settings
    adapters                           the outside: e-mail, the scheduler, the faces
    cli                                the command line: nothing imports it
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import engine
from tests.sources import parse

REPO = Path(__file__).resolve().parents[2]

CORE = (
    "engine.byvalue",
    "engine.errors",
    "engine.clock",
    "engine.workflow",
    "engine.runtime",
    "engine.ports",
    "engine.reminders",
    "engine.app",
)
"""The core's rooms from the ground up: each may import the rooms before it."""


def below(room: str) -> set[str]:
    return set(CORE[: CORE.index(room)])


ROOMS: dict[str, set[str]] = {
    # room: the rooms it may import (besides itself)
    **{room: below(room) for room in CORE},
    "engine.testing": below("engine.reminders"),
    "engine.persistence": below("engine.reminders"),
    "engine.compose": {*CORE, "engine.persistence", "adapters"},
    # The public names (docs/embedding.md), loaded lazily: the embedding API opens a programme
    # through the composition root, so the package may name it and the application's values.
    "engine": {*CORE, "engine.compose"},
    "adapters": {*CORE, "engine", "engine.compose"},
    "cli": {*CORE, "engine", "engine.compose", "adapters"},
}
"""Which room may import which. ``engine.persistence`` appears only under the composition root;
nothing lists ``cli``."""

OUTSIDE_LIBRARIES: dict[str, set[str]] = {
    # third-party (or I/O) libraries and the rooms allowed to import them
    "sqlalchemy": {"engine.persistence"},
    "alembic": {"engine.persistence"},
    "psycopg": {"engine.persistence"},
    "click": {"cli", "adapters"},
    "apscheduler": {"adapters"},
    "httpx": {"adapters"},
    "smtplib": {"adapters"},
    "aiosmtpd": set(),
    "fastapi": {"adapters"},
    "starlette": {"adapters"},
    "uvicorn": {"adapters"},
    "jwt": {"adapters"},
    "cryptography": {"adapters"},
    "argon2": {"engine.app"},
    "jinja2": {"adapters"},
    "playwright": set(),
}

TRANSITIONS_HOME = "engine/runtime/machine.py"
"""The one module that imports ``transitions`` (the machine a compiled definition builds when
a trigger is first fired on it)."""

COMPOSITION_ROOT = "engine/compose.py"


@dataclass(frozen=True)
class Violation:
    path: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}: {self.detail}"


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(root: Path, path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (also inside functions and TYPE_CHECKING
    blocks), as dotted names with relative imports resolved."""
    tree = parse(path.read_text(encoding="utf-8"))
    package = module_name(root, path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def room_of(module: str) -> str | None:
    """The room a module of the project lives in (None: not ours)."""
    if module == "cli" or module.startswith("cli."):
        return "cli"
    if module == "adapters" or module.startswith("adapters."):
        return "adapters"
    if module == "engine":
        return "engine"
    if module.startswith("engine."):
        room = ".".join(module.split(".")[:2])
        return room if room in ROOMS else None
    return None


def source_files(root: Path) -> list[Path]:
    files = [root / "cli.py"] if (root / "cli.py").exists() else []
    for folder in ("engine", "adapters"):
        files += sorted(p for p in (root / folder).rglob("*.py") if "migrations" not in p.parts)
    return files


def project_modules(root: Path) -> dict[str, Path]:
    return {module_name(root, p): p for p in source_files(root)}


def violations(root: Path) -> list[Violation]:
    """Everything in the tree at ``root`` that breaks the house's rules."""
    found: list[Violation] = []
    modules = project_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        rel = path.relative_to(root).as_posix()
        room = room_of(name)
        assert room is not None, f"{rel} is in no room: add it to ROOMS"
        imported = imports_of(root, path)
        graph[name] = {m for m in imported if m in modules and m != name}
        broken: set[Violation] = set()
        for target in imported:
            other = room_of(target)
            top = target.split(".")[0]
            if other is not None and other != room and other not in ROOMS[room]:
                broken.add(Violation(rel, "rooms", f"{room} may not import {other}"))
            allowed = OUTSIDE_LIBRARIES.get(top)
            if allowed is not None and room not in allowed:
                broken.add(Violation(rel, "libraries", f"{room} may not import {top}"))
            if top == "transitions" and rel != TRANSITIONS_HOME:
                broken.add(Violation(rel, "transitions", f"only {TRANSITIONS_HOME} may import it"))
            if top == "cli" and name != "cli":
                broken.add(Violation(rel, "cli", "nothing may import cli.py"))
        found += sorted(broken, key=str)
    for circle in circles(graph):
        first = modules[circle[0]].relative_to(root).as_posix()
        found.append(Violation(first, "circles", " <-> ".join(circle)))
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(_targets(graph, node)):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _targets(graph: dict[str, set[str]], node: str) -> set[str]:
    # `from engine.x import y` names module engine.x (y may be a name in it or a submodule);
    # a package's __init__ counts as the package.
    return {t for t in graph[node] if t in graph}


def composition_roots(root: Path) -> list[str]:
    return [
        p.relative_to(root).as_posix()
        for p in source_files(root)
        if "# composition root" in p.read_text(encoding="utf-8").splitlines()
    ]


def test_the_tree_keeps_every_rule():
    assert [str(v) for v in violations(REPO)] == []


def test_one_composition_root_builds_the_application():
    assert composition_roots(REPO) == [COMPOSITION_ROOT]


PLANTS = [
    # (rule broken, file, line planted at its end)
    ("rooms", "engine/workflow/model.py", "from engine.runtime import instance"),
    ("rooms", "engine/runtime/gates.py", "from engine.app import service"),
    ("rooms", "adapters/email.py", "from engine.persistence import store"),
    ("rooms", "engine/app/service.py", "import engine.persistence.store"),
    ("libraries", "engine/runtime/gates.py", "import sqlalchemy"),
    ("libraries", "engine/app/service.py", "import click"),
    ("libraries", "engine/reminders/dispatch.py", "import smtplib"),
    ("libraries", "engine/persistence/database.py", "import apscheduler"),
    ("transitions", "engine/runtime/gates.py", "import transitions"),
    ("cli", "adapters/scheduler.py", "import cli"),
    ("circles", "engine/workflow/durations.py", "from engine.workflow import model"),
]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory):
    """A copy of the source tree to plant violations in (one file at a time, restored after)."""
    root = tmp_path_factory.mktemp("house")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("engine", "adapters"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    shutil.copy(REPO / "cli.py", root / "cli.py")
    return root


@pytest.mark.parametrize(("rule", "file", "line"), PLANTS, ids=lambda v: str(v))
def test_a_planted_violation_is_caught(tree_copy, rule, file, line):
    target = tree_copy / file
    original = target.read_text(encoding="utf-8")
    target.write_text(f"{original}\n{line}\n", encoding="utf-8")
    try:
        found = violations(tree_copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert {(v.rule, v.path) for v in found if v.rule == rule} >= {(rule, file)}, found
    assert all(v.path == file or v.rule == "circles" for v in found), found


def test_a_second_composition_root_is_caught(tree_copy):
    target = tree_copy / "cli.py"
    original = target.read_text(encoding="utf-8")
    target.write_text(f"{original}\n# composition root\n", encoding="utf-8")
    try:
        assert composition_roots(tree_copy) == ["cli.py", COMPOSITION_ROOT]
    finally:
        target.write_text(original, encoding="utf-8")


def test_every_module_is_in_a_room():
    for name in project_modules(REPO):
        assert room_of(name) in ROOMS, name


def test_public_names_are_exactly_all():
    assert sorted(engine.__all__) == sorted(set(engine.__all__))
    for name in engine.__all__:
        assert getattr(engine, name) is not None
    public = {n for n in dir(engine) if not n.startswith("_")}
    assert public - {"annotations", "importlib", "TYPE_CHECKING", "Any"} >= set(engine.__all__)
    with pytest.raises(AttributeError):
        engine.no_such_name  # noqa: B018


HEAVY = ("sqlalchemy", "apscheduler", "alembic", "transitions", "pydantic", "holidays")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    return {m.split(".")[0] for m in out.split()}


def test_help_imports_no_heavy_library():
    loaded = _modules_after(
        "import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert not loaded & set(HEAVY)


def test_validate_does_not_import_storage_or_scheduler():
    loaded = _modules_after(
        "import cli\ntry:\n"
        "    cli.main(['workflow', 'validate', 'workflows'])\nexcept SystemExit:\n    pass"
    )
    assert not loaded & {"sqlalchemy", "apscheduler", "alembic", "transitions"}

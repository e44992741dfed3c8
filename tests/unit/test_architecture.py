"""The dependency rules of DESIGN.md, enforced; and the public surface of ``engine``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import engine

REPO = Path(__file__).resolve().parents[2]
COMPOSITION_ROOT = REPO / "engine" / "compose.py"
CORE_FORBIDDEN = {
    "sqlalchemy",
    "alembic",
    "click",
    "apscheduler",
    "httpx",
    "smtplib",
    "psycopg",
    "aiosmtpd",
    "adapters",
    "cli",
}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, as dotted names (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
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


def python_files(*parts: str) -> list[Path]:
    return sorted((REPO.joinpath(*parts)).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize(
    "path",
    [p for p in python_files("engine") if "persistence" not in p.parts and p != COMPOSITION_ROOT],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_engine_core_stays_pure(path):
    bad = {m for m in imports_of(path) if top(m) in CORE_FORBIDDEN}
    bad |= {m for m in imports_of(path) if m.startswith("engine.persistence")}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_only_machine_imports_transitions():
    users = {
        p.relative_to(REPO).as_posix()
        for p in python_files("engine") + python_files("adapters") + [REPO / "cli.py"]
        if any(top(m) == "transitions" for m in imports_of(p))
    }
    assert users == {"engine/runtime/machine.py"}


@pytest.mark.parametrize("path", python_files("adapters"), ids=lambda p: p.name)
def test_adapters_use_the_engine_but_not_its_storage_or_the_cli(path):
    bad = {m for m in imports_of(path) if m.startswith("engine.persistence") or top(m) == "cli"}
    assert not bad


def test_nothing_imports_the_cli():
    offenders = [
        p.relative_to(REPO).as_posix()
        for p in python_files("engine") + python_files("adapters") + python_files("bench")
        if any(top(m) == "cli" for m in imports_of(p))
    ]
    assert offenders == []


def test_only_the_composition_root_and_tests_import_persistence():
    offenders = [
        p.relative_to(REPO).as_posix()
        for p in python_files("engine") + python_files("adapters") + [REPO / "cli.py"]
        if "persistence" not in p.parts
        and p != COMPOSITION_ROOT
        and any(m.startswith("engine.persistence") for m in imports_of(p))
    ]
    assert offenders == []


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
    return {top(m) for m in out.split()}


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

"""Finding workflow files: the search path, listing what is on it, resolving KEY or PATH.

The search path is, in order: the directories given by the caller (``--workflows`` or
WIJKKOMPAS_WORKFLOWS), ``./workflows``, and the workflows shipped with wijkkompas. A key is
resolved in the first directory that has a file with that key (so a file of your own shadows a
shipped one); within that directory the highest version wins, unless ``KEY@VERSION`` asks for
a particular one. A broken file whose key matches is reported, never skipped over; so are two
files of one directory that give the same key and version different content (which one is
meant cannot be known: ``version_clashes``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from engine.errors import DefinitionError, InvalidValue, NotFound, Problem
from engine.workflow.loader import LoadedWorkflow, inspect_text, load_file
from engine.workflow.model import WorkflowDefinition
from engine.workflow.yamlsource import read_yaml

__all__ = [
    "CatalogEntry",
    "WorkflowCatalog",
    "looks_like_path",
    "shipped_workflows_dir",
    "version_clashes",
]

SUFFIXES = (".yaml", ".yml")

WORKFLOW_REF = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}(?:@[0-9]{1,9})?")
"""KEY or KEY@VERSION, as a workflow's key is written (``model.KEY_PATTERN``): never a path."""


def shipped_workflows_dir() -> Path:
    """Where the shipped workflows are: inside the package when installed, else the repo."""
    engine = Path(__file__).resolve().parents[1]
    packaged = engine / "shipped_workflows"
    return packaged if packaged.is_dir() else engine.parent / "workflows"


def looks_like_path(ref: str) -> bool:
    """Whether a KEY|PATH argument names a file rather than a key."""
    # os.path.isfile: a name the file system cannot hold (too long) is no file, not an error.
    return ref.endswith(SUFFIXES) or "/" in ref or "\\" in ref or os.path.isfile(ref)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One workflow file on the search path."""

    path: Path
    origin: str
    key: str | None
    version: int | None
    title: str | None
    problem: str | None
    """The first error when the file is not valid."""
    shadowed: bool = False
    """Another file with the same key comes earlier on the search path."""

    @property
    def valid(self) -> bool:
        return self.problem is None


class WorkflowCatalog:
    """The workflows on a search path."""

    def __init__(self, extra_dirs: Iterable[str | Path] = (), *, cwd: Path | None = None) -> None:
        base = cwd or Path.cwd()
        candidates: list[tuple[str, Path]] = [(str(d), Path(d)) for d in extra_dirs]
        candidates.append(("./workflows", base / "workflows"))
        candidates.append(("shipped", shipped_workflows_dir()))
        self.dirs: list[tuple[str, Path]] = []
        self._inspected: dict[
            tuple[str, int, int], tuple[str | None, int | None, str | None, str | None]
        ] = {}
        self._loaded: dict[tuple[str, int, int], LoadedWorkflow] = {}
        self._identities: dict[tuple[str, int, int], tuple[str | None, int | None, str | None]] = {}
        seen: set[Path] = set()
        for origin, directory in candidates:
            resolved = directory.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            self.dirs.append((origin, directory))

    def _files(self, directory: Path) -> list[Path]:
        if not directory.is_dir():
            return []
        return sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())

    def entries(self) -> list[CatalogEntry]:
        """Every workflow file on the search path, valid or not, in search order."""
        result: list[CatalogEntry] = []
        first_dir: dict[str, str] = {}
        for origin, directory in self.dirs:
            for path in self._files(directory):
                key, version, title, problem = self._inspect(path)
                shadowed = key is not None and first_dir.setdefault(key, origin) != origin
                result.append(
                    CatalogEntry(
                        path=path,
                        origin=origin,
                        key=key,
                        version=version,
                        title=title,
                        problem=problem,
                        shadowed=shadowed,
                    )
                )
        return self._with_clashes(result)

    def _with_clashes(self, entries: list[CatalogEntry]) -> list[CatalogEntry]:
        """``entries``, those that clash with another file of their directory (the same key
        and version, other content) marked with it."""
        groups: dict[tuple[Path, str, int], list[CatalogEntry]] = {}
        for e in entries:
            if e.valid and e.key is not None and e.version is not None:
                groups.setdefault((e.path.parent, e.key, e.version), []).append(e)
        clashing = [e for members in groups.values() if len(members) > 1 for e in members]
        if not clashing:
            return entries
        found = {
            p.source: str(p)
            for p in version_clashes([(e.path, self._load(e.path).definition) for e in clashing])
        }
        return [
            replace(e, problem=found[str(e.path)]) if str(e.path) in found else e for e in entries
        ]

    def resolve(self, ref: str, *, files: bool = True) -> LoadedWorkflow:
        """Load the workflow named by ``ref``: a file path, KEY or KEY@VERSION. Without
        ``files`` (the HTTP API: a name a client sends is never opened on the server) only KEY
        or KEY@VERSION; anything else is not found."""
        if files and looks_like_path(ref):
            return load_file(ref)
        if not files and not WORKFLOW_REF.fullmatch(ref):
            raise NotFound("workflow", ref)
        key, _, wanted = ref.partition("@")
        version: int | None = None
        if wanted:
            if not (wanted.isascii() and wanted.isdigit()):
                raise InvalidValue(
                    "workflow version", wanted, "write KEY@VERSION, e.g. wijkkompas@1"
                )
            version = int(wanted)
        for _origin, directory in self.dirs:
            matches = [
                (v, p) for p in self._files(directory) for k, v, _ in [_identity(p)] if k == key
            ]
            if version is not None:
                matches = [(v, p) for v, p in matches if v == version]
            if matches:
                matches.sort(key=lambda vp: vp[0] if isinstance(vp[0], int) else -1)
                best = matches[-1][0]
                same = [p for v, p in matches if v == best] if best is not None else []
                if len(same) > 1:
                    clashes = version_clashes([(p, self._load(p).definition) for p in same])
                    if clashes:
                        raise DefinitionError(clashes[0].source, clashes)
                return self._load(matches[-1][1])
        known = sorted({e.key for e in self.entries() if e.key})
        label = f"{key}@{version}" if version is not None else key
        where = "the search path (" + ", ".join(o for o, _ in self.dirs) + ")"
        raise NotFound("workflow", label, where=where, known=known)

    def resolve_all(self, refs: Sequence[str]) -> list[LoadedWorkflow]:
        return [self.resolve(r) for r in refs]

    # A long-running process (the scheduler, an import) resolves the same files again and
    # again; a file is read once per version of it on disk.

    @staticmethod
    def _stamp(path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    def _load(self, path: Path) -> LoadedWorkflow:
        stamp = self._stamp(path)
        if stamp not in self._loaded:
            self._loaded[stamp] = load_file(path)
        return self._loaded[stamp]

    def _inspect(self, path: Path) -> tuple[str | None, int | None, str | None, str | None]:
        """Key, version, title and the first error of a file, checked once per version of it
        on disk."""
        try:
            stamp = self._stamp(path)
        except OSError:
            stamp = None
        if stamp is not None and stamp in self._inspected:
            return self._inspected[stamp]
        unreadable: str | None = None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            text, unreadable = "", f"{path}:1:1: error: cannot read the file ({exc})"
        definition, problems = inspect_text(text, str(path))
        errors = [unreadable] if unreadable else [str(p) for p in problems if p.is_error]
        identity: tuple[str | None, int | None, str | None] = (
            (definition.key, definition.version, definition.title)
            if definition is not None
            else _identity(path)
        )
        key, version, title = identity
        found = (key, version, title, errors[0] if errors else None)
        if stamp is not None:
            self._inspected[stamp] = found
        return found

    def _identity(self, path: Path) -> tuple[str | None, int | None, str | None]:
        stamp = self._stamp(path)
        if stamp not in self._identities:
            self._identities[stamp] = _identity(path)
        return self._identities[stamp]


def _identity(path: Path) -> tuple[str | None, int | None, str | None]:
    """Key, version and title as written, without validating the rest."""
    try:
        data = read_yaml(path.read_text(encoding="utf-8")).data
    except (OSError, UnicodeDecodeError):
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    key, version, title = data.get("key"), data.get("version"), data.get("title")
    return (
        key if isinstance(key, str) else None,
        int(version) if isinstance(version, int) and not isinstance(version, bool) else None,
        title if isinstance(title, str) else None,
    )


def version_clashes(found: Sequence[tuple[Path, WorkflowDefinition]]) -> list[Problem]:
    """Files of one directory that give one key and version different content: an error at
    each one's ``version``, naming the others (the same content twice, a copy, is no clash).
    Which of them a KEY or KEY@VERSION means cannot be known, and an instance would be pinned
    to whichever came first."""
    from engine.workflow.normal import definition_hash

    groups: dict[tuple[Path, str, int], list[tuple[Path, str]]] = {}
    for path, definition in found:
        where = (path.parent.resolve(), definition.key, definition.version)
        groups.setdefault(where, []).append((path, definition_hash(definition)))
    problems: list[Problem] = []
    for (_, key, version), members in groups.items():
        for path, digest in members:
            others = [other.name for other, theirs in members if theirs != digest]
            if not others:
                continue
            line, column = _version_position(path)
            problems.append(
                Problem(
                    severity="error",
                    message=f"{key} v{version} is also written in {', '.join(others)}, with "
                    "other content: raise 'version' in the newer one",
                    source=str(path),
                    line=line,
                    column=column,
                )
            )
    return sorted(problems, key=lambda p: p.source)


def _version_position(path: Path) -> tuple[int, int]:
    try:
        return read_yaml(path.read_text(encoding="utf-8")).positions.of(("version",))
    except (OSError, UnicodeDecodeError):
        return 1, 1

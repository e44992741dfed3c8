"""Pinning workflow versions: the exact definition an instance starts on is stored with it.

The first instance on a workflow version stores its normalised definition and hash (of two
first instances at once, the second uses what the first stored); later instances on the same
key and version must have the same content, so changing a file never
changes a running instance behind its back (raise ``version`` in the file instead). A workflow
no longer on the search path can still be named when it is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from engine.clock import local_date
from engine.errors import Conflict, InvalidValue, NotFound
from engine.ports import StoredWorkflow

if TYPE_CHECKING:
    # Only a type here: the loader brings the YAML reader and the validation of files, which
    # a command on a stored workflow does not need.
    from engine.ports import Store, UnitOfWork
    from engine.workflow.loader import LoadedWorkflow

__all__ = ["Resolver", "pin", "stored_versions"]

Resolver = Callable[[str], "LoadedWorkflow"]
"""Loads the workflow a name refers to (a file path, KEY or KEY@VERSION); NotFound if none."""


def stored_versions(store: Store, key: str | None = None) -> list[StoredWorkflow]:
    """Every stored workflow version (or those of ``key``)."""
    with store.read() as uow:
        return uow.workflow_versions(key)


def pin(
    uow: UnitOfWork, resolve: Resolver | None, ref: str, by: str, now: datetime
) -> StoredWorkflow:
    """The stored version of the workflow ``ref`` names, storing it on first use."""
    try:
        if resolve is None:
            raise NotFound("workflow", ref)
        loaded = resolve(ref)
    except NotFound:
        stored = _stored_fallback(uow, ref)
        if stored is None:
            raise
        return stored
    # The file format (pydantic) is loaded with the file, not by every command that imports
    # this module: most run a stored definition only (engine.workflow.stored).
    from engine.workflow.normal import canonical_json, definition_hash, normalise

    definition = normalise(loaded.definition)
    digest = definition_hash(definition)
    stored = uow.find_workflow(definition.key, definition.version)
    if stored is None:
        try:
            return uow.add_workflow(
                key=definition.key,
                version=definition.version,
                hash=digest,
                title=definition.title,
                definition=canonical_json(definition),
                # A file's name may hold bytes that are not UTF-8 (lone surrogates in Python),
                # which no database column takes: they are kept as U+FFFD.
                source=loaded.source.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
                at=now,
                by=by,
            )
        except Conflict:
            # Another command stored this version first (two first instances at once): use
            # its row, if it holds the same definition.
            stored = uow.find_workflow(definition.key, definition.version)
            if stored is None:
                raise
    if stored.hash != digest:
        raise InvalidValue(
            "workflow",
            f"{definition.key} v{definition.version}",
            f"{loaded.source} differs from the version stored on "
            f"{local_date(stored.stored_at)} (hash {stored.hash[:12]}, now {digest[:12]}); "
            "running instances keep the stored one: raise 'version' in the file to start "
            "new instances on the changed workflow",
        )
    return stored


def _stored_fallback(uow: UnitOfWork, ref: str) -> StoredWorkflow | None:
    """A workflow no longer on the search path, but stored: KEY (highest) or KEY@VERSION."""
    key, _, wanted = ref.partition("@")
    versions = uow.workflow_versions(key)
    if wanted.isdigit():
        versions = [v for v in versions if v.version == int(wanted)]
    return versions[-1] if versions else None

"""The reads of ``audit verify`` over every instance (``engine.ports.AuditingUnit``), for a
unit of work that has the driver's cursor on its connection: SQLAlchemy's (``Queries``) and the
command path's (``CommandUnit``, whose read of a SQLite file imports no SQLAlchemy at all).
The statements and the reading of their rows are ``auditlogs.py``'s, imported when an audit
runs: a command that inherits these never loads them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.persistence.fastpath import FastPath
    from engine.ports import AuditedLog, AuditRows, StoredWorkflow

__all__ = ["AuditReads"]


class AuditReads:
    """``audit_rows``, ``audit_pages`` and ``audit_reader`` of a unit that gives the driver's
    cursor (``_audit_cursor``) and reads stored versions (``workflow``)."""

    __slots__ = ()

    def _audit_cursor(self) -> tuple[Any, FastPath]:
        """The driver's cursor on this unit's connection, and the fast path of its dialect."""
        raise NotImplementedError

    def workflow(self, workflow_id: int) -> StoredWorkflow:
        raise NotImplementedError

    def audit_rows(self, after: str | None, limit: int, *, key: str | None = None) -> AuditRows:
        from engine.persistence.auditlogs import audit_rows

        cursor, fast = self._audit_cursor()
        return audit_rows(cursor, fast, self.workflow, after, limit, key=key)

    def audit_pages(self, page: int) -> tuple[list[str], list[StoredWorkflow]]:
        from engine.persistence.auditlogs import audit_pages

        bounds, versions = audit_pages(*self._audit_cursor(), page)
        return bounds, [self.workflow(v) for v in versions]

    def audit_reader(
        self,
    ) -> Callable[[AuditRows, Callable[[StoredWorkflow], Mapping[str, int]]], list[AuditedLog]]:
        from engine.persistence.auditlogs import audit_logs

        return partial(audit_logs, self._audit_cursor()[1])

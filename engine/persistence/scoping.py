"""What a reader may see of the instances, as one SQL condition on ``instances`` rows.

A scope (``engine.ports.InstanceScope``, made by ``engine.app.access.scope``) is everything, or
the instances whose regie organisation is one of its ``names`` (lower case; compared with the
column trimmed and folded to lower case: :class:`folded`) or of which its ``organisation`` is a
party (the ``instance_parties`` projection). Lists, the status overview and the event feed all
filter with this one condition, so they cannot disagree about who sees what.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, exists, false, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import GenericFunction

from engine.persistence.database import fold_sql
from engine.persistence.rows import PARTIES, I
from engine.ports import InstanceScope

__all__ = ["folded", "visible"]


class folded(GenericFunction[str]):
    """A column trimmed and in lower case, compared with names ``str.lower`` gave (on SQLite
    through ``database.fold``: its own ``lower`` folds ASCII letters only)."""

    type = String()
    inherit_cache = True


@compiles(folded)
def _folded(element: folded, compiler: Any, **kw: Any) -> str:
    return fold_sql(compiler.process(element.clauses, **kw), sqlite=False)


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return fold_sql(compiler.process(element.clauses, **kw), sqlite=True)


def visible(scope: InstanceScope | None) -> ColumnElement[bool]:
    """The condition on ``instances`` rows that ``scope`` lets through (None: every row)."""
    if scope is None or scope.everything:
        return true()
    seen: list[ColumnElement[bool]] = []
    names = [n.lower() for n in scope.names if n]
    if names:
        # Trimmed as access.py strips it: a regie typed with spaces around it is still its.
        seen.append(folded(I.c.regie_organisation).in_(names))
    if scope.organisation is not None:
        seen.append(
            exists().where(
                PARTIES.c.instance_id == I.c.id, PARTIES.c.organisation == scope.organisation
            )
        )
    return or_(false(), *seen)

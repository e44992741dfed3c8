"""What a reader may see of the instances, as one SQL condition on ``instances`` rows.

A scope (``engine.ports.InstanceScope``, made by ``engine.app.access.scope``) is everything, or
the instances whose regie organisation is one of its ``names`` (lower case; compared with the
column trimmed and folded to lower case) or of which its ``organisation`` is a party (the
``instance_parties`` projection). Lists, the status overview and the event feed all filter with
this one condition, so they cannot disagree about who sees what.
"""

from __future__ import annotations

from sqlalchemy import exists, false, func, or_, true
from sqlalchemy.sql.elements import ColumnElement

from engine.persistence.rows import PARTIES, I
from engine.ports import InstanceScope

__all__ = ["visible"]


def visible(scope: InstanceScope | None) -> ColumnElement[bool]:
    """The condition on ``instances`` rows that ``scope`` lets through (None: every row)."""
    if scope is None or scope.everything:
        return true()
    seen: list[ColumnElement[bool]] = []
    names = [n.lower() for n in scope.names if n]
    if names:
        # Trimmed as access.py strips it: a regie typed with spaces around it is still its.
        seen.append(func.lower(func.trim(I.c.regie_organisation)).in_(names))
    if scope.organisation is not None:
        seen.append(
            exists().where(
                PARTIES.c.instance_id == I.c.id, PARTIES.c.organisation == scope.organisation
            )
        )
    return or_(false(), *seen)

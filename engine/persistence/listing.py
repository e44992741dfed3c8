"""Lists of instances in SQL: filters, the scope of the caller, sorting and keyset pages.

One SELECT per page: every filter and the scope are WHERE clauses, the order is the sort column
and then the key (unique, so the order is total), and a page starts after the sort value and
key of the last row of the page before (``(sort, key) > (value, key)``, or ``<`` descending),
so page 1000 costs what page 1 costs. It fetches ``limit + 1`` rows: the extra one only says
whether there is a page after.

An area matches as a quoted string inside the JSON text of the ``areas`` column
(``LIKE '%"BU01930101"%'``): the codes are checked (letters and digits only) before they get
here, and the quotes anchor the match to a whole code. Overdue is what the status overview
counts: a milestone deadline row, not frozen, due before today.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    bindparam,
    cast,
    false,
    func,
    or_,
    select,
    tuple_,
)

from engine.persistence.rows import D, I, W
from engine.persistence.scoping import folded, visible
from engine.ports import InstanceQuery, InstanceSummary
from engine.runtime.events import Regie

__all__ = ["instance_page"]


def _overdue(today: date) -> ColumnElement[bool]:
    """Has a milestone past due that is not frozen. Asked as "its id is among the instances of
    the deadlines past due", so that the database can start from the index on ``due`` (few rows
    are past due) rather than look at every instance's deadlines."""
    past_due = select(D.c.instance_id).where(
        D.c.due < today, D.c.kind == "milestone", D.c.frozen == false()
    )
    return I.c.id.in_(past_due)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Scope(NamedTuple):
    everything: bool
    organisation: str | None
    names: tuple[str, ...]


def instance_page(
    connection: Connection,
    query: InstanceQuery,
    *,
    today: date,
    after: tuple[Any, str] | None,
    everything: bool,
    organisation: str | None,
    names: Sequence[str],
) -> tuple[list[InstanceSummary], bool]:
    """A page of at most ``query.limit`` instances, and whether more follow."""
    parent = I.alias("parent")
    overdue = _overdue(today).label("overdue")
    statement = select(
        I.c.key,
        I.c.title,
        W.c.key.label("workflow"),
        W.c.version.label("workflow_version"),
        I.c.phase,
        I.c.state,
        I.c.paused_button,
        I.c.regie_type,
        I.c.regie_organisation,
        I.c.regie_contacts,
        parent.c.key.label("parent"),
        I.c.areas,
        I.c.created_at,
        I.c.last_event_at,
        I.c.seq,
        I.c.head,
        overdue,
    ).select_from(
        I.join(W, W.c.id == I.c.workflow_version_id).outerjoin(parent, parent.c.id == I.c.parent_id)
    )
    where: list[ColumnElement[bool]] = []
    if not everything:
        where.append(visible(_Scope(False, organisation, tuple(names))))
    if query.phase is not None:
        where.append(I.c.phase == query.phase)
    if query.state is not None:
        where.append(I.c.state == query.state)
    if query.paused is not None:
        where.append(
            I.c.paused_button.is_not(None) if query.paused else I.c.paused_button.is_(None)
        )
    if query.regie_type is not None:
        where.append(I.c.regie_type == query.regie_type)
    if query.regie_organisation is not None:
        # Trimmed and folded as reading an instance (and the scope) does, on both databases.
        where.append(folded(I.c.regie_organisation) == query.regie_organisation.strip().lower())
    if query.overdue is not None:
        where.append(_overdue(today) if query.overdue else ~_overdue(today))
    if query.workflow is not None:
        where.append(W.c.key == query.workflow)
    if query.area is not None:
        where.append(cast(I.c.areas, String).like(f'%"{query.area}"%'))
    if query.parent is not None:
        where.append(parent.c.key == query.parent)
    if query.search is not None:
        pattern = _like(query.search)
        where.append(
            or_(
                func.lower(I.c.title).like(pattern, escape="\\"),
                func.lower(I.c.key).like(pattern, escape="\\"),
            )
        )
    descending = query.sort.startswith("-")
    name = query.sort.removeprefix("-")
    column = I.c[name]
    if after is not None:
        value, key = after
        if name == "key":
            where.append(I.c.key < key if descending else I.c.key > key)
        else:
            here = tuple_(column, I.c.key)
            there = tuple_(bindparam(None, value, type_=column.type), bindparam(None, key))
            where.append(here < there if descending else here > there)
    order = [column.desc(), I.c.key.desc()] if descending else [column, I.c.key]
    if name == "key":
        order = order[:1]
    statement = statement.where(*where).order_by(*order).limit(query.limit + 1)
    rows = connection.execute(statement).all()
    items = [
        InstanceSummary(
            key=r.key,
            title=r.title,
            workflow=r.workflow,
            workflow_version=r.workflow_version,
            phase=r.phase,
            state=r.state,
            paused=r.paused_button is not None,
            regie=Regie(
                type=r.regie_type,
                organisation=r.regie_organisation,
                contacts=tuple(r.regie_contacts),
            ),
            parent=r.parent,
            areas=tuple(r.areas),
            created_at=r.created_at,
            last_event_at=r.last_event_at,
            seq=r.seq,
            head=r.head,
            overdue=bool(r.overdue),
        )
        for r in rows[: query.limit]
    ]
    return items, len(rows) > query.limit

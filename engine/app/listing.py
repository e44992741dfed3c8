"""Lists of instances: a query checked, the caller's scope applied, a page and its cursor.

The filtering, the scope, the order and the paging are done by the store, in SQL
(``UnitOfWork.instance_page``); this module checks the query (bad input is InvalidValue) and
turns the last row of a page into the opaque cursor of the next one: base64url of JSON with the
sort, the sort value and the key. A cursor that does not decode, or was made for another
sort, is InvalidValue.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from engine.app.access import Scope
from engine.app.context import Context
from engine.clock import local_date
from engine.errors import InvalidValue
from engine.ports import INSTANCE_SORTS, InstancePage, InstanceQuery, InstanceSummary
from engine.runtime.areas import check_area

__all__ = ["MAX_LIMIT", "SORTS", "instances"]

MAX_LIMIT = 500
SORTS = (*INSTANCE_SORTS, *(f"-{s}" for s in INSTANCE_SORTS))
_MOMENTS = ("last_event_at", "created_at")


def _sort_value(item: InstanceSummary, name: str) -> Any:
    value = getattr(item, name)
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(sort: str, item: InstanceSummary) -> str:
    name = sort.removeprefix("-")
    data = {"s": sort, "v": _sort_value(item, name), "k": item.key}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """The (sort value, key) a cursor carries; InvalidValue when it is not one of ours for
    ``sort``."""
    bad = InvalidValue("cursor", cursor, "pass the 'next' of the page before, unchanged")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise bad from None
    if not isinstance(data, dict) or set(data) != {"s", "v", "k"} or not isinstance(data["k"], str):
        raise bad
    if data["s"] != sort:
        raise InvalidValue(
            "cursor", cursor, f"it was made for sort {data['s']!r}, not {sort!r}: start again"
        )
    name = sort.removeprefix("-")
    value = data["v"]
    if name in _MOMENTS:
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise bad from None
        if value.tzinfo is None:
            raise bad
    elif not isinstance(value, str):
        raise bad
    return value, data["k"]


def check_query(query: InstanceQuery) -> InstanceQuery:
    """The query as the store takes it (an area code in its canonical form)."""
    if query.sort not in SORTS:
        raise InvalidValue("sort", query.sort, "one of " + ", ".join(SORTS))
    if isinstance(query.limit, bool) or not isinstance(query.limit, int):
        raise InvalidValue("limit", query.limit, f"a whole number from 1 to {MAX_LIMIT}")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidValue("limit", query.limit, f"a whole number from 1 to {MAX_LIMIT}")
    for name in ("phase", "state", "regie_type", "regie_organisation", "workflow", "parent"):
        value = getattr(query, name)
        if value is not None and (not isinstance(value, str) or not value or len(value) > 200):
            raise InvalidValue(name, value, "some text, at most 200 characters")
    if query.search is not None and (not query.search.strip() or len(query.search) > 200):
        raise InvalidValue("search", query.search, "some text, at most 200 characters")
    if query.area is not None:
        query = replace(query, area=check_area(query.area))
    return query


def instances(context: Context, query: InstanceQuery, scope: Scope | None = None) -> InstancePage:
    """A page of the instances ``scope`` may see (None: all) that pass ``query``."""
    query = check_query(query)
    after = decode_cursor(query.after, query.sort) if query.after is not None else None
    if scope is not None and scope.nothing:
        return InstancePage([], None)
    everything = scope is None or scope.everything
    today = local_date(context.clock.now())
    with context.store.read() as uow:
        items, more = uow.instance_page(
            query,
            today=today,
            after=after,
            everything=everything,
            organisation=None if everything or scope is None else scope.organisation,
            names=() if everything or scope is None else tuple(n.lower() for n in scope.names),
        )
    return InstancePage(items, encode_cursor(query.sort, items[-1]) if more else None)

"""Starting instances: new neighbourhoods and sub-projects, many in one transaction.

``create_instances`` checks every item and refuses keys that repeat or exist, pins each
workflow the items name, starts each instance in the first phase of its compiled machine, seals
its first event, and writes instances, events and deadline rows in batches. All of them are
saved, or (on any error) none. A parent may be an existing instance that still runs, or one
earlier in the same import.

Under ``engine.app.receipts.keeping`` it creates exactly one instance and stores the receipt of
the request in the same transaction, before the instance's rows: a request repeated under a
live key is refused with ReceiptExists, also when the first one created the instance meanwhile
(the key is looked at before the instance key is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from engine.app.context import Context
from engine.app.pinning import Resolver, pin
from engine.app.projection import deadline_states
from engine.app.receipts import current_maker, make_receipt
from engine.app.sealing import seal
from engine.app.values import (
    NewInstance,
    Recorded,
    check_new_instance,
    check_start,
    contact_warnings,
    effective_time,
)
from engine.errors import InvalidValue, RuleViolation
from engine.ports import NewInstanceRows, StoredWorkflow

if TYPE_CHECKING:
    from engine.ports import UnitOfWork

__all__ = ["create_instances", "parent_id"]


def create_instances(
    context: Context,
    resolve: Resolver | None,
    items: Sequence[NewInstance],
    *,
    by: str,
    at: date | datetime | None = None,
    reason: str | None = None,
    batch_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
    max_start_age: int,
    allow_old_start: bool = False,
) -> list[Recorded]:
    """Create many instances in one transaction: all of them, or (on any error) none.

    A parent may be an existing instance or one earlier in ``items``. ``progress`` hears
    (written, total) after each batch. A start (``at``) more than ``max_start_age`` years ago
    is refused unless ``allow_old_start``.
    """
    now = context.now_to_record()
    moment = effective_time(at, now)
    if not allow_old_start:
        check_start(moment, now, max_start_age)
    maker = current_maker()
    if maker is not None and len(items) != 1:
        raise InvalidValue(
            "number of instances to create under an idempotency key",
            len(items),
            "exactly one (one request, one answer): create them one by one, or without a key",
        )
    checked = [check_new_instance(item) for item in items]
    seen: set[str] = set()
    for item in checked:
        if item.key in seen:
            raise InvalidValue("instance key", item.key, "it appears twice in the import")
        seen.add(item.key)
    results: list[Recorded] = []
    with context.store.write() as uow:
        if maker is None:
            _refuse_taken(uow, checked)
        pinned: dict[str, StoredWorkflow] = {}
        ids: dict[str, int] = {}
        batch: list[NewInstanceRows] = []

        def flush() -> None:
            for row, new_id in zip(batch, uow.add_instances(batch), strict=True):
                ids[row.instance.key] = new_id
            batch.clear()
            if progress is not None:
                progress(len(results), len(checked))

        for item in checked:
            pending = {row.instance.key for row in batch}
            if len(batch) >= batch_size or item.parent in pending:
                flush()  # a parent higher up in the import gets its id first
            parent = parent_id(context, uow, item, ids)
            if item.workflow not in pinned:
                pinned[item.workflow] = pin(uow, resolve, item.workflow, by, now)
            stored = pinned[item.workflow]
            compiled = context.compiled(stored)
            instance, event = compiled.start(
                key=item.key,
                title=item.title,
                regie=item.regie,
                at=moment,
                by=by,
                parent=item.parent,
                areas=item.areas,
                reason=reason,
            )
            sealed = seal(item.key, 1, None, event, now)
            batch.append(
                NewInstanceRows(
                    instance=instance,
                    workflow_id=stored.id,
                    parent_id=parent,
                    event=sealed,
                    deadlines=deadline_states(compiled, instance),
                )
            )
            results.append(
                Recorded(
                    item.key,
                    sealed,
                    instance.state,
                    instance.phase,
                    compiled,
                    instance,
                    contact_warnings(instance),
                )
            )
        if maker is not None:
            # The one item is still in ``batch``: the receipt goes first (see the module).
            uow.keep(make_receipt(maker, results[0], now))
            _refuse_taken(uow, checked)
        if batch:
            flush()
    return results


def _refuse_taken(uow: UnitOfWork, items: Sequence[NewInstance]) -> None:
    taken = uow.existing_keys([item.key for item in items])
    if taken:
        shown = ", ".join(sorted(taken)[:5])
        raise InvalidValue("instance key", shown, "an instance with this key exists already")


def parent_id(
    context: Context, uow: UnitOfWork, item: NewInstance, new: dict[str, int]
) -> int | None:
    """The id of the item's parent: one created earlier in this import (``new``), or an
    existing instance that still runs (loading it locks its row until the import is saved)."""
    if item.parent is None:
        return None
    if item.parent in new:
        return new[item.parent]
    record = context.load(uow, item.parent)
    if record.instance.is_finished:
        raise RuleViolation(item.parent, "add a sub-project", f"it is {record.instance.state}")
    return record.id

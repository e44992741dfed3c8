"""Who acts, checked again inside the command's own transaction.

A face that has principals (the HTTP API) checks a command before it asks the service (so
that it can answer 404 or 403 without starting one), and also installs that check here for the
command: ``Commands._decide`` runs it on the instance exactly as the command is decided on, in
the same transaction. A hand-over of regie committed between the first check and the command is
seen; nothing is recorded that the rule table did not allow on the row as it was written.

The check is carried by a context variable, so it applies to the commands this thread (or task)
runs inside ``acting(...)`` and to nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from engine.runtime.commands import CompiledWorkflow
from engine.runtime.instance import Instance

__all__ = ["Check", "acting", "check"]

Check = Callable[[CompiledWorkflow, Instance], None]
"""Raises (NotFound, Forbidden) when the command may not be done to this instance."""

_CHECK: ContextVar[Check | None] = ContextVar("wijkkompas_acting", default=None)


@contextmanager
def acting(rule: Check) -> Iterator[None]:
    token = _CHECK.set(rule)
    try:
        yield
    finally:
        _CHECK.reset(token)


def check(workflow: CompiledWorkflow, instance: Instance) -> None:
    """Run the check installed by ``acting``, if any."""
    rule = _CHECK.get()
    if rule is not None:
        rule(workflow, instance)

"""Whether a reminder planned earlier is still due when it is to be delivered.

A reminder is planned into the outbox on its day, but may go out much later: the mail server
was down for a day, it waits for the morning's digest. Meanwhile the knooppunt may have been
done, the phase ended, the instance paused, or the due date moved. Before it is delivered, the
dispatcher compares what the reminder was planned for (its deadline: kind, subject and due
date) with the deadline rows as they stand; a reminder whose deadline is gone, moved or frozen
by a pause is cancelled with the reason instead of telling its reader something that is no
longer true ("Te laat" for a finished knooppunt). Legal deadlines and pause reviews never
freeze, so a pause does not cancel their reminders.

Pure: no storage here (``dispatch.py`` reads the rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from engine.ports import DeadlineState

__all__ = ["why_not_due"]

_ENDED = {
    "milestone": "is no longer open (done or skipped, its phase ended, or the instance stopped)",
    "gate": "is no longer ahead (the phase ended, or the instance stopped)",
    "review": "is no longer ahead (the instance resumed, or stopped)",
    "approval": "is no longer asked for (it was decided, the phase ended, or the instance stopped)",
}


def _what(item: Mapping[str, Any]) -> str:
    """The deadline as the reason names it: "knooppunt 'plan'" (the workflow's own term)."""
    kind, subject = item["kind"], item["subject"]
    if kind == "milestone":
        return f"{item.get('term') or 'milestone'} '{subject}'"
    if kind == "gate":
        return f"the end of phase '{subject}'"
    if kind == "approval":
        return f"the decision '{subject}'"
    return f"the review of the pause '{subject}'"


def why_not_due(
    instance_id: int,
    item: Mapping[str, Any],
    states: Mapping[tuple[int, str, str], DeadlineState],
) -> str | None:
    """Why the reminder ``item`` (an outbox row's payload) of instance ``instance_id`` is not
    to be sent any more, given the deadline rows ``states`` by (instance id, kind, subject);
    None when its deadline is still running with the due date it was planned for. A payload
    that is not about a deadline is always still due."""
    try:
        kind, subject = str(item["kind"]), str(item["subject"])
        planned = date.fromisoformat(item["due"])
    except (KeyError, TypeError, ValueError):
        return None
    instance = item.get("instance", instance_id)
    if item.get("rule") == "request":
        return None  # asked by hand, on purpose: it goes out as asked
    if kind == "ready":
        # "Gate ready" tells of an event: still worth telling while its phase runs (the phase's
        # planned end is a deadline row exactly as long as it does).
        if (instance_id, "gate", subject) in states:
            return None
        return (
            f"cancelled at delivery: phase '{subject}' of {instance} is no longer running "
            "(it moved on, or the instance stopped), so its gate is no news"
        )
    what = _what(item)
    state = states.get((instance_id, kind, subject))
    if state is None:
        ended = _ENDED.get(kind, _ENDED["review"])
        return f"cancelled at delivery: {what} of {instance} {ended}"
    if state.due != planned:
        return (
            f"cancelled at delivery: the due date of {what} of {instance} moved from "
            f"{planned.isoformat()} to {state.due.isoformat()}; the reminders of the new date "
            "are planned anew"
        )
    if state.frozen and not state.legal:
        return (
            f"cancelled at delivery: {instance} is paused; the reminders of {what} wait until "
            "it resumes"
        )
    return None

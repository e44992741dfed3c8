"""The errors the engine raises, each carrying the facts its message is built from.

Every error a user can cause derives from :class:`WorkflowError`. The command line maps the
branches to exit codes (``exit_code``): 2 for bad input, 3 for a refusal by the workflow's rules,
4 for a conflict with a concurrent writer (only for a caller who asked for a version check) and
for a request repeated under an idempotency key that was used already, 5 for a database too
busy to take the command now (try again), 6 for a reminder pass that left due reminders
undelivered.

    WorkflowError
    ├── InputError (2)                 bad input: a value, a file, a name that does not exist
    │   ├── DefinitionError            a workflow file with problems (carries every Problem)
    │   │   └── PlanError              a migration plan with problems (FILE:LINE:COL each)
    │   ├── NotFound                   an unknown workflow, instance, phase, milestone, ...
    │   ├── InvalidValue               a value with the wrong form (CBS code, date, duration)
    │   └── PretendedTime              a command that writes, asked to run at a pretended moment
    ├── Refused (3)                    the workflow's rules say no; nothing was changed
    │   ├── GateNotMet                 the exit criteria of a phase are not met (each one an
    │   │                              :class:`Unmet`: a code, the id it is about, words)
    │   ├── TransitionNotAllowed       this command is not possible from the current state
    │   ├── RuleViolation              a milestone, approval or hand-over rule says no
    │   ├── BrokenLog                  the instance row does not end where its log ends
    │   ├── StoredDefinitionBroken     a stored workflow definition does not match its hash
    │   ├── MigrationRefused           a migration plan cannot move some instances
    │   └── Forbidden                  the principal may see the instance, but not do this
    ├── Conflict (4)                   someone else changed the same thing meanwhile
├── ReceiptExists (4)              an idempotency key was used already: replay its receipt
    ├── Busy (5)                       the database could not take it now; nothing was saved
    │   └── Contention                 lost a race with another writer: the command side
    │                                  decides the command again on the fresh row
    ├── DeliveryIncomplete (6)         a reminder pass done, but reminders that were due wait
    └── Unauthenticated (2)            no valid credentials: an unknown, malformed, revoked or
                                       expired token, a disabled principal (HTTP: 401)

``Unauthenticated`` is not an ``InputError``: a face must answer it as such (HTTP 401, with no
more said than that the credentials are not valid), not as a bad value. On the command line,
which never authenticates, it would be exit 2 like other bad input.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, Literal

from engine.byvalue import ByValue, value_class

__all__ = [
    "BrokenLog",
    "Busy",
    "Conflict",
    "Contention",
    "DefinitionError",
    "DeliveryIncomplete",
    "Forbidden",
    "GateNotMet",
    "InputError",
    "InvalidValue",
    "MigrationRefused",
    "NotFound",
    "PlanError",
    "PretendedTime",
    "Problem",
    "ReceiptExists",
    "Refused",
    "RuleViolation",
    "StoredDefinitionBroken",
    "TransitionNotAllowed",
    "Unauthenticated",
    "Unmet",
    "UnmetCode",
    "WorkflowError",
    "ascii_spelling",
    "did_you_mean",
]


class WorkflowError(Exception):
    """Root of every error a user of wijkkompas can cause."""

    exit_code = 1


class InputError(WorkflowError):
    """Bad input: the command cannot even be considered."""

    exit_code = 2


class Refused(WorkflowError):
    """The workflow's rules refuse the command; nothing was changed."""

    exit_code = 3


class Conflict(WorkflowError):
    """Someone else changed the same thing meanwhile; nothing was saved.

    ``instance`` and ``current_event`` say, where known, which instance moved on and at which
    event it stands now (a caller can look again from there); ``seen``, where the caller named
    it (``--expect-event``), the event it saw."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        instance: str | None = None,
        current_event: int | None = None,
        seen: int | None = None,
    ) -> None:
        self.instance = instance
        self.current_event = current_event
        self.seen = seen
        super().__init__(message)


class ReceiptExists(WorkflowError):
    """A change was asked for under an idempotency key that already has a live receipt (the
    same request, sent again or sent twice at once). The whole transaction was rolled back:
    nothing new was recorded; the caller answers with ``receipt``, the response stored the
    first time (an ``engine.ports.Receipt``: this module sits below the ports and cannot name
    the type). Not a Conflict: nobody changed anything the caller saw, and nothing retries it."""

    exit_code = 4

    def __init__(self, receipt: Any) -> None:
        self.receipt = receipt
        self.principal: str = receipt.principal
        self.key: str = receipt.key
        super().__init__(
            f"{self.principal}: the idempotency key {self.key!r} was used already (at "
            f"{receipt.created_at.isoformat()}); nothing new was recorded: the response "
            "stored then is the answer"
        )


class Busy(WorkflowError):
    """The database could not take the command now: another writer held the lock past the
    lock timeout, a statement timed out, or too many writers raced for the same rows. Nothing
    was saved, and the same command may well go through when repeated."""

    exit_code = 5

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        self.retry_after = retry_after
        """Seconds after which repeating the command is sensible."""
        super().__init__(message)


class Contention(Busy):
    """A transaction lost a race with another writer: its guarded update matched no row, or the
    database reported a serialization failure or a deadlock; it was rolled back. A command that
    did not ask for a version check is decided again on the fresh row (``Commands._run``); where
    nobody retries, it is Busy."""


class DeliveryIncomplete(WorkflowError):
    """A reminder pass ran, but reminders that were due are not delivered: some failed in this
    pass (refused for good, or nobody to send them to), wait for a retry, or were not tried
    because the mail server could not be reached. Everything the pass did is saved; the exit
    code (6) is for cron and monitoring."""

    exit_code = 6

    def __init__(self, *, failed: int, retrying: int, deferred: int) -> None:
        self.failed = failed
        self.retrying = retrying
        self.deferred = deferred
        parts = []
        if failed:
            parts.append(f"{failed} failed")
        if retrying:
            parts.append(f"{retrying} {'waits' if retrying == 1 else 'wait'} for a retry")
        if deferred:
            parts.append(f"{deferred} not tried: the mail server could not be reached")
        statuses = (["failed"] if failed else []) + (["retrying"] if retrying or deferred else [])
        see = " and ".join(f"--status {s}" for s in statuses)
        super().__init__(
            f"delivery incomplete: {failed + retrying + deferred} reminder(s) that were due are "
            f"not delivered ({', '.join(parts)}); see wijkkompas outbox list {see}"
        )


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Problem(ByValue):
    """One finding in a workflow file, with where it is."""

    severity: Literal["error", "warning"]
    message: str
    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class DefinitionError(InputError):
    """A workflow file (or stored definition) has one or more errors."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.is_error]
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{source}: {len(errors)} error(s) in workflow definition\n{lines}")

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)


class PlanError(DefinitionError):
    """A migration plan file has one or more errors (each at FILE:LINE:COL)."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        super().__init__(source, problems)
        lines = "\n".join(str(p) for p in self.problems)
        InputError.__init__(
            self, f"{source}: {len(self.errors)} error(s) in migration plan\n{lines}"
        )


class NotFound(InputError):
    """A named thing does not exist; says what, and what does."""

    def __init__(self, kind: str, name: str, *, where: str = "", known: Sequence[str] = ()) -> None:
        self.kind = kind
        self.name = name
        self.where = where
        self.known = tuple(known)
        self._message: str | None = None
        super().__init__(kind, name)

    def __str__(self) -> str:
        """What is unknown, with the closest known name. Worked out when first asked: over a
        few thousand known names that takes tens of milliseconds, and an error that is caught
        and replaced (the API does not name another organisation's instances) never needs it."""
        if self._message is None:
            message = f"unknown {self.kind} '{self.name}'"
            if self.where:
                message += f" in {self.where}"
            hint = did_you_mean(self.name, self.known)
            if hint:
                message += f"; did you mean '{hint}'?"
            elif self.known and len(self.known) <= 12:
                message += f" (known: {', '.join(self.known)})"
            self._message = message
        return self._message


class InvalidValue(InputError):
    """A value does not have the required form.

    ``pointer``: where the value sits in a JSON request body, as a JSON Pointer (RFC 6901,
    e.g. ``/contacts/0``), when the caller knows it; a face that parses JSON gives it."""

    def __init__(
        self, what: str, value: object, expected: str, *, pointer: str | None = None
    ) -> None:
        self.what = what
        self.value = value
        self.expected = expected
        self.pointer = pointer
        super().__init__(f"invalid {what} {value!r}: {expected}")


class PretendedTime(InputError):
    """A command that writes was asked to run at a pretended moment (a what-if clock, the
    command line's ``--now``): what is written carries the real time, always. ``instead``:
    the option that gives when it really happened (``--at``, ``--start``), where the command
    has one."""

    def __init__(
        self, pretender: str, command: str, hint: str, *, instead: str | None = None
    ) -> None:
        self.pretender = pretender
        self.command = command
        self.hint = hint
        self.instead = instead
        super().__init__(
            f"{pretender} is for views and dry runs only: {command} writes, and what it writes "
            f"carries the real time; {hint}; nothing was changed"
        )


UnmetCode = Literal[
    "milestone-open", "approval-missing", "approval-no-go", "children-behind", "regie-not-allowed"
]
"""What kind of gate criterion is unmet (stable: problem objects and the API carry it)."""

_SUBJECT_NAME: dict[str, str] = {
    "milestone-open": "milestone",
    "approval-missing": "approval",
    "approval-no-go": "approval",
    "children-behind": "child",
    "regie-not-allowed": "regie",
}


@value_class(frozen=True, slots=True, kw_only=True, repr=False, eq=False)
class Unmet(ByValue):
    """One criterion of a phase's gate that is not met: what kind (``code``), the gate's
    ``phase``, the milestone, approval, sub-project or regie type it is about (``subject``;
    empty: one not named, a sub-project the reader may not see), and a readable sentence."""

    code: UnmetCode
    phase: str
    subject: str
    message: str

    def as_dict(self) -> dict[str, str | None]:
        """The criterion as data, its subject named for what it is, e.g. ``{"code":
        "milestone-open", "milestone": "kernteam", "phase": "verkennen", "message": ...}``; a
        subject not named is null."""
        return {
            "code": self.code,
            _SUBJECT_NAME[self.code]: self.subject or None,
            "phase": self.phase,
            "message": self.message,
        }


class GateNotMet(Refused):
    """The gate of a phase is not met; ``unmet`` holds every criterion as an :class:`Unmet`,
    ``messages`` one readable line per criterion."""

    def __init__(self, instance: str, phase: str, unmet: Sequence[Unmet]) -> None:
        self.instance = instance
        self.phase = phase
        self.unmet = tuple(unmet)
        items = "\n".join(f"  - {u.message}" for u in self.unmet)
        super().__init__(
            f"{instance}: the gate of phase '{phase}' is not met "
            f"({len(self.unmet)} unmet criteria):\n{items}"
        )

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(u.message for u in self.unmet)


class TransitionNotAllowed(Refused):
    """A command is not possible from the state the instance is in."""

    def __init__(self, instance: str, command: str, state: str, why: str) -> None:
        self.instance = instance
        self.command = command
        self.state = state
        self.why = why
        super().__init__(f"{instance}: cannot {command}: {why}")


class RuleViolation(Refused):
    """A rule of the workflow refuses the command (milestone order, approvals, regie)."""

    def __init__(self, instance: str, command: str, why: str) -> None:
        self.instance = instance
        self.command = command
        self.why = why
        super().__init__(f"{instance}: cannot {command}: {why}")


class MigrationRefused(Refused):
    """A migration plan cannot move some instances it was asked to; nothing was written.
    ``reasons``: (instance key, why) for each."""

    def __init__(self, reasons: Sequence[tuple[str, str]]) -> None:
        self.reasons = tuple(reasons)
        lines = "\n".join(f"  {key}: {why}" for key, why in self.reasons[:50])
        more = len(self.reasons) - 50
        super().__init__(
            f"the plan cannot move {len({k for k, _ in self.reasons})} instance(s); nothing "
            f"was migrated:\n{lines}" + (f"\n  ... and {more} more" if more > 0 else "")
        )


class BrokenLog(Refused):
    """The instance row's head is not the last event of its log: events were removed, added or
    replaced behind the engine's back (or the row and the log were restored apart). Nothing is
    built on it: a new event would carry a valid hash on top of a history that is not the
    log's."""

    def __init__(self, instance: str, head: tuple[int, str], last: tuple[int, str] | None) -> None:
        self.instance = instance
        self.head = head
        self.last = last
        if last is None:
            found = "its log has no events"
        elif last[0] == head[0]:
            found = f"event {last[0]} in its log is another one (another hash)"
        else:
            found = f"its log ends at event {last[0]}"
        super().__init__(
            f"{instance}: refused: the instance row says its last event is {head[0]}, but "
            f"{found}; nothing was saved: run `wijkkompas audit verify {instance}`"
        )


class StoredDefinitionBroken(Refused):
    """A stored workflow definition does not hash to the hash it was stored under (or is not
    the form of one): it was changed behind the engine's back. No instance on it is driven
    by it: what the instance's pinned version says is no longer known."""

    def __init__(self, workflow: str, why: str) -> None:
        self.workflow = workflow
        self.why = why
        super().__init__(
            f"the stored definition of workflow {workflow} is refused: {why}; nothing was "
            "saved: restore the workflow_versions row from a backup"
        )


class Forbidden(Refused):
    """The principal may see the instance (or the list), but its role does not allow this
    action there (HTTP 403). An instance it may not see at all is NotFound instead: its
    existence is not revealed."""

    def __init__(self, principal: str, action: str, instance: str | None = None) -> None:
        self.principal = principal
        self.action = action
        self.instance = instance
        where = f" on {instance}" if instance else ""
        super().__init__(f"{principal} may not {action}{where}: its role does not allow it")


class Unauthenticated(WorkflowError):
    """No valid credentials. ``reason`` says which check failed (for the operator's log); the
    message never repeats a secret."""

    exit_code = 2

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"not authenticated: {reason}")


def did_you_mean(name: str, known: Sequence[str]) -> str | None:
    """The closest known name to a misspelt one, if any is close enough."""
    import difflib

    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def ascii_spelling(text: str) -> str | None:
    """``text`` in ASCII with its accents taken off (tracé → trace, ﬁ → fi, full-width Ａ → A),
    or None when a character has no such spelling (ß, ø, 中)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return plain if plain.isascii() else None

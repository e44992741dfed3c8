"""Why a command was refused, in words: one explainer for the pages and the command line.

``explain(exc, language, titles)`` turns an engine error (``engine.errors``) into an
:class:`Explanation` from the facts the error carries, in the words of the catalogue
(``wording.REFUSAL``): what it is about (an instance key, a file), one sentence, and the
reasons one by one (each unmet criterion of a gate, each instance a migration plan cannot
move). ``titles`` names the knooppunten, approvals and regie types of the workflow by id, so a
gate's criteria are told as the pages tell them (``unmet_words``).

Where an error carries only a free sentence and no facts (a rule of the workflow, a race with
another writer, a busy database), the Dutch explanation is a lead-in followed by the engine's
own (English) sentence; the English one is that sentence alone. The exit codes and the problem
objects (``engine.app.problems``) do not come from here: they stay as they are.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from engine.byvalue import ByValue, value_class
from engine.errors import (
    BrokenLog,
    Busy,
    Conflict,
    DefinitionError,
    DeliveryIncomplete,
    Forbidden,
    GateNotMet,
    InvalidValue,
    MigrationRefused,
    NotFound,
    PretendedTime,
    ReceiptExists,
    Refused,
    StoredDefinitionBroken,
    Unauthenticated,
    Unmet,
    WorkflowError,
    did_you_mean,
)
from engine.workflow.wording import REFUSAL, moment, refusal_text, text

if TYPE_CHECKING:
    from engine.workflow.stored import WorkflowDefinition

__all__ = ["Explanation", "explain", "titles_of", "unmet_words"]


@value_class(frozen=True, slots=True, repr=False, eq=False)
class Explanation(ByValue):
    """A refusal in words: what it is ``about`` (an instance key or a file; None: nothing in
    particular), the sentence (``lead``), and the reasons one by one (``reasons``)."""

    about: str | None
    lead: str
    reasons: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The sentence, then the reasons, as the pages show them beside a form."""
        return [self.lead, *self.reasons]


_UNMET = {
    "milestone-open": "unmet_milestone",
    "approval-missing": "unmet_approval",
    "approval-no-go": "unmet_no_go",
    "children-behind": "unmet_child",
    "regie-not-allowed": "unmet_regie",
}
"""The catalogue's sentence for each kind of unmet criterion (the pages' words)."""


def titles_of(definition: WorkflowDefinition, *, ids: bool = False) -> dict[str, str]:
    """What ``definition`` calls its knooppunten, approvals and regie types, by id (``ids``:
    each followed by its id, "Plan klaar (plan)", for the command line, where the id is what
    one types)."""
    named: dict[str, str] = dict(definition.regie)
    named.update((a, definition.approval_title(a)) for a in definition.approvals)
    named.update((m.id, m.title) for phase in definition.phases for m in phase.milestones)
    if ids:
        return {key: f"{title} ({key})" if title != key else key for key, title in named.items()}
    return named


def unmet_words(unmet: Unmet, titles: Mapping[str, str], language: str) -> str:
    """One unmet criterion of a gate in words: "Knooppunt Plan klaar is nog niet gedaan" (the
    engine's own sentence for a kind of criterion the catalogue has no words for)."""
    key = _UNMET.get(unmet.code)
    if key is None:
        return unmet.message
    return text(key, language, subject=titles.get(unmet.subject, unmet.subject))


def explain(
    exc: WorkflowError, language: str, titles: Mapping[str, str] | None = None
) -> Explanation:
    """Why ``exc`` happened, in ``language``; ``titles``: what the workflow calls its
    knooppunten, approvals and regie types, by id (else the ids are shown)."""

    def t(key: str, /, **values: object) -> str:
        return refusal_text(key, language, **values)

    def led(key: str, about: str | None = None) -> Explanation:
        """A lead-in of the catalogue before the engine's own sentence."""
        lead = t(key)
        sentence = str(exc)
        if about is not None and sentence.startswith(f"{about}: "):
            sentence = sentence[len(about) + 2 :]
        return Explanation(about, f"{lead} {sentence}" if lead else sentence)

    match exc:
        case GateNotMet():
            reasons = tuple(unmet_words(u, titles or {}, language) for u in exc.unmet)
            return Explanation(exc.instance, t("gate", phase=exc.phase, n=len(exc.unmet)), reasons)
        case DefinitionError():
            return Explanation(None, t("definition", source=exc.source, n=len(exc.errors)))
        case NotFound():
            return Explanation(None, _not_found(exc, language))
        case InvalidValue():
            return Explanation(
                None, t("invalid", what=exc.what, value=repr(exc.value), expected=exc.expected)
            )
        case PretendedTime():
            hint = exc.hint
            if exc.pretender == "--now":  # the command line's: its hint in words
                hint = t(f"pretended_{(exc.instead or '--').lstrip('-') or 'leave'}")
            return Explanation(
                None, t("pretended", pretender=exc.pretender, command=exc.command, hint=hint)
            )
        case Conflict() if exc.seen is not None and exc.current_event is not None:
            return Explanation(
                None,
                t("conflict_seen", instance=exc.instance, seen=exc.seen, current=exc.current_event),
            )
        case Conflict():
            return led("conflict")
        case ReceiptExists():
            when = exc.receipt.created_at
            return Explanation(
                None,
                t(
                    "receipt",
                    principal=exc.principal,
                    key=exc.key,
                    moment=moment(when, language) if language == "nl" else when.isoformat(),
                ),
            )
        case Busy():
            return led("busy")
        case DeliveryIncomplete():
            return Explanation(None, _delivery(exc, language))
        case Unauthenticated():
            return Explanation(None, t("unauthenticated", reason=exc.reason))
        case BrokenLog():
            if exc.last is None:
                found = t("broken_empty")
            elif exc.last[0] == exc.head[0]:
                found = t("broken_other", seq=exc.last[0])
            else:
                found = t("broken_ends", seq=exc.last[0])
            return Explanation(
                exc.instance,
                t("broken_log", head=exc.head[0], found=found, instance=exc.instance),
            )
        case StoredDefinitionBroken():
            return Explanation(None, t("stored_broken", workflow=exc.workflow, why=exc.why))
        case MigrationRefused():
            keys = len({key for key, _ in exc.reasons})
            moved = [f"{key}: {why}" for key, why in exc.reasons[:50]]
            if len(exc.reasons) > 50:
                moved.append(t("migration_more", n=len(exc.reasons) - 50))
            return Explanation(None, t("migration", n=keys), tuple(moved))
        case Forbidden():
            where = t("forbidden_where", instance=exc.instance) if exc.instance else ""
            return Explanation(
                None, t("forbidden", principal=exc.principal, action=exc.action, where=where)
            )
        case Refused():  # TransitionNotAllowed, RuleViolation: a free sentence
            return led("refused", getattr(exc, "instance", None))
    return led("other")


def _not_found(exc: NotFound, language: str) -> str:
    words = REFUSAL[language]
    kind = words.get(f"kind_{exc.kind}", exc.kind)
    where = ""
    if exc.where:
        # The places the engine names with a key: "workflow KEY", "the gate of KEY".
        for prefix, key in (("workflow ", "where_workflow"), ("the gate of ", "where_gate")):
            if exc.where.startswith(prefix):
                place = refusal_text(key, language, key=exc.where.removeprefix(prefix))
                break
        else:
            place = exc.where
        where = refusal_text("not_found_where", language, where=place)
    hint = ""
    close = did_you_mean(exc.name, exc.known)
    if close:
        hint = refusal_text("did_you_mean", language, name=close)
    elif exc.known and len(exc.known) <= 12:
        hint = refusal_text("known", language, known=", ".join(exc.known))
    return refusal_text("not_found", language, kind=kind, name=exc.name, where=where, hint=hint)


def _delivery(exc: DeliveryIncomplete, language: str) -> str:
    parts = []
    if exc.failed:
        parts.append(refusal_text("delivery_failed", language, n=exc.failed))
    if exc.retrying:
        one = "_one" if exc.retrying == 1 else ""
        parts.append(refusal_text(f"delivery_retrying{one}", language, n=exc.retrying))
    if exc.deferred:
        parts.append(refusal_text("delivery_deferred", language, n=exc.deferred))
    statuses = (["failed"] if exc.failed else []) + (
        ["retrying"] if exc.retrying or exc.deferred else []
    )
    return refusal_text(
        "delivery",
        language,
        n=exc.failed + exc.retrying + exc.deferred,
        parts=", ".join(parts),
        see=f" {refusal_text('and', language)} ".join(f"--status {s}" for s in statuses),
    )

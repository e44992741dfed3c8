"""Gate evaluation: whether a phase's exit criteria hold, and if not, exactly which do not.

A gate never answers a bare False. ``evaluate_gate`` returns every unmet criterion as an
:class:`Unmet` with a readable sentence: an open milestone, a missing or no-go approval, a
sub-project that has not reached the required phase, or a regie holder the next phase does not
allow. Milestones that were skipped (with a reason, on the record) count as settled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from engine.byvalue import ByValue, value_class
from engine.errors import Unmet
from engine.runtime.instance import (
    COMPLETED,
    STOPPED,
    ApprovalRecord,
    ChildSummary,
    Instance,
    phase_of,
)
from engine.workflow.durations import Duration
from engine.workflow.stored import WorkflowDefinition

__all__ = [
    "GateSpec",
    "GateStatus",
    "Unmet",
    "behind_child",
    "build_gate_specs",
    "children_behind",
    "count_stored",
    "count_unmet",
    "evaluate_gate",
    "ready_for_decision",
    "stored_slots",
]


@value_class(frozen=True, slots=True, repr=False, eq=False)
class GateStatus(ByValue):
    """Where one phase's gate stands: every criterion not met yet (none: it may be passed)."""

    phase: str
    unmet: tuple[Unmet, ...]

    @property
    def ready(self) -> bool:
        return not self.unmet

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(u.message for u in self.unmet)


@value_class(frozen=True, slots=True, repr=False, eq=False)
class GateSpec(ByValue):
    """The compiled criteria of one phase's gate."""

    phase: str
    milestones: tuple[tuple[str, str], ...]
    """(id, title) of each milestone that must be done or skipped."""
    approvals: tuple[tuple[str, str], ...]
    """(id, title) of each approval that needs a 'go'."""
    children_reached: str | None
    next_phase: str | None
    next_regie: frozenset[str] | None
    """Regie types the next phase allows (None: any)."""
    phase_positions: Mapping[str, int]
    automatic: bool = False
    """``advance: automatic``: the engine moves on when every criterion holds."""
    requests: tuple[tuple[str, str, Duration, str], ...] = ()
    """(approval id, title, decide_within, decided_by) of each approval requested."""


def build_gate_specs(definition: WorkflowDefinition) -> dict[str, GateSpec]:
    """One spec per phase of a normalised definition."""
    titles = {m.id: m.title for p in definition.phases for m in p.milestones}
    positions = {p.id: i for i, p in enumerate(definition.phases)}
    every_type = frozenset(definition.regie)
    specs = {}
    for i, phase in enumerate(definition.phases):
        following = definition.phases[i + 1] if i + 1 < len(definition.phases) else None
        allowed = frozenset(following.regie) if following and following.regie is not None else None
        specs[phase.id] = GateSpec(
            phase=phase.id,
            milestones=tuple((m, titles.get(m, m)) for m in phase.gate.milestones or ()),
            approvals=tuple((a, definition.approval_title(a)) for a in phase.gate.approvals),
            children_reached=phase.gate.children.reached if phase.gate.children else None,
            next_phase=following.id if following else None,
            next_regie=None if allowed is None or allowed >= every_type else allowed,
            phase_positions=positions,
            automatic=phase.gate.advance == "automatic",
            requests=tuple(
                (a, definition.approval_title(a), r.decide_within, r.decided_by)
                for a, r in phase.gate.requests.items()
            ),
        )
    return specs


def evaluate_gate(spec: GateSpec, instance: Instance) -> GateStatus:
    """Every criterion of ``spec`` that ``instance`` does not meet (none: the gate holds)."""
    unmet: list[Unmet] = [
        Unmet(
            code="milestone-open",
            phase=spec.phase,
            subject=mid,
            message=f"milestone '{mid}' ({title}) is not done",
        )
        for mid, title in _open_milestones(spec, instance)
    ]
    for aid, title, record in _missing_approvals(spec, instance):
        if record is None:
            unmet.append(
                Unmet(
                    code="approval-missing",
                    phase=spec.phase,
                    subject=aid,
                    message=f"approval '{aid}' ({title}) has not been given",
                )
            )
        else:
            ref = f", ref {record.ref}" if record.ref else ""
            unmet.append(
                Unmet(
                    code="approval-no-go",
                    phase=spec.phase,
                    subject=aid,
                    message=f"approval '{aid}' ({title}) was decided no-go on {record.day}{ref}",
                )
            )
    for child, where, matched in children_behind(spec, instance):
        if not matched:
            unmet.append(
                Unmet(
                    code="children-behind",
                    phase=spec.phase,
                    subject=child.key,
                    message=f"{_BEHIND.format(child.key, where)}, which matches no phase of "
                    f"this workflow; it must have reached '{spec.children_reached}'",
                )
            )
        else:
            unmet.append(
                Unmet(
                    code="children-behind",
                    phase=spec.phase,
                    subject=child.key,
                    message=f"{_BEHIND.format(child.key, where)}; every sub-project must have "
                    f"reached '{spec.children_reached}'",
                )
            )
    if _regie_refused(spec, instance):
        allowed = ", ".join(sorted(spec.next_regie or ()))
        unmet.append(
            Unmet(
                code="regie-not-allowed",
                phase=spec.phase,
                subject=instance.regie.type,
                message=f"phase '{spec.next_phase}' needs regie by {allowed}; it is held by "
                f"{instance.regie.type} (hand over first)",
            )
        )
    return GateStatus(spec.phase, tuple(unmet))


_BEHIND = "sub-project '{}' is in phase '{}'"
"""How a children-behind criterion's sentence begins (its sub-project's key, its phase)."""
_BEHIND_WORDS = re.compile(r"sub-project '([^']*)' is in phase '")


def behind_child(message: str) -> str | None:
    """The key of the sub-project a criterion's sentence is about, when it is a
    children-behind one (None otherwise): for criteria kept as words alone (the ``unmet`` of
    an override's event)."""
    found = _BEHIND_WORDS.match(message)
    return found.group(1) if found is not None else None


def count_unmet(spec: GateSpec, instance: Instance) -> int:
    """How many criteria of ``spec`` are unmet: ``len(evaluate_gate(...).unmet)`` without
    writing the sentences (the programme overview asks this of every instance)."""
    return (
        len(_open_milestones(spec, instance))
        + len(_missing_approvals(spec, instance))
        + len(children_behind(spec, instance))
        + _regie_refused(spec, instance)
    )


def stored_slots(milestones: str) -> list[str]:
    """The milestone slots of a stored snapshot (``MilestoneBook.to_list`` as its JSON array
    text, with or without spaces) as their JSON tokens: ``"0"`` is an open milestone. The
    overview asks this of every instance: splitting the text took a sixth of decoding it."""
    inner = milestones[1:-1].replace(" ", "")
    return inner.split(",") if inner else []


def count_stored(
    spec: GateSpec,
    slots: Sequence[int],
    days: Sequence[str],
    approvals: Mapping[str, Sequence[Any]],
    children: Sequence[ChildSummary],
    regie_type: str,
) -> tuple[int, bool]:
    """``count_unmet`` of an instance as it is stored, without restoring it (the programme
    overview asks this of every instance): ``days`` its milestone slots as ``stored_slots``
    gives them, ``slots`` the slots of the gate's milestones in the same order as
    ``spec.milestones``, ``approvals`` as its snapshot holds them (id -> [decision, day, by,
    ref]). Also whether its milestones and regie let the gate be ready for decision (what
    ``ready_for_decision`` asks but the log's count of deelprojecten)."""
    open_milestones = [days[slot] for slot in slots].count("0")
    # Asked of 100,000 rows at once: the common cases (no approval recorded yet, no
    # deelprojecten) without a loop or a call.
    if approvals:
        missing = 0
        for aid, _ in spec.approvals:
            record = approvals.get(aid)
            if record is None or record[0] != "go":
                missing += 1
    else:
        missing = len(spec.approvals)
    refused = spec.next_regie is not None and regie_type not in spec.next_regie
    behind = len(_behind(spec, children)) if children else 0
    unmet = open_milestones + missing + behind + refused
    return unmet, not open_milestones and not refused


def ready_for_decision(spec: GateSpec, instance: Instance) -> bool:
    """Whether every criterion but the approvals holds: what is left is to decide (the
    approvals, and moving on). The deelprojecten count as the instance's log last recorded
    them (``Instance.children_behind``), not as they stand in other rows now: so readiness, and
    the approval requests it starts, replay from the instance's own events."""
    return not (
        not instance.milestones.all_settled(spec.milestones)  # the first open one says no
        or (spec.children_reached is not None and instance.children_behind == spec.phase)
        or _regie_refused(spec, instance)
    )


# --- the criteria, shared by evaluate_gate and count_unmet ------------------------------------


def _open_milestones(spec: GateSpec, instance: Instance) -> list[tuple[str, str]]:
    settled = instance.milestones.is_settled
    return [(mid, title) for mid, title in spec.milestones if not settled(mid)]


def _missing_approvals(
    spec: GateSpec, instance: Instance
) -> list[tuple[str, str, ApprovalRecord | None]]:
    """(id, title, record) of each approval without a 'go': never given, or decided no-go."""
    missing = []
    for aid, title in spec.approvals:
        record = instance.approval(aid)
        if record is None or record.decision != "go":
            missing.append((aid, title, record))
    return missing


def children_behind(spec: GateSpec, instance: Instance) -> list[tuple[ChildSummary, str, bool]]:
    """(child, its phase, whether that phase matches one of ours) of each running sub-project
    that has not reached the phase the gate asks for."""
    return _behind(spec, instance.children)


def _behind(
    spec: GateSpec, children: Sequence[ChildSummary]
) -> list[tuple[ChildSummary, str, bool]]:
    if spec.children_reached is None:
        return []
    needed = spec.phase_positions[spec.children_reached]
    behind = []
    for child in children:
        if child.state in (COMPLETED, STOPPED):
            continue  # a stopped sub-project is out of scope and holds nothing up
        position = spec.phase_positions.get(child.aligned_phase or "")
        if position is None or position < needed:
            behind.append((child, phase_of(child.state), position is not None))
    return behind


def _regie_refused(spec: GateSpec, instance: Instance) -> bool:
    """Whether the next phase does not allow the current regie holder."""
    return _refused(spec, instance.regie.type)


def _refused(spec: GateSpec, regie_type: str) -> bool:
    return spec.next_regie is not None and regie_type not in spec.next_regie

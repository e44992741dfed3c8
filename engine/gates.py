"""Gate evaluation: whether a phase's exit criteria hold, and if not, exactly which do not.

A gate never answers a bare False. ``evaluate_gate`` returns every unmet criterion as an
:class:`Unmet` with a readable sentence: an open milestone, a missing or no-go approval, a
sub-project that has not reached the required phase, or a regie holder the next phase does not
allow. Milestones that were skipped (with a reason, on the record) count as settled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from engine.instance import COMPLETED, STOPPED, Instance, phase_of
from engine.model import WorkflowDefinition

__all__ = ["GateSpec", "GateStatus", "Unmet", "build_gate_specs", "evaluate_gate"]


@dataclass(frozen=True, slots=True)
class Unmet:
    kind: Literal["milestone", "approval", "children", "regie"]
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class GateStatus:
    phase: str
    unmet: tuple[Unmet, ...]

    @property
    def ready(self) -> bool:
        return not self.unmet

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(u.message for u in self.unmet)


@dataclass(frozen=True, slots=True)
class GateSpec:
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
            approvals=tuple((a, definition.approvals.get(a, a)) for a in phase.gate.approvals),
            children_reached=phase.gate.children.reached if phase.gate.children else None,
            next_phase=following.id if following else None,
            next_regie=None if allowed is None or allowed >= every_type else allowed,
            phase_positions=positions,
        )
    return specs


def evaluate_gate(spec: GateSpec, instance: Instance) -> GateStatus:
    """Every criterion of ``spec`` that ``instance`` does not meet (none: the gate holds)."""
    unmet: list[Unmet] = []
    book = instance.milestones
    for mid, title in spec.milestones:
        if not book.is_settled(mid):
            unmet.append(Unmet("milestone", mid, f"milestone '{mid}' ({title}) is not done"))
    for aid, title in spec.approvals:
        record = instance.approval(aid)
        if record is None:
            unmet.append(Unmet("approval", aid, f"approval '{aid}' ({title}) has not been given"))
        elif record.decision != "go":
            ref = f", ref {record.ref}" if record.ref else ""
            unmet.append(
                Unmet(
                    "approval",
                    aid,
                    f"approval '{aid}' ({title}) was decided no-go on {record.day}{ref}",
                )
            )
    if spec.children_reached is not None:
        unmet.extend(_children(spec, instance))
    if spec.next_regie is not None and instance.regie.type not in spec.next_regie:
        allowed = ", ".join(sorted(spec.next_regie))
        unmet.append(
            Unmet(
                "regie",
                instance.regie.type,
                f"phase '{spec.next_phase}' needs regie by {allowed}; it is held by "
                f"{instance.regie.type} (hand over first)",
            )
        )
    return GateStatus(spec.phase, tuple(unmet))


def _children(spec: GateSpec, instance: Instance) -> list[Unmet]:
    assert spec.children_reached is not None
    needed = spec.phase_positions[spec.children_reached]
    unmet = []
    for child in instance.children:
        if child.state in (COMPLETED, STOPPED):
            continue  # a stopped sub-project is out of scope and holds nothing up
        where = phase_of(child.state)
        position = spec.phase_positions.get(child.aligned_phase or "")
        if position is None:
            unmet.append(
                Unmet(
                    "children",
                    child.key,
                    f"sub-project '{child.key}' is in phase '{where}', which matches no phase "
                    f"of this workflow; it must have reached '{spec.children_reached}'",
                )
            )
        elif position < needed:
            unmet.append(
                Unmet(
                    "children",
                    child.key,
                    f"sub-project '{child.key}' is in phase '{where}'; every sub-project must "
                    f"have reached '{spec.children_reached}'",
                )
            )
    return unmet

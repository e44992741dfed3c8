"""Semantic checks of a workflow definition: the relations between its parts.

``check`` looks at a definition whose types are already right (``model.py``) and collects every
finding, each with the path of the node it is about, so the loader can point at FILE:LINE:COL.
Errors make a definition unusable; warnings are worth a look but do not stop it:

errors    duplicate or reserved ids; references to milestones, phases, tracks, regie types,
          parties or approvals that do not exist; cycles in depends_on or in due dates; a gate
          that can never be met; a pause button on no phase; a return that does not go back
warnings  a milestone due after its phase is planned to end; a dependency on a later phase;
          a track no milestone uses; a pause review later than its maximum duration
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from engine.errors import did_you_mean
from engine.workflow.model import RESERVED_STATES, Due, Milestone, Phase, WorkflowDefinition
from engine.workflow.timeline import plan_timeline
from engine.workflow.workdays import Workdays
from engine.workflow.yamlsource import Path

__all__ = ["Finding", "check"]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Literal["error", "warning"]
    path: Path
    message: str


PLACEHOLDERS: set[str] = set()
"""Ids the loader made up for entries that lack one (to check the rest of them): never
offered as known names."""


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    known = [k for k in known if k not in PLACEHOLDERS]
    hint = did_you_mean(name, known)
    message = f"unknown {kind} '{name}'"
    if hint:
        return f"{message}; did you mean '{hint}'?"
    if known and len(known) <= 10:
        return f"{message} (known: {', '.join(known)})"
    return message


class _Checker:
    def __init__(self, definition: WorkflowDefinition) -> None:
        self.d = definition
        self.findings: list[Finding] = []
        self.phase_pos: dict[str, int] = {}
        self.milestones: dict[str, tuple[int, Milestone, Path]] = {}
        for i, phase in enumerate(definition.phases):
            self.phase_pos.setdefault(phase.id, i)
            for j, m in enumerate(phase.milestones):
                self.milestones.setdefault(m.id, (i, m, ("phases", i, "milestones", j)))

    def error(self, path: Path, message: str) -> None:
        self.findings.append(Finding("error", path, message))

    def warn(self, path: Path, message: str) -> None:
        self.findings.append(Finding("warning", path, message))

    # -- helpers ----------------------------------------------------------------------------

    def _ref(self, path: Path, kind: str, name: str, known: Sequence[str]) -> bool:
        if name in known:
            return True
        self.error(path, _unknown(kind, name, known))
        return False

    def _phase_ref(self, path: Path, name: str) -> bool:
        return self._ref(path, "phase", name, list(self.phase_pos))

    def _milestone_ref(self, path: Path, name: str) -> bool:
        return self._ref(path, "milestone", name, list(self.milestones))

    # -- checks -----------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        self.ids()
        self.phases()
        cyclic = self.cycles()
        self.gates(cyclic)
        self.done_when()
        self.pause_buttons()
        self.returns()
        self.stop()
        self.tracks_used()
        if not any(f.severity == "error" for f in self.findings):
            self.due_within_phase()
        return self.findings

    def ids(self) -> None:
        seen: dict[str, str] = {}
        for i, phase in enumerate(self.d.phases):
            path: Path = ("phases", i, "id")
            if phase.id in RESERVED_STATES:
                self.error(
                    path, f"'{phase.id}' is reserved for the end state; pick another phase id"
                )
            if phase.id in seen:
                self.error(path, f"duplicate phase id '{phase.id}' ({seen[phase.id]})")
            seen.setdefault(phase.id, f"first used by phase {i + 1}")
        seen_m: dict[str, str] = {}
        for i, phase in enumerate(self.d.phases):
            for j, m in enumerate(phase.milestones):
                path = ("phases", i, "milestones", j, "id")
                if m.id in seen_m:
                    self.error(path, f"duplicate milestone id '{m.id}' ({seen_m[m.id]})")
                seen_m.setdefault(m.id, f"first used in phase '{phase.id}'")
        self._unique("pause_buttons", "pause button", [b.id for b in self.d.pause_buttons])
        others = {"regie": "'regie'", **dict.fromkeys(self.d.parties, "a party")}
        others.update(dict.fromkeys(self.d.regie, "a regie type"))
        for name in self.d.contact_sets:
            if name in others:
                self.error(
                    ("contact_sets", name),
                    f"contact set '{name}' has the name of {others[name]}: an approval request's "
                    "decided_by could not say which it means; rename it",
                )
        self._unique("returns", "return", [r.id for r in self.d.returns])

    def _unique(self, key: str, group: str, ids: list[str]) -> None:
        names: set[str] = set()
        for i, ident in enumerate(ids):
            if ident in names:
                self.error((key, i, "id"), f"duplicate {group} id '{ident}'")
            names.add(ident)

    def phases(self) -> None:
        regie = list(self.d.regie)
        owners = ["regie", *regie, *self.d.parties]
        for i, phase in enumerate(self.d.phases):
            if phase.regie is not None:
                if not phase.regie:
                    self.error(
                        ("phases", i, "regie"),
                        f"phase '{phase.id}' allows no regie type, so it can never be entered",
                    )
                for k, r in enumerate(phase.regie):
                    self._ref(("phases", i, "regie", k), "regie type", r, regie)
            for j, m in enumerate(phase.milestones):
                base: Path = ("phases", i, "milestones", j)
                for k, t in enumerate(m.tracks):
                    self._ref((*base, "tracks", k), "track", t, list(self.d.tracks))
                for k, p in enumerate(m.parties):
                    self._ref((*base, "parties", k), "party", p, [*regie, *self.d.parties])
                if m.owner not in owners:
                    self.error(
                        (*base, "owner"),
                        _unknown("owner", m.owner, owners)
                        + " (an owner is 'regie', a regie type or a party from 'parties')",
                    )
                for k, dep in enumerate(m.depends_on):
                    path: Path = (*base, "depends_on", k)
                    if dep == m.id:
                        self.error(path, f"milestone '{m.id}' depends on itself")
                    elif self._milestone_ref(path, dep) and self.milestones[dep][0] > i:
                        later = self.d.phases[self.milestones[dep][0]].id
                        self.warn(
                            path,
                            f"'{m.id}' depends on '{dep}' of the later phase '{later}', so it "
                            f"cannot be done before that phase",
                        )
                for field in ("due", "not_before"):
                    due: Due | None = getattr(m, field)
                    if due is not None and due.after is not None:
                        path = (*base, field, "after")
                        if due.after == m.id:
                            self.error(path, f"'{m.id}' counts its {field} from itself")
                        elif (
                            self._milestone_ref(path, due.after)
                            and field == "due"
                            and self.milestones[due.after][0] > i
                        ):
                            later = self.d.phases[self.milestones[due.after][0]].id
                            self.warn(
                                path,
                                f"'{m.id}' falls due after '{due.after}' of the later "
                                f"phase '{later}'",
                            )

    def cycles(self) -> set[str]:
        """Report cycles in depends_on and in 'due after'; return milestones on a cycle."""
        on_cycle: set[str] = set()
        for field, label in (("depends_on", "depends_on"), ("due", "due dates")):
            graph: dict[str, list[str]] = {}
            for mid, (_, m, _) in self.milestones.items():
                if field == "depends_on":
                    graph[mid] = [d for d in m.depends_on if d in self.milestones and d != mid]
                else:
                    after = m.due.after if m.due is not None else None
                    graph[mid] = [after] if after in self.milestones and after != mid else []
            for cycle in _cycles(graph):
                if field == "depends_on":  # a due-date cycle leaves the milestones doable
                    on_cycle.update(cycle)
                first = cycle[0]
                path = self.milestones[first][2]
                if field == "depends_on":
                    index = self.milestones[first][1].depends_on.index(cycle[1 % len(cycle)])
                    where: Path = (*path, "depends_on", index)
                else:
                    where = (*path, "due", "after")
                chain = " → ".join([*cycle, first])
                self.error(where, f"{label} form a cycle: {chain}")
        return on_cycle

    def gates(self, cyclic: set[str]) -> None:
        approvals = list(self.d.approvals)
        for i, phase in enumerate(self.d.phases):
            base: Path = ("phases", i, "gate")
            gate = phase.gate
            wanted: list[tuple[str, Path]]
            if gate.milestones is None:
                wanted = [
                    (m.id, ("phases", i, "milestones", j, "id"))
                    for j, m in enumerate(phase.milestones)
                    if m.required
                ]
            else:
                wanted = [(mid, (*base, "milestones", k)) for k, mid in enumerate(gate.milestones)]
                seen: set[str] = set()
                for mid, path in wanted:
                    if mid in seen:
                        self.error(path, f"milestone '{mid}' is listed twice in the gate")
                    seen.add(mid)
            checked: set[str] = set()
            for mid, path in wanted:
                if mid in checked:
                    continue  # a duplicate id or entry, reported above
                checked.add(mid)
                if gate.milestones is not None and not self._milestone_ref(path, mid):
                    continue
                owner_pos = self.milestones[mid][0]
                if owner_pos > i:
                    self.error(
                        path,
                        f"the gate of phase '{phase.id}' can never be met: milestone '{mid}' "
                        f"belongs to the later phase '{self.d.phases[owner_pos].id}'",
                    )
                    continue
                if mid in cyclic:
                    self.error(
                        path,
                        f"the gate of phase '{phase.id}' can never be met: milestone '{mid}' "
                        "is on a depends_on cycle",
                    )
                    continue
                blocker = self._later_dependency(mid, i)
                if blocker is not None:
                    self.error(
                        path,
                        f"the gate of phase '{phase.id}' can never be met: milestone '{mid}' "
                        f"depends on '{blocker}' of the later phase "
                        f"'{self.d.phases[self.milestones[blocker][0]].id}'",
                    )
            seen_a: set[str] = set()
            for k, a in enumerate(gate.approvals):
                path = (*base, "approvals", k)
                if a in seen_a:
                    self.error(path, f"approval '{a}' is listed twice in the gate")
                seen_a.add(a)
                self._ref(path, "approval", a, approvals)
            if gate.children is not None:
                self._phase_ref((*base, "children", "reached"), gate.children.reached)
            deciders = ["regie", *self.d.parties, *self.d.regie, *self.d.contact_sets]
            for a, request in gate.requests.items():
                if a not in gate.approvals:
                    self.error(
                        (*base, "requests", a),
                        f"a request for approval '{a}', which this gate does not ask for "
                        f"(its approvals: {', '.join(gate.approvals) or 'none'})",
                    )
                self._ref(
                    (*base, "requests", a, "decided_by"), "decider", request.decided_by, deciders
                )

    def done_when(self) -> None:
        """Facts that complete milestones by themselves must name what exists: an approval of
        the workflow, or one of its phases."""
        for i, phase in enumerate(self.d.phases):
            for j, m in enumerate(phase.milestones):
                when = m.done_when
                if when is None:
                    continue
                path: Path = ("phases", i, "milestones", j, "done_when")
                if when.approval is not None:
                    self._ref(
                        (*path, "approval"), "approval", when.approval, list(self.d.approvals)
                    )
                if when.children_in_phase is not None:
                    self._phase_ref((*path, "children_in_phase"), when.children_in_phase)

    def _later_dependency(self, mid: str, phase_pos: int) -> str | None:
        """A milestone in a phase after ``phase_pos`` that ``mid`` depends on, transitively."""
        stack, seen = [mid], {mid}
        while stack:
            current = stack.pop()
            for dep in self.milestones[current][1].depends_on:
                if dep not in self.milestones or dep in seen:
                    continue
                if self.milestones[dep][0] > phase_pos:
                    return dep
                seen.add(dep)
                stack.append(dep)
        return None

    def pause_buttons(self) -> None:
        for i, button in enumerate(self.d.pause_buttons):
            if button.phases is not None:
                if not button.phases:
                    self.error(
                        ("pause_buttons", i, "phases"),
                        f"pause button '{button.id}' can be pressed in no phase; list phases "
                        "or write 'all'",
                    )
                for k, p in enumerate(button.phases):
                    self._phase_ref(("pause_buttons", i, "phases", k), p)
            if (
                button.review is not None
                and button.max_duration is not None
                and button.review.approx_days() > button.max_duration.approx_days()
            ):
                self.warn(
                    ("pause_buttons", i, "review"),
                    f"review after {button.review} comes later than the maximum duration "
                    f"{button.max_duration}",
                )

    def returns(self) -> None:
        taken: dict[tuple[str, str], str] = {}
        for i, rule in enumerate(self.d.returns):
            base: Path = ("returns", i)
            for source in rule.from_ or ():
                first = taken.setdefault((source, rule.to), rule.id)
                if first != rule.id:
                    self.warn(
                        (*base, "to"),
                        f"return '{rule.id}' goes from '{source}' to '{rule.to}' like "
                        f"return '{first}', which comes first and is the one used",
                    )
            target_ok = self._phase_ref((*base, "to"), rule.to)
            if rule.from_ is None:
                if target_ok and self.phase_pos[rule.to] == len(self.d.phases) - 1:
                    self.error(
                        (*base, "to"),
                        f"return '{rule.id}' goes to the last phase: there is no later phase "
                        "to return from",
                    )
            else:
                if not rule.from_:
                    self.error((*base, "from"), f"return '{rule.id}' has no phase to start from")
                for k, p in enumerate(rule.from_):
                    path: Path = (*base, "from", k)
                    if (
                        self._phase_ref(path, p)
                        and target_ok
                        and self.phase_pos[p] <= self.phase_pos[rule.to]
                    ):
                        self.error(
                            path,
                            f"return '{rule.id}' must go back to an earlier phase, but "
                            f"'{rule.to}' does not come before '{p}'",
                        )
            for k, mid in enumerate(rule.reopen):
                path = (*base, "reopen", k)
                if (
                    self._milestone_ref(path, mid)
                    and target_ok
                    and self.milestones[mid][0] < self.phase_pos[rule.to]
                ):
                    self.warn(
                        path,
                        f"'{mid}' belongs to a phase before '{rule.to}'; reopening it will "
                        "not be required by any gate on the way back",
                    )

    def stop(self) -> None:
        if self.d.stop.from_ is not None:
            for k, p in enumerate(self.d.stop.from_):
                self._phase_ref(("stop", "from", k), p)

    def tracks_used(self) -> None:
        used = {t for (_, m, _) in self.milestones.values() for t in m.tracks}
        for track in self.d.tracks:
            if track not in used:
                self.warn(("tracks", track), f"track '{track}' is used by no milestone")

    def due_within_phase(self) -> None:
        # Plain weekdays are close enough for a warning, and spare loading the holiday tables.
        try:
            plan = plan_timeline(self.d, date(2030, 1, 7), Workdays(None))
        except OverflowError:  # durations that add up past the year 9999: nothing to plan
            return
        for i, phase_plan in enumerate(plan.phases):
            phase: Phase = self.d.phases[i]
            for j, mplan in enumerate(phase_plan.milestones):
                m = phase.milestones[j]
                if m.due is None or m.due.date_ is not None or mplan.due is None:
                    continue
                if mplan.due > phase_plan.end:
                    days = (mplan.due - phase_plan.start).days
                    self.warn(
                        ("phases", i, "milestones", j, "due"),
                        f"milestone '{m.id}' falls due about {days} days into phase "
                        f"'{phase.id}', after its planned end ({phase.duration})",
                    )


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each elementary cycle found by depth-first search, reported once. The search keeps its
    own stack (of iterators over each node's successors): a chain of a few thousand
    milestones is no deeper for Python than one."""
    found: list[list[str]] = []
    reported: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []
    for root in graph:
        if root in state:
            continue
        state[root] = 1
        stack.append(root)
        pending = [iter(graph.get(root, []))]
        while pending:
            for nxt in pending[-1]:
                if state.get(nxt) == 1:
                    cycle = stack[stack.index(nxt) :]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        found.append(cycle)
                elif nxt not in state:
                    state[nxt] = 1
                    stack.append(nxt)
                    pending.append(iter(graph.get(nxt, [])))
                    break
            else:
                pending.pop()
                state[stack.pop()] = 2
    return found


def check(definition: WorkflowDefinition) -> list[Finding]:
    """Every semantic finding about ``definition``, errors and warnings."""
    return _Checker(definition).run()

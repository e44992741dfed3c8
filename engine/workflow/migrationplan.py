"""Migration plans: how running instances of one workflow version move to another.

A plan is data, written in YAML and read with the project's safe reader, so every problem is
reported as FILE:LINE:COL like a workflow file's. It names the source (``KEY@V1``) and the
target (``KEY@V2``, or another workflow's key) and maps, from source to target:

- ``phases``: each source phase to a target phase, or ``drop`` (no instance may be in it);
- ``milestones``: each source knooppunt to one target knooppunt, to several (a split: each
  gets the status), or ``drop`` (its status is forgotten, the log keeps it);
- ``add``: target knooppunten no source maps to, which start ``open``;
- ``approvals`` and ``pause_buttons``: a source id to a target id, or ``drop``; an id left out
  maps to the same id when the target has it;
- ``deadlines``: per target knooppunt the deadline policy: ``keep`` (the absolute due date the
  instance had, the default), ``recompute`` (from the target's rule) or ``cancel``.

``generate`` writes a plan for a person to finish: equal ids map to themselves, everything
else is ``TODO``. ``validate`` checks a plan against both definitions, on its own (no instance
needed). ``reverse`` turns a plan around where its mapping allows it. Pure: no storage here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

from engine.errors import PlanError, Problem
from engine.workflow.stored import WorkflowDefinition

if TYPE_CHECKING:
    # The YAML reader is loaded by parse_plan alone: the command path imports this module
    # (through engine.runtime.migration) but never reads a plan.
    from engine.workflow.yamlsource import Path, Positions

__all__ = [
    "DROP",
    "POLICIES",
    "TODO",
    "MigrationPlan",
    "Policy",
    "generate",
    "parse_plan",
    "plan_yaml",
    "reverse",
    "validate",
    "workflow_ref",
]

DROP = "drop"
TODO = "TODO"
Policy = Literal["keep", "recompute", "cancel"]
POLICIES: tuple[Policy, ...] = ("keep", "recompute", "cancel")
FORMAT = 1
_SECTIONS = (
    "migration",
    "from",
    "to",
    "phases",
    "milestones",
    "add",
    "approvals",
    "pause_buttons",
    "deadlines",
)


@dataclass(frozen=True, kw_only=True)
class MigrationPlan:
    """A migration plan as read (see the module docstring for what each part means)."""

    source: tuple[str, int]
    target: tuple[str, int]
    phases: Mapping[str, str | None]
    """Source phase -> target phase (None: dropped)."""
    milestones: Mapping[str, tuple[str, ...]]
    """Source knooppunt -> the target knooppunten it becomes (empty: dropped)."""
    add: tuple[str, ...] = ()
    approvals: Mapping[str, str | None] = field(default_factory=dict)
    pause_buttons: Mapping[str, str | None] = field(default_factory=dict)
    deadlines: Mapping[str, Policy] = field(default_factory=dict)
    source_file: str = "<plan>"
    positions: Positions | None = None

    @cached_property
    def hash(self) -> str:
        """What identifies the plan: a digest of its content (not of its layout or comments)."""
        body = json.dumps(self.as_data(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def as_data(self) -> dict[str, Any]:
        return {
            "migration": FORMAT,
            "from": f"{self.source[0]}@{self.source[1]}",
            "to": f"{self.target[0]}@{self.target[1]}",
            "phases": {k: v if v is not None else DROP for k, v in self.phases.items()},
            "milestones": {
                k: (list(v) if len(v) != 1 else v[0]) if v else DROP
                for k, v in self.milestones.items()
            },
            "add": list(self.add),
            "approvals": {k: v if v is not None else DROP for k, v in self.approvals.items()},
            "pause_buttons": {
                k: v if v is not None else DROP for k, v in self.pause_buttons.items()
            },
            "deadlines": dict(self.deadlines),
        }

    def policy(self, milestone: str) -> Policy:
        """The deadline policy of a target knooppunt."""
        return self.deadlines.get(milestone, "keep")

    def approval(self, source: str, target: WorkflowDefinition) -> str | None:
        """The target approval a source approval becomes (None: dropped or not there)."""
        if source in self.approvals:
            return self.approvals[source]
        return source if source in target.approvals else None

    def button(self, source: str, target_buttons: Iterable[str]) -> str | None:
        if source in self.pause_buttons:
            return self.pause_buttons[source]
        return source if source in set(target_buttons) else None

    def where(self, path: Path) -> tuple[int, int]:
        return self.positions.of(path) if self.positions is not None else (1, 1)

    def problem(self, path: Path, message: str) -> Problem:
        line, col = self.where(path)
        return Problem(
            severity="error", message=message, source=self.source_file, line=line, column=col
        )


# --- reading --------------------------------------------------------------------------------


def workflow_ref(text: str) -> tuple[str, int] | None:
    """KEY and VERSION of ``KEY@VERSION``, or None when it is not one: a version is written
    in ASCII digits and lies in the range a workflow file's version may have (a larger one
    names no workflow, and no database column holds it)."""
    from engine.workflow.model import VERSION_RANGE

    key, sep, version = text.partition("@")
    if not sep or not key or not (version.isascii() and version.isdigit()) or len(version) > 10:
        return None
    number = int(version)
    if not VERSION_RANGE[0] <= number <= VERSION_RANGE[1]:
        return None
    return key, number


def _ref(value: Any) -> tuple[str, int] | None:
    from engine.workflow.model import scalar_text

    text = scalar_text(value)
    return workflow_ref(text) if isinstance(text, str) else None


def parse_plan(text: str, source: str = "<plan>") -> MigrationPlan:
    """Read a plan; PlanError listing every problem of form (FILE:LINE:COL)."""
    # Reading a file: the file format's helpers, imported here, not by a command that only
    # runs a stored definition (engine.workflow.stored).
    from engine.workflow.model import scalar_text
    from engine.workflow.yamlsource import read_yaml

    document = read_yaml(text)
    problems = [
        Problem(severity="error", message=m, source=source, line=line, column=col)
        for line, col, m in document.problems
    ]
    positions = document.positions
    data = document.data

    def bad(path: Path, message: str, *, key: bool = False) -> None:
        line, col = positions.of(path, key=key)
        problems.append(
            Problem(severity="error", message=message, source=source, line=line, column=col)
        )

    if data is None or problems:
        raise PlanError(source, problems or [])
    if not isinstance(data, dict):
        bad((), "a migration plan is a mapping of keys (from:, to:, phases:, milestones:, ...)")
        raise PlanError(source, problems)
    for name in data:
        if name not in _SECTIONS:
            bad((name,), f"unknown key '{name}' (allowed: {', '.join(_SECTIONS)})", key=True)
    fmt = data.get("migration", FORMAT)
    if scalar_text(fmt) not in (FORMAT, str(FORMAT)):
        bad(("migration",), f"unknown plan format {scalar_text(fmt)!r}; this engine reads 1")
    refs: dict[str, tuple[str, int]] = {}
    for end in ("from", "to"):
        if end not in data:
            bad((), f"'{end}:' is missing: write {end}: KEY@VERSION")
            continue
        found = _ref(data[end])
        if found is None:
            bad(
                (end,),
                f"'{end}' must be KEY@VERSION (e.g. wijkkompas@2; a version from 1 to "
                f"2147483647), not {data[end]!r}",
            )
        else:
            refs[end] = found

    def mapping(section: str) -> dict[str, Any]:
        value = data.get(section) or {}
        if not isinstance(value, dict):
            bad((section,), f"'{section}' must be a mapping of source id: target id")
            return {}
        return value

    def single(section: str, sid: str, value: Any) -> str | None:
        text = scalar_text(value)
        if text == TODO:
            bad((section, sid), f"{section} '{sid}' is still TODO: map it to an id, or drop it")
            return None
        if not isinstance(text, str) or not text:
            bad((section, sid), f"{section} '{sid}' must map to one id or 'drop', not {value!r}")
            return None
        return None if text == DROP else text

    phases = {sid: single("phases", sid, v) for sid, v in mapping("phases").items()}
    milestones: dict[str, tuple[str, ...]] = {}
    for sid, value in mapping("milestones").items():
        if value == []:
            # A split into nothing would drop it without saying so.
            bad(
                ("milestones", sid),
                f"knooppunt '{sid}' maps to an empty list: name what it "
                "splits into ([a, b]), or write drop",
            )
        targets = value if isinstance(value, list) else [value]
        chosen: list[str] = []
        for i, item in enumerate(targets):
            text = scalar_text(item)
            path: Path = ("milestones", sid, i) if isinstance(value, list) else ("milestones", sid)
            if text == TODO:
                bad(path, f"knooppunt '{sid}' is still TODO: map it, split it ([a, b]) or drop it")
            elif text == DROP and not isinstance(value, list):
                pass
            elif not isinstance(text, str) or not text or text == DROP:
                bad(path, f"knooppunt '{sid}' must map to an id, a list of ids or 'drop'")
            else:
                chosen.append(text)
        milestones[sid] = tuple(chosen)
    add_value = data.get("add") or []
    add: list[str] = []
    if not isinstance(add_value, list):
        bad(("add",), "'add' must be a list of target knooppunten that start open")
    else:
        for i, item in enumerate(add_value):
            text = scalar_text(item)
            if isinstance(text, str) and text != TODO:
                add.append(text)
            else:
                bad(("add", i), f"'add' lists target knooppunten, not {item!r}")
    approvals = {sid: single("approvals", sid, v) for sid, v in mapping("approvals").items()}
    buttons = {sid: single("pause_buttons", sid, v) for sid, v in mapping("pause_buttons").items()}
    deadlines: dict[str, Policy] = {}
    for mid, value in mapping("deadlines").items():
        text = scalar_text(value)
        if text in POLICIES:
            deadlines[mid] = text
        else:
            bad(("deadlines", mid), f"deadline policy of '{mid}' must be keep, recompute or cancel")
    if problems:
        raise PlanError(source, sorted(problems, key=lambda p: (p.line, p.column)))
    return MigrationPlan(
        source=refs["from"],
        target=refs["to"],
        phases=phases,
        milestones=milestones,
        add=tuple(add),
        approvals=approvals,
        pause_buttons=buttons,
        deadlines=deadlines,
        source_file=source,
        positions=positions,
    )


# --- checking against the two definitions --------------------------------------------------


def validate(
    plan: MigrationPlan, source: WorkflowDefinition, target: WorkflowDefinition
) -> list[Problem]:
    """Every problem of ``plan`` between ``source`` and ``target`` (none: it may be applied).

    Every source phase and knooppunt is mapped or dropped, every id named exists, every target
    knooppunt comes from somewhere (a mapping or ``add``), approvals and pause buttons the
    source uses exist in the target or are mapped, and the phase order is kept (a return or a
    gate of the target must never ask for what lies behind an instance)."""
    found: list[Problem] = []
    src_phases = [p.id for p in source.phases]
    tgt_phases = [p.id for p in target.phases]
    src_ms = {m.id: p.id for p in source.phases for m in p.milestones}
    tgt_ms = {m.id: p.id for p in target.phases for m in p.milestones}
    if (source.key, source.version) != plan.source:
        found.append(
            plan.problem(
                ("from",), f"the plan is from {_at(plan.source)}, not {source.key}@{source.version}"
            )
        )
    if (target.key, target.version) != plan.target:
        found.append(
            plan.problem(
                ("to",), f"the plan is to {_at(plan.target)}, not {target.key}@{target.version}"
            )
        )
    if plan.source == plan.target:
        found.append(plan.problem(("to",), "source and target are the same version"))
    for phase in src_phases:
        if phase not in plan.phases:
            found.append(
                plan.problem(
                    ("phases",),
                    f"source phase '{phase}' is not mapped: map it to a target phase or drop it",
                )
            )
    for phase, to in plan.phases.items():
        if phase not in src_phases:
            found.append(plan.problem(("phases", phase), f"'{phase}' is no phase of the source"))
        elif to is not None and to not in tgt_phases:
            found.append(
                plan.problem(
                    ("phases", phase),
                    f"'{to}' is no phase of the target (its phases: {', '.join(tgt_phases)})",
                )
            )
    # Phase order: instances further along in the source are not behind in the target.
    mapped = [
        (src_phases.index(p), tgt_phases.index(t))
        for p, t in plan.phases.items()
        if t is not None and p in src_phases and t in tgt_phases
    ]
    mapped.sort()
    for (sa, ta), (sb, tb) in pairwise(mapped):
        if tb < ta:
            found.append(
                plan.problem(
                    ("phases", src_phases[sb]),
                    f"phase '{src_phases[sb]}' comes after '{src_phases[sa]}' in the source but "
                    f"maps to '{tgt_phases[tb]}', before '{tgt_phases[ta]}': the phase order "
                    "must be kept",
                )
            )
    for mid in src_ms:
        if mid not in plan.milestones:
            found.append(
                plan.problem(
                    ("milestones",),
                    f"source knooppunt '{mid}' is not mapped: map it, split it or drop it",
                )
            )
    covered: dict[str, str] = {}
    for mid, targets in plan.milestones.items():
        if mid not in src_ms:
            found.append(
                plan.problem(("milestones", mid), f"'{mid}' is no knooppunt of the source")
            )
            continue
        for to in targets:
            if to not in tgt_ms:
                found.append(
                    plan.problem(("milestones", mid), f"'{to}' is no knooppunt of the target")
                )
                continue
            covered.setdefault(to, mid)
            src_phase = plan.phases.get(src_ms[mid])
            if (
                src_phase is not None
                and src_phase in tgt_phases
                and tgt_phases.index(tgt_ms[to]) > tgt_phases.index(src_phase)
            ):
                found.append(
                    plan.problem(
                        ("milestones", mid),
                        f"knooppunt '{mid}' (phase '{src_ms[mid]}', which maps to "
                        f"'{src_phase}') maps to '{to}' of the later phase '{tgt_ms[to]}': "
                        "a status would run ahead of its phase",
                    )
                )
    for i, to in enumerate(plan.add):
        if to not in tgt_ms:
            found.append(plan.problem(("add", i), f"'{to}' is no knooppunt of the target"))
        elif to in covered:
            found.append(
                plan.problem(
                    ("add", i), f"'{to}' is added as open but '{covered[to]}' maps to it already"
                )
            )
    for to in tgt_ms:
        if to not in covered and to not in plan.add:
            found.append(
                plan.problem(
                    ("add",),
                    f"target knooppunt '{to}' comes from no source knooppunt: map one to it or "
                    "list it under add: (it starts open)",
                )
            )
    for mid in plan.deadlines:
        if mid not in tgt_ms:
            found.append(plan.problem(("deadlines", mid), f"'{mid}' is no knooppunt of the target"))
    used = {a for p in source.phases for a in p.gate.approvals}
    for approval in sorted(used | set(plan.approvals)):
        if approval in plan.approvals:
            to = plan.approvals[approval]
            if approval not in source.approvals:
                found.append(
                    plan.problem(
                        ("approvals", approval), f"'{approval}' is no approval of the source"
                    )
                )
            elif to is not None and to not in target.approvals:
                found.append(
                    plan.problem(("approvals", approval), f"'{to}' is no approval of the target")
                )
        elif approval not in target.approvals:
            found.append(
                plan.problem(
                    ("approvals",),
                    f"approval '{approval}' (used by the source's gates) is not in the target: "
                    "map it or drop it",
                )
            )
    tgt_buttons = {b.id for b in target.pause_buttons}
    for button in sorted({b.id for b in source.pause_buttons} | set(plan.pause_buttons)):
        if button in plan.pause_buttons:
            to = plan.pause_buttons[button]
            if button not in {b.id for b in source.pause_buttons}:
                found.append(
                    plan.problem(
                        ("pause_buttons", button), f"'{button}' is no pause button of the source"
                    )
                )
            elif to is not None and to not in tgt_buttons:
                found.append(
                    plan.problem(
                        ("pause_buttons", button), f"'{to}' is no pause button of the target"
                    )
                )
        elif button not in tgt_buttons:
            found.append(
                plan.problem(
                    ("pause_buttons",),
                    f"pause button '{button}' is not in the target: map it or drop it (a wijk "
                    "paused with it cannot move otherwise)",
                )
            )
    # Gates and returns of the target: its own validation makes each one possible from its
    # phases; the phase order above keeps an instance from landing behind a gate it passed,
    # and ``engine.runtime.migration`` refuses an instance whose sub-projects its new gate
    # could never count.
    return sorted(found, key=lambda p: (p.line, p.column, p.message))


def _at(ref: tuple[str, int]) -> str:
    return f"{ref[0]}@{ref[1]}"


# --- writing ---------------------------------------------------------------------------------


def generate(source: WorkflowDefinition, target: WorkflowDefinition) -> MigrationPlan:
    """A plan from ``source`` to ``target`` for a person to finish: equal ids map to
    themselves; a source id the target lacks maps to TODO; target knooppunten nothing maps
    to are listed under ``add`` as TODO (``plan_yaml`` writes the TODOs with a comment)."""
    tgt_phases = {p.id for p in target.phases}
    tgt_ms = {m.id for p in target.phases for m in p.milestones}
    phases = {p.id: (p.id if p.id in tgt_phases else TODO) for p in source.phases}
    milestones = {
        m.id: ((m.id,) if m.id in tgt_ms else (TODO,)) for p in source.phases for m in p.milestones
    }
    mapped = {m for targets in milestones.values() for m in targets}
    add = tuple(f"{TODO} {m.id}" for p in target.phases for m in p.milestones if m.id not in mapped)
    tgt_buttons = {b.id for b in target.pause_buttons}
    approvals = {
        a: TODO
        for a in sorted({a for p in source.phases for a in p.gate.approvals})
        if a not in target.approvals
    }
    buttons = {b.id: TODO for b in source.pause_buttons if b.id not in tgt_buttons}
    return MigrationPlan(
        source=(source.key, source.version),
        target=(target.key, target.version),
        phases=phases,
        milestones=milestones,
        add=add,
        approvals=approvals,
        pause_buttons=buttons,
    )


def plan_yaml(plan: MigrationPlan, *, header: str = "") -> str:
    """The plan as a YAML file (TODO entries marked with a comment for the person to decide)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [
        f"migration: {FORMAT}",
        f"from: {_at(plan.source)}",
        f"to: {_at(plan.target)}",
    ]

    def scalar(value: str | None) -> str:
        return DROP if value is None else value

    def entry(key: str, value: str) -> str:
        todo = "  # TODO: map to a target id, or drop" if value == TODO else ""
        return f"  {key}: {value}{todo}"

    lines.append("phases:")
    lines += [entry(k, scalar(v)) for k, v in plan.phases.items()]
    lines.append("milestones:")
    for mid, targets in plan.milestones.items():
        if not targets:
            lines.append(f"  {mid}: {DROP}")
        elif len(targets) == 1:
            lines.append(entry(mid, targets[0]))
        else:
            lines.append(f"  {mid}: [{', '.join(targets)}]")
    decided = [item for item in plan.add if not item.startswith(f"{TODO} ")]
    if decided:
        lines.append("add:  # target knooppunten that start open")
        lines += [f"  - {item}" for item in decided]
    else:
        lines.append("add: []  # target knooppunten that start open")
    for item in plan.add:
        if item.startswith(f"{TODO} "):
            lines.append(
                f"# TODO: '{item.removeprefix(TODO + ' ')}' is new in the target: list it "
                "under add: (it starts open), or map a source knooppunt to it"
            )
    for section, values in (("approvals", plan.approvals), ("pause_buttons", plan.pause_buttons)):
        if values:
            lines.append(f"{section}:")
            lines += [entry(k, scalar(v)) for k, v in values.items()]
    if plan.deadlines:
        lines.append("deadlines:  # per target knooppunt: keep (default), recompute or cancel")
        lines += [f"  {k}: {v}" for k, v in plan.deadlines.items()]
    else:
        lines.append("deadlines: {}  # per target knooppunt: keep (default), recompute or cancel")
    return "\n".join(lines) + "\n"


def reverse(
    plan: MigrationPlan, source: WorkflowDefinition, target: WorkflowDefinition
) -> MigrationPlan:
    """The plan back from the target to the source; ValueError saying why when the mapping
    does not allow it (two source phases in one target phase, a knooppunt merged, an approval
    or pause button folded into another)."""
    why: list[str] = []
    back_phases: dict[str, str | None] = {}
    for phase, to in plan.phases.items():
        if to is None:
            continue
        if to in back_phases:
            why.append(f"phases '{back_phases[to]}' and '{phase}' both map to '{to}'")
        back_phases[to] = phase
    for p in target.phases:
        back_phases.setdefault(p.id, None)
    back_ms: dict[str, list[str]] = {}
    for mid, targets in plan.milestones.items():
        for to in targets:
            back_ms.setdefault(to, []).append(mid)
    milestones: dict[str, tuple[str, ...]] = {}
    for p in target.phases:
        for m in p.milestones:
            sources = back_ms.get(m.id, [])
            if len(sources) > 1:
                why.append(
                    f"knooppunten {', '.join(sources)} were merged into '{m.id}': which of them "
                    "it was cannot be known"
                )
            milestones[m.id] = tuple(sources[:1])
    # A split (a -> [a1, a2]) goes back as a merge (a1, a2 -> a): a is done once both are.
    add = tuple(mid for mid, targets in plan.milestones.items() if not targets)
    approvals = _invert(plan.approvals, "approvals", why)
    buttons = _invert(plan.pause_buttons, "pause buttons", why)
    if why:
        raise ValueError("; ".join(why))
    return MigrationPlan(
        source=plan.target,
        target=plan.source,
        phases=back_phases,
        milestones=milestones,
        add=add,
        approvals=approvals,
        pause_buttons=buttons,
    )


def _invert(mapping: Mapping[str, str | None], what: str, why: list[str]) -> dict[str, str | None]:
    back: dict[str, str | None] = {}
    for sid, to in mapping.items():
        if to is None:
            continue
        if to in back:
            why.append(f"{what} '{back[to]}' and '{sid}' both map to '{to}'")
        back[to] = sid
    return back

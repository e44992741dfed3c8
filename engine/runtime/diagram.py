"""The state diagram of a compiled workflow as Mermaid or Graphviz DOT text.

Drawn from the machine's own transitions (``CompiledWorkflow.edges``), so the picture cannot
drift from what the engine enforces.
"""

from __future__ import annotations

import re

from engine.runtime.commands import CompiledWorkflow
from engine.runtime.instance import COMPLETED, PAUSED_SUFFIX, STOPPED

__all__ = ["FORMATS", "render_diagram"]

FORMATS = ("mermaid", "dot")


def _labels(workflow: CompiledWorkflow) -> dict[str, str]:
    labels = {COMPLETED: "Completed", STOPPED: "Stopped (no-go)"}
    for i, phase in enumerate(workflow.phases, start=1):
        title = _one_line(phase.title)
        labels[phase.id] = f"{i}. {title}"
        labels[phase.id + PAUSED_SUFFIX] = f"{i}. {title} (paused)"
    return labels


def _one_line(text: str) -> str:
    """A title written over several lines (a YAML block), as one line for a label."""
    return " ".join(text.split())


def _merge(workflow: CompiledWorkflow) -> dict[tuple[str, str], list[str]]:
    """Edge labels per (source, dest), several triggers between two states on one arrow."""
    merged: dict[tuple[str, str], list[str]] = {}
    for edge in workflow.edges():
        labels = merged.setdefault((edge.source, edge.dest), [])
        label = _one_line(edge.label)
        if label not in labels:
            labels.append(label)
    return merged


def _mermaid(workflow: CompiledWorkflow) -> str:
    ids: dict[str, str] = {}
    for state in workflow.states:
        base = "s_" + re.sub(r"\W", "_", state)
        candidate, n = base, 2
        while candidate in ids.values():
            candidate, n = f"{base}_{n}", n + 1
        ids[state] = candidate
    labels = _labels(workflow)
    out = ["stateDiagram-v2"]
    for state in workflow.states:
        text = labels[state].replace('"', "'")
        out.append(f'    state "{text}" as {ids[state]}')
    out.append(f"    [*] --> {ids[workflow.phase_ids[0]]}")
    for (source, dest), names in _merge(workflow).items():
        label = " / ".join(names).replace(":", " -")
        out.append(f"    {ids[source]} --> {ids[dest]}: {label}")
    out.append(f"    {ids[COMPLETED]} --> [*]")
    out.append(f"    {ids[STOPPED]} --> [*]")
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(workflow: CompiledWorkflow) -> str:
    labels = _labels(workflow)
    out = [
        f"digraph {_quote(workflow.key + ' v' + str(workflow.version))} {{",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        "    __start__ [shape=point];",
    ]
    for state in workflow.states:
        attrs = [f"label={_quote(labels[state])}"]
        if state.endswith(PAUSED_SUFFIX):
            attrs.append('style="rounded,dashed"')
        if state in (COMPLETED, STOPPED):
            attrs.append("peripheries=2")
        out.append(f"    {_quote(state)} [{', '.join(attrs)}];")
    out.append(f"    __start__ -> {_quote(workflow.phase_ids[0])};")
    for (source, dest), names in _merge(workflow).items():
        out.append(f"    {_quote(source)} -> {_quote(dest)} [label={_quote(' / '.join(names))}];")
    out.append("}")
    return "\n".join(out) + "\n"


def render_diagram(workflow: CompiledWorkflow, fmt: str = "mermaid") -> str:
    """The diagram in ``fmt`` (mermaid or dot)."""
    if fmt == "mermaid":
        return _mermaid(workflow)
    if fmt == "dot":
        return _dot(workflow)
    raise ValueError(f"unknown diagram format {fmt!r}; use one of {', '.join(FORMATS)}")

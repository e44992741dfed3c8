"""wijkkompas: the Wijkkompas method as configurable, durable state machines.

The public, stable names of wijkkompas for a program that embeds it are exactly ``__all__``
(docs/embedding.md); everything else may change between versions. Each name is loaded on first
use, so ``import engine`` stays cheap (the database layer is imported only when a programme is
opened).

    import engine

    with engine.open_programme("sqlite:///wijken.db") as programme:
        service = programme.service()
        service.create("wk-noord", workflow="wijkkompas", title="Wijk Noord",
                       regie=engine.Regie(type="gemeente"), by="p.jansen")
        try:
            service.advance("wk-noord", by="p.jansen")
        except engine.GateNotMet as shut:
            print([u.code for u in shut.unmet])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "PROBLEM_KINDS",
    "Application",
    "BrokenLog",
    "Busy",
    "ChainReport",
    "ChildView",
    "CompiledWorkflow",
    "Conflict",
    "Contention",
    "DefinitionError",
    "DeliveryIncomplete",
    "Event",
    "GateNotMet",
    "GateStatus",
    "InputError",
    "Instance",
    "InstanceView",
    "InvalidValue",
    "LoadedWorkflow",
    "MilestoneView",
    "NewInstance",
    "NotFound",
    "PretendedTime",
    "Problem",
    "ProblemKind",
    "Recorded",
    "Refused",
    "Regie",
    "RuleViolation",
    "Service",
    "StatusRow",
    "StoredEvent",
    "Timeline",
    "TransitionNotAllowed",
    "Unmet",
    "WorkflowCatalog",
    "WorkflowDefinition",
    "WorkflowError",
    "compile_workflow",
    "definition_hash",
    "load_file",
    "load_text",
    "normalise",
    "open_programme",
    "plan_timeline",
    "problem_for",
]

_HOME = {
    "open_programme": "engine.compose",
    "Application": "engine.compose",
    "Service": "engine.app.service",
    "NewInstance": "engine.app.values",
    "Recorded": "engine.app.values",
    "Regie": "engine.runtime.events",
    "Event": "engine.runtime.events",
    "InstanceView": "engine.app.reports",
    "MilestoneView": "engine.app.reports",
    "ChildView": "engine.app.reports",
    "StatusRow": "engine.app.statusview",
    "ChainReport": "engine.app.audit",
    "StoredEvent": "engine.ports",
    "GateStatus": "engine.runtime.gates",
    "Instance": "engine.runtime.instance",
    "WorkflowError": "engine.errors",
    "InputError": "engine.errors",
    "DefinitionError": "engine.errors",
    "NotFound": "engine.errors",
    "InvalidValue": "engine.errors",
    "PretendedTime": "engine.errors",
    "Refused": "engine.errors",
    "GateNotMet": "engine.errors",
    "Unmet": "engine.errors",
    "TransitionNotAllowed": "engine.errors",
    "RuleViolation": "engine.errors",
    "BrokenLog": "engine.errors",
    "Conflict": "engine.errors",
    "Busy": "engine.errors",
    "Contention": "engine.errors",
    "DeliveryIncomplete": "engine.errors",
    "Problem": "engine.errors",
    "problem_for": "engine.app.problems",
    "PROBLEM_KINDS": "engine.app.problems",
    "ProblemKind": "engine.app.problems",
    "CompiledWorkflow": "engine.runtime.commands",
    "compile_workflow": "engine.runtime.commands",
    "LoadedWorkflow": "engine.workflow.loader",
    "load_file": "engine.workflow.loader",
    "load_text": "engine.workflow.loader",
    "WorkflowDefinition": "engine.workflow.model",
    "definition_hash": "engine.workflow.normal",
    "normalise": "engine.workflow.normal",
    "Timeline": "engine.workflow.timeline",
    "plan_timeline": "engine.workflow.timeline",
    "WorkflowCatalog": "engine.workflow.catalog",
}
"""Where each public name lives."""

if TYPE_CHECKING:
    from engine.app.audit import ChainReport
    from engine.app.problems import PROBLEM_KINDS, ProblemKind, problem_for
    from engine.app.reports import ChildView, InstanceView, MilestoneView
    from engine.app.service import Service
    from engine.app.statusview import StatusRow
    from engine.app.values import NewInstance, Recorded
    from engine.compose import Application, open_programme
    from engine.errors import (
        BrokenLog,
        Busy,
        Conflict,
        Contention,
        DefinitionError,
        DeliveryIncomplete,
        GateNotMet,
        InputError,
        InvalidValue,
        NotFound,
        PretendedTime,
        Problem,
        Refused,
        RuleViolation,
        TransitionNotAllowed,
        Unmet,
        WorkflowError,
    )
    from engine.ports import StoredEvent
    from engine.runtime.commands import CompiledWorkflow, compile_workflow
    from engine.runtime.events import Event, Regie
    from engine.runtime.gates import GateStatus
    from engine.runtime.instance import Instance
    from engine.workflow.catalog import WorkflowCatalog
    from engine.workflow.loader import LoadedWorkflow, load_file, load_text
    from engine.workflow.model import WorkflowDefinition
    from engine.workflow.normal import definition_hash, normalise
    from engine.workflow.timeline import Timeline, plan_timeline


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

"""wijkkompas: the Wijkkompas method as configurable, durable state machines.

The public names are importable from ``engine`` directly; each is loaded on first use, so that
``import engine`` stays cheap for commands that need only a little of it.

    from engine import load_file, compile_workflow, Regie
    workflow = compile_workflow(load_file("workflows/wijkkompas.yaml").definition)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Busy",
    "CompiledWorkflow",
    "Conflict",
    "DefinitionError",
    "Event",
    "GateNotMet",
    "GateStatus",
    "InputError",
    "Instance",
    "InvalidValue",
    "LoadedWorkflow",
    "NotFound",
    "Problem",
    "Refused",
    "Regie",
    "RuleViolation",
    "Timeline",
    "TransitionNotAllowed",
    "WorkflowCatalog",
    "WorkflowDefinition",
    "WorkflowError",
    "compile_workflow",
    "definition_hash",
    "load_file",
    "load_text",
    "normalise",
    "plan_timeline",
]

_HOME = {
    "CompiledWorkflow": "engine.runtime.commands",
    "compile_workflow": "engine.runtime.commands",
    "Busy": "engine.errors",
    "Conflict": "engine.errors",
    "DefinitionError": "engine.errors",
    "GateNotMet": "engine.errors",
    "InputError": "engine.errors",
    "InvalidValue": "engine.errors",
    "NotFound": "engine.errors",
    "Problem": "engine.errors",
    "Refused": "engine.errors",
    "RuleViolation": "engine.errors",
    "TransitionNotAllowed": "engine.errors",
    "WorkflowError": "engine.errors",
    "Event": "engine.runtime.events",
    "Regie": "engine.runtime.events",
    "GateStatus": "engine.runtime.gates",
    "Instance": "engine.runtime.instance",
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

if TYPE_CHECKING:
    from engine.errors import (
        Busy,
        Conflict,
        DefinitionError,
        GateNotMet,
        InputError,
        InvalidValue,
        NotFound,
        Problem,
        Refused,
        RuleViolation,
        TransitionNotAllowed,
        WorkflowError,
    )
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

"""Workflow files in, definitions out: read, check the form, check the relations, report all.

``load_file``/``load_text`` return a :class:`LoadedWorkflow` or raise one ``DefinitionError``
that carries every problem in the file, each as ``FILE:LINE:COL: severity: message`` pointing at
the node it is about. To report everything in one go, even a file with structural errors is
checked for its relations: the parts that failed are set aside (and findings about them
suppressed), the rest is validated as usual.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.errors import DefinitionError, Problem, ascii_spelling, did_you_mean
from engine.workflow.durations import Duration
from engine.workflow.model import ID_PATTERN, KEY_PATTERN, WorkflowDefinition
from engine.workflow.normal import normalise
from engine.workflow.validate import PLACEHOLDERS, check
from engine.workflow.yamlsource import Path, Positions, read_yaml, text_position

__all__ = ["LoadedWorkflow", "inspect_text", "load_file", "load_text"]


@dataclass(frozen=True, slots=True)
class LoadedWorkflow:
    """A valid definition, where it came from, and the warnings about it."""

    definition: WorkflowDefinition
    source: str
    warnings: tuple[Problem, ...]

    def normalised(self) -> WorkflowDefinition:
        return normalise(self.definition)


def load_file(path: str | FsPath) -> LoadedWorkflow:
    """Load and validate one workflow file; raises DefinitionError listing every problem."""
    source = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(source, [_problem(source, 1, 1, "error", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise DefinitionError(source, [undecodable(source, exc)]) from None
    except OSError as exc:
        raise DefinitionError(
            source, [_problem(source, 1, 1, "error", exc.strerror or str(exc))]
        ) from None
    return load_text(text, source)


def undecodable(source: str, exc: UnicodeDecodeError) -> Problem:
    """Where a file stops being UTF-8 text, as a problem."""
    line, col = text_position(exc.object, exc.start)
    byte = exc.object[exc.start : exc.start + 1].hex()
    return _problem(source, line, col, "error", f"not UTF-8 text: byte 0x{byte} ({exc.reason})")


def load_text(text: str, source: str = "<text>") -> LoadedWorkflow:
    """Validate workflow text; raises DefinitionError listing every problem."""
    definition, problems = inspect_text(text, source)
    if definition is None or any(p.is_error for p in problems):
        raise DefinitionError(source, problems)
    return LoadedWorkflow(definition, source, tuple(problems))


def inspect_text(text: str, source: str) -> tuple[WorkflowDefinition | None, list[Problem]]:
    """Every problem in ``text`` (errors and warnings) and the definition when it has one."""
    document = read_yaml(text)
    problems = [_problem(source, line, col, "error", msg) for line, col, msg in document.problems]
    if document.data is None:
        return None, problems
    if not isinstance(document.data, dict):
        problems.append(
            _problem(source, 1, 1, "error", "a workflow file is a mapping of keys (key: value)")
        )
        return None, problems
    definition, structural, repaired = _structure(document.data, document.positions, source)
    problems.extend(structural)
    if definition is not None:
        for finding in check(definition):
            if any(finding.path[: len(r)] == r for r in repaired):
                continue  # about a part that already failed its form check
            line, col = document.positions.of(finding.path)
            problems.append(_problem(source, line, col, finding.severity, finding.message))
    problems.sort(key=lambda p: (p.line, p.column, p.severity != "error"))
    return (definition if not structural else None), _unique(problems)


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    result = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            result.append(p)
    return result


def _problem(source: str, line: int, col: int, severity: str, message: str) -> Problem:
    return Problem(
        severity="error" if severity == "error" else "warning",
        message=message,
        source=source,
        line=line,
        column=col,
    )


# --- the form check, with repair so the relations can still be checked -------------------


def _structure(
    data: dict[str, Any], positions: Positions, source: str
) -> tuple[WorkflowDefinition | None, list[Problem], list[Path]]:
    work = copy.deepcopy(data)
    problems: list[Problem] = []
    repaired: list[Path] = []
    for attempt in range(200):
        try:
            return WorkflowDefinition.model_validate(work), problems, repaired
        except ValidationError as exc:
            errors = _without_echoes(exc.errors(include_url=False))
            if attempt == 0:
                problems = [_describe(e, data, positions, source) for e in errors]
            changed = False
            for error in errors:
                changed |= _repair(work, _clean_loc(error["loc"]), error["type"], repaired)
            if not changed:
                return None, problems, repaired
    return None, problems, repaired


def _without_echoes(errors: list[Any]) -> list[Any]:
    """Drop 'too short' for a list whose items failed: the items' errors say it better."""
    locs = [_clean_loc(e["loc"]) for e in errors]
    return [
        e
        for e, loc in zip(errors, locs, strict=True)
        if not (
            e["type"] == "too_short"
            and any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)
        )
    ]


def _clean_loc(loc: Iterable[Any]) -> Path:
    """The data path of an error location (pydantic adds validator tags such as '[key]')."""
    return tuple(
        part for part in loc if not (isinstance(part, str) and part.startswith(("[", "function-")))
    )


def _repair(work: Any, loc: Path, kind: str, repaired: list[Path]) -> bool:
    if kind == "missing" and loc:
        parent = _get(work, loc[:-1])
        if isinstance(parent, dict) and loc[-1] not in parent:
            parent[loc[-1]] = _placeholder(_annotation_at(loc), loc)
            repaired.append(loc[:-1] if isinstance(loc[-1], str) and loc[-1] == "id" else loc)
            return True
        return False
    # Walk up to the deepest part of the path that exists in the data, then set it aside.
    for depth in range(len(loc), 0, -1):
        parent = _get(work, loc[: depth - 1])
        key = loc[depth - 1]
        if isinstance(parent, dict) and key in parent:
            del parent[key]
            repaired.append(loc[:depth])
            return True
        if isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
            replacement = _placeholder(_annotation_at(loc[:depth]), loc[:depth])
            if parent[key] == replacement:
                return False
            parent[key] = replacement
            repaired.append(loc[:depth])
            return True
    return False


def _get(data: Any, path: Path) -> Any:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return None
    return data


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional from a type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0]
        else:
            return annotation


def _annotation_at(loc: Path) -> Any:
    current: Any = WorkflowDefinition
    for part in loc:
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (f for name, f in current.model_fields.items() if part in (name, f.alias)), None
            )
            if field is None:
                return None
            current = field.annotation
        elif origin is tuple:
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    return _unwrap(current)


_counter = iter(range(1, 1 << 62))


def _placeholder(annotation: Any, loc: Path) -> Any:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            (f.alias or name): _placeholder(_unwrap(f.annotation), (*loc, name))
            for name, f in annotation.model_fields.items()
            if f.is_required()
        }
    if origin is tuple or annotation in (list, tuple):
        return []
    if origin is dict:
        return {}
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if annotation is Duration:
        return "P0D"
    if annotation is int:
        return 1
    if annotation is date:
        return "2000-01-01"
    made_up = f"missing-{next(_counter)}"
    PLACEHOLDERS.add(made_up)
    return made_up


# --- messages -------------------------------------------------------------------------------

_ENTITIES = {
    "phases": "phase",
    "milestones": "milestone",
    "pause_buttons": "pause button",
    "returns": "return",
}


def _entity(path: Path, data: Any) -> tuple[str, Path]:
    """Name the innermost phase, milestone, button or return on ``path``; and the rest."""
    name, rest_from = "the workflow", 0
    node = data
    for i, part in enumerate(path):
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
        if isinstance(part, int) and i > 0 and path[i - 1] in _ENTITIES:
            ident = node.get("id") if isinstance(node, dict) else None
            ident = getattr(ident, "yaml_text", ident)
            kind = _ENTITIES[str(path[i - 1])]
            name = f"{kind} {_shown(ident)}" if isinstance(ident, str) else f"{kind} {part + 1}"
            rest_from = i + 1
        elif path[:1] == ("tracks",) and i == 1:
            name, rest_from = f"track '{part}'", 2
    return name, path[rest_from:]


def _dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _shown(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    text = getattr(value, "yaml_text", None)
    if text is not None:
        return str(text)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _allowed_keys(loc: Path) -> list[str]:
    model = _annotation_at(loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return []


def _describe(error: Any, data: Any, positions: Positions, source: str) -> Problem:
    raw_loc = tuple(error["loc"])
    kind: str = error["type"]
    value = error.get("input")
    if "[key]" in raw_loc:
        path = _clean_loc(raw_loc[: raw_loc.index("[key]")])
        line, col = positions.of(path, key=True)
        entity, _ = _entity(path[:-1], data)
        return _problem(
            source,
            line,
            col,
            "error",
            f"'{path[-1]}' is not a valid id in {_dotted(path[:-1]) or entity}: {_ID_RULE}"
            + _ascii_hint(path[-1], ID_PATTERN),
        )
    loc = _clean_loc(raw_loc)
    if kind == "extra_forbidden":
        line, col = positions.of(loc, key=True)
        entity, rest = _entity(loc[:-1], data)
        where = f"{entity}" + (f" ({_dotted(rest)})" if rest else "")
        message = f"unknown key '{loc[-1]}' in {where}"
        hint = did_you_mean(str(loc[-1]), _allowed_keys(loc[:-1]))
        if hint:
            message += f"; did you mean '{hint}'?"
        return _problem(source, line, col, "error", message)
    if kind == "missing":
        line, col = positions.of(loc[:-1])
        entity, rest = _entity(loc[:-1], data)
        where = f"{entity}" + (f" ({_dotted(rest)})" if rest else "")
        return _problem(
            source, line, col, "error", f"{where} is missing the required key '{loc[-1]}'"
        )
    line, col = positions.of(loc)
    entity, rest = _entity(loc, data)
    field = _dotted(rest)
    prefix = f"{entity}, {field}" if field else entity
    return _problem(source, line, col, "error", f"{prefix}: {_explain(kind, error, value)}")


_ID_RULE = (
    "use ASCII letters (a-z, A-Z), digits, '-', '_' or '.', starting with a letter or digit "
    "(at most 64)"
)
_KEY_RULE = (
    "use lower-case ASCII letters (a-z), digits, '-' and '_', starting with a letter or digit "
    "(at most 64)"
)


def _ascii_hint(text: Any, pattern: str, *, lower: bool = False) -> str:
    """'; write SPELLING' when the ASCII spelling of ``text`` (tracé: trace) is a valid one."""
    if not isinstance(text, str):
        return ""
    spelling = ascii_spelling(text)
    if spelling is None:
        return ""
    if lower:
        spelling = spelling.lower()
    if spelling == text or not re.match(pattern, spelling):
        return ""
    return f"; write '{spelling}'"


def _explain(kind: str, error: Any, value: Any) -> str:
    ctx = error.get("ctx") or {}
    shown = _shown(value)
    if kind == "string_type":
        return f"expected text, got {shown}"
    if kind == "bool_type":
        text = f"expected true or false, got {shown}"
        if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
            text += " (yes/no/on/off are text in workflow files; write true or false)"
        return text
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {shown}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, got {shown}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (key: value), got {shown}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {shown}"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == KEY_PATTERN:
            hint = _ascii_hint(value, KEY_PATTERN, lower=True)
            return f"{shown} is not a valid key: {_KEY_RULE}{hint}"
        return f"{shown} is not a valid id: {_ID_RULE}{_ascii_hint(value, ID_PATTERN)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if isinstance(value, date) and kind in ("less_than_equal", "greater_than_equal"):
        if kind == "less_than_equal":
            return f"must be on or before {ctx.get('le')}, got {value.isoformat()}"
        return f"must be on or after {ctx.get('ge')}, got {value.isoformat()}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}, got {shown}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}, got {shown}"
    if kind.startswith("date"):
        return f"expected a date like 2027-06-30, got {shown}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return f"{error['msg']} (got {shown})"

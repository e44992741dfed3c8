"""Safe YAML reading that keeps FILE:LINE:COL for every node.

Workflow files are data. This reader composes the YAML node tree and builds plain Python values
itself, so no tag can construct an object and nothing is imported. It follows the YAML 1.2 core
schema for plain scalars: only true/false are booleans, so ``on``, ``off``, ``yes`` and ``no``
stay text. Numbers and dates keep the text they were written as (``id: 1.10`` is "1.10"), keys
are always text, duplicate keys are reported instead of silently overwritten, and alias
expansion is bounded (no "billion laughs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

__all__ = ["Path", "Positions", "YamlDocument", "read_yaml"]

Path = tuple[str | int, ...]

MAX_NODES = 200_000  # far above any real workflow; stops alias bombs
MAX_DEPTH = 40  # a workflow file nests about six levels

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_KNOWN_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP, _MERGE, _SEQ, _MAP}


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema resolution (no yes/no/on/off booleans, no sexagesimals)."""


_CoreResolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreResolver.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_CoreResolver.add_implicit_resolver(
    _TIMESTAMP,
    re.compile(
        r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}"
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
        r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$"
    ),
    list("0123456789"),
)
_CoreResolver.add_implicit_resolver(_MERGE, re.compile(r"^<<$"), ["<"])


class _ComposeOnly(Reader, Scanner, Parser, Composer, _CoreResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)


try:  # libyaml composes about twenty times faster; the node tree and marks are the same
    from yaml._yaml import CParser

    class _FastComposeOnly(CParser, _CoreResolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _CoreResolver.__init__(self)

    _COMPOSER: type = _FastComposeOnly
except ImportError:  # PyYAML built without libyaml
    _COMPOSER = _ComposeOnly


class YamlInt(int):
    """An int read from YAML, remembering how it was written."""

    yaml_text: str


class YamlFloat(float):
    """A float read from YAML, remembering how it was written."""

    yaml_text: str


class YamlDate(date):
    """A date read from YAML, remembering how it was written."""

    yaml_text: str


class YamlDateTime(datetime):
    """A timestamp read from YAML, remembering how it was written."""

    yaml_text: str


@dataclass
class Positions:
    """Where each value (and each mapping key) of a document was written, 1-based."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of ``path``; falls back to the nearest enclosing node."""
        if key and path in self.keys:
            return self.keys[path]
        probe = tuple(path)
        while probe:
            if probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))


@dataclass
class YamlDocument:
    data: Any
    positions: Positions
    problems: list[tuple[int, int, str]]  # (line, column, message); all are errors


def read_yaml(text: str) -> YamlDocument:
    """Read one YAML document into plain values, positions and any problems found."""
    positions = Positions()
    problems: list[tuple[int, int, str]] = []
    try:
        # libyaml stops at a thousand levels by itself; the Python composer would recurse
        # into RecursionError first.
        too_deep = _nested_past(text) if issubclass(_COMPOSER, Composer) else None
        if too_deep is not None:
            line, col = too_deep
            return YamlDocument(None, positions, [(line, col, _TOO_DEEP)])
        loader = _COMPOSER(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or str(exc)
        if exc.context:
            what = f"{exc.context}, {what}"
        return YamlDocument(None, positions, [(line, col, f"YAML syntax: {what}")])
    except yaml.reader.ReaderError as exc:  # a control character, say
        line, col = text_position(text, exc.position)
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return YamlDocument(None, positions, [(line, col, f"{exc.reason} in YAML: {character!r}")])
    except yaml.YAMLError as exc:
        return YamlDocument(None, positions, [(1, 1, f"YAML: {exc}")])
    if root is None:
        return YamlDocument(None, positions, [(1, 1, "the file is empty")])
    converter = _Converter(positions, problems)
    try:
        data = converter.convert(root, ())
    except _TooLarge:
        problems.append((1, 1, f"the document expands to more than {MAX_NODES} nodes (aliases?)"))
        return YamlDocument(None, positions, problems)
    if data is None and not problems:  # `---` or `null` alone: nothing to read, and said so
        line, col = positions.of(())
        problems.append((line, col, "the file holds no data (null)"))
    return YamlDocument(data, positions, problems)


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def _nested_past(text: str) -> tuple[int, int] | None:
    """Where collections first open deeper than the converter's bound, if they go on to
    nest deeper than ``_GUARD`` levels (within it, the converter reports the bound with
    every other problem of the file).

    Read from the parser's events, which keep their own stack: the Python composer recurses
    once per level and would end in RecursionError, so such a depth is found before it
    composes."""
    parser = _COMPOSER(text)
    depth = 0
    first: tuple[int, int] | None = None
    try:
        while True:
            event = parser.get_event()
            if isinstance(event, _OPENS):
                depth += 1
                if depth > MAX_DEPTH + 1 and first is None:  # past what the converter allows
                    mark = event.start_mark
                    first = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
                if depth > _GUARD:
                    return first
            elif isinstance(event, _CLOSES):
                depth -= 1
            elif event is None or isinstance(event, yaml.StreamEndEvent):
                return None
    finally:
        parser.dispose()


_GUARD = 4 * MAX_DEPTH
"""Nesting the composers take in their stride (the Python one recurses about three frames
per level, within the interpreter's limit of a thousand)."""
_OPENS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSES = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def text_position(text: str | bytes, offset: int) -> tuple[int, int]:
    """Line and column (from 1) of ``offset`` in ``text``."""
    newline = "\n" if isinstance(text, str) else b"\n"
    line = text.count(newline, 0, offset) + 1  # type: ignore[arg-type]
    return line, offset - (text.rfind(newline, 0, offset) + 1) + 1  # type: ignore[arg-type]


class _TooLarge(Exception):
    pass


class _Converter:
    def __init__(self, positions: Positions, problems: list[tuple[int, int, str]]) -> None:
        self.positions = positions
        self.problems = problems
        self.count = 0
        self.active: set[int] = set()

    def _problem(self, node: Node, message: str) -> None:
        self.problems.append((node.start_mark.line + 1, node.start_mark.column + 1, message))

    def convert(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        self.positions.values.setdefault(
            path, (node.start_mark.line + 1, node.start_mark.column + 1)
        )
        if node.tag not in _KNOWN_TAGS:
            shown = node.tag.replace("tag:yaml.org,2002:", "!!")
            self._problem(
                node, f"tag '{shown}' is not allowed: workflow files hold plain data only"
            )
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if len(path) > MAX_DEPTH:
            self._problem(node, _TOO_DEEP)
            return None
        if id(node) in self.active:
            self._problem(node, "an alias refers to itself")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self.active.discard(id(node))
        self._problem(node, "unsupported YAML node")
        return None

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(key_node, "a mapping key must be plain text")
                continue
            key = key_node.value
            if key in first_seen:
                self._problem(
                    key_node, f"duplicate key '{key}' (first written on line {first_seen[key]})"
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.positions.keys.setdefault(
                (*path, key), (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            )
            result[key] = self.convert(value_node, (*path, key))
        # Merged after the keys written here, so that where a key and its value are written
        # here is where they are found (a merged mapping's positions fill in the rest only).
        merged: dict[str, Any] = {}
        for value_node in merges:
            merged.update(self._merge_sources(value_node, path))
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_sources(self, node: Node, path: Path) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self._problem(source, "'<<' merges mappings only")
                continue
            if id(source) in self.active:
                self._problem(node, "'<<' merges the mapping it is in")
                continue
            self.active.add(id(source))
            try:
                for key, value in self._mapping(source, path).items():
                    merged.setdefault(key, value)
            finally:
                self.active.discard(id(source))
        return merged

    def _scalar(self, node: ScalarNode) -> Any:
        text = node.value
        tag = node.tag
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return text.lower() == "true"
        try:
            if tag == _INT:
                number = int(text, 0) if text[:2] in ("0o", "0x") else int(text, 10)
                value: Any = YamlInt(number)
            elif tag == _FLOAT:
                value = YamlFloat(text.lower().replace(".inf", "inf").replace(".nan", "nan"))
            elif tag == _TIMESTAMP:
                value = _timestamp(text)
            else:
                self._problem(node, f"tag '{tag}' cannot be used on a scalar here")
                return None
        except ValueError:
            self._problem(node, f"'{text}' is not a valid {tag.rsplit(':', 1)[-1]}")
            return text
        value.yaml_text = text
        return value


def _timestamp(text: str) -> YamlDate | YamlDateTime:
    if len(text) == 10:
        parsed = date.fromisoformat(text)
        return YamlDate(parsed.year, parsed.month, parsed.day)
    stamp = datetime.fromisoformat(
        re.sub(r"[ \t]+", " ", text).replace(" ", "T", 1).replace(" ", "")
    )
    return YamlDateTime(
        stamp.year,
        stamp.month,
        stamp.day,
        stamp.hour,
        stamp.minute,
        stamp.second,
        stamp.microsecond,
        tzinfo=stamp.tzinfo,
    )

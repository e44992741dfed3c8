"""Canonical JSON: the one text of a value that the hash chain and the personal commitments
seal (docs/verification.md): keys sorted, no spaces, UTF-8 as it is, which is what
``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` gives.

``canonical_text`` makes that text with the very encoder ``json`` itself uses for such a call
(its C encoder, where the interpreter has one), built once with the same options: each
``JSONEncoder.encode`` call builds a new one: the bodies of the 54,000 events ``audit verify``
hashes in bench_audit.py took 0.48 s that way, 0.36 s this way (see bench/README.md, "The
audit's work per event"). The values sealed are
JSON trees (read from JSON or made of an event's facts), so the encoder keeps no markers
for circular references: the one thing it does not do that ``json.dumps`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder
from typing import Any

__all__ = ["canonical_text", "string_text"]

_OPTIONS = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_STRING: Callable[[str], str] = _encoder.encode_basestring
string_text = _STRING
"""The canonical JSON text of a ``str`` (what ``canonical_text`` gives for one)."""


def _made_once() -> Callable[[Any], str]:
    make = getattr(_encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without json's C accelerator
        return _OPTIONS.encode
    # The arguments JSONEncoder.iterencode passes for a one-shot encode with _OPTIONS:
    # markers (none), default, the string encoder (ensure_ascii=False), indent, key
    # separator, item separator, sort_keys, skipkeys, allow_nan.
    encode = make(None, _OPTIONS.default, _STRING, None, ":", ",", True, False, True)

    def canonical_text(value: Any) -> str:
        if isinstance(value, str):  # as JSONEncoder.encode does
            return _STRING(value)
        return "".join(encode(value, 0))

    return canonical_text


canonical_text: Callable[[Any], str] = _made_once()
"""The canonical JSON text of ``value`` (see the module docstring)."""

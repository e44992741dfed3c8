"""Personal data in the log: which fields of an event may hold it, and how the chain seals
them so that they can be erased later without breaking it.

Who did it (``by``), why (``reason``), free text in the payload (``note``, ``text``,
``evidence``) and contact addresses (``contacts``, ``contacts_added``, ``contacts_removed``,
also inside a regie, and the address of each ``[set, address]`` pair of
``set_contacts_added``/``set_contacts_removed``) can name a person. The chain does not hash
these values themselves but a **commitment** to each: ``sha256(salt || canonical(value))``
with a random salt per value. The value and its salt are kept beside the chain; erasing a
person overwrites the value with ``ERASED`` and destroys the salt. The commitment stays, so
every hash, checkpoint and dossier made before still verifies, and nobody can find the value
back from it (the salt has 128 random bits). docs/verification.md ("Personal data") specifies
the format.

A field's **path** names where it is: ``by``, ``reason``, or ``payload/`` followed by the keys
and list indexes down to it (``payload/regie/contacts/0``).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from engine.byvalue import ByValue, value_class
from engine.runtime.areas import MAX_ADDRESS
from engine.runtime.canonical import canonical_text

__all__ = [
    "ERASED",
    "REDACTED",
    "Personal",
    "address_spans",
    "addresses",
    "chained",
    "commitment",
    "disclosed",
    "personal_fields",
    "put",
    "seal_personal",
]

ERASED = "[verwijderd]"
"""What an erased value reads as, in the log and in every view of it."""
REDACTED = "[weggelaten]"
"""What a value left out of a dossier (for a Woo request) reads as in its decision log."""

_TEXT_KEYS = frozenset({"note", "text", "evidence"})
"""Payload keys whose text is free text someone wrote (and may name people)."""
_CONTACT_KEYS = frozenset({"contacts", "contacts_added", "contacts_removed"})
"""Payload keys holding a list of contact addresses: each address is one field."""
_SET_CONTACT_KEYS = frozenset({"set_contacts_added", "set_contacts_removed"})
"""Payload keys holding a list of [contact set, address] pairs: each address is one field."""
_LOCAL = re.compile(r"[\w.%+'-]")
"""A character of the part of an address before the ``@``."""
_DOMAIN = re.compile(r"[\w.-]+\.[^\W\d_]{2,}")
"""The part of an address after the ``@``."""
_ADDRESS = re.compile(_LOCAL.pattern + "+@" + _DOMAIN.pattern)
"""An e-mail address in free text: letters and digits of any script (``\\w``: an address may
be ``jörg@müller.nl``, which the contacts take, RFC 6531), a top-level domain of letters.
``_matches`` finds what ``finditer`` of this pattern finds, in time linear in the text."""
SALT_BYTES = 16


@value_class(frozen=True, slots=True, repr=False, eq=False)
class Personal(ByValue):
    """One personal field of a stored event: where, its commitment, and its salt (None once
    the value was erased)."""

    path: str
    commitment: str
    salt: str | None


def canonical(value: Any) -> bytes:
    """Keys sorted, no spaces, UTF-8 as it is (``engine.runtime.canonical``)."""
    return canonical_text(value).encode("utf-8")


def commitment(salt: str, value: Any) -> str:
    """Lowercase hex SHA-256 of the salt's bytes followed by the value's canonical JSON."""
    return hashlib.sha256(bytes.fromhex(salt) + canonical(value)).hexdigest()


def address_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, address lowercased) of every e-mail address in ``text``. Dots and
    apostrophes in front of one are punctuation (quotes, an ellipsis), not part of it; a
    look-alike longer than an address can be (254 characters) is none."""
    for start, end in _matches(text):
        bare = text[start:end].lstrip(".'")
        if not bare.startswith("@") and len(bare) <= MAX_ADDRESS:
            yield end - len(bare), end, bare.lower()


def _matches(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each match of ``_ADDRESS`` in ``text``, as ``finditer`` gives them,
    found from each ``@`` instead: the pattern's engine tries every position of a long run of
    letters (a pasted token) to its end, 0.2 s for 10,000 of them in a note."""
    local = _LOCAL.match
    done = 0
    at = text.find("@")
    while at != -1:
        start = at
        while start > done and local(text, start - 1):
            start -= 1
        domain = _DOMAIN.match(text, at + 1) if start < at else None
        if domain is None:
            at = text.find("@", at + 1)
            continue
        yield start, domain.end()
        done = domain.end()
        at = text.find("@", done)


def addresses(value: Any) -> set[str]:
    """The e-mail addresses in ``value`` (a text), lowercased: whose data it is."""
    if not isinstance(value, str):
        return set()
    return {address for _, _, address in address_spans(value)}


def personal_fields(by: Any, reason: Any, payload: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, value) of every personal field of an event that has a value."""
    if by is not None:
        yield "by", by
    if reason is not None:
        yield "reason", reason
    yield from _walk(payload, "payload")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            inner, here = value[key], f"{path}/{key}"
            if key in _TEXT_KEYS and isinstance(inner, str):
                yield here, inner
            elif key in _CONTACT_KEYS and isinstance(inner, list):
                for index, address in enumerate(inner):
                    if isinstance(address, str):
                        yield f"{here}/{index}", address
            elif key in _SET_CONTACT_KEYS and isinstance(inner, list):
                for index, pair in enumerate(inner):
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str):
                        yield f"{here}/{index}/1", pair[1]
            else:
                yield from _walk(inner, here)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _walk(inner, f"{path}/{index}")


def seal_personal(by: str, reason: str | None, payload: Mapping[str, Any]) -> tuple[Personal, ...]:
    """A fresh salt and its commitment for every personal field of a new event."""
    found = []
    for path, value in personal_fields(by, reason, payload):
        salt = secrets.token_hex(SALT_BYTES)
        found.append(Personal(path, commitment(salt, value), salt))
    return tuple(found)


def _steps(path: str) -> list[str | int]:
    return [int(step) if step.isdigit() else step for step in path.split("/")[1:]]


def get(by: Any, reason: Any, payload: Any, path: str) -> Any:
    """The value at ``path``."""
    if path == "by":
        return by
    if path == "reason":
        return reason
    value = payload
    for step in _steps(path):
        value = value[step]
    return value


def put(by: Any, reason: Any, payload: Any, path: str, value: Any) -> tuple[Any, Any, Any]:
    """(by, reason, payload) with ``value`` at ``path``; ``payload`` is copied, not changed."""
    if path == "by":
        return value, reason, payload
    if path == "reason":
        return by, value, payload
    payload = json.loads(json.dumps(payload))
    _place(payload, path, value)
    return by, reason, payload


def _place(payload: Any, path: str, value: Any) -> None:
    """``value`` at ``path`` (of the payload) in ``payload`` itself."""
    steps = _steps(path)
    inner = payload
    for step in steps[:-1]:
        inner = inner[step]
    inner[steps[-1]] = value


def chained(
    by: Any, reason: Any, payload: Any, personal: tuple[Personal, ...]
) -> tuple[Any, Any, Any]:
    """(by, reason, payload) as the chain hashes them: each personal field replaced by
    ``{"personal": commitment}`` (the payload copied once, not once per field as ``put``
    would: an update with contacts has several)."""
    copied = False
    for field in personal:
        sealed = {"personal": field.commitment}
        if field.path == "by":
            by = sealed
        elif field.path == "reason":
            reason = sealed
        else:
            if not copied:
                payload, copied = json.loads(json.dumps(payload)), True
            _place(payload, field.path, sealed)
    return by, reason, payload


def disclosed(by: Any, reason: Any, payload: Any, personal: tuple[Personal, ...]) -> str | None:
    """None when every personal field holds what its commitment says (an erased one:
    ``ERASED``, its salt gone); else the path of the first that does not."""
    for field in personal:
        try:
            value = get(by, reason, payload, field.path)
        except (KeyError, IndexError, TypeError):
            return field.path
        if field.salt is None:
            if value != ERASED:
                return field.path
        elif commitment(field.salt, value) != field.commitment:
            return field.path
    return None

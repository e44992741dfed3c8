"""CBS area codes (gemeente, wijk, buurt), checked by their published form.

GM + 4 digits (gemeente), WK + 6 (gemeente 4 + wijk 2), BU + 8 (gemeente 4 + wijk 2 + buurt 2).
The wijk and buurt parts may contain capital letters where a gemeente has 100 or more wijken or
a wijk 100 or more buurten. Codes are checked by form only: no network lookups at run time.
"""

from __future__ import annotations

import re

from engine.errors import InvalidValue, ascii_spelling

__all__ = [
    "MAX_ADDRESS",
    "NO_CHARACTER",
    "area_level",
    "check_area",
    "check_email",
    "check_key",
    "check_text",
]

_AREA = re.compile(r"(?:GM\d{4}|WK\d{4}[0-9A-Z]{2}|BU\d{4}[0-9A-Z]{4})", re.ASCII)
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The characters free text may not hold: Unicode's control characters (category Cc, fixed for
# good by Unicode's stability policy) and the line and paragraph separators (Zl, Zp: one each).
# Spelled out rather than asked of unicodedata per character, which cost about 2 µs for every
# ten characters of every command's texts (tests/unit/test_areas.py compares the two over every
# code point). Free text that may span lines keeps its line breaks and tabs.
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
# A lone surrogate (category Cs) is no character: it is what Python makes of bytes that are not
# UTF-8 on the command line (surrogateescape). No UTF-8 text holds one, so neither can the log:
# the hash chain seals its canonical JSON in UTF-8, and the database keeps UTF-8.
NO_CHARACTER = re.compile("[\ud800-\udfff]")


def check_area(code: str) -> str:
    """``code`` in canonical form (upper case), or InvalidValue saying what the forms are."""
    canonical = code.strip().upper()
    if not _AREA.fullmatch(canonical):
        raise InvalidValue(
            "CBS area code",
            code,
            "use GM + 4 digits (gemeente, e.g. GM0363), WK + 6 (wijk, e.g. WK036305) or "
            "BU + 8 (buurt, e.g. BU03630500)",
        )
    return canonical


def area_level(code: str) -> str:
    return {"GM": "gemeente", "WK": "wijk", "BU": "buurt"}[code[:2]]


def check_key(key: str) -> str:
    """An instance key: a short slug in ASCII; the refusal offers its ASCII spelling, lower
    case (tracé → trace), when that would do."""
    if not _KEY.fullmatch(key):
        spelling = (ascii_spelling(key) or "").lower()
        hint = f"; write '{spelling}'" if spelling != key and _KEY.fullmatch(spelling) else ""
        raise InvalidValue(
            "instance key",
            key,
            "use lower-case ASCII letters (a-z), digits, '-' and '_', starting with a letter or "
            "digit (at most 64), e.g. wk-noord or bu-0363-0500" + hint,
        )
    return key


MAX_ADDRESS = 254
"""The longest e-mail address (RFC 5321): also the longest text taken for one in free text
(``engine.runtime.personal.address_spans``)."""


def check_email(address: str) -> str:
    if len(address) > MAX_ADDRESS or not address.isprintable() or not _EMAIL.fullmatch(address):
        raise InvalidValue("e-mail address", address, "write it as name@example.nl")
    return address


def check_text(what: str, text: str, *, one_line: bool = False, limit: int = 10_000) -> str:
    """Free text someone typed (a name, a reason, a note): no control characters (line breaks
    and tabs only where it may span lines), nothing that is no character (a lone surrogate),
    at most ``limit`` characters."""
    if (_CONTROL_ONE_LINE if one_line else _CONTROL).search(text):
        shown = (
            "on one line, without control characters"
            if one_line
            else ("without control characters")
        )
        raise InvalidValue(what, text, f"write it {shown}")
    found = NO_CHARACTER.search(text)
    if found is not None:
        raise InvalidValue(
            what,
            text,
            f"write it in UTF-8: it holds {found.group()!r}, which is no character (bytes "
            "that are not UTF-8?)",
        )
    if len(text) > limit:
        raise InvalidValue(what, text[:40] + "...", f"at most {limit:,} characters")
    return text

"""iCalendar text (RFC 5545) for the deadline feeds: all-day VEVENTs with stable UIDs, a
SEQUENCE that goes up on every change, STATUS:CANCELLED for a deadline that went away, a link
to the instance and a DISPLAY alarm (the only kind Outlook honours) at the nearest reminder.

Written by hand: escaping (backslash, semicolon, comma, line breaks), leaving out the control
characters a TEXT value may not hold, and folding lines at 75 octets without splitting a UTF-8
character are all it takes. Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from engine.ports import CalendarEntry

__all__ = ["TEXT", "calendar", "escape", "fold", "summary"]

Language = Literal["nl", "en"]

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "milestone": "Knooppunt",
        "gate": "Einde fase",
        "review": "Herbeoordeling pauze",
        "legal": "wettelijke termijn",
        "calendar": "wijkkompas: termijnen",
        "alarm": "Herinnering",
        "cancelled": "vervallen",
        "instance": "Wijk",
    },
    "en": {
        "milestone": "Milestone",
        "gate": "End of phase",
        "review": "Review of the pause",
        "legal": "legal deadline",
        "calendar": "wijkkompas: deadlines",
        "alarm": "Reminder",
        "cancelled": "cancelled",
        "instance": "Neighbourhood",
    },
}


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""What RFC 5545 calls CONTROL, less HTAB: not allowed in a TEXT value (3.3.11)."""


def _control(found: re.Match[str]) -> str:
    return " " if found[0].isspace() else ""


def escape(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): line breaks as ``\\n``; other control characters (a
    vertical tab, an escape sequence in a workflow's title) are left out, a blank for those
    that separate words."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )
    return _CONTROL.sub(_control, escaped)


def fold(line: str) -> str:
    """One content line folded at 75 octets (continuations start with a space)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []
    start, limit = 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # not inside a UTF-8 character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74  # the leading space counts
    return "\r\n ".join(parts)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _day(day: date) -> str:
    return day.strftime("%Y%m%d")


def summary(entry: CalendarEntry, language: Language) -> str:
    words = TEXT[language]
    text = f"{words[entry.kind]}: {entry.title} — {entry.instance_title}"
    if entry.legal:
        text += f" ({words['legal']})"
    return text


def _event(
    entry: CalendarEntry, *, now: datetime, domain: str, base_url: str | None, language: Language
) -> list[str]:
    words = TEXT[language]
    cancelled = entry.cancelled_at is not None
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape(f'{entry.instance_key}/{entry.kind}/{entry.subject}')}@{domain}",
        f"DTSTAMP:{_stamp(now)}",
        f"LAST-MODIFIED:{_stamp(entry.changed_at)}",
        f"SEQUENCE:{entry.sequence}",
        f"DTSTART;VALUE=DATE:{_day(entry.due)}",
        f"DTEND;VALUE=DATE:{_day(entry.due + timedelta(days=1))}",
        f"SUMMARY:{escape(summary(entry, language))}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        "TRANSP:TRANSPARENT",
        f"CATEGORIES:{escape(words[entry.kind])}",
    ]
    description = f"{words['instance']}: {entry.instance_title} ({entry.instance_key})"
    if base_url:
        url = f"{base_url.rstrip('/')}/instances/{entry.instance_key}"
        lines.append(f"URL;VALUE=URI:{url}")
        description += f"\n{url}"
    lines.append(f"DESCRIPTION:{escape(description)}")
    if entry.alarm_days is not None and not cancelled:
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{escape(words['alarm'] + ': ' + summary(entry, language))}",
            # Before the start of the all-day event: the nearest reminder of the workflow.
            f"TRIGGER;RELATED=START:-P{entry.alarm_days}D",
            "END:VALARM",
        ]
    lines.append("END:VEVENT")
    return lines


def calendar(
    entries: Iterable[CalendarEntry],
    *,
    now: datetime,
    domain: str,
    base_url: str | None,
    language: Language,
    name: str | None = None,
) -> str:
    """The whole VCALENDAR, CRLF line ends, folded."""
    words = TEXT[language]
    lines: list[str] = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//wijkkompas//deadline feed//NL",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name or words['calendar'])}",
        "X-PUBLISHED-TTL:PT1H",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
    ]
    for entry in entries:
        lines += _event(entry, now=now, domain=domain, base_url=base_url, language=language)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)

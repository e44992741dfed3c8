"""What reminders say: subject, plain text and HTML, in Dutch and English.

A message tells its reader what is due and by when, for which neighbourhood and milestone, why
they get it (owner, regie holder, programme office) and what to do next: the command that
records it done, a link to the instance when a base URL is configured, and whom to ask (the
regie holder and the programme office, where replies go too). The outbox key is not in the
text: it travels in a header (``X-Wijkkompas-Key``). A digest lists all items for one reader
in one message. Pure: no sending here (see ``adapters/email.py``).
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from engine.workflow.wording import LANGUAGES, mail_text
from engine.workflow.wording import day as _day_text

__all__ = ["Composed", "ReminderItem", "compose"]

Language = Literal["nl", "en"]

_TEXT = {language: mail_text(language) for language in LANGUAGES}
"""The e-mails' messages, from the one catalogue (engine.workflow.wording)."""
_HTML = {
    language: {name: html.escape(_TEXT[language][name]) for name in ("phase", "greeting")}
    for language in LANGUAGES
}
"""The catalogue's words that every HTML part holds as they are, escaped once."""

_SPECIAL = re.compile("[&<>\"']")


def _escape(value: str) -> str:
    """``html.escape``, without its five passes over text that has nothing to escape (most
    of a message: a reminder's HTML part escapes about ten pieces of text)."""
    return html.escape(value) if _SPECIAL.search(value) else value


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderItem:
    """One reminder for one reader, as planned into the outbox."""

    key: str
    instance: str
    instance_title: str
    kind: str
    """milestone, gate or review."""
    subject: str
    subject_title: str
    phase_title: str
    due: date
    rule: str
    """before, on_due, overdue or escalation."""
    role: str
    """Why this reader: owner, regie or programme_office."""
    owner: str = "regie"
    term: str = ""
    """What the workflow calls a milestone ('knooppunt', or its own ``terms``); empty: the
    default of the message's language."""
    owner_title: str = ""
    """The owner as the workflow names it (a party or regie type), e.g. 'Netbeheerder'."""
    regie: str = ""
    """Who holds the regie: the organisation with its regie type, e.g. 'Groen Noord
    (Bewonersinitiatief)', or the type alone."""
    regie_contacts: tuple[str, ...] = ()
    """The regie holder's contact addresses: whom the reader can ask."""
    programme_office: tuple[str, ...] = ()
    """The programme office's addresses: whom the reader can ask, and where replies go."""
    owner_unreachable: bool = False
    legal: bool = False
    sensitive: bool = False
    also: tuple[str, ...] = ()
    """The rules of less urgent reminders to the same reader, about the same deadline and in
    the same pass, that this message stands for (e.g. overdue, in an escalation)."""
    folded_into: str | None = None
    """Set on a reminder that is not sent on its own: the key of the row that carries it."""
    evidence: tuple[dict[str, Any], ...] = ()
    """For a gate ready for decision: each milestone of the gate as recorded, ``{milestone,
    title, status, by, day, note, evidence}`` (what the decider looks at)."""

    def as_payload(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "instance": self.instance,
            "instance_title": self.instance_title,
            "kind": self.kind,
            "subject": self.subject,
            "subject_title": self.subject_title,
            "phase_title": self.phase_title,
            "due": self.due.isoformat(),
            "rule": self.rule,
            "role": self.role,
            "owner": self.owner,
            "term": self.term,
            "owner_title": self.owner_title,
            "regie": self.regie,
            "regie_contacts": list(self.regie_contacts),
            "programme_office": list(self.programme_office),
            "owner_unreachable": self.owner_unreachable,
            "legal": self.legal,
            "sensitive": self.sensitive,
            "also": list(self.also),
            "folded_into": self.folded_into,
            **({"evidence": [dict(e) for e in self.evidence]} if self.evidence else {}),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ReminderItem:
        """The item of an outbox row; rows planned by an older version lack the newer fields
        (they take their defaults)."""
        known = {k: v for k, v in data.items() if k in _FIELDS}
        known["due"] = date.fromisoformat(data["due"])
        for name in ("also", "regie_contacts", "programme_office", "evidence"):
            known[name] = tuple(data.get(name, ()))
        return cls(**known)


_FIELDS = frozenset(ReminderItem.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Composed:
    subject: str
    text: str
    html: str
    reply_to: tuple[str, ...] = ()
    """Where answers go: the programme office of the items (none when it is not known)."""


def _date(day: date, language: str) -> str:
    return _day_text(day, language)


def _days(count: int, t: dict[str, str]) -> str:
    return f"{count} {t['day'] if count == 1 else t['days']}"


def _when(item: ReminderItem, today: date, t: dict[str, str], language: str) -> str:
    if item.kind == "ready":
        return t["ready_since"].format(date=_date(item.due, language))
    days = (item.due - today).days
    when = _date(item.due, language)
    if days > 0:
        return t["due_future"].format(date=when, days=_days(days, t))
    if days == 0:
        return t["due_today"].format(date=when)
    return t["due_past"].format(date=when, days=_days(-days, t))


def _label(item: ReminderItem, today: date, t: dict[str, str]) -> str:
    """What the reminder is, as it stands on ``today``: a reminder planned for its day but
    delivered after it (a mail server that was down, a digest) is late, not "today"."""
    if item.rule == "escalation":
        return t["escalation"]
    if item.kind == "ready":
        return t["ready"]
    if item.rule == "request":
        return t["request"]
    days = (item.due - today).days
    return t["before"] if days > 0 else t["on_due"] if days == 0 else t["overdue"]


def _what(item: ReminderItem, t: dict[str, str]) -> str:
    kind = item.term if item.kind == "milestone" and item.term else t[item.kind]
    if item.kind == "ready":
        kind = t["ready_what"]
    return f"{kind} '{item.subject_title}' - {item.instance_title} ({item.instance})"


def _role(item: ReminderItem, t: dict[str, str]) -> str:
    """Why this reader gets it, by the role they were chosen for, named where it is known."""
    role = "regie" if item.owner_unreachable else item.role  # standing in for the owner
    if item.kind == "approval" and role == "owner":
        role = "approver"
    if role == "regie" and item.regie:
        return t["why_regie_named"].format(regie=item.regie)
    if role == "owner" and item.owner_title:
        return t["why_owner_named"].format(owner=item.owner_title)
    return t[f"why_{role}"]


def _why(item: ReminderItem, today: date, t: dict[str, str]) -> list[str]:
    line = _role(item, t)
    if item.rule == "escalation":
        line += " " + t["why_escalation"].format(days=_days((today - item.due).days, t))
    lines = [line]
    if item.owner_unreachable:
        lines.append(t["no_contact"].format(owner=item.owner))
    if item.legal:
        lines.append(t["legal"])
    if item.sensitive:
        lines.append(t["sensitive"])
    if item.also:
        labels = ", ".join(f"'{t[rule]}'" for rule in item.also)
        lines.append(t["also"].format(labels=labels))
    return lines


def _link(item: ReminderItem, base_url: str | None) -> str | None:
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/instances/{item.instance}"


def _next(item: ReminderItem, t: dict[str, str]) -> str:
    """How to record that it is done: the command that settles this kind of deadline."""
    instance = shlex.quote(item.instance)
    if item.kind == "milestone":
        command = f"wijkkompas milestone done {instance} {shlex.quote(item.subject)}"
    elif item.kind in ("gate", "ready"):
        command = f"wijkkompas advance {instance}"
    elif item.kind == "approval":
        approval = shlex.quote(item.subject)
        command = f"wijkkompas gate approve {instance} {approval} --decision go --ref REF"
    else:
        command = f"wijkkompas resume {instance}"
    return t[f"record_{item.kind}"].format(command=command)


def _evidence(item: ReminderItem, t: dict[str, str]) -> list[str]:
    """The milestones of a gate ready for decision, each as recorded: who, when, note and
    reference (evidence)."""
    if not item.evidence:
        return []
    lines = [t["evidence"]]
    for e in item.evidence:
        if e.get("status") in ("done", "skipped"):
            line = t["evidence_line"].format(
                title=e.get("title", e.get("milestone", "")),
                status=t[str(e["status"])],
                day=e.get("day", ""),
                by=e.get("by", ""),
            )
        else:
            line = f"{e.get('title', e.get('milestone', ''))}: {t['open_status']}"
        extra = "; ".join(str(e[k]) for k in ("note", "evidence") if e.get(k))
        lines.append(f"- {line}" + (f" ({extra})" if extra else ""))
    return lines


def _contact(item: ReminderItem, t: dict[str, str]) -> str | None:
    """Whom to ask: the regie holder (named, with its contacts) and the programme office."""
    whom = []
    if item.regie or item.regie_contacts:
        regie = t["contact_regie"] + (f", {item.regie}" if item.regie else "")
        if item.regie_contacts:
            regie += ": " + ", ".join(item.regie_contacts)
        whom.append(regie)
    if item.programme_office:
        whom.append(t["contact_programme_office"] + ": " + ", ".join(item.programme_office))
    return t["contact"].format(whom=t["contact_or"].join(whom)) if whom else None


def _reply_to(items: Sequence[ReminderItem]) -> tuple[str, ...]:
    found: dict[str, str] = {}
    for item in items:
        for address in item.programme_office:
            found.setdefault(address.lower(), address)
    return tuple(found.values())


def _in_order(item: ReminderItem) -> tuple[date, str, str]:
    return item.due, item.instance, item.subject


def compose(
    items: Sequence[ReminderItem],
    *,
    language: Language,
    today: date,
    base_url: str | None = None,
) -> Composed:
    """One message about ``items`` (one reminder, or a digest of several) for one reader."""
    t = _TEXT[language]
    h = _HTML[language]
    ordered = sorted(items, key=_in_order) if len(items) > 1 else list(items)
    # Each item's label, what and when, once: the subject, the text and the HTML say the same.
    said = [
        (item, _label(item, today, t), _what(item, t), _when(item, today, t, language))
        for item in ordered
    ]
    if len(ordered) == 1:
        _, label, what, when = said[0]
        subject = f"{label}: {what}, {when}"
    else:
        overdue = sum(1 for i in ordered if i.due < today)
        subject = t["digest_subject"].format(count=len(ordered)) + (
            t["digest_overdue"].format(overdue=overdue) if overdue else ""
        )
    intro = t["intro_one"] if len(ordered) == 1 else t["intro_many"].format(count=len(ordered))
    text_lines = [t["greeting"], "", intro, ""]
    html_items = []
    for item, label, what, when in said:
        link = _link(item, base_url)
        contact = _contact(item, t)
        notes = _why(item, today, t)
        steps = [_next(item, t), *_evidence(item, t)]
        text_lines.append(f"* {label}: {what}")
        text_lines.append(f"  {t['phase']} {item.phase_title}; {when}")
        text_lines.extend(f"  {line}" for line in notes + steps)
        if link:
            text_lines.append("  " + t["open"].format(url=link))
        if contact:
            text_lines.append(f"  {contact}")
        text_lines.append("")
        link_html = ""
        if link:
            opened = _escape(t["open"].format(url=link))
            link_html = f'<br><a href="{html.escape(link, quote=True)}">{opened}</a>'
        contact_html = f"<br>{_escape(contact)}" if contact else ""
        html_items.append(
            "<li>"
            f"<strong>{_escape(label)}: {_escape(what)}</strong><br>"
            f"{h['phase']} {_escape(item.phase_title)}; "
            f"{_escape(when)}<br>"
            f"<small>{'<br>'.join(_escape(line) for line in notes)}</small><br>"
            f"{'<br>'.join(_escape(line) for line in steps)}{link_html}{contact_html}"
            "</li>"
        )
    reply_to = _reply_to(ordered)
    footer = t["footer"] + (" " + t["replies"] if reply_to else "")
    text_lines.append(footer)
    body_html = (
        f'<!DOCTYPE html><html lang="{language}"><body>'
        f"<p>{h['greeting']}</p><p>{_escape(intro)}</p>"
        f"<ul>{''.join(html_items)}</ul>"
        f"<p><small>{_escape(footer)}</small></p></body></html>"
    )
    return Composed(
        subject=subject,
        text="\n".join(text_lines).rstrip() + "\n",
        html=body_html,
        reply_to=reply_to,
    )

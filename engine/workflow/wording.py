"""The message catalogue: every word wijkkompas shows people, in Dutch (the default) and English.

One source for the pages (``adapters/web``), the reminder e-mails (``engine.reminders.messages``)
and the human-readable CLI views, so the method's terms agree everywhere (a "knooppunt" is never
sometimes a "mijlpaal") and no raw ISO duration reaches a person: ``duration`` says "21 dagen"
or "3 maanden", ``day`` says "6 december 2026".

- ``text(key, language, **values)``: one message, filled in; an unknown key is a KeyError
  (a test checks every key the templates use exists in both languages);
- ``mail_text(language)``: the e-mails' messages as one mapping;
- ``PAGE``: the pages' messages, by language.

Pure: no I/O.
"""

from __future__ import annotations

from datetime import date, datetime

from engine.workflow.durations import Duration

__all__ = [
    "LANGUAGES",
    "PAGE",
    "day",
    "duration",
    "mail_text",
    "moment",
    "text",
]

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"

_MONTHS = {
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "en": "January February March April May June July August September October November December",
}

_MAIL: dict[str, dict[str, str]] = {
    "nl": {
        "before": "Herinnering",
        "on_due": "Vandaag",
        "overdue": "Te laat",
        "escalation": "Escalatie",
        "milestone": "knooppunt",
        "gate": "einde van fase",
        "review": "herbeoordeling van de pauze",
        "due_future": "uiterlijk {date} (over {days})",
        "due_today": "uiterlijk vandaag, {date}",
        "due_past": "was uiterlijk {date} ({days} geleden)",
        "day": "dag",
        "days": "dagen",
        "why_owner": "U krijgt dit bericht omdat u de eigenaar bent.",
        "why_owner_named": (
            "U krijgt dit bericht omdat {owner} de eigenaar is en u daar contactpersoon bent."
        ),
        "why_regie": "U krijgt dit bericht omdat uw organisatie de regie heeft.",
        "why_regie_named": (
            "U krijgt dit bericht omdat {regie} de regie heeft en u daar contactpersoon bent."
        ),
        "why_programme_office": "U krijgt dit bericht als programmabureau.",
        "why_escalation": "Het is {days} over tijd; daarom deze escalatie.",
        "legal": "Let op: dit is een wettelijke termijn; een pauze houdt hem niet tegen.",
        "sensitive": "Let op: bestuurlijk gevoelig.",
        "also": "Dit bericht komt ook in de plaats van uw herinnering {labels}.",
        "no_contact": (
            "Voor eigenaar '{owner}' is geen contactadres bekend; daarom krijgt de regiehouder "
            "dit bericht."
        ),
        "open": "Bekijk in wijkkompas: {url}",
        "greeting": "Beste lezer,",
        "intro_one": "Er vraagt iets uw aandacht in de wijkaanpak:",
        "intro_many": "Deze {count} punten vragen uw aandacht in de wijkaanpak:",
        "digest_subject": "Overzicht wijkkompas: {count} punten",
        "digest_overdue": ", waarvan {overdue} te laat",
        "record_milestone": "Gedaan? Leg het vast met: {command}",
        "record_gate": "Is de fase af? Ga door met: {command}",
        "record_review": "Kan het werk weer verder? Hervat met: {command}",
        "contact": "Vragen? Neem contact op met {whom}.",
        "contact_regie": "de regiehouder",
        "contact_programme_office": "het programmabureau",
        "contact_or": "; of met ",
        "replies": "Antwoorden op dit bericht gaan naar het programmabureau.",
        "footer": "Verstuurd door wijkkompas.",
        "phase": "fase",
    },
    "en": {
        "before": "Reminder",
        "on_due": "Due today",
        "overdue": "Overdue",
        "escalation": "Escalation",
        "milestone": "milestone",
        "gate": "end of phase",
        "review": "review of the pause",
        "due_future": "due {date} (in {days})",
        "due_today": "due today, {date}",
        "due_past": "was due {date} ({days} ago)",
        "day": "day",
        "days": "days",
        "why_owner": "You receive this because you are the owner.",
        "why_owner_named": "You receive this because {owner} is the owner and you are its contact.",
        "why_regie": "You receive this because your organisation holds the regie (lead).",
        "why_regie_named": (
            "You receive this because {regie} holds the regie (lead) and you are its contact."
        ),
        "why_programme_office": "You receive this as the programme office.",
        "why_escalation": "It is {days} overdue, hence this escalation.",
        "legal": "Note: this is a legal deadline; a pause does not stop it.",
        "sensitive": "Note: politically sensitive.",
        "also": "This message also takes the place of your {labels} reminder.",
        "no_contact": (
            "No contact address is known for owner '{owner}', so the regie holder receives this."
        ),
        "open": "Open in wijkkompas: {url}",
        "greeting": "Dear reader,",
        "intro_one": "Something in the neighbourhood approach needs your attention:",
        "intro_many": "These {count} items in the neighbourhood approach need your attention:",
        "digest_subject": "wijkkompas digest: {count} items",
        "digest_overdue": ", {overdue} overdue",
        "record_milestone": "Done? Record it with: {command}",
        "record_gate": "Is the phase finished? Move on with: {command}",
        "record_review": "Can the work go on? Resume with: {command}",
        "contact": "Questions? Contact {whom}.",
        "contact_regie": "the regie holder",
        "contact_programme_office": "the programme office",
        "contact_or": "; or ",
        "replies": "Replies to this message go to the programme office.",
        "footer": "Sent by wijkkompas.",
        "phase": "phase",
    },
}


PAGE: dict[str, dict[str, str]] = {"nl": {}, "en": {}}


def mail_text(language: str) -> dict[str, str]:
    """The messages of the reminder e-mails in ``language``."""
    return _MAIL[language]


_UNITS = {
    "nl": {
        "years": ("jaar", "jaar"),
        "months": ("maand", "maanden"),
        "weeks": ("week", "weken"),
        "days": ("dag", "dagen"),
        "and": "en",
    },
    "en": {
        "years": ("year", "years"),
        "months": ("month", "months"),
        "weeks": ("week", "weeks"),
        "days": ("day", "days"),
        "and": "and",
    },
}


def duration(value: Duration | str | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A duration as people say it: "21 dagen", "3 maanden", "1 jaar en 6 maanden"."""
    if value is None:
        return ""
    d = Duration.parse(value) if isinstance(value, str) else value
    units = _UNITS[language]
    parts = [
        f"{n} {units[name][0] if n == 1 else units[name][1]}"  # type: ignore[index]
        for name, n in (
            ("years", d.years),
            ("months", d.months),
            ("weeks", d.weeks),
            ("days", d.days),
        )
        if n
    ]
    if not parts:
        return f"0 {units['days'][1]}"  # type: ignore[index]
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} {units['and']} {parts[-1]}"


def day(value: date | datetime | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A date as people write it: "6 december 2026" / "6 December 2026"."""
    if value is None:
        return ""
    months = _MONTHS[language].split()
    return f"{value.day} {months[value.month - 1]} {value.year}"


def moment(value: datetime | None, language: str = DEFAULT_LANGUAGE) -> str:
    """A moment in local time: "6 december 2026 14:05"."""
    if value is None:
        return ""
    from engine.clock import LOCAL_TZ

    local = value.astimezone(LOCAL_TZ)
    return f"{day(local, language)} {local:%H:%M}"


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """One message of the pages in ``language``, with ``values`` filled in."""
    message = PAGE[language][key]
    return message.format(**values) if values else message

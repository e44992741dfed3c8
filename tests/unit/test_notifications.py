"""What reminders say (engine/reminders/messages.py): compose one reminder or a digest, in Dutch and
English, as subject, plain text and HTML; and the outbox payload of a ReminderItem."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from engine.reminders.messages import Language, ReminderItem, compose

DUE = date(2026, 6, 15)
ITEM = ReminderItem(
    key="wk-noord/milestone:team/2026-06-15/before7/a@x.nl",
    instance="wk-noord",
    instance_title="Wijk Noord",
    kind="milestone",
    subject="team",
    subject_title="Kernteam",
    phase_title="Startfase",
    due=DUE,
    rule="before",
    role="owner",
)
WHAT = {
    "nl": "knooppunt 'Kernteam' - Wijk Noord (wk-noord)",
    "en": "milestone 'Kernteam' - Wijk Noord (wk-noord)",
}


def item(**changes: Any) -> ReminderItem:
    return replace(ITEM, **changes)


def in_both(line: str, language: Language, it: ReminderItem, today: date = DUE) -> bool:
    """``line`` in the plain text and, escaped, in the HTML of a message about ``it``."""
    message = compose([it], language=language, today=today)
    return line in message.text and html.escape(line) in message.html


# --- one reminder -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "rule", "today", "subject"),
    [
        (
            "nl",
            "before",
            date(2026, 6, 8),
            f"Herinnering: {WHAT['nl']}, uiterlijk 15 juni 2026 (over 7 dagen)",
        ),
        ("en", "before", date(2026, 6, 8), f"Reminder: {WHAT['en']}, due 15 June 2026 (in 7 days)"),
        ("nl", "on_due", DUE, f"Vandaag: {WHAT['nl']}, uiterlijk vandaag, 15 juni 2026"),
        ("en", "on_due", DUE, f"Due today: {WHAT['en']}, due today, 15 June 2026"),
        (
            "nl",
            "overdue",
            date(2026, 6, 18),
            f"Te laat: {WHAT['nl']}, was uiterlijk 15 juni 2026 (3 dagen geleden)",
        ),
        (
            "en",
            "overdue",
            date(2026, 6, 18),
            f"Overdue: {WHAT['en']}, was due 15 June 2026 (3 days ago)",
        ),
        (
            "nl",
            "escalation",
            date(2026, 6, 29),
            f"Escalatie: {WHAT['nl']}, was uiterlijk 15 juni 2026 (14 dagen geleden)",
        ),
        (
            "en",
            "escalation",
            date(2026, 6, 29),
            f"Escalation: {WHAT['en']}, was due 15 June 2026 (14 days ago)",
        ),
    ],
)
def test_subject_says_the_rule_what_and_by_when(
    language: Language, rule: str, today: date, subject: str
):
    message = compose([item(rule=rule)], language=language, today=today)
    assert message.subject == subject


@pytest.mark.parametrize(
    ("language", "rule", "today", "word"),
    [
        ("nl", "on_due", date(2026, 6, 16), "Te laat"),
        ("en", "on_due", date(2026, 6, 16), "Overdue"),
        ("nl", "before", DUE, "Vandaag"),
        ("en", "before", DUE, "Due today"),
        ("nl", "before", date(2026, 6, 20), "Te laat"),
        ("en", "before", date(2026, 6, 20), "Overdue"),
    ],
)
def test_a_reminder_delivered_after_its_day_says_what_is_true_today(
    language: Language, rule: str, today: date, word: str
):
    """Planned for one day, delivered on a later one (a mail server that was down, a digest):
    the subject and the item follow the due date as it stands when the message is made."""
    message = compose([item(rule=rule)], language=language, today=today)
    assert message.subject.startswith(f"{word}: {WHAT[language]}, ")
    assert f"* {word}: {WHAT[language]}" in message.text
    assert f"<strong>{html.escape(word)}: " in message.html


def test_an_escalation_stays_an_escalation():
    message = compose([item(rule="escalation")], language="nl", today=date(2026, 6, 29))
    assert message.subject.startswith("Escalatie: ")


@pytest.mark.parametrize(
    ("language", "kind", "title", "what"),
    [
        ("nl", "gate", "Startfase", "einde van fase 'Startfase'"),
        ("en", "gate", "Startfase", "end of phase 'Startfase'"),
        ("nl", "review", "Geen geld", "herbeoordeling van de pauze 'Geen geld'"),
        ("en", "review", "No money", "review of the pause 'No money'"),
    ],
)
def test_subject_names_the_kind_of_deadline(language: Language, kind: str, title: str, what: str):
    it = item(kind=kind, subject="x", subject_title=title)
    message = compose([it], language=language, today=DUE)
    assert f": {what} - Wijk Noord (wk-noord), " in message.subject
    assert f"{what} - Wijk Noord (wk-noord)" in message.text


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("nl", "fase Startfase; uiterlijk 15 juni 2026 (over 7 dagen)"),
        ("en", "phase Startfase; due 15 June 2026 (in 7 days)"),
    ],
)
def test_text_and_html_give_the_phase_and_the_due_date(language: Language, line: str):
    assert in_both(line, language, ITEM, today=date(2026, 6, 8))


@pytest.mark.parametrize(
    ("language", "role", "rule", "today", "line"),
    [
        ("nl", "owner", "before", DUE, "U krijgt dit bericht omdat u de eigenaar bent."),
        ("en", "owner", "before", DUE, "You receive this because you are the owner."),
        ("nl", "regie", "before", DUE, "omdat uw organisatie de regie heeft."),
        ("en", "regie", "before", DUE, "your organisation holds the regie (lead)."),
        ("nl", "programme_office", "on_due", DUE, "U krijgt dit bericht als programmabureau."),
        ("en", "programme_office", "on_due", DUE, "You receive this as the programme office."),
    ],
)
def test_text_and_html_say_why_the_reader_gets_it(
    language: Language, role: str, rule: str, today: date, line: str
):
    assert in_both(line, language, item(role=role, rule=rule), today=today)


@pytest.mark.parametrize(
    ("language", "role", "line"),
    [
        (
            "nl",
            "regie",
            "U krijgt dit bericht omdat Groen Noord (Bewonersinitiatief) de regie heeft en u daar "
            "contactpersoon bent. Het is 14 dagen over tijd; daarom deze escalatie.",
        ),
        (
            "en",
            "regie",
            "You receive this because Groen Noord (Bewonersinitiatief) holds the regie (lead) and "
            "you are its contact. It is 14 days overdue, hence this escalation.",
        ),
        (
            "nl",
            "owner",
            "U krijgt dit bericht omdat Netbeheerder de eigenaar is en u daar contactpersoon bent. "
            "Het is 14 dagen over tijd; daarom deze escalatie.",
        ),
        (
            "en",
            "owner",
            "You receive this because Netbeheerder is the owner and you are its contact. "
            "It is 14 days overdue, hence this escalation.",
        ),
    ],
)
def test_an_escalation_names_the_readers_real_role(language: Language, role: str, line: str):
    """Escalations can go to the regie holder or the owner (``escalate_to``): a residents'
    initiative is not the programme office."""
    escalation = item(
        rule="escalation",
        role=role,
        owner="netbeheerder",
        owner_title="Netbeheerder",
        regie="Groen Noord (Bewonersinitiatief)",
    )
    message = compose([escalation], language=language, today=date(2026, 6, 29))
    assert line in message.text
    assert html.escape(line) in message.html
    assert "programmabureau" not in message.text
    assert "programme office" not in message.text


@pytest.mark.parametrize(
    ("language", "line"),
    [
        (
            "nl",
            "U krijgt dit bericht als programmabureau. Het is 14 dagen over tijd; daarom deze "
            "escalatie.",
        ),
        (
            "en",
            "You receive this as the programme office. It is 14 days overdue, hence this "
            "escalation.",
        ),
    ],
)
def test_an_escalation_to_the_programme_office_says_so(language: Language, line: str):
    escalation = item(rule="escalation", role="programme_office")
    assert in_both(line, language, escalation, today=date(2026, 6, 29))


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("nl", "Dit bericht komt ook in de plaats van uw herinnering 'Te laat'."),
        ("en", "This message also takes the place of your 'Overdue' reminder."),
    ],
)
def test_a_message_names_the_reminder_it_stands_in_for(language: Language, line: str):
    merged = item(rule="escalation", role="regie", also=("overdue",))
    assert in_both(line, language, merged, today=date(2026, 6, 30))
    alone = compose([item(rule="escalation")], language=language, today=date(2026, 6, 30))
    assert line not in alone.text


@pytest.mark.parametrize(
    ("language", "legal", "sensitive"),
    [
        ("nl", "Let op: dit is een wettelijke termijn", "Let op: bestuurlijk gevoelig."),
        ("en", "Note: this is a legal deadline", "Note: politically sensitive."),
    ],
)
def test_legal_and_sensitive_notes_appear_only_when_flagged(
    language: Language, legal: str, sensitive: str
):
    assert in_both(legal, language, item(legal=True))
    assert in_both(sensitive, language, item(sensitive=True))
    plain = compose([ITEM], language=language, today=DUE)
    assert legal not in plain.text
    assert sensitive not in plain.text


@pytest.mark.parametrize(
    ("language", "note"),
    [
        (
            "nl",
            "Voor eigenaar 'netbeheerder' is geen contactadres bekend; daarom krijgt de "
            "regiehouder dit bericht.",
        ),
        ("en", "No contact address is known for owner 'netbeheerder', so the regie holder"),
    ],
)
def test_owner_unreachable_note_names_the_owner(language: Language, note: str):
    unreachable = item(owner="netbeheerder", owner_unreachable=True, role="regie")
    assert in_both(note, language, unreachable)
    reachable = compose([item(owner="netbeheerder")], language=language, today=DUE)
    assert "netbeheerder" not in reachable.text


def test_owner_unreachable_reader_is_not_told_they_own_the_milestone():
    stand_in = item(owner="netbeheerder", owner_unreachable=True, role="owner")
    message = compose([stand_in], language="en", today=DUE)
    assert "because you are the owner" not in message.text


@pytest.mark.parametrize(
    ("language", "today", "phrase"),
    [
        ("en", date(2026, 6, 14), "(in 1 day)"),
        ("en", date(2026, 6, 16), "(1 day ago)"),
        ("nl", date(2026, 6, 14), "(over 1 dag)"),
        ("nl", date(2026, 6, 16), "(1 dag geleden)"),
    ],
)
def test_one_day_is_singular(language: Language, today: date, phrase: str):
    message = compose([ITEM], language=language, today=today)
    assert message.subject.endswith(phrase)


@pytest.mark.parametrize(
    ("language", "label"),
    [("nl", "Bekijk in wijkkompas: "), ("en", "Open in wijkkompas: ")],
)
def test_link_to_the_instance_when_a_base_url_is_given(language: Language, label: str):
    url = "https://kompas.example/instances/wk-noord"
    message = compose(
        [ITEM],
        language=language,
        today=DUE,
        base_url="https://kompas.example/",
    )
    assert f"{label}{url}" in message.text
    assert f'<a href="{url}">{label}{url}</a>' in message.html
    assert f"<li><strong>{'Vandaag' if language == 'nl' else 'Due today'}: " in message.html


@pytest.mark.parametrize("base_url", [None, ""])
def test_no_link_without_a_base_url(base_url: str | None):
    message = compose([ITEM], language="nl", today=DUE, base_url=base_url)
    assert "instances/" not in message.text
    assert "instances/" not in message.html
    assert "<a " not in message.html


# --- what to do next -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "kind", "line"),
    [
        ("nl", "milestone", "Gedaan? Leg het vast met: wijkkompas milestone done wk-noord team"),
        ("en", "milestone", "Done? Record it with: wijkkompas milestone done wk-noord team"),
        ("nl", "gate", "Is de fase af? Ga door met: wijkkompas advance wk-noord"),
        ("en", "gate", "Is the phase finished? Move on with: wijkkompas advance wk-noord"),
        ("nl", "review", "Kan het werk weer verder? Hervat met: wijkkompas resume wk-noord"),
        ("en", "review", "Can the work go on? Resume with: wijkkompas resume wk-noord"),
    ],
)
def test_every_message_says_how_to_record_it_done(language: Language, kind: str, line: str):
    it = item(kind=kind, subject="team")
    assert in_both(line, language, it)
    assert in_both(line, language, replace(it, rule="escalation"), today=date(2026, 6, 29))


def test_the_command_is_quoted_for_the_shell():
    message = compose([item(instance="wk-$(rm)", subject="a b")], language="en", today=DUE)
    assert "wijkkompas milestone done 'wk-$(rm)' 'a b'" in message.text


@pytest.mark.parametrize(
    ("language", "line"),
    [
        (
            "nl",
            "Vragen? Neem contact op met de regiehouder, Gemeente Noord (Gemeente): "
            "regie@noord.example, pl@noord.example; of met het programmabureau: "
            "pb@gemeente.example.",
        ),
        (
            "en",
            "Questions? Contact the regie holder, Gemeente Noord (Gemeente): regie@noord.example, "
            "pl@noord.example; or the programme office: pb@gemeente.example.",
        ),
    ],
)
def test_every_message_says_whom_to_contact(language: Language, line: str):
    it = item(
        regie="Gemeente Noord (Gemeente)",
        regie_contacts=("regie@noord.example", "pl@noord.example"),
        programme_office=("pb@gemeente.example",),
    )
    assert in_both(line, language, it)


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"regie": "Groen Noord (Bewonersinitiatief)"},
            "Vragen? Neem contact op met de regiehouder, Groen Noord (Bewonersinitiatief).",
        ),
        (
            {"programme_office": ("pb@gemeente.example",)},
            "Vragen? Neem contact op met het programmabureau: pb@gemeente.example.",
        ),
    ],
)
def test_the_contact_line_names_whom_it_knows(changes: dict[str, Any], line: str):
    assert in_both(line, "nl", item(**changes))


def test_replies_go_to_the_programme_office_and_the_footer_says_so():
    office = ("pb@gemeente.example", "warmte@gemeente.example")
    message = compose([item(programme_office=office)], language="nl", today=DUE)
    assert message.reply_to == office
    assert "Antwoorden op dit bericht gaan naar het programmabureau." in message.text
    alone = compose([ITEM], language="nl", today=DUE)
    assert alone.reply_to == ()
    assert "Antwoorden" not in alone.text


def test_the_internal_key_is_not_in_the_text():
    message = compose([ITEM], language="nl", today=DUE)
    assert ITEM.key not in message.text
    assert ITEM.key not in message.html
    assert "Kenmerk" not in message.text
    assert message.text.rstrip().endswith("Verstuurd door wijkkompas.")


def test_html_escapes_titles():
    tricky = item(
        subject_title='Plan <b> & "quotes"',
        instance_title="Noord & <Zuid>",
        phase_title="Fase <1>",
    )
    message = compose([tricky], language="en", today=DUE)
    assert "<b>" not in message.html
    assert "<Zuid>" not in message.html
    assert "&#x27;Plan &lt;b&gt; &amp; &quot;quotes&quot;&#x27;" in message.html
    assert "Noord &amp; &lt;Zuid&gt;" in message.html
    assert "phase Fase &lt;1&gt;;" in message.html
    # The plain text and the subject are not HTML: they keep the titles as written.
    assert "milestone 'Plan <b> & \"quotes\"' - Noord & <Zuid> (wk-noord)" in message.text
    assert message.subject.startswith("Due today: milestone 'Plan <b> & \"quotes\"'")


def test_html_is_a_document_in_the_language():
    message = compose([ITEM], language="en", today=DUE)
    assert message.html.startswith('<!DOCTYPE html><html lang="en"><body>')
    assert message.html.endswith("</body></html>")
    assert message.html.count("<li>") == 1
    assert message.text.startswith("Dear reader,\n\nSomething in the neighbourhood approach")
    assert message.text.endswith("\n")


# --- a digest -----------------------------------------------------------------------------------


def digest_items() -> list[ReminderItem]:
    return [
        item(
            key="a", instance="wk-a", subject="later", subject_title="Later", due=date(2026, 6, 20)
        ),
        item(
            key="b", instance="wk-b", subject="first", subject_title="First", due=date(2026, 6, 1)
        ),
        item(
            key="c",
            instance="wk-c",
            subject="middle",
            subject_title="Middle",
            due=date(2026, 6, 10),
        ),
        item(key="d", instance="wk-d", subject="today", subject_title="Today", due=DUE),
    ]


@pytest.mark.parametrize(
    ("language", "subject", "intro"),
    [
        (
            "nl",
            "Overzicht wijkkompas: 4 punten, waarvan 2 te laat",
            "Deze 4 punten vragen uw aandacht in de wijkaanpak:",
        ),
        (
            "en",
            "wijkkompas digest: 4 items, 2 overdue",
            "These 4 items in the neighbourhood approach need your attention:",
        ),
    ],
)
def test_digest_subject_counts_items_and_overdue_ones(language: Language, subject: str, intro: str):
    message = compose(digest_items(), language=language, today=DUE)
    assert message.subject == subject  # the one due today is not overdue
    assert intro in message.text
    assert html.escape(intro) in message.html


def test_digest_without_overdue_items_says_only_the_count():
    items = digest_items()[:1] + digest_items()[3:]
    message = compose(items, language="nl", today=date(2026, 6, 1))
    assert message.subject == "Overzicht wijkkompas: 2 punten"


def test_digest_lists_every_item_sorted_by_due_date():
    message = compose(digest_items(), language="en", today=DUE, base_url="https://k.example")
    order = ["'First'", "'Middle'", "'Today'", "'Later'"]
    in_text = [message.text.index(title) for title in order]
    assert in_text == sorted(in_text)
    in_html = [message.html.index(html.escape(title)) for title in order]
    assert in_html == sorted(in_html)
    assert message.html.count("<li>") == 4
    for key in ("wk-a", "wk-b", "wk-c", "wk-d"):
        assert f"https://k.example/instances/{key}" in message.text
    assert "was due 1 June 2026 (14 days ago)" in message.text
    assert "due 20 June 2026 (in 5 days)" in message.text


# --- the outbox payload -----------------------------------------------------------------------


def test_payload_round_trip():
    full = item(
        rule="escalation",
        role="programme_office",
        owner="netbeheerder",
        owner_title="Netbeheerder",
        regie="Groen Noord (Bewonersinitiatief)",
        owner_unreachable=True,
        legal=True,
        sensitive=True,
        also=("overdue",),
        folded_into="wk-noord/milestone:team/2026-06-15/escalation/a@x.nl",
        regie_contacts=("regie@noord.example",),
        programme_office=("pb@gemeente.example",),
    )
    payload = full.as_payload()
    assert payload["due"] == "2026-06-15"
    stored = json.loads(json.dumps(payload))
    assert ReminderItem.from_payload(stored) == full
    assert ReminderItem.from_payload(ITEM.as_payload()) == ITEM


def test_a_payload_planned_by_an_older_version_still_composes():
    """Rows queued before an upgrade lack the newer fields: they take the defaults, and the
    reader is told the role in general words."""
    old = {k: v for k, v in ITEM.as_payload().items() if k not in ("owner_title", "regie")}
    loaded = ReminderItem.from_payload({**old, "role": "regie"})
    message = compose([loaded], language="nl", today=DUE)
    assert "U krijgt dit bericht omdat uw organisatie de regie heeft." in message.text

"""The words of the rendered reports, in Dutch and English, and how dates and spans of days are
said to people ("2 maart 2026", "27 dagen", "3 maanden"; never an ISO duration).

One table per language, looked up by key; a missing key is a KeyError, so a typo fails the
tests. The method's own terms (knooppunt, regie, wijk, deelproject) come from the workflow
where it has them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

__all__ = ["LANGUAGES", "Language", "Words", "words"]

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")

_MONTHS = {
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "en": "January February March April May June July August September October November December",
}
_SHORT = {
    "nl": "jan feb mrt apr mei jun jul aug sep okt nov dec",
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
}

_TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "day": "dag",
        "days": "dagen",
        "week": "week",
        "weeks": "weken",
        "month": "maand",
        "months": "maanden",
        "year": "jaar",
        "years": "jaar",
        "today": "vandaag",
        "planned": "gepland",
        "actual": "werkelijk",
        "paused": "gepauzeerd",
        "timeline": "Tijdlijn",
        "timeline_desc": (
            "Tijdlijn van {count}: per regel de geplande fasen (open balk) en de werkelijke "
            "fasen (gevulde balk), pauzes gearceerd, {milestones} als ruit (gevuld: gedaan, "
            "open: nog te doen, rood: te laat), wettelijke termijnen met §, en vandaag als "
            "verticale lijn."
        ),
        "instances_one": "1 wijk of deelproject",
        "instances_many": "{n} wijken en deelprojecten",
        "due": "uiterlijk {date}",
        "done_on": "gedaan op {date}",
        "skipped_on": "overgeslagen op {date}",
        "overdue": "te laat",
        "legal": "wettelijke termijn",
        "since": "sinds {date}",
        "until": "tot {date}",
        "span": "{start} tot {end}",
        "span_open": "vanaf {start}",
        "reason": "reden: {reason}",
        "review": "herbeoordeling {date}",
        "completed": "afgerond",
        "stopped": "gestopt",
        "legend_planned": "gepland",
        "legend_actual": "werkelijk",
        "legend_paused": "pauze",
        "legend_done": "gedaan",
        "legend_open": "nog te doen",
        "legend_overdue": "te laat",
        "legend_legal": "wettelijke termijn",
        "chart_phases": "Wijken per fase",
        "chart_phases_desc": "Aantal wijken per fase van de methode: {items}.",
        "chart_paused": "Gepauzeerd per pauzeknop",
        "chart_paused_desc": "Aantal gepauzeerde wijken en deelprojecten per pauzeknop: {items}.",
        "chart_paused_none": "Er is nu niets gepauzeerd.",
        "chart_overdue": "Te late {milestones} in de tijd",
        "chart_overdue_desc": (
            "Aantal te late {milestones} per week, van {first} tot {last}: {items}."
        ),
        "count": "aantal",
    },
    "en": {
        "day": "day",
        "days": "days",
        "week": "week",
        "weeks": "weeks",
        "month": "month",
        "months": "months",
        "year": "year",
        "years": "years",
        "today": "today",
        "planned": "planned",
        "actual": "actual",
        "paused": "paused",
        "timeline": "Timeline",
        "timeline_desc": (
            "Timeline of {count}: per row the planned phases (open bar) and the actual phases "
            "(filled bar), pauses hatched, {milestones} as diamonds (filled: done, open: to do, "
            "red: overdue), legal deadlines marked §, and today as a vertical line."
        ),
        "instances_one": "1 neighbourhood or sub-project",
        "instances_many": "{n} neighbourhoods and sub-projects",
        "due": "due {date}",
        "done_on": "done on {date}",
        "skipped_on": "skipped on {date}",
        "overdue": "overdue",
        "legal": "legal deadline",
        "since": "since {date}",
        "until": "until {date}",
        "span": "{start} to {end}",
        "span_open": "from {start}",
        "reason": "reason: {reason}",
        "review": "review {date}",
        "completed": "completed",
        "stopped": "stopped",
        "legend_planned": "planned",
        "legend_actual": "actual",
        "legend_paused": "pause",
        "legend_done": "done",
        "legend_open": "to do",
        "legend_overdue": "overdue",
        "legend_legal": "legal deadline",
        "chart_phases": "Neighbourhoods per phase",
        "chart_phases_desc": "Number of neighbourhoods in each phase of the method: {items}.",
        "chart_paused": "Paused per pause button",
        "chart_paused_desc": (
            "Number of paused neighbourhoods and sub-projects per button: {items}."
        ),
        "chart_paused_none": "Nothing is paused now.",
        "chart_overdue": "Overdue {milestones} over time",
        "chart_overdue_desc": (
            "Number of overdue {milestones} per week, {first} to {last}: {items}."
        ),
        "count": "number",
    },
}


class Words:
    """The texts of one language."""

    def __init__(self, language: Language) -> None:
        if language not in _TEXT:
            raise ValueError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
        self.language: Language = language
        self._text = _TEXT[language]
        self._months = _MONTHS[language].split()
        self._short = _SHORT[language].split()

    def __call__(self, key: str, **values: object) -> str:
        text = self._text[key]
        return text.format(**values) if values else text

    def date(self, day: dt.date) -> str:
        """'2 maart 2026' / '2 March 2026'."""
        return f"{day.day} {self._months[day.month - 1]} {day.year}"

    def short_date(self, day: dt.date) -> str:
        """'2 mrt' / '2 Mar'."""
        return f"{day.day} {self._short[day.month - 1]}"

    def month(self, day: dt.date) -> str:
        """'mrt 2026'."""
        return f"{self._short[day.month - 1]} {day.year}"

    def days(self, n: int) -> str:
        """A number of days as people say it: '1 dag', '27 dagen', '3 maanden', '2 jaar'."""
        n = abs(n)
        if n >= 730:
            years = round(n / 365.25)
            return f"{years} {self('years' if years != 1 else 'year')}"
        if n >= 90:
            months = round(n / 30.44)
            return f"{months} {self('months' if months != 1 else 'month')}"
        return f"{n} {self('days' if n != 1 else 'day')}"

    def instances(self, n: int) -> str:
        return self("instances_one") if n == 1 else self("instances_many", n=n)


def words(language: str) -> Words:
    """The words of ``language`` (nl or en); ValueError for another."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
    return Words("nl" if language == "nl" else "en")

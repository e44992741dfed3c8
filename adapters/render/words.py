"""How the rendered reports say things, in Dutch and English: their words, dates and spans of
days ("2 maart 2026", "27 dagen", "3 maanden"; never an ISO duration).

The words themselves are in the one message catalogue (``engine.workflow.wording``: ``REPORT``
and the months), beside those of the pages, the e-mails and the CLI, so the terms agree; looked
up by key, a missing key is a KeyError, so a typo fails the tests. The method's own terms
(knooppunt, regie, wijk, deelproject) come from the workflow where it has them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from engine.workflow.wording import MONTHS, REPORT, SHORT_MONTHS

__all__ = ["LANGUAGES", "Language", "Words", "words"]

Language = Literal["nl", "en"]
LANGUAGES: tuple[Language, ...] = ("nl", "en")


class Words:
    """The texts of one language."""

    def __init__(self, language: Language) -> None:
        if language not in REPORT:
            raise ValueError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
        self.language: Language = language
        self._text = REPORT[language]
        self._months = MONTHS[language].split()
        self._short = SHORT_MONTHS[language].split()

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

"""Instances from a CSV file: its delimiter, its columns, and every row checked.

``read_instances`` turns the text of a CSV file into ``NewInstance`` items for
``Service.create_many``. Spreadsheets write CSV the way their locale says: Excel with Dutch
settings separates cells with ';' (and its "CSV UTF-8" form starts with a byte order mark), other
tools with ',' or a tab. Without a given delimiter the header row decides: the one of ',', ';'
and tab it holds most (',' when it holds none). Every problem names the line and the delimiter
the file was read with, since a wrong delimiter makes every line look wrong.

Columns (a header row): key, title, and optionally workflow, regie, regie_org, contacts,
parent, areas. Several contacts or areas in one cell are separated by spaces or ';'.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from engine.app.values import NewInstance, check_new_instance
from engine.errors import InvalidValue
from engine.runtime.events import Regie

__all__ = ["COLUMNS", "DELIMITERS", "CsvInstances", "detect_delimiter", "read_instances", "shown"]

COLUMNS = ("key", "title", "workflow", "regie", "regie_org", "contacts", "parent", "areas")
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class CsvInstances:
    """The instances a CSV file describes, and the delimiter it was read with."""

    items: tuple[NewInstance, ...]
    delimiter: str


def shown(delimiter: str) -> str:
    """A delimiter as a message names it: ',' or ';' or tab."""
    return "tab" if delimiter == "\t" else f"'{delimiter}'"


def detect_delimiter(header: str) -> str:
    """The delimiter of a CSV file by its header row: the one of ',', ';' and tab it holds
    most (',' on a tie or when it holds none)."""
    return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


def read_instances(
    text: str,
    *,
    delimiter: str | None = None,
    workflow: str | None = None,
    regie: str | None = None,
) -> CsvInstances:
    """The instances in ``text`` (a CSV file), checked as ``instance create`` checks them.

    ``delimiter``: as given, or found by ``detect_delimiter``; ``workflow`` and ``regie``: for
    rows without one. InvalidValue names the line and the delimiter.
    """
    if delimiter is not None and delimiter not in DELIMITERS:
        raise InvalidValue("CSV delimiter", delimiter, "use ',', ';' or tab")
    text = text.removeprefix("\ufeff")
    used = delimiter or detect_delimiter(text.partition("\n")[0])
    try:
        items = _rows(text, used, workflow, regie)
    except InvalidValue as exc:
        hint = (
            f"read with delimiter {shown(used)}"
            + ("" if delimiter else ", found in the header")
            + "; give --delimiter ',', ';' or tab if the file uses another"
        )
        raise InvalidValue(exc.what, exc.value, f"{exc.expected} ({hint})") from None
    return CsvInstances(tuple(items), used)


def _rows(text: str, delimiter: str, workflow: str | None, regie: str | None) -> list[NewInstance]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = reader.fieldnames
    if header is None or not {"key", "title"} <= set(header):
        raise InvalidValue(
            "CSV header", delimiter.join(header or []), "needs at least the columns key and title"
        )
    for name in header:
        if name not in COLUMNS:
            raise InvalidValue("CSV column", name, "known: " + ", ".join(COLUMNS))
        if header.count(name) > 1:
            raise InvalidValue("CSV column", name, "it appears twice in the header")
    items = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise InvalidValue(f"row on line {line}", row["key"], "more cells than the header")
        if row["key"] is None or row["title"] is None:
            raise InvalidValue(f"row on line {line}", row["key"], "fewer cells than the header")
        workflow_ref = (row.get("workflow") or "").strip() or workflow
        regie_type = (row.get("regie") or "").strip() or regie
        if not workflow_ref or not regie_type:
            raise InvalidValue(
                f"row on line {line}",
                row.get("key"),
                "give workflow and regie (or --workflow/--regie)",
            )
        item = NewInstance(
            key=row["key"].strip(),
            title=row["title"],
            workflow=workflow_ref,
            regie=Regie(
                type=regie_type,
                organisation=(row.get("regie_org") or "").strip() or None,
                contacts=tuple((row.get("contacts") or "").replace(";", " ").split()),
            ),
            parent=(row.get("parent") or "").strip() or None,
            areas=tuple((row.get("areas") or "").replace(";", " ").split()),
        )
        try:
            check_new_instance(item)
        except InvalidValue as exc:
            raise InvalidValue(f"{exc.what} on line {line}", exc.value, exc.expected) from None
        items.append(item)
    return items

"""The chain's form of an event (``engine.runtime.personal.chained``): each personal field in
place of its value as ``put`` places it, one field after another, whatever the fields are;
the event's own payload is left as it was."""

from __future__ import annotations

import copy
from typing import Any

from engine.runtime.personal import Personal, chained, personal_fields, put

PAYLOAD = {
    "note": "gesproken met a@b.nl",
    "contacts_added": ["a@b.nl", "c@d.nl"],
    "set_contacts_added": [["stuurgroep", "e@f.nl"]],
    "phase": "samen-starten",
}


def _one_by_one(by: Any, reason: Any, payload: Any, personal: tuple[Personal, ...]) -> Any:
    for field in personal:
        by, reason, payload = put(by, reason, payload, field.path, {"personal": field.commitment})
    return by, reason, payload


def test_every_personal_field_is_sealed_as_put_seals_it_one_after_another() -> None:
    fields = [path for path, _ in personal_fields("kernteam", "geld", PAYLOAD)]
    assert len(fields) == 6  # by, reason, the note, two contacts, one set contact
    for count in range(len(fields) + 1):
        personal = tuple(Personal(path, f"{n:064x}", "00") for n, path in enumerate(fields[:count]))
        payload = copy.deepcopy(PAYLOAD)
        assert chained("kernteam", "geld", payload, personal) == _one_by_one(
            "kernteam", "geld", PAYLOAD, personal
        )
        assert payload == PAYLOAD  # not changed in place

"""Why a command was refused, in words (``engine.workflow.refusals``): one explainer for the pages
and the command line, a sentence per error class from the facts the error carries, Dutch by
default; in English the engine's own sentence where it has one."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from engine.errors import (
    BrokenLog,
    Busy,
    Conflict,
    Contention,
    DefinitionError,
    DeliveryIncomplete,
    Forbidden,
    GateNotMet,
    InvalidValue,
    MigrationRefused,
    NotFound,
    PretendedTime,
    Problem,
    ReceiptExists,
    RuleViolation,
    StoredDefinitionBroken,
    TransitionNotAllowed,
    Unauthenticated,
    Unmet,
    WorkflowError,
)
from engine.workflow.refusals import explain, titles_of, unmet_words
from engine.workflow.wording import LANGUAGES, REFUSAL

RECEIPT = SimpleNamespace(
    principal="app", key="k-1", created_at=datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
)

HINT = "leave out --now, and give when it really happened with --at"
SAID_AS_THE_ENGINE_SAYS = [
    pytest.param(NotFound("instance", "wk-zuid", known=["wk-noord"]), id="not-found-known"),
    pytest.param(
        NotFound("milestone", "plna", where="workflow proef", known=["plan", "team"]),
        id="not-found-hint",
    ),
    pytest.param(InvalidValue("CBS code", "GM1", "write it as GM0344"), id="invalid"),
    pytest.param(
        PretendedTime(
            "--now",
            "'note'",
            "leave out --now, and give when it really happened with --at",
            instead="--at",
        ),
        id="pretended",
    ),
    pytest.param(
        Conflict(
            "wk was changed by someone else meanwhile (you saw event 1, it is at event 2); "
            "nothing was saved: look at it again and repeat the command if it still applies",
            instance="wk",
            current_event=2,
            seen=1,
        ),
        id="conflict-seen",
    ),
    pytest.param(Conflict("wk: the log already has an event 3"), id="conflict"),
    pytest.param(Busy("the database is locked; nothing was saved: try again"), id="busy"),
    pytest.param(Contention("wk was changed meanwhile; nothing was saved: try again"), id="race"),
    pytest.param(DeliveryIncomplete(failed=1, retrying=1, deferred=2), id="delivery"),
    pytest.param(DeliveryIncomplete(failed=0, retrying=2, deferred=0), id="delivery-retrying"),
    pytest.param(Unauthenticated("unknown token"), id="unauthenticated"),
    pytest.param(BrokenLog("wk", (16, "h"), (17, "g")), id="broken-log-ends"),
    pytest.param(BrokenLog("wk", (16, "h"), (16, "g")), id="broken-log-other"),
    pytest.param(BrokenLog("wk", (16, "h"), None), id="broken-log-empty"),
    pytest.param(StoredDefinitionBroken("wijkkompas@2", "the hash differs"), id="stored"),
    pytest.param(Forbidden("partner", "advance", "wk"), id="forbidden"),
    pytest.param(ReceiptExists(RECEIPT), id="receipt"),
    pytest.param(
        TransitionNotAllowed("wk", "advance", "paused", "it is paused; resume it first"),
        id="transition",
    ),
    pytest.param(RuleViolation("wk", "reopen 'plan'", "it is open already"), id="rule"),
]


@pytest.mark.parametrize("exc", SAID_AS_THE_ENGINE_SAYS)
def test_english_says_what_the_engine_says_and_dutch_says_it_in_dutch(exc: WorkflowError) -> None:
    english = explain(exc, "en")
    said = f"{english.about}: {english.lead}" if english.about else english.lead
    # The method's term where the engine says "milestone" (as on the pages, also in English).
    assert said == str(exc).replace("unknown milestone", "unknown knooppunt")
    dutch = explain(exc, "nl")
    assert dutch.lead != english.lead
    assert dutch.about == english.about


def test_a_gate_says_each_unmet_criterion_with_the_workflows_titles() -> None:
    exc = GateNotMet(
        "wk-noord",
        "start",
        [
            Unmet(code="milestone-open", phase="start", subject="plan", message="x"),
            Unmet(code="approval-missing", phase="start", subject="college", message="y"),
            Unmet(code="children-behind", phase="start", subject="wk-noord-a", message="z"),
        ],
    )
    titles = {"plan": "Plan klaar", "college": "College van B&W"}
    dutch = explain(exc, "nl", titles)
    assert dutch.about == "wk-noord"
    assert dutch.lead == "de poort van fase 'start' is nog niet open: 3 voorwaarde(n) niet vervuld:"
    assert dutch.reasons == (
        "Knooppunt Plan klaar is nog niet gedaan",
        "Besluit College van B&W is nog niet genomen",
        "Deelproject wk-noord-a is nog niet zo ver",
    )
    english = explain(exc, "en", titles)
    assert english.lead == "the gate of phase 'start' is not met (3 unmet criteria):"
    assert english.reasons[0] == "Knooppunt Plan klaar is not done yet"
    # Without titles: the ids.
    assert explain(exc, "nl").reasons[0] == "Knooppunt plan is nog niet gedaan"
    assert unmet_words(exc.unmet[1], titles, "nl") == dutch.reasons[1]


def test_the_titles_of_a_workflow_name_knooppunten_decisions_and_regie() -> None:
    from engine.workflow.catalog import shipped_workflows_dir
    from engine.workflow.loader import load_file

    definition = load_file(shipped_workflows_dir() / "wijkkompas.yaml").definition
    titles = titles_of(definition)
    assert titles["partijen-aan-tafel"] == "De juiste partijen aan tafel"
    assert titles["college"] == "College van burgemeester en wethouders"
    with_ids = titles_of(definition, ids=True)
    assert with_ids["partijen-aan-tafel"] == "De juiste partijen aan tafel (partijen-aan-tafel)"


def test_a_definition_error_and_a_migration_refusal_are_counted() -> None:
    problem = Problem(severity="error", message="bad", source="w.yaml", line=1, column=2)
    warning = Problem(severity="warning", message="meh", source="w.yaml", line=3, column=1)
    exc = DefinitionError("w.yaml", [problem, warning])
    assert explain(exc, "nl").lead == "w.yaml: 1 fout(en); er is niets veranderd"
    assert explain(exc, "en").lead == "w.yaml: 1 error(s); nothing was changed"
    refused = MigrationRefused([("wk-a", "it is in phase 'x', which the plan drops")])
    told = explain(refused, "nl")
    assert told.lead == "het plan kan 1 wijk(en) niet verplaatsen; er is niets gemigreerd:"
    assert told.reasons == ("wk-a: it is in phase 'x', which the plan drops",)


def test_a_workflow_or_a_gate_is_named_in_dutch_too() -> None:
    exc = NotFound("milestone", "plna", where="workflow proef", known=["plan", "team"])
    assert explain(exc, "nl").lead == (
        "knooppunt 'plna' bestaat niet in werkwijze proef; bedoelt u 'plan'?"
    )
    gate = NotFound("approval", "raad", where="the gate of wk-noord", known=["college"])
    assert explain(gate, "nl").lead == (
        "besluit 'raad' bestaat niet in de poort van wk-noord (wel: college)"
    )
    assert explain(gate, "en").lead == str(gate)


def test_a_free_sentence_gets_a_dutch_lead_in() -> None:
    exc = TransitionNotAllowed("wk", "advance", "paused", "it is paused; resume it first")
    told = explain(exc, "nl")
    assert told.about == "wk"
    assert told.lead == (
        "geweigerd door de regels van de werkwijze: cannot advance: it is paused; resume it first"
    )
    busy = explain(Busy("the database is locked; nothing was saved: try again"), "nl")
    assert busy.lead.startswith("de database kan dit nu niet aannemen; er is niets opgeslagen")


def test_the_refusal_words_exist_in_both_languages_and_say_knooppunt() -> None:
    keys = [set(REFUSAL[language]) for language in LANGUAGES]
    assert all(k == keys[0] for k in keys)
    for language in LANGUAGES:
        words = " ".join(re.sub(r"\{[^}]*\}", "", m) for m in REFUSAL[language].values())
        assert "mijlpaal" not in words
        assert "milestone" not in words

"""A person's data, exported and erased, on SQLite and PostgreSQL: the chains still verify.

A contact person of three wijken (their regie contact, who recorded a knooppunt in one, named
in a note of another) asks what the programme keeps about them and then to be forgotten. The
test keeps a checkpoint and a dossier from before, lets reminders to the person wait in the
outbox, and after the erasure scans every column of every table of the real database for the
address; then every chain, the checkpoints and the old dossier must still verify, and no
reminder may reach the person.
"""

from __future__ import annotations

import contextlib
import io
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select, table, text

from adapters.signing import FileSigner, create_key, public_pem
from adapters.verify_dossier import verify_dossier
from cli import main
from engine.app.service import Service
from engine.errors import InvalidValue, NotFound
from engine.persistence.database import Database
from engine.persistence.personal import unseal
from engine.persistence.store import SqlStore
from engine.runtime.events import Regie
from engine.runtime.personal import ERASED, REDACTED
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog
from tests.integration.test_checkpoints import VERIFIER, signed_by
from tests.integration.test_reminder_passes import WORKFLOW, Passes, at
from tests.integration.test_smtp_delivery import SmtpServer

PERSON = "P.deVries@noord.example"
ADDRESS = PERSON.lower()
OTHER = "regie@noord.example"
KEYS = ("wk-noord", "wk-oost", "wk-zuid")


def scan(database: Database, needle: str) -> list[str]:
    """Every table.column of the database with a value holding ``needle`` (any case), also
    where JSON text writes its characters beyond ASCII as ``\\u`` escapes."""
    found = []
    with database.engine.connect() as connection:
        inspector = inspect(connection)
        for name in inspector.get_table_names():
            if name == "alembic_version":
                continue
            columns = [c["name"] for c in inspector.get_columns(name)]
            rows = connection.execute(select(text("*")).select_from(table(name))).all()
            for row in rows:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str):
                        with contextlib.suppress(ValueError):
                            value = json.loads(value)
                    shown = json.dumps(value, default=str, ensure_ascii=False)
                    if needle.lower() in shown.lower():
                        found.append(f"{name}.{column}")
    return sorted(set(found))


def zip_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "\n".join(archive.read(n).decode("utf-8") for n in archive.namelist())


@pytest.fixture
def signer(tmp_path: Path) -> FileSigner:
    create_key(tmp_path / "signing.key")
    return FileSigner(tmp_path / "signing.key")


@pytest.fixture
def pem(signer: FileSigner) -> bytes:
    return public_pem(signer.public).encode()


@pytest.fixture
def mail() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def history(
    service: Service, clock: FrozenClock, mail: SmtpServer, tmp_path: Path, db_url: str
) -> Passes:
    """Three wijken with the person as regie contact; reminders to them wait in the outbox."""
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    (folder / "herinnering.yaml").write_text(WORKFLOW, encoding="utf-8")
    clock.set(at("2026-01-05"))
    passes = Passes(service, clock, mail, db_url)
    regie = Regie(type="gemeente", organisation="Gemeente Noord", contacts=(OTHER, PERSON))
    for key in KEYS:
        passes.create(key, title=key.removeprefix("wk-").title(), regie=regie)
    service.milestone_done("wk-noord", "plan", by=PERSON)
    service.note("wk-oost", f"Gesproken met {PERSON} over de planning", by="a.bakker")
    passes.clock.set(passes.clock.now().replace(day=12))  # three days before 15 January
    passes.planner().run(passes.clock.now())  # planned, not yet sent
    return passes


def test_export_then_erase_leaves_no_trace_and_every_chain_still_verifies(
    history: Passes, service: Service, database: Database, signer, pem, tmp_path
):
    kept = service.checkpoints.make(signer)
    old = tmp_path / "old.zip"
    old.write_bytes(service.dossier("wk-noord", verifier=VERIFIER).data)
    waiting = [e for e in history.outbox("pending") if e.recipient == PERSON]
    assert waiting  # reminders to the person are due to go out

    found = service.personal_data(PERSON)
    assert found["subject"] == ADDRESS
    assert {p["instance"] for p in found["log"]} == set(KEYS)
    fields = {(p["instance"], p["field"], p["value"]) for p in found["log"]}
    assert ("wk-noord", "by", PERSON) in fields
    assert ("wk-oost", "payload/text", f"Gesproken met {PERSON} over de planning") in fields
    assert ("wk-zuid", "payload/regie/contacts/1", PERSON) in fields
    assert found["tables"]["outbox.recipient"] == len(waiting)

    before = scan(database, PERSON)
    for where in ("events.actor", "events.payload", "instances.regie_contacts", "outbox.recipient"):
        assert where in before
    done = service.erase_personal_data(PERSON, reason="Verzoek AVG art. 17", by="pb/j.jansen")
    assert done.instances == KEYS
    assert done.cancelled == len(waiting)
    assert done.remaining == {}

    assert scan(database, PERSON) == []
    reports = service.verify()
    assert all(r.consistent for r in reports), [(r.key, r.problem, r.differences) for r in reports]
    noord = service.log("wk-noord")
    assert [e.actor for e in noord if e.type == "milestone_done"] == [ERASED]
    assert noord[-1].type == "personal_data_erased"
    assert noord[-1].reason == "Verzoek AVG art. 17"
    assert ADDRESS not in json.dumps(noord[-1].payload)
    oost = service.log("wk-oost")
    assert [e.payload["text"] for e in oost if e.type == "note_added"] == [ERASED]
    assert service.replay("wk-zuid")[1].regie.contacts == (OTHER,)

    # Checkpoints: a new one extends the kept one, and the database holds against it.
    service.checkpoints.make(signer)
    report = service.checkpoints.check(kept, signed_by(pem))
    assert report.ok, report.problems
    # The old dossier (with the values) still verifies; a new one has no trace of the person.
    verify_dossier(str(old), pem, kept.as_dict(), say=lambda _: None)
    new = service.dossier("wk-noord", verifier=VERIFIER).data
    assert ADDRESS not in zip_text(new).lower()
    (tmp_path / "new.zip").write_bytes(new)
    verify_dossier(str(tmp_path / "new.zip"), pem, kept.as_dict(), say=lambda _: None)

    # Reminders: the waiting ones were cancelled, never sent, and no new one is planned.
    assert {e.status for e in history.outbox() if e.id in {w.id for w in waiting}} == {"cancelled"}
    history.dispatcher().run("all")
    history.clock.set(history.clock.now().replace(day=16))
    history.planner().run(history.clock.now())
    history.dispatcher().run("all")
    sent_to = {m.to.lower() for m in history.server.received}
    assert OTHER in sent_to
    assert ADDRESS not in sent_to
    assert scan(database, PERSON) == []


def test_a_woo_dossier_leaves_every_personal_value_out_and_still_verifies(
    history: Passes, service: Service, signer, pem, tmp_path
):
    kept = service.checkpoints.make(signer)
    made = service.dossier("wk-oost", verifier=VERIFIER, redact="personal").data
    text_of = zip_text(made)
    for value in (ADDRESS, OTHER, "Gesproken met", "a.bakker"):
        assert value not in text_of.lower()
    assert REDACTED in text_of
    path = tmp_path / "woo.zip"
    path.write_bytes(made)
    said: list[str] = []
    verify_dossier(str(path), pem, kept.as_dict(), say=said.append)
    assert any("left out" in line for line in said)
    # The same dossier with the values: they open the commitments; an altered one is caught.
    full = json.loads(
        zipfile.ZipFile(io.BytesIO(service.dossier("wk-oost", verifier=VERIFIER).data)).read(
            "dossier.json"
        )
    )
    assert any(p["value"] == OTHER for p in full["instances"][0]["personal"])


def test_a_disclosed_value_that_was_altered_is_caught(
    history: Passes, service: Service, pem, tmp_path
):
    data = service.dossier("wk-oost", verifier=VERIFIER).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    body = json.loads(files["dossier.json"])
    for entry in body["instances"][0]["personal"]:
        if entry["value"] == OTHER:
            entry["value"] = "iemand@anders.example"
    files["dossier.json"] = json.dumps(body).encode()
    path = tmp_path / "altered.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    from adapters.verify_dossier import DossierProblem

    with pytest.raises(
        DossierProblem,
        match=r"instance wk-oost, event 1: its payload/regie/contacts/0 is not the value",
    ):
        verify_dossier(str(path), pem, say=lambda _: None)


def test_an_altered_personal_value_in_the_database_breaks_audit_verify(
    history: Passes, service: Service, database: Database
):
    with database.engine.begin() as connection:
        connection.execute(
            text("UPDATE events SET actor = 'iemand anders' WHERE actor = :p"), {"p": PERSON}
        )
    broken = [r for r in service.verify() if not r.intact]
    assert [(r.key, r.first_broken) for r in broken] == [("wk-noord", 2)]
    assert "its by does not match the commitment" in (broken[0].problem or "")


def dump(database: Database) -> dict[str, list[Any]]:
    with database.engine.connect() as connection:
        names = inspect(connection).get_table_names()
        return {
            n: sorted(map(repr, connection.execute(select(text("*")).select_from(table(n)))))
            for n in names
        }


def test_erase_refuses_without_a_reason_or_for_an_unknown_address_and_changes_nothing(
    history: Passes, service: Service, database: Database, db_url: str, tmp_path
):
    before = dump(database)
    with pytest.raises(NotFound, match=r"unknown e-mail address 'niemand@noord\.example'"):
        service.erase_personal_data("niemand@noord.example", reason="AVG", by="pb")
    with pytest.raises(InvalidValue, match=r"--reason"):
        service.erase_personal_data(PERSON, reason="  ", by="pb")
    with pytest.raises(InvalidValue, match="without the address"):
        service.erase_personal_data(PERSON, reason=f"verzoek van {PERSON}", by="pb")
    with pytest.raises(InvalidValue, match="e-mail address"):
        service.erase_personal_data("geen adres", reason="AVG", by="pb")
    runner = CliRunner()
    missing = runner.invoke(main, ["--db", db_url, "privacy", "erase", PERSON])
    assert missing.exit_code == 2
    assert "Missing option '--reason'" in missing.output
    unknown = runner.invoke(
        main, ["--db", db_url, "privacy", "erase", "niemand@noord.example", "--reason", "AVG"]
    )
    assert unknown.exit_code != 0
    assert "e-mailadres 'niemand@noord.example' bestaat niet" in unknown.output
    assert dump(database) == before


def test_the_command_line_exports_and_erases(
    history: Passes, database: Database, db_url: str, tmp_path
):
    runner = CliRunner()
    out = tmp_path / "export.json"
    out.write_text("an earlier file, readable by everyone")
    out.chmod(0o644)
    exported = runner.invoke(main, ["--db", db_url, "privacy", "export", PERSON, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert {p["instance"] for p in json.loads(out.read_text())["log"]} == set(KEYS)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # one person's data: the owner's only
    erased = runner.invoke(
        main, ["--db", db_url, "privacy", "erase", PERSON, "--reason", "AVG-verzoek", "--json"]
    )
    assert erased.exit_code == 0, erased.output
    assert json.loads(erased.output)["instances"] == list(KEYS)
    audit = runner.invoke(main, ["--db", db_url, "audit", "verify"])
    assert audit.exit_code == 0, audit.output
    shown = runner.invoke(main, ["--db", db_url, "log", "wk-noord"])
    assert shown.exit_code == 0, shown.output
    assert "persoonsgegevens verwijderd: 2 veld(en)" in shown.output
    assert "[verwijderd]" in shown.output
    assert ADDRESS not in shown.output.lower()
    assert scan(database, PERSON) == []


# --- a database from before personal fields were sealed apart -------------------------------


def test_a_database_from_the_previous_revision_is_resealed_and_its_old_checkpoint_holds(
    history: Passes, service: Service, database: Database, signer, pem, tmp_path
):
    """The chains as the previous revision wrote them (values hashed as they are), with a
    checkpoint kept and a dossier made then; the upgrade reseals them and every check holds."""
    from alembic import command

    with database.engine.begin() as connection:
        unseal(connection)  # exactly what revision 0010 wrote: no sealed personal fields
    assert all(r.consistent for r in service.verify())
    kept = service.checkpoints.make(signer)
    old = tmp_path / "old.zip"
    old.write_bytes(service.dossier("wk-noord", verifier=VERIFIER).data)
    heads = {key: service.log(key)[-1].hash for key in KEYS}
    with database.engine.begin() as connection:
        config = database._alembic_config(connection)
        command.downgrade(config, "0010_gates")
        command.upgrade(config, "head")

    reports = service.verify()
    assert all(r.consistent for r in reports), [(r.key, r.problem, r.differences) for r in reports]
    for key in KEYS:
        log = service.log(key)
        assert log[-1].type == "chain_resealed"
        assert log[-1].payload["old_hashes"][-1] == heads[key]
        assert log[-2].hash != heads[key]
        assert all(e.personal for e in log)
    service.checkpoints.make(signer)
    report = service.checkpoints.check(kept, signed_by(pem))
    assert report.ok, report.problems
    verify_dossier(str(old), pem, kept.as_dict(), say=lambda _: None)
    new = tmp_path / "new.zip"
    new.write_bytes(service.dossier("wk-noord", verifier=VERIFIER).data)
    verify_dossier(str(new), pem, kept.as_dict(), say=lambda _: None)
    # The resealed data can be erased like any, and everything still holds.
    service.erase_personal_data(PERSON, reason="AVG-verzoek", by="pb")
    assert scan(database, PERSON) == []
    assert all(r.consistent for r in service.verify())
    service.checkpoints.make(signer)
    assert service.checkpoints.check(kept, signed_by(pem)).ok
    new.write_bytes(service.dossier("wk-noord", verifier=VERIFIER).data)
    verify_dossier(str(new), pem, kept.as_dict(), say=lambda _: None)


def test_the_upgrade_finds_the_addresses_beyond_ascii_the_old_rule_did_not_see(
    history: Passes, service: Service, database: Database
):
    """Before 0017 whose data a field is was worked out by a rule of ASCII addresses: it saw
    no ``jörg@müller.nl`` and, in ``jörg@mueller.nl``, only ``rg@mueller.nl``, which may
    be someone else. The upgrade works it out again; the rows of everyone else stay."""
    from alembic import command

    service.note("wk-oost", "Gebeld met jörg@müller.nl en jörg@mueller.nl", by="a.bakker")
    note = service.log("wk-oost")[-1]
    subjects = text("SELECT event_id, path, subject FROM personal_subjects ORDER BY 1, 2, 3")
    with database.engine.begin() as connection:
        (event_id,) = connection.execute(
            text(
                "SELECT e.id FROM events e JOIN instances i ON i.id = e.instance_id "
                "WHERE i.key = 'wk-oost' AND e.seq = :seq"
            ),
            {"seq": note.seq},
        ).one()
        # What the rule of 0013 left for that note.
        connection.execute(
            text("DELETE FROM personal_subjects WHERE event_id = :id"), {"id": event_id}
        )
        connection.execute(
            text(
                "INSERT INTO personal_subjects (event_id, path, subject) "
                "VALUES (:id, 'payload/text', 'rg@mueller.nl')"
            ),
            {"id": event_id},
        )
        before = connection.execute(subjects).all()
    assert service.personal_data("jörg@müller.nl")["log"] == []
    with database.engine.begin() as connection:
        config = database._alembic_config(connection)
        command.downgrade(config, "0016_session_credential")
        command.upgrade(config, "head")
        after = connection.execute(subjects).all()
    others = [r for r in before if r[0] != event_id]
    assert [r for r in after if r[0] != event_id] == others
    assert [tuple(r[1:]) for r in after if r[0] == event_id] == [
        ("payload/text", "jörg@mueller.nl"),
        ("payload/text", "jörg@müller.nl"),
    ]
    for address in ("jörg@müller.nl", "jörg@mueller.nl"):
        found = service.personal_data(address)["log"]
        assert [(p["instance"], p["seq"]) for p in found] == [("wk-oost", note.seq)]
    assert service.personal_data("rg@mueller.nl")["log"] == []
    assert all(r.consistent for r in service.verify())


def test_a_resealed_chain_whose_old_form_was_altered_is_caught(
    history: Passes, service: Service, database: Database, signer, pem, tmp_path
):
    """Whoever rewrites a value while resealing cannot hide it from a kept checkpoint."""
    from alembic import command

    with database.engine.begin() as connection:
        unseal(connection)
    kept = service.checkpoints.make(signer)
    with database.engine.begin() as connection:
        config = database._alembic_config(connection)
        command.downgrade(config, "0010_gates")
        command.upgrade(config, "head")
    # A forger changes the note and recomputes the (new) chain consistently.
    with database.engine.connect() as connection:
        iid = connection.execute(
            text("SELECT id FROM instances WHERE key = 'wk-oost'")
        ).scalar_one()
    events = service.log("wk-oost")
    note = next(e for e in events if e.type == "note_added")
    with database.engine.begin() as connection:
        connection.execute(
            text("UPDATE events SET payload = :p WHERE instance_id = :i AND seq = :s"),
            {"p": json.dumps({"text": "Niemand gesproken"}), "i": iid, "s": note.seq},
        )
        connection.execute(
            text(
                "DELETE FROM personal_fields WHERE event_id = "
                "(SELECT id FROM events WHERE instance_id = :i AND seq = :s)"
            ),
            {"i": iid, "s": note.seq},
        )
        connection.execute(
            text(
                "DELETE FROM personal_subjects WHERE event_id = "
                "(SELECT id FROM events WHERE instance_id = :i AND seq = :s)"
            ),
            {"i": iid, "s": note.seq},
        )
    rechain(database, "wk-oost", service)
    assert all(r.intact for r in service.verify())  # the chain alone cannot tell
    report = service.checkpoints.check(kept, signed_by(pem))
    assert any(
        f"instance wk-oost: event {note.seq}: its values do not give the hash" in p
        for p in report.problems
    ), report.problems


def rechain(database: Database, key: str, service: Service) -> None:
    """Recompute the chain of ``key`` from its events as they are (a consistent forger)."""
    from engine.runtime.events import chain_hash
    from engine.runtime.personal import chained

    previous = None
    log = service.log(key)
    with database.engine.begin() as connection:
        iid = connection.execute(
            text("SELECT id FROM instances WHERE key = :k"), {"k": key}
        ).scalar_one()
        for event in log:
            by, reason, payload = chained(event.actor, event.reason, event.payload, event.personal)
            digest = chain_hash(
                previous,
                instance=key,
                seq=event.seq,
                type_=event.type,
                at=event.at,
                recorded_at=event.recorded_at,
                by=by,
                reason=reason,
                payload=payload,
            )
            connection.execute(
                text(
                    "UPDATE events SET previous = :p, hash = :h WHERE instance_id = :i AND seq = :s"
                ),
                {"p": previous, "h": digest, "i": iid, "s": event.seq},
            )
            previous = digest
        connection.execute(
            text("UPDATE instances SET head = :h WHERE id = :i"), {"h": previous, "i": iid}
        )


def test_erasing_an_address_that_ends_another_leaves_the_other_person_alone(
    history: Passes, service: Service, database: Database
):
    """ "vries@noord.example" is someone else than "p.devries@noord.example": erasing the one
    must not cancel, rewrite or count the other's reminders, receipts or CloudEvents."""
    tail = "vries@noord.example"
    service.note("wk-zuid", f"Gebeld met {tail}", by="a.bakker")
    waiting = [e for e in history.outbox("pending") if e.recipient == PERSON]
    assert waiting
    found = service.personal_data(tail)
    assert [p["field"] for p in found["log"]] == ["payload/text"]
    # the note (and whose it is), nothing of the other person
    assert found["tables"] == {"events.payload": 1, "personal_subjects.subject": 1}

    done = service.erase_personal_data(tail, reason="AVG-verzoek", by="pb")
    assert done.instances == ("wk-zuid",)
    assert done.scrubbed == {}
    assert done.remaining == {}
    assert [e.recipient for e in history.outbox("pending") if e.id in {w.id for w in waiting}] == [
        PERSON
    ] * len(waiting)
    assert service.personal_data(PERSON)["tables"]["outbox.recipient"] == len(waiting)
    assert all(r.consistent for r in service.verify())


def test_two_contacts_of_the_same_wijken_are_erased_one_after_the_other(
    history: Passes, service: Service, database: Database
):
    """Both regie contacts had the same reminders (their outbox keys differ only by the
    address): erasing the second must not collide with what the first erasure left."""
    assert {OTHER, PERSON} <= {e.recipient for e in history.outbox("pending")}
    service.erase_personal_data(PERSON, reason="AVG-verzoek", by="pb")
    done = service.erase_personal_data(OTHER, reason="AVG-verzoek", by="pb")
    assert done.instances == KEYS
    assert done.remaining == {}
    assert scan(database, PERSON) == scan(database, OTHER) == []
    assert {e.status for e in history.outbox() if e.recipient == ERASED} == {"cancelled"}
    assert len({e.key for e in history.outbox()}) == len(history.outbox())
    assert all(r.consistent for r in service.verify())


def test_an_address_in_a_workflow_text_is_named_not_rewritten(
    history: Passes, service: Service, database: Database, clock: FrozenClock, tmp_path
):
    """The stored definition is hashed (every instance is pinned to that hash): overwriting
    the address in it would break every instance of the workflow. It stays, named as
    ``remaining``; the person's other data is erased as always."""
    loket = "loket@noord.example"
    text_ = WORKFLOW.replace("key: herinnering", "key: loket").replace(
        "title: Plan van aanpak", f"title: Plan van aanpak (vragen aan {loket})"
    )
    (tmp_path / "workflows" / "loket.yaml").write_text(text_, encoding="utf-8")
    service.create(
        "wk-loket", workflow="loket", title="Loket", regie=Regie(type="gemeente"), by="t"
    )
    service.note("wk-loket", f"Gebeld met {loket}", by="a.bakker")

    done = service.erase_personal_data(loket, reason="AVG-verzoek", by="pb")
    assert done.instances == ("wk-loket",)
    assert "workflow_versions.definition" in done.remaining
    assert "workflow_versions.definition" not in done.scrubbed
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    fresh = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)  # nothing cached
    fresh.milestone_done("wk-loket", "plan", by="test")
    assert all(r.consistent for r in fresh.verify())


def test_an_address_between_quotes_in_a_note_is_found_and_erased(
    history: Passes, service: Service, database: Database
):
    """Dutch text quotes with apostrophes: 'j.smit@noord.example' is j.smit's address."""
    smit = "J.Smit@noord.example"
    service.note("wk-zuid", f"Mail van '{smit}' ontvangen ('...{smit}...')", by="a.bakker")
    found = service.personal_data(smit)
    assert [(p["instance"], p["field"]) for p in found["log"]] == [("wk-zuid", "payload/text")]

    done = service.erase_personal_data(smit, reason="AVG-verzoek", by="pb")
    assert (done.fields, done.instances, done.remaining) == (1, ("wk-zuid",), {})
    assert scan(database, smit) == []
    assert all(r.consistent for r in service.verify())


def test_an_address_beyond_ascii_is_found_and_erased(
    history: Passes, service: Service, database: Database
):
    """The contacts take ``jörg@müller.nl`` (RFC 6531), so a note naming it and the contact
    itself are his data: found by his address in any case, and erased; JSON text that keeps
    the address as ``\\u`` escapes is no hiding place."""
    jorg = "Jörg@Müller.nl"
    service.update("wk-zuid", add_contacts=[jorg], by="a.bakker")
    service.note("wk-oost", f"Gebeld met {jorg.lower()}.", by="a.bakker")
    service.note("wk-oost", "Gebeld met joerg@mueller.nl", by="a.bakker")  # someone else
    assert scan(database, jorg)  # the scan itself sees it
    found = service.personal_data(jorg.upper())
    assert [(p["instance"], p["field"]) for p in found["log"]] == [
        ("wk-oost", "payload/text"),
        ("wk-zuid", "payload/contacts_added/0"),
    ]
    assert found["tables"] == {
        "events.payload": 2,
        "instances.regie_contacts": 1,
        "personal_subjects.subject": 2,
    }

    done = service.erase_personal_data(jorg, reason="AVG-verzoek", by="pb")
    assert (done.fields, done.instances, done.remaining) == (2, ("wk-oost", "wk-zuid"), {})
    assert scan(database, jorg) == []
    assert scan(database, "joerg@mueller.nl")  # the other person is left alone
    assert all(r.consistent for r in service.verify())


def test_erase_refuses_to_record_the_address_as_who_erased_it(
    history: Passes, service: Service, database: Database
):
    """``by`` is recorded on every chain the erasure touches, like the reason: the address
    must not come back in the very event that says it was erased."""
    before = dump(database)
    with pytest.raises(InvalidValue, match="--by"):
        service.erase_personal_data(PERSON, reason="AVG-verzoek", by=f"gemeente/{PERSON}")
    assert dump(database) == before


def test_a_note_with_a_string_too_long_to_be_an_address_is_recorded(
    history: Passes, service: Service
):
    """An address has at most 254 characters; a longer look-alike in free text (a pasted
    token) is no one's address, and on PostgreSQL it did not fit whose-data-it-is."""
    long = "a." * 200 + "b@noord.example"
    service.note("wk-zuid", f"Zie {long}", by="a.bakker")
    assert service.log("wk-zuid")[-1].payload["text"] == f"Zie {long}"
    assert service.personal_data(PERSON)["log"]  # the others are still found

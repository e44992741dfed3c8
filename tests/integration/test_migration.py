"""Moving running wijken from the shipped Wijkkompas (v2) to its test revision (v3), on SQLite
and PostgreSQL.

v3 (tests/data/wijkkompas-v3.yaml) changes phase 1: it splits partijen-aan-tafel in two,
renames eerste-bewonersinformatie to bewoners-geinformeerd, adds warmtevisie-getoetst and
gives capaciteit-en-budget another due date (P75D, was P90D); the plan
(tests/data/wijkkompas-2-to-3.yaml) keeps every deadline's date except that one's, which it
recomputes.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from engine.app.service import Service
from engine.clock import LOCAL_TZ
from engine.errors import MigrationRefused, PlanError
from engine.ports import DeadlineState
from engine.reminders.planner import AddressBook, ReminderPlanner
from engine.runtime.events import Regie
from engine.testing import FrozenClock

DATA = Path(__file__).resolve().parent.parent / "data"
PLAN = DATA / "wijkkompas-2-to-3.yaml"
GEMEENTE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("p@zwolle.nl",))
START = datetime(2026, 1, 5, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def v3(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    shutil.copy(DATA / "wijkkompas-v3.yaml", folder / "wijkkompas-v3.yaml")
    return folder


def at(days: int) -> datetime:
    return START + timedelta(days=days)


def _start(service: Service, clock: FrozenClock, *keys: str) -> None:
    clock.set(START)
    for key in keys:
        service.create(key, workflow="wijkkompas@2", title=key.title(), regie=GEMEENTE, by="t")


def _rows(service: Service, key: str) -> dict[tuple[str, str], DeadlineState]:
    with service.store.read() as uow:
        instance_id = uow.instance_id(key)
        assert instance_id is not None
        return {(d.kind, d.subject): d for d in uow.deadline_rows(instance_id)}


def _planner(service: Service) -> ReminderPlanner:
    return ReminderPlanner(
        service.store, service.compiled_by_id, AddressBook(programme_office=("pb@x.nl",))
    )


def test_the_demo_revision_moves_each_wijk_and_its_log_replays(
    service: Service, clock: FrozenClock, v3: Path
) -> None:
    _start(service, clock, "noord", "zuid", "oost")
    clock.set(at(20))
    service.milestone_done("noord", "aanleiding-en-opdracht", by="t")
    service.milestone_done("noord", "partijen-aan-tafel", by="t")
    service.milestone_skip("zuid", "capaciteit-en-budget", by="t", reason="geregeld")
    service.pause("oost", "geen-trekker", by="t", reason="projectleider weg")
    clock.set(at(30))
    plan = service.read_plan(PLAN.read_text(encoding="utf-8"), str(PLAN))

    checked = {o.key: o for o in service.migration_check(plan)}
    assert set(checked) == {"noord", "zuid", "oost"}
    assert all(o.ok for o in checked.values())
    split = [m for m in checked["noord"].milestones if m.how == "split"]
    assert {(m.target, m.after) for m in split} == {
        ("projectteam-samengesteld", f"done {at(20).date().isoformat()}"),
        ("stakeholderanalyse", f"done {at(20).date().isoformat()}"),
    }
    added = next(m for m in checked["zuid"].milestones if m.how == "added")
    assert (added.target, added.after) == ("warmtevisie-getoetst", "open")
    assert "stays paused" in (checked["oost"].pause or "")

    results = service.migration_apply(plan, by="programmabureau", reason="methode herzien")
    assert [(r.key, r.result) for r in results] == [
        ("noord", "migrated"),
        ("oost", "migrated"),
        ("zuid", "migrated"),
    ]
    noord = service.show("noord")
    assert noord.workflow_version == 3
    oost, _ = service.replay("oost")
    assert oost.is_paused
    assert oost.paused is not None
    assert oost.paused.since == at(20).astimezone(oost.paused.since.tzinfo)
    # The log replays across the migration: v2 before it, v3 after it.
    assert all(r.consistent for r in service.verify()), list(service.verify())
    assert service.rebuild_all() == (0, [])
    last = service.log("noord")[-1]
    assert last.type == "instance_migrated"
    assert last.actor == "programmabureau"
    assert last.reason == "methode herzien"
    assert last.payload["plan"] == plan.plan.hash
    # After it, commands work on v3's knooppunten.
    clock.set(at(31))
    service.milestone_done("noord", "regiemodel-en-rollen", by="t")  # needs the split two
    service.resume("oost", by="t")
    assert all(r.consistent for r in service.verify())
    # Applied again (a batch resumed): nothing left on v2, nothing migrates twice.
    assert service.migration_apply(plan, by="programmabureau", reason="nog eens") == []
    again = service.migration_apply(plan, by="p", reason="r", keys=["noord"])
    assert [(r.key, r.result) for r in again] == [("noord", "already")]


def test_deadlines_carry_over_and_no_reminder_is_sent_twice_or_skipped(
    service: Service, clock: FrozenClock, v3: Path
) -> None:
    """Two twin wijken; one migrates. Reminders planned before the migration are not planned
    again after it; kept deadlines go on where they were (also renamed and split ones); the
    recomputed one moves; the new knooppunt's deadline fires."""
    _start(service, clock, "blijft", "gaat")
    planner = _planner(service)
    for day in range(40):
        clock.set(at(day))
        planner.run(clock.now())
    before = _rows(service, "gaat")

    def pending() -> set[str]:
        rows = service.outbox("pending", limit=10_000)
        return {e.payload["subject"] for e in rows if e.payload["instance"] == "gaat"}

    assert "partijen-aan-tafel" in pending()  # planned, not delivered yet
    plan = service.read_plan(PLAN.read_text(encoding="utf-8"), str(PLAN))
    service.migration_apply(plan, by="p", reason="herzien", keys=["gaat"])
    after = _rows(service, "gaat")
    # The pending reminder follows its knooppunt (the dispatcher would cancel it otherwise).
    assert "partijen-aan-tafel" not in pending()
    assert "projectteam-samengesteld" in pending()
    twin = _rows(service, "blijft")
    renames = {
        "eerste-bewonersinformatie": ["bewoners-geinformeerd"],
        "partijen-aan-tafel": ["projectteam-samengesteld", "stakeholderanalyse"],
    }
    for (kind, subject), row in before.items():
        if subject == "capaciteit-en-budget":
            continue
        for new in renames.get(subject, [subject]):
            moved = after[(kind, new)]
            assert (moved.due, moved.sent_through, moved.next_on) == (
                row.due,
                row.sent_through,
                row.next_on,
            ), new
    recomputed = after[("milestone", "capaciteit-en-budget")]
    assert recomputed.due != before[("milestone", "capaciteit-en-budget")].due
    assert recomputed.sent_through is None
    assert ("milestone", "warmtevisie-getoetst") in after
    sent_before = {e.key for e in service.outbox(limit=10_000)}
    # The same passes again on the day of the migration: nothing new for kept deadlines.
    planner.run(clock.now())
    new_now = [e for e in service.outbox(limit=10_000) if e.key not in sent_before]
    subjects_now = {e.payload["subject"] for e in new_now if e.payload["instance"] == "gaat"}
    assert subjects_now <= {"warmtevisie-getoetst", "capaciteit-en-budget"}, subjects_now
    assert "warmtevisie-getoetst" in subjects_now  # P30D: overdue from the start of v3
    # Later passes: the migrated wijk gets what its twin gets, under the new names.
    for day in range(40, 75):
        clock.set(at(day))
        planner.run(clock.now())
    rows = service.outbox(limit=10_000)

    def moments(instance: str) -> dict[str, set[tuple[str, str]]]:
        found: dict[str, set[tuple[str, str]]] = {}
        for e in rows:
            p = e.payload
            if p.get("instance") == instance and e.created_at > at(39):
                found.setdefault(p["subject"], set()).add((p["due"], p["rule"]))
        return found

    mine, theirs = moments("gaat"), moments("blijft")
    for subject, seen in theirs.items():
        if subject == "capaciteit-en-budget":
            continue
        for new in renames.get(subject, [subject]):
            assert mine.get(new) == seen, (subject, new)
    assert twin  # the twin's rows are untouched
    assert all(r.consistent for r in service.verify())


def test_a_plan_without_a_mapping_is_refused_with_where(service: Service, v3: Path) -> None:
    text = PLAN.read_text(encoding="utf-8").replace(
        "  eerste-bewonersinformatie: bewoners-geinformeerd  # renamed\n", ""
    )
    with pytest.raises(PlanError) as caught:
        service.read_plan(text, "plan.yaml")
    message = str(caught.value)
    assert "plan.yaml:" in message
    assert "source knooppunt 'eerste-bewonersinformatie' is not mapped" in message
    assert "target knooppunt 'bewoners-geinformeerd' comes from no source knooppunt" in message


def test_an_instance_in_a_dropped_phase_refuses_the_batch_before_anything_is_written(
    service: Service, clock: FrozenClock, v3: Path
) -> None:
    _start(service, clock, "noord")
    text = PLAN.read_text(encoding="utf-8").replace(
        "  samen-starten: samen-starten", "  samen-starten: drop"
    )
    plan = service.read_plan(text, "plan.yaml")
    with pytest.raises(MigrationRefused) as caught:
        service.migration_apply(plan, by="p", reason="r")
    assert "noord: it is in phase 'samen-starten', which the plan drops" in str(caught.value)
    assert service.show("noord").workflow_version == 2
    assert [e.type for e in service.log("noord")] == ["instance_started"]


def test_the_dry_run_says_which_reminders_start(
    service: Service, clock: FrozenClock, v3: Path
) -> None:
    _start(service, clock, "noord")
    clock.set(at(35))
    plan = service.read_plan(PLAN.read_text(encoding="utf-8"), str(PLAN))
    (outcome,) = service.migration_check(plan)
    views = {(d.kind, d.subject): d for d in outcome.deadlines}
    new = views[("milestone", "warmtevisie-getoetst")]
    assert (new.before, new.policy, new.reminders) == (None, "new", "starts")
    kept = views[("milestone", "bewoners-geinformeerd")]
    assert kept.before == kept.after
    assert kept.reminders == "as-before"
    moved = views[("milestone", "capaciteit-en-budget")]
    assert moved.policy == "recompute"
    assert moved.after == date(2026, 3, 23)  # 5 January + P75D, a Saturday: Monday


@pytest.mark.postgres
def test_concurrent_commands_and_two_migrating_nodes_lose_nothing(
    postgres_url: str, tmp_path: Path, v3: Path
) -> None:
    """Two nodes apply the same plan while users record notes and knooppunten on the same
    wijken: every command is recorded once (on whichever version it met), every wijk is
    migrated exactly once, and every chain and projection holds."""
    from engine.persistence.database import Database
    from engine.persistence.store import SqlStore
    from engine.workflow.catalog import WorkflowCatalog

    databases = [Database(postgres_url) for _ in range(4)]
    databases[0].ensure_schema()
    catalog = WorkflowCatalog([v3], cwd=tmp_path)
    clock = FrozenClock(START)
    services = [Service(SqlStore(d), clock=clock, workflows=catalog.resolve) for d in databases]
    keys = [f"wk-{n:03}" for n in range(60)]
    for key in keys:
        services[0].create(key, workflow="wijkkompas@2", title=key, regie=GEMEENTE, by="t")
    clock.set(at(10))
    plan = services[0].read_plan(PLAN.read_text(encoding="utf-8"), str(PLAN))
    results: list[list[object]] = [[], []]
    errors: list[BaseException] = []

    def node(n: int) -> None:
        try:
            results[n] = list(
                services[n].migration_apply(
                    plan, by=f"node{n}", reason="herzien", workers=1 + 2 * n
                )
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    def user(n: int) -> None:
        try:
            for key in keys[n - 2 :: 2]:
                services[n].note(key, f"notitie van {n}", by=f"user{n}")
                services[n].milestone_done(key, "aanleiding-en-opdracht", by=f"user{n}")
        except BaseException as exc:
            errors.append(exc)

    import threading

    threads = [threading.Thread(target=node, args=(n,)) for n in (0, 1)]
    threads += [threading.Thread(target=user, args=(n,)) for n in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    outcome: dict[str, list[str]] = {}
    for done in results:
        for r in done:
            outcome.setdefault(r.key, []).append(r.result)  # type: ignore[attr-defined]
    assert sorted(outcome) == sorted(keys)
    assert all(sorted(v) in (["migrated"], ["already", "migrated"]) for v in outcome.values())
    service = services[0]
    for key in keys:
        types = [e.type for e in service.log(key)]
        assert types.count("instance_migrated") == 1
        assert types.count("note_added") == 1
        assert types.count("milestone_done") == 1
        assert service.show(key).workflow_version == 3
    assert all(r.consistent for r in service.verify())
    for d in databases:
        d.dispose()


def test_the_dossier_of_a_migrated_wijk_holds_both_versions_and_verifies(
    service: Service, clock: FrozenClock, v3: Path, tmp_path: Path
) -> None:
    """Event 1 names the version the wijk started on (v2), the migration the one it moved to
    (v3): the dossier holds both files, and the verifier, which checks event 1's, passes."""
    import zipfile

    from adapters.signing import FileSigner, create_key, public_pem
    from adapters.verify_dossier import verify_dossier

    verifier = Path(__file__).resolve().parents[2] / "adapters" / "verify_dossier.py"
    _start(service, clock, "noord")
    clock.set(at(20))
    service.milestone_done("noord", "aanleiding-en-opdracht", by="t")
    create_key(tmp_path / "signing.key")
    signer = FileSigner(tmp_path / "signing.key")
    kept = service.checkpoints.make(signer)
    clock.set(at(30))
    plan = service.read_plan(PLAN.read_text(encoding="utf-8"), str(PLAN))
    service.migration_apply(plan, by="programmabureau", reason="methode herzien")
    service.checkpoints.make(signer)
    path = tmp_path / "noord.zip"
    path.write_bytes(service.dossier("noord", verifier=verifier.read_bytes()).data)
    with zipfile.ZipFile(path) as archive:
        files = sorted(n for n in archive.namelist() if n.startswith("workflows/"))
    assert files == ["workflows/wijkkompas-v2.json", "workflows/wijkkompas-v3.json"]
    said: list[str] = []
    pem = public_pem(signer.public).encode()
    verify_dossier(str(path), pem, kept.as_dict(), say=said.append)
    assert "workflows: 2 file(s), each with the hash it names" in said


def test_a_pending_reminder_about_a_split_knooppunt_follows_each_part(
    service: Service, clock: FrozenClock, v3: Path
) -> None:
    """partijen-aan-tafel splits in two: its reminder planned but not delivered yet goes to
    both parts (each part carries how far its reminders were sent, so a part left without it
    would never be reminded of that moment)."""
    _start(service, clock, "blijft", "gaat")
    planner = _planner(service)
    for day in range(40):
        clock.set(at(day))
        planner.run(clock.now())

    def pending(instance: str) -> dict[str, list[tuple[str, str, str]]]:
        found: dict[str, list[tuple[str, str, str]]] = {}
        for e in service.outbox("pending", limit=10_000):
            p = e.payload
            if p["instance"] == instance:
                found.setdefault(p["subject"], []).append((e.recipient, p["due"], p["rule"]))
        return {subject: sorted(rows) for subject, rows in found.items()}

    planned = pending("blijft")["partijen-aan-tafel"]
    assert planned  # planned, not delivered yet
    plan = service.read_plan(PLAN.read_text(encoding="utf-8"), str(PLAN))
    service.migration_apply(plan, by="p", reason="herzien", keys=["gaat"])
    after = pending("gaat")
    assert "partijen-aan-tafel" not in after
    assert after.get("projectteam-samengesteld") == planned
    assert after.get("stakeholderanalyse") == planned
    # Planned again on the day of the migration: nothing twice.
    planner.run(clock.now())
    assert pending("gaat")["stakeholderanalyse"] == planned
    assert all(r.consistent for r in service.verify())


@pytest.mark.postgres
def test_a_migration_carries_what_a_reminder_pass_meanwhile_recorded(
    postgres_url: str, tmp_path: Path, v3: Path
) -> None:
    """A reminder pass holds the deadline rows it plans (FOR UPDATE) until it commits how far
    their reminders went. A migration of the same wijk meanwhile carries what the pass
    committed, not what it read before: else the renamed deadline would go back to a reminder
    already planned, and the next pass would plan it again under the new name."""
    import threading
    import time

    from sqlalchemy import text

    from engine.persistence.database import Database
    from engine.persistence.store import SqlStore
    from engine.workflow.catalog import WorkflowCatalog

    database = Database(postgres_url)
    database.ensure_schema()
    catalog = WorkflowCatalog([v3], cwd=tmp_path)
    clock = FrozenClock(START)
    service = Service(SqlStore(database), clock=clock, workflows=catalog.resolve)
    service.create("gaat", workflow="wijkkompas@2", title="Gaat", regie=GEMEENTE, by="t")
    clock.set(at(30))
    plan = service.read_plan(PLAN.read_text(encoding="utf-8"), str(PLAN))
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            service.migration_apply(plan, by="p", reason="herzien", keys=["gaat"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    other = Database(postgres_url)
    with other.engine.connect() as pass_:
        # What a reminder pass does with the rows it planned, not committed yet.
        pass_.execute(
            text(
                "SELECT d.subject FROM deadlines d JOIN instances i ON i.id = d.instance_id "
                "WHERE i.key = 'gaat' FOR UPDATE OF d"
            )
        )
        pass_.execute(
            text(
                "UPDATE deadlines SET sent_through = '2026-02-04', next_on = '2026-04-22' "
                "WHERE subject = 'eerste-bewonersinformatie' AND instance_id = "
                "(SELECT id FROM instances WHERE key = 'gaat')"
            )
        )
        mover = threading.Thread(target=migrate)
        mover.start()
        for _ in range(200):  # until the migration waits for the pass's rows
            waiting = pass_.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar()
            if waiting or not mover.is_alive():
                break
            time.sleep(0.05)
        pass_.commit()
    mover.join()
    assert errors == []
    row = _rows(service, "gaat")[("milestone", "bewoners-geinformeerd")]
    assert (row.sent_through, row.next_on) == (date(2026, 2, 4), date(2026, 4, 22))
    assert service.show("gaat").workflow_version == 3
    assert all(r.consistent for r in service.verify())
    other.dispose()
    database.dispose()

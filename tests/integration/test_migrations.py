"""The schema: created on first use, kept in step with the models, never migrated silently."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import text

from cli import main
from engine.persistence.database import HEAD_REVISION, MIGRATIONS, Database, SchemaError
from engine.persistence.tables import Base


def test_head_revision_constant_is_the_migrations_head():
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD_REVISION


def test_an_empty_database_is_brought_to_head_and_matches_the_models(empty_db_url):
    database = Database(empty_db_url)
    assert database.current_revision() is None
    database.ensure_schema()
    assert database.current_revision() == HEAD_REVISION
    with database.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == [], f"models and migrations disagree: {diff}"
    database.dispose()


def test_a_database_from_a_newer_wijkkompas_is_refused(empty_db_url):
    database = Database(empty_db_url)
    database.ensure_schema()
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaError, match="written by a newer version; upgrade wijkkompas"):
        database.ensure_schema()
    database.dispose()


def test_a_database_with_other_tables_is_refused(empty_db_url):
    database = Database(empty_db_url)
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SchemaError, match="has tables but none of wijkkompas's schema history"):
        database.ensure_schema()
    database.dispose()


def test_db_commands(empty_db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    before = runner.invoke(main, ["--db", empty_db_url, "db", "current"])
    if empty_db_url.startswith("sqlite"):  # no file yet, and looking does not make one
        assert before.exit_code == 2
        assert "wijkkompas.db does not exist" in before.stderr
        assert not (tmp_path / "wijkkompas.db").exists()
    else:  # a new, empty database
        assert before.exit_code == 0
        assert "no wijkkompas schema yet" in before.stdout
    upgrade = runner.invoke(main, ["--db", empty_db_url, "db", "upgrade"])
    assert upgrade.exit_code == 0
    assert f"(empty) -> {HEAD_REVISION}" in upgrade.stdout
    again = runner.invoke(main, ["--db", empty_db_url, "db", "upgrade"])
    assert "nothing to do" in again.stdout
    current = runner.invoke(main, ["--db", empty_db_url, "db", "current"])
    assert f"{HEAD_REVISION} (latest)" in current.stdout


def test_sqlite_durability_settings(tmp_path):
    for setting, expected in (("FULL", 2), ("NORMAL", 1)):
        database = Database(f"sqlite:///{tmp_path / setting}.db", synchronous=setting)
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        database.dispose()


def test_bad_urls_and_settings_are_refused_clearly(tmp_path):
    from engine.errors import InvalidValue

    with pytest.raises(InvalidValue, match="only SQLite and PostgreSQL"):
        Database("mysql://root@localhost/x")
    with pytest.raises(InvalidValue, match="use sqlite:///FILE"):
        Database("not a url")
    with pytest.raises(InvalidValue, match="one of OFF, NORMAL, FULL, EXTRA"):
        Database(f"sqlite:///{tmp_path / 'x.db'}", synchronous="SOMETIMES")


def test_an_older_schema_is_refused_until_db_upgrade_which_rebuilds_projections(
    empty_db_url, tmp_path, monkeypatch
):
    from alembic import command

    from engine.app.service import Service
    from engine.persistence.store import SqlStore
    from engine.runtime.events import Regie
    from engine.workflow.catalog import WorkflowCatalog

    database = Database(empty_db_url)
    database.ensure_schema()
    service = Service(SqlStore(database), workflows=WorkflowCatalog().resolve)
    service.create("wk", workflow="wijkkompas", title="W", regie=Regie(type="gemeente"), by="t")
    with database.engine.begin() as connection:
        before = connection.execute(
            text("SELECT kind, subject, due FROM deadlines ORDER BY kind, subject")
        ).all()
        config = database._alembic_config(connection)
        command.downgrade(config, "0001_initial")
    with pytest.raises(
        SchemaError, match=r"has schema 0001_initial; .*run `wijkkompas db upgrade`"
    ):
        database.ensure_schema()
    database.dispose()

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--db", empty_db_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"0001_initial -> {HEAD_REVISION}" in result.stdout
    assert "projections rebuilt from the events" in result.stdout
    database = Database(empty_db_url)
    with database.engine.connect() as connection:
        after = connection.execute(
            text("SELECT kind, subject, due FROM deadlines ORDER BY kind, subject")
        ).all()
    assert after == before
    database.dispose()


def test_the_deadline_key_migration_keeps_how_far_reminders_were_planned(empty_db_url):
    """0003 re-keys the deadline rows; up and down, every row and its reminder progress stay."""
    from alembic import command

    from engine.app.service import Service
    from engine.persistence.store import SqlStore
    from engine.runtime.events import Regie
    from engine.workflow.catalog import WorkflowCatalog

    database = Database(empty_db_url)
    database.ensure_schema()
    service = Service(SqlStore(database), workflows=WorkflowCatalog().resolve)
    for key in ("wk-a", "wk-b"):
        service.create(key, workflow="wijkkompas", title=key, regie=Regie(type="gemeente"), by="t")
    query = text(
        "SELECT instance_id, kind, subject, due, legal, frozen, next_on, sent_through "
        "FROM deadlines ORDER BY instance_id, kind, subject"
    )
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE deadlines SET sent_through = '2027-01-01', next_on = '2027-02-01' "
                "WHERE kind = 'gate'"
            )
        )
        before = connection.execute(query).all()
        config = database._alembic_config(connection)
        command.downgrade(config, "0002_reminders")
        assert connection.execute(query).all() == before
        ids = connection.execute(text("SELECT COUNT(DISTINCT id) FROM deadlines")).scalar()
        assert ids == len(before)  # the old table has its surrogate ids back
        command.upgrade(config, "head")
        assert connection.execute(query).all() == before
    assert len(before) > 2
    assert sum(row.sent_through is not None for row in before) == 2
    database.dispose()


def test_the_session_credential_migration_ends_the_sessions_it_cannot_place(empty_db_url):
    """0016 records what opened each session. A session from before cannot say, so the
    upgrade ends it (its owner signs in again); down again, the sessions stay as they are and
    the columns go."""
    from alembic import command

    from engine.app.service import Service
    from engine.persistence.store import SqlStore
    from engine.workflow.catalog import WorkflowCatalog
    from tests.integration.test_directory import seed

    database = Database(empty_db_url)
    database.ensure_schema()
    service = Service(SqlStore(database), workflows=WorkflowCatalog().resolve)
    seed(service)
    secret, _ = service.directory.create_token("gemeente-zwolle", "p.jansen", purpose="b")
    service.signin.with_token(secret)
    service.signin.with_subject("sub-123")
    columns = "SELECT id_hash, principal_id, csrf, created_at, expires_at FROM web_sessions"
    with database.engine.begin() as connection:
        kept = connection.execute(text(columns + " ORDER BY id_hash")).all()
        config = database._alembic_config(connection)
        command.downgrade(config, "0015_outbox_room")
        assert connection.execute(text(columns + " ORDER BY id_hash")).all() == kept
        with pytest.raises(Exception, match="credential"), connection.begin_nested():
            connection.execute(text("SELECT credential FROM web_sessions"))
        command.upgrade(config, "head")
        assert connection.execute(text("SELECT COUNT(*) FROM web_sessions")).scalar() == 0
    assert len(kept) == 2
    again = service.signin.with_token(secret)
    assert service.signin.session(again.secret).principal.name == "p.jansen"
    database.dispose()

"""What a command on the command line loads: only what its path uses (issue 15, "a command in
a blink"). Each case runs the real program in a fresh interpreter on a real SQLite programme
and lists the modules loaded when it exits; a library on the list below is a start-up cost the
command does not need (bench/README.md, "The command line", has the figures).

No timings are asserted: a module that should not be loaded is the regression, whatever the
machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRAM = Path(sys.executable).with_name("wijkkompas")

NEVER_ON_A_COMMAND = (
    "sqlalchemy",
    "engine.persistence.tables",
    "fastapi",
    "starlette",
    "jinja2",
    "uvicorn",
    "alembic",
    "argon2",
    "httpx",
    "cryptography",
    "apscheduler",
    "yaml",
    "pydantic",
    "engine.workflow.model",
    "engine.workflow.normal",
    "engine.workflow.loader",
    "engine.app.council",
    "engine.app.history",
    "engine.app.migrations",
    "engine.app.signin",
    "holidays",
    "engine.ports.storage",
    "engine.ports.directory",
    "engine.ports.outbound",
    "engine.ports.proofs",
    "engine.ports.calendar",
    "engine.ports.inbox",
    "engine.ports.readings",
    "engine.app.access",
    "engine.app.statusview",
    "engine.runtime.migration",
    "engine.workflow.migrationplan",
    "engine.reminders.messages",
    "engine.workflow.timeline",
    "tomllib",
    "transitions",
    "engine.runtime.machine",
)
"""Libraries and modules that a note or a show does not use (given no configuration file,
as here: ``tomllib`` reads one): SQLAlchemy and the ORM tables
(on a SQLite file the command path and the view of one instance run on plain ``sqlite3``), the
faces on the web, the schema migrations, sign-in, the integrations, reading workflow files
(pydantic and the models of the file format: a stored definition is read as plain values,
engine.workflow.stored), the reports; the ``holidays`` package (the Dutch holidays are worked
out by rule); the contracts of the store's other units and the read side's values
(``engine.ports`` loads each module on first use), the rule table of who may do what (only an
approval that names its giver asks it), the overview's rows, what a migration does, what a
reminder says (only a gate with news writes one), the dry-run timeline (deadlines need only
``engine.workflow.due``), and the state machine (``transitions``: built when a trigger is
first fired, and a note or a show fires none)."""

NEVER_ON_A_NOTE = ("engine.app.reports", "engine.app.overview")
"""The view of one instance: a note prints only the line it recorded."""

OWN_MODULES = {
    "note": {"adapters.cli.record"},
    "instance": {"adapters.cli.instance", "adapters.cli.record"},
}
"""The command modules each command measured here uses (``instance``'s writing subcommands
print their effect as ``record``'s do)."""

NEVER_FOR_HELP = (*NEVER_ON_A_COMMAND, "engine.ports", "transitions")

_LIST_MODULES = """
import atexit, json, sys

def report():
    print(json.dumps({"modules": sorted(sys.modules)}), file=sys.stderr)

atexit.register(report)
import cli
cli.main(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def programme(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a demo programme in a scratch SQLite file."""
    folder = tmp_path_factory.mktemp("budget")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_")}
    env["WIJKKOMPAS_DB"] = f"sqlite:///{folder / 'programme.db'}"
    env["WIJKKOMPAS_ACTOR"] = "tester"
    seeded = subprocess.run(
        [str(PROGRAM), "demo"], env=env, cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert seeded.returncode == 0, seeded.stderr
    env["HOME"] = str(folder)
    return env


def loaded_by(env: dict[str, str], *args: str) -> set[str]:
    """The modules loaded by the command ``args``."""
    done = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stderr.strip().splitlines()[-1])
    return set(found["modules"])


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("note", "wk-berkum", "budget check"), id="note"),
        pytest.param(("instance", "show", "wk-berkum"), id="instance-show"),
    ],
)
def test_a_command_loads_only_its_own_path(programme, args):
    loaded = loaded_by(programme, *args)
    assert "engine.app.commands" in loaded  # it did run the service
    assert "engine.workflow.stored" in loaded  # it did read the stored definition
    assert sorted(m for m in NEVER_ON_A_COMMAND if m in loaded) == []
    if args[0] == "note":
        assert sorted(m for m in NEVER_ON_A_NOTE if m in loaded) == []
    else:
        assert "engine.app.reports" in loaded  # it did build the view
    # The root group loads the module of the command asked for, not those of the others.
    commands = {m for m in loaded if m.startswith("adapters.cli.")}
    assert commands == {"adapters.cli.shared", *OWN_MODULES[args[0]]}


def test_status_reads_the_overview_without_sqlalchemy(programme):
    """The programme overview on a SQLite file reads through the driver (``Store.look``):
    importing SQLAlchemy and the tables cost a third of a second of its CPU."""
    loaded = loaded_by(programme, "status")
    assert "engine.app.overview" in loaded  # it did build the overview
    assert "engine.app.statusview" in loaded  # ... and print it
    assert sorted(m for m in ("sqlalchemy", "engine.persistence.tables") if m in loaded) == []


def test_audit_verify_reads_every_instance_without_sqlalchemy(programme):
    """The audit of a SQLite file reads its pages through the driver (``Store.audit``):
    SQLAlchemy and the tables were a third of a second of ``audit verify``'s start."""
    loaded = loaded_by(programme, "audit", "verify")
    assert "engine.app.history" in loaded  # it did audit
    assert "engine.persistence.auditlogs" in loaded  # ... every instance, a page at a time
    assert sorted(m for m in ("sqlalchemy", "engine.persistence.tables") if m in loaded) == []


def test_help_loads_no_database_and_no_workflow_model(programme):
    loaded = loaded_by(programme, "--help")
    assert sorted(m for m in NEVER_FOR_HELP if m in loaded) == []

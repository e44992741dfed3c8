"""Bad input on the command line: a clear message, exit 2, nothing written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == code, (args, result.output)
        return result

    return run


def events(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.mark.parametrize(
    "args",
    [
        ("note", "wk-a", "x", "--at", "9999-12-31"),
        ("note", "wk-a", "x", "--at", "0001-01-01T00:00"),
        ("pause", "wk-a", "geen-trekker", "--reason", "r", "--review", "9999-12-31"),
        ("--now", "9999-12-31", "status"),
        ("reminders", "preview", "--days", "99999999999"),
        ("outbox", "retry", "99999999999999999999999"),
        ("outbox", "list", "--limit", "99999999999999999999"),
        ("scheduler", "--interval", "99999999999h"),
        ("instance", "create", "wk-b", "--workflow", "wijkkompas", "--title", "B",
         "--regie", "gemeente", "--contact", "a" * 250 + "@x.nl"),
        ("note", "wk-a", "x", "--by", "a" * 201),
        ("workflow", "show", "wijkkompas@²"),
        ("migrate", "plan", "--from", "wijkkompas@²", "--to", "wijkkompas@2"),
        ("migrate", "plan", "--from", "wijkkompas@99999999999999999999", "--to",
         "wijkkompas@2"),
        ("checkpoint", "show", "99999999999999999999"),
        ("checkpoint", "list", "--after", "99999999999999999999"),
        ("checkpoint", "proof", "wk-a", "--number", "99999999999999999999"),
    ],
)  # fmt: skip
def test_values_out_of_any_range_are_bad_input(wk, tmp_path, args):
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    before = events(tmp_path / "wijkkompas.db")
    result = wk(*args, code=2)
    assert "unexpected error" not in result.output
    assert events(tmp_path / "wijkkompas.db") == before


def test_a_file_that_is_no_database_and_one_of_someone_else(wk, tmp_path):
    (tmp_path / "junk.db").write_text("junk")
    for args in (("status",), ("db", "current"), ("db", "upgrade")):
        result = wk("--db", "sqlite:///junk.db", *args, code=2)
        assert "cannot open the database sqlite:///junk.db: file is not a database" in result.output
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE foo (x)")
    result = wk("--db", "sqlite:///other.db", "db", "upgrade", code=2)
    assert "has tables but none of wijkkompas's schema history" in result.output
    with sqlite3.connect(tmp_path / "other.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["foo"]


def test_configuration_that_cannot_be_read_or_makes_no_sense(wk, tmp_path):
    (tmp_path / "latin1.toml").write_bytes(b'db = "caf\xe9"\n')
    assert "not UTF-8 text" in wk("--config", "latin1.toml", "status", code=2).output
    assert "Is a directory" in wk("status", code=2, env={"WIJKKOMPAS_CONFIG": str(tmp_path)}).output
    for name, value in (("SMTP_TIMEOUT", "nan"), ("SMTP_TIMEOUT", "inf"), ("SMTP_PORT", "99999")):
        assert "ongeldige" in wk("status", code=2, env={f"WIJKKOMPAS_{name}": value}).output


CSV_CASES = [
    ("key,title\nc1,One\nc2\n", "row on line 3 'c2': fewer cells than the header"),
    ("key,title,workflow,regie\nc1,One,wijkkompas,gemeente,x\n", "more cells than the header"),
    ("key,title,key\nc1,One,c9\n", "CSV column 'key': it appears twice in the header"),
    ("key,titel\nc1,One\n", "needs at least the columns key and title"),
    ("key,title,area\nc1,One,GM0363\n", "CSV column 'area': known: key, title"),
    ("key,title,areas\n\nc1,One,GM0363\n\nc2,Two,XX12\n", "CBS area code on line 5 'XX12'"),
    ("key,title,contacts\nc1,One,p@x.nl\x00\n", "e-mail address on line 2"),
]


@pytest.mark.parametrize(("text", "message"), CSV_CASES)
def test_a_csv_file_with_mistakes_says_which_line_and_creates_nothing(wk, tmp_path, text, message):
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    (tmp_path / "import.csv").write_text(text, encoding="utf-8")
    result = wk("instance", "import", "import.csv", "--workflow", "wijkkompas",
                "--regie", "gemeente", code=2)  # fmt: skip
    assert message in result.output
    assert events(tmp_path / "wijkkompas.db") == 1


def test_a_csv_file_not_in_utf8_is_named(wk, tmp_path):
    (tmp_path / "excel.csv").write_bytes(b"key,title\nc1,Caf\xe9\n")
    result = wk("instance", "import", "excel.csv", "--workflow", "wijkkompas",
                "--regie", "gemeente", code=2)  # fmt: skip
    assert "not UTF-8 text: save it as 'CSV UTF-8'" in result.output


def test_a_database_that_refuses_writes_is_said_so(wk, tmp_path):
    """A read-only database file (chattr +i: root ignores file modes): the command says the
    database refused and that nothing was saved."""
    import subprocess

    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    path = tmp_path / "wijkkompas.db"
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr is not available here")
    try:
        result = wk("note", "wk-a", "hallo", code=1)
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert (
        "wijkkompas: de database weigerde: attempt to write a readonly database; er is niets "
        "opgeslagen" in result.output
    )
    assert events(path) == 1


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_a_database_that_would_forget_everything_is_refused(wk, url):
    result = wk("--db", url, "instance", "create", "wk-a", "--workflow", "wijkkompas",
                "--title", "A", "--regie", "gemeente", code=2)  # fmt: skip
    assert "name a file: sqlite:///wijkkompas.db" in result.output


@pytest.mark.parametrize(
    ("name", "value"),
    [("PROGRAMME_EMAIL", "not-an-address"), ("MAIL_FROM", "not-an-address"),
     ("DIGEST", "not-an-address")],
)  # fmt: skip
def test_a_bad_address_setting_stops_every_command_before_anything_is_sent(
    wk, tmp_path, name, value
):
    """Escalations were "sent" to `not-an-address`: now nothing starts with it."""
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente", "--start", "2024-01-08")  # fmt: skip
    env = {f"WIJKKOMPAS_{name}": value, "WIJKKOMPAS_NOTIFIER": "console"}
    result = wk("reminders", "run", code=2, env=env)
    setting = name.lower()
    assert result.stderr.splitlines() == [
        f"wijkkompas: ongeldige '{setting}' (from WIJKKOMPAS_{name}) '{value}': "
        "write it as name@example.nl"
    ]
    with sqlite3.connect(tmp_path / "wijkkompas.db") as db:
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_smtp_without_a_sender_is_refused_at_start(wk):
    result = wk("reminders", "run", code=2, env={"WIJKKOMPAS_NOTIFIER": "smtp"})
    assert "'mail_from'" in result.stderr
    assert "WIJKKOMPAS_MAIL_FROM" in result.stderr


def test_a_number_no_database_holds_is_found_by_the_validator_not_by_the_database(wk, tmp_path):
    """`version: 99999999999999999999999` validated, then `instance create` crashed
    (OverflowError on SQLite, 'integer out of range' on PostgreSQL); so did a due date in the
    year 1."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    path = folder / "big.yaml"
    path.write_text(
        "key: big\nversion: 99999999999999999999999\ntitle: Big\nphases:\n  - id: a\n"
        "    title: A\n    duration: P1Y\n    milestones: [{id: m, title: M, due: 0001-01-02}]\n",
        encoding="utf-8",
    )
    located = [
        f"{path}:2:10: error: the workflow, version: must be at most 2147483647, got "
        "99999999999999999999999",
        f"{path}:8:41: error: milestone 'm', due.date: must be on or after 1900-01-01, got "
        "0001-01-02",
    ]
    validated = wk("workflow", "validate", str(path), code=2)
    assert validated.stderr.splitlines()[:2] == located
    created = wk("instance", "create", "wk-a", "--workflow", str(path), "--title", "A",
                 "--regie", "gemeente", code=2)  # fmt: skip
    assert created.stderr.splitlines()[:2] == located


@pytest.mark.parametrize("ref", ["wijkkompas@²", "wijkkompas@99999999999999999999"])
def test_a_plan_from_a_version_no_workflow_can_have_says_where(wk, tmp_path, ref):
    """`from: wijkkompas@²` crashed the plan reader (ValueError), a version beyond what the
    database holds crashed the look-up (OverflowError): exit 1, "unexpected error"."""
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    before = events(tmp_path / "wijkkompas.db")
    (tmp_path / "plan.yaml").write_text(
        f"migration: 1\nfrom: {ref}\nto: wijkkompas@2\nphases: {{}}\n", encoding="utf-8"
    )
    checked = wk("migrate", "check", "plan.yaml", code=2)
    applied = wk("migrate", "apply", "plan.yaml", "--reason", "r", code=2)
    for result in (checked, applied):
        assert "plan.yaml:2:7: error: 'from' must be KEY@VERSION" in result.stderr
    assert events(tmp_path / "wijkkompas.db") == before


def test_a_file_written_where_it_cannot_be_is_said_so(wk, tmp_path, monkeypatch):
    """`checkpoint show --out`, `keys show --out` and `calendar export --output` into a folder
    that is not there: exit 1, "unexpected error" (dossier export --out said which file and
    why)."""
    monkeypatch.setenv("WIJKKOMPAS_CHECKPOINT_DIR", str(tmp_path / "published"))
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    wk("keys", "create")
    wk("checkpoint")
    for args in (
        ("checkpoint", "show", "1", "--out"),
        ("keys", "show", "--out"),
        ("calendar", "export", "--output"),
    ):
        result = wk(*args, "nowhere/kept.txt", code=2)
        assert "'nowhere/kept.txt': No such file or directory" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_a_plan_that_is_not_utf8_is_located_like_a_workflow_file(wk, tmp_path):
    """A plan saved as Latin-1 was reported at 1:1 with Python's codec message; a workflow
    file names the line and column of the byte."""
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    (tmp_path / "plan.yaml").write_bytes(b"migration: 1\nfrom: wijkkompas@2\nto: caf\xe9@3\n")
    result = wk("migrate", "check", "plan.yaml", code=2)
    assert "plan.yaml:3:8: error: not UTF-8 text: byte 0xe9 (invalid continuation byte)" in (
        result.stderr
    )


@pytest.mark.parametrize(
    "args",
    [
        ("checkpoint", "show", "2147483648"),
        ("checkpoint", "proof", "wk-a", "--number", "2147483648"),
        ("migrate", "plan", "--from", "wijkkompas@2147483648", "--to", "wijkkompas@2"),
    ],
)
def test_a_number_past_an_integer_column_is_bad_input_on_every_database(
    db_url, tmp_path, monkeypatch, args
):
    """On PostgreSQL a checkpoint number or a workflow version past 2147483647 reached the
    query: "the database refused: integer out of range", exit 1 (SQLite took it)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--db", db_url, *args])
    assert result.exit_code == 2, result.output
    assert "out of range" not in result.output


def test_a_workflow_folder_that_is_not_there_is_said_so(wk, tmp_path):
    """`--workflows my-workflowz` (a typo) was searched as an empty folder: the instance was
    pinned to the shipped workflow of the same key, not to the file meant, without a word."""
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    before = events(tmp_path / "wijkkompas.db")
    for given, env, said in (
        (["--workflows", "my-workflowz"], None, "Directory 'my-workflowz' does not exist"),
        ([], {"WIJKKOMPAS_WORKFLOWS": "my-workflowz"}, "'my-workflowz': an existing folder"),
        # A name too long for the file system was "unexpected error: OSError", exit 1.
        ([], {"WIJKKOMPAS_WORKFLOWS": "w" * 300}, "an existing folder"),
    ):
        created = wk(*given, "instance", "create", "wk-b", "--workflow", "wijkkompas",
                     "--title", "B", "--regie", "gemeente", code=2, env=env)  # fmt: skip
        assert said in created.stderr
    assert events(tmp_path / "wijkkompas.db") == before
    (tmp_path / "my-workflowz").mkdir()
    wk("--workflows", "my-workflowz", "workflow", "list")


# What Python makes of the bytes b"\xff" on the command line (surrogateescape).
NOT_UTF8 = b"\xff".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("instance", "show", f"wk-{NOT_UTF8}", "--json"), "key"),
        (("log", f"wk-{NOT_UTF8}", "--json"), "key"),
        (("note", f"wk-{NOT_UTF8}", "x", "--json"), "key"),
        (("advance", f"wk-{NOT_UTF8}", "--json"), "key"),
        (("note", "wk-a", f"kapot {NOT_UTF8}", "--json"), "text"),
        (("instance", "create", "wk-b", "--workflow", f"wijkkompas{NOT_UTF8}", "--title", "B",
          "--regie", "gemeente", "--json"), "--workflow"),
        (("instance", "update", "wk-a", "--title", f"A{NOT_UTF8}", "--json"), "--title"),
    ],
)  # fmt: skip
def test_bytes_that_are_not_utf8_are_bad_input_naming_where(wk, tmp_path, args, name):
    """A key that is not UTF-8 reached the database's query: "unexpected error:
    UnicodeEncodeError", exit 1 (the HTTP API refuses such a value as invalid-value, 422)."""
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    before = events(tmp_path / "wijkkompas.db")
    result = wk(*args, code=2)
    assert "unexpected error" not in result.stderr
    assert "Traceback" not in result.stderr
    body = json.loads(result.stdout)
    assert (body["code"], body["status"]) == ("invalid-value", 422)
    assert body["invalid_params"][0]["name"] == name
    assert "not UTF-8" in body["detail"]
    assert events(tmp_path / "wijkkompas.db") == before


def test_a_workflow_file_whose_name_is_not_utf8_is_still_read(wk, tmp_path):
    source = Path(__file__).resolve().parents[2] / "workflows" / "wijkkompas.yaml"
    odd = tmp_path / f"eigen{NOT_UTF8}.yaml"
    odd.write_bytes(source.read_bytes())
    wk("workflow", "show", str(odd), "--json")
    wk("instance", "create", "wk-a", "--workflow", f"eigen{NOT_UTF8}.yaml", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    assert events(tmp_path / "wijkkompas.db") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("workflow", "show", "w" * 300),
        ("workflow", "timeline", "w" * 300, "--json"),
        ("instance", "create", "wk-b", "--workflow", "w" * 300, "--title", "B",
         "--regie", "gemeente", "--json"),
    ],
)  # fmt: skip
def test_a_workflow_name_too_long_for_a_file_is_an_unknown_workflow(wk, tmp_path, args):
    """Whether a key names a file in the working directory was asked of the file system,
    which refused a name of more than 255 bytes: "unexpected error: OSError: File name too
    long", exit 1."""
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    result = wk(*args, code=2)
    assert "'wwwww" in result.stderr
    assert "OSError" not in result.stderr
    if "--json" in args:
        assert json.loads(result.stdout)["code"] == "not-found"
    assert events(tmp_path / "wijkkompas.db") == 1


def test_a_database_file_name_too_long_is_a_file_not_there(wk, tmp_path):
    """Path.exists() raised for a name of more than 255 bytes: "unexpected error: OSError:
    File name too long", exit 1."""
    url = "sqlite:///" + "d" * 300 + ".db"
    for args in (("status",), ("instance", "show", "wk-a", "--json"), ("db", "current")):
        result = wk("--db", url, *args, code=2)
        assert "does not exist" in result.stderr
        assert "OSError" not in result.stderr
    result = wk("--db", url, "instance", "create", "wk-a", "--workflow", "wijkkompas",
                "--title", "A", "--regie", "gemeente", code=2)  # fmt: skip
    assert "unable to open database file" in result.stderr


def test_a_postgresql_url_that_is_not_utf8_is_bad_input(wk):
    """The URL reached the driver, which could not encode it: "unexpected error:
    UnicodeEncodeError", exit 1. (A SQLite file's name may hold such bytes.)"""
    for url in (f"postgresql://postgres@127.0.0.1/wk{NOT_UTF8}", f"postgresql://u{NOT_UTF8}@h/db"):
        result = wk("--db", url, "status", "--json", code=2)
        assert "not UTF-8" in result.stderr
        assert json.loads(result.stdout)["invalid_params"][0]["name"] == "database URL"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://wk:s3cret@db.example.nl/wk",
        f"postgresql://wk:s3cret@db.example.nl/wk{NOT_UTF8}",
    ],
)
def test_a_database_url_refused_does_not_show_its_password(wk, url):
    """The refusal quoted the URL as given, password and all, on stderr and in the problem
    object (which end up in logs); every other message about the database hides it."""
    result = wk("--db", url, "status", "--json", code=2)
    assert "s3cret" not in result.stdout
    assert "s3cret" not in result.stderr
    assert "wk:***@db.example.nl" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://wk@db.example.nl:port/wk",
        "postgresql+nosuchdriver://wk@db.example.nl/wk",
        "postgresql+psycopg2://wk@db.example.nl/wk",
    ],
)
def test_a_database_url_sqlalchemy_cannot_use_is_an_invalid_database_url(wk, url):
    """A port that is no number was 'unexpected error: ValueError', a driver SQLAlchemy does
    not know or that is not installed 'the database refused: Can't load plugin' or
    'ModuleNotFoundError': exit 1, for a URL mistyped."""
    result = wk("--db", url, "status", "--json", code=2)
    assert json.loads(result.stdout)["invalid_params"][0]["name"] == "database URL"


def test_a_maildir_that_cannot_be_made_is_a_bad_setting(wk, tmp_path):
    """A maildir setting naming a file (or a place this process may not write) was
    'unexpected error: NotADirectoryError', exit 1."""
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente", "--contact", "a@example.nl")  # fmt: skip
    (tmp_path / "a-file").write_text("")
    env = {"WIJKKOMPAS_NOTIFIER": "maildir", "WIJKKOMPAS_MAILDIR": str(tmp_path / "a-file")}
    result = wk("reminders", "run", code=2, env=env)
    assert "maildir (setting maildir)" in result.stderr
    assert "unexpected" not in result.stderr


def test_a_checkpoint_directory_that_cannot_be_made_refuses_before_a_checkpoint_is_made(
    wk, tmp_path, monkeypatch
):
    """The checkpoint was signed and saved, then publishing it failed: exit 2, "invalid
    checkpoint directory", and a checkpoint that never reached the directory."""
    (tmp_path / "a-file").write_text("")
    wk("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
       "--regie", "gemeente")  # fmt: skip
    wk("keys", "create")
    monkeypatch.setenv("WIJKKOMPAS_CHECKPOINT_DIR", str(tmp_path / "a-file"))
    result = wk("checkpoint", "--json", code=2)
    assert json.loads(result.stdout)["code"] == "invalid-value"
    assert json.loads(wk("checkpoint", "list", "--json").stdout) == []
    monkeypatch.setenv("WIJKKOMPAS_CHECKPOINT_DIR", str(tmp_path / "published"))
    wk("checkpoint")
    assert sorted(p.name for p in (tmp_path / "published").iterdir()) == [
        "checkpoint-00000001.json",
        "latest.json",
    ]

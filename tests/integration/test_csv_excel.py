"""CSV the way Dutch offices use it: Excel with a Dutch locale writes and expects ';'.

``status --csv`` takes ``--delimiter`` (',', ';' or tab); ``--excel`` writes UTF-8 with a byte
order mark (so Excel reads the accents) and ';' unless another delimiter is asked for.
``instance import`` takes ``--delimiter`` too, and without it tells ',' from ';' and tab by
the header row; every problem with the file names the delimiter it was read with. A byte
order mark at the start of an imported file is accepted.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.integration.test_cli_refusals import BAD_INPUT, Cli, cli_in

BOM = b"\xef\xbb\xbf"
HEADER = ["key", "title", "workflow", "regie", "regie_org", "contacts", "areas"]
ROWS = [
    ["wk-noord", "Noord, corporatiebezit", "proef", "woningcorporatie", "Portaal",
     "wijk@portaal.nl;b@portaal.nl", "WK034401"],
    ["wk-zuid", "Zuid; koopwoningen", "proef", "gemeente", "Gemeente Utrecht", "",
     "BU03440100 BU03440101"],
    ["wk-oost", "Oost — Tuinwijk", "proef", "gemeente", "", "oost@utrecht.nl", ""],
]  # fmt: skip


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_in(db_url, tmp_path, monkeypatch)


def write(path: Path, delimiter: str, *, bom: bool = False, rows: list[list[str]] = ROWS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([HEADER, *rows])
    path.write_bytes((BOM if bom else b"") + out.getvalue().encode("utf-8"))
    return str(path)


def imported(cli: Cli) -> dict[str, dict[str, object]]:
    """What the import made of each instance: title, regie, areas."""
    result = {}
    for key in ("wk-noord", "wk-zuid", "wk-oost"):
        view = json.loads(cli.ok("instance", "show", key, "--json").stdout)
        result[key] = {"title": view["title"], "regie": view["regie"], "areas": view["areas"]}
    return result


EXPECTED = {
    "wk-noord": {
        "title": "Noord, corporatiebezit",
        "regie": {
            "type": "woningcorporatie",
            "organisation": "Portaal",
            "contacts": ["wijk@portaal.nl", "b@portaal.nl"],
        },
        "areas": ["WK034401"],
    },
    "wk-zuid": {
        "title": "Zuid; koopwoningen",
        "regie": {"type": "gemeente", "organisation": "Gemeente Utrecht", "contacts": []},
        "areas": ["BU03440100", "BU03440101"],
    },
    "wk-oost": {
        "title": "Oost — Tuinwijk",
        "regie": {"type": "gemeente", "organisation": None, "contacts": ["oost@utrecht.nl"]},
        "areas": [],
    },
}


# --- import ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "bom"),
    [
        pytest.param(";", True, id="excel-nl-csv-utf8"),
        pytest.param(";", False, id="semicolon"),
        pytest.param("\t", False, id="tab"),
        pytest.param(",", True, id="comma-with-bom"),
    ],
)
def test_import_tells_the_delimiter_by_the_header(
    cli: Cli, tmp_path: Path, delimiter: str, bom: bool
) -> None:
    path = write(tmp_path / "wijken.csv", delimiter, bom=bom)
    result = cli.ok("instance", "import", path)
    assert "3 instances created" in result.stdout
    assert imported(cli) == EXPECTED


@pytest.mark.parametrize(
    ("option", "delimiter"),
    [pytest.param(";", ";", id="semicolon"), pytest.param("tab", "\t", id="tab")],
)
def test_import_takes_the_delimiter_it_is_given(
    cli: Cli, tmp_path: Path, option: str, delimiter: str
) -> None:
    path = write(tmp_path / "wijken.csv", delimiter)
    cli.ok("instance", "import", path, "--delimiter", option)
    assert imported(cli) == EXPECTED


def test_a_wrong_delimiter_is_named_in_the_error(cli: Cli, tmp_path: Path) -> None:
    cli.ok("db", "upgrade")  # an empty database
    path = write(tmp_path / "wijken.csv", ",")
    result = cli.refused(
        ("instance", "import", path, "--delimiter", ";"), BAD_INPUT, "CSV header", "';'"
    )
    assert "--delimiter" in result.stderr


def test_an_error_in_a_row_names_the_delimiter_it_was_read_with(cli: Cli, tmp_path: Path) -> None:
    cli.ok("db", "upgrade")  # an empty database
    rows = [*ROWS[:2], ["wk-oost", "Oost", "proef", "gemeente", "", "", "WK12"]]
    path = write(tmp_path / "wijken.csv", ";", bom=True, rows=rows)
    cli.refused(("instance", "import", path), BAD_INPUT, "CBS area code on line 4", "delimiter ';'")


def test_a_row_with_too_many_cells_names_the_delimiter(cli: Cli, tmp_path: Path) -> None:
    cli.ok("db", "upgrade")  # an empty database
    path = tmp_path / "wijken.csv"
    path.write_text("key;title\nwk-a;A;extra\n", encoding="utf-8")
    cli.refused(("instance", "import", str(path)), BAD_INPUT, "more cells than the header", "';'")


def test_an_unknown_delimiter_is_bad_input(cli: Cli, tmp_path: Path) -> None:
    cli.ok("db", "upgrade")  # an empty database
    path = write(tmp_path / "wijken.csv", ",")
    cli.refused(("instance", "import", path, "--delimiter", "|"), BAD_INPUT, "','", "';'", "tab")


# --- status -----------------------------------------------------------------------------------


@pytest.fixture
def programme(cli: Cli, tmp_path: Path) -> Cli:
    cli.ok("instance", "import", write(tmp_path / "wijken.csv", ","))
    return cli


def table(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_status_csv_takes_a_delimiter(programme: Cli) -> None:
    commas = table(programme.ok("status", "--csv").stdout, ",")
    assert commas[0][:2] == ["key", "title"]
    semicolons = programme.ok("status", "--csv", "--delimiter", ";").stdout
    assert semicolons.startswith("key;title;workflow;")
    assert table(semicolons, ";") == commas
    tabs = programme.ok("status", "--csv", "--delimiter", "tab").stdout
    assert tabs.startswith("key\ttitle\tworkflow\t")
    assert table(tabs, "\t") == commas


def test_status_excel_is_utf8_with_a_bom_and_semicolons(programme: Cli) -> None:
    commas = table(programme.ok("status", "--csv").stdout, ",")
    data = programme.ok("status", "--csv", "--excel").stdout_bytes
    assert data.startswith(BOM + b"key;title;workflow;")
    text = data[len(BOM) :].decode("utf-8")
    assert table(text, ";") == commas
    assert "Oost — Tuinwijk" in text
    # --excel alone means CSV; another delimiter may be asked for.
    assert programme.ok("status", "--excel").stdout_bytes == data
    assert programme.ok("status", "--excel", "--delimiter", ",").stdout_bytes.startswith(
        BOM + b"key,title,workflow,"
    )


def test_excel_never_runs_a_title_as_a_formula(cli: Cli) -> None:
    formula = '=HYPERLINK("http://example.invalid","klik")'
    cli.ok(
        "instance", "create", "wk-formule", "--workflow", "wijkkompas", "--title", formula,
        "--regie", "gemeente", "--regie-org", "@Gemeente", "--contact", "p@zwolle.example",
    )  # fmt: skip
    [_, row] = table(cli.ok("status", "--excel").stdout_bytes[len(BOM) :].decode(), ";")
    assert row[1] == "'" + formula
    assert row[8] == "'@Gemeente"
    # Plain CSV is data for programs, not a spreadsheet: the values stay as they are.
    [_, row] = table(cli.ok("status", "--csv").stdout, ",")
    assert (row[1], row[8]) == (formula, "@Gemeente")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--json", "--csv"), id="json-and-csv"),
        pytest.param(("--json", "--excel"), id="json-and-excel"),
        pytest.param(("--json", "--delimiter", ";"), id="json-and-delimiter"),
        pytest.param(("--csv", "--delimiter", "|"), id="unknown-delimiter"),
    ],
)
def test_status_refuses_options_that_contradict_each_other(
    programme: Cli, args: tuple[str, ...]
) -> None:
    programme.refused(("status", *args), BAD_INPUT)

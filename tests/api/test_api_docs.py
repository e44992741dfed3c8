"""docs/api.md shows the rule table and the endpoints as the code has them (its generated blocks
are rewritten by `make openapi`), and the commands it tells a reader to type exist."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from adapters.http.apidocs import API_MD, render
from cli import main

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_generated_tables_are_current() -> None:
    text = API_MD.read_text(encoding="utf-8")
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert text == render(text, document), "docs/api.md is stale: run `make openapi`"
    assert "| `approve` | programme, regie, party | – | programme, regie, party |" in text


def test_every_operation_is_in_the_endpoint_table() -> None:
    text = API_MD.read_text(encoding="utf-8")
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    for path, item in document["paths"].items():
        for method in item:
            assert f"| {method.upper()} | `/api/v1{path}` |" in text, (method, path)


def test_the_set_up_commands_of_the_page_run(tmp_path: Path) -> None:
    """The org, principal and token commands of "Organisations, principals and tokens", in
    order, on a new database: each exits 0."""
    text = API_MD.read_text(encoding="utf-8")
    block = re.search(r"## Organisations, principals and tokens.*?```sh\n(.*?)```", text, re.S)
    assert block is not None
    commands = block.group(1).replace("\\\n", " ").strip().splitlines()
    assert len(commands) >= 5
    runner = CliRunner()
    for line in commands:
        args = shlex.split(line)
        assert args[0] == "wijkkompas"
        result = runner.invoke(main, ["--db", f"sqlite:///{tmp_path / 'w.db'}", *args[1:]])
        assert result.exit_code == 0, (line, result.output)

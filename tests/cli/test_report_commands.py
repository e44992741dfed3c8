"""``wijkkompas report``: the council report as HTML, JSON and a real PDF (headless Chromium),
the timeline and the charts as SVG files, over the scripted history of tests/integration/
raad.py on a SQLite file; and the bad input (a PDF without a browser, or without --out; an
unknown instance) refused with exit 2 and a message that says what to do."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine.app.service import Service
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.testing import FrozenClock
from engine.workflow.catalog import WorkflowCatalog
from tests.integration.raad import raad_programme


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    clock = FrozenClock()
    database = Database(f"sqlite:///{tmp_path / 'wijkkompas.db'}")
    database.ensure_schema()
    catalog = WorkflowCatalog([tmp_path / "workflows"], cwd=tmp_path)
    raad_programme(
        Service(SqlStore(database), clock=clock, workflows=catalog.resolve), clock, tmp_path
    )
    database.dispose()
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
        result = runner.invoke(main, ["--workflows", "workflows", *args], env=env, obj=clock)
        assert result.exit_code == code, (args, result.output)
        return result

    return run


def test_council_report_as_json(wk: Any) -> None:
    out = wk("report", "council", "--from", "2026-03-01", "--to", "2026-04-30", "--format", "json")
    data = json.loads(out.stdout)
    assert (data["from"], data["to"], data["made"]) == ("2026-03-01", "2026-04-30", "2026-06-01")
    assert [w["key"] for w in data["wijken"]] == ["wk-noord", "wk-zuid"]
    noord = data["wijken"][0]
    assert [d["kind"] for d in noord["decisions"]] == ["approved", "advanced", "handed_over"]
    assert noord["decisions"][0]["ref"] == "B&W 2026/12"
    assert [p["key"] for p in noord["deelprojecten"]] == ["wk-noord-a"]
    assert data["totals"]["decisions"]["paused"] == 1


def test_council_report_as_a_printable_page(wk: Any, tmp_path: Path) -> None:
    wk("report", "council", "--from", "2026-03-01", "--to", "2026-04-30", "--out", "raad.html")
    page = (tmp_path / "raad.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Gepauzeerd: Geen geld" in page
    assert "geen subsidie toegekend" in page
    assert "<script" not in page


def _browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required with CI=true (make browser installs it)")
        pytest.skip("no Chromium on PATH: install it (apt-get install chromium) to run this")
    return found


def test_council_report_as_a_real_pdf(wk: Any, tmp_path: Path) -> None:
    _browser()
    wk(
        "report", "council", "--from", "2026-03-01", "--to", "2026-04-30",
        "--format", "pdf", "--out", "raad.pdf",
    )  # fmt: skip
    pdf = (tmp_path / "raad.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") >= 2


def test_a_pdf_without_a_browser_is_bad_input_that_says_how_to_install_one(
    wk: Any, tmp_path: Path
) -> None:
    out = wk(
        "report", "council", "--from", "2026-03-01", "--to", "2026-04-30",
        "--format", "pdf", "--out", "raad.pdf",
        code=2, env={"WIJKKOMPAS_CHROMIUM": "no-such-chromium-here"},
    )  # fmt: skip
    assert "no browser at 'no-such-chromium-here'" in out.output
    assert "apt-get install chromium" in out.output
    assert not (tmp_path / "raad.pdf").exists()


def test_a_pdf_needs_a_file_to_go_to(wk: Any) -> None:
    out = wk(
        "report", "council", "--from", "2026-03-01", "--to", "2026-04-30", "--format", "pdf",
        code=2,
    )  # fmt: skip
    assert "--out" in out.output


def test_a_period_the_wrong_way_round_is_bad_input(wk: Any) -> None:
    out = wk("report", "council", "--from", "2026-05-01", "--to", "2026-04-01", code=2)
    assert "on or after" in out.output


def test_timeline_of_chosen_instances_as_svg(wk: Any, tmp_path: Path) -> None:
    wk("report", "timeline", "wk-zuid", "wk-noord", "--out", "tl.svg")
    svg = (tmp_path / "tl.svg").read_text(encoding="utf-8")
    assert svg.index('data-key="wk-zuid"') < svg.index('data-key="wk-noord"')
    assert 'data-key="wk-noord-a"' not in svg
    assert 'role="img"' in svg


def test_timeline_of_everything_puts_each_wijk_before_its_deelprojecten(
    wk: Any, tmp_path: Path
) -> None:
    wk(
        "instance", "create", "aa-zuid-deel", "--workflow", "raad", "--title", "Zuid deel",
        "--regie", "gemeente", "--parent", "wk-zuid",
    )  # fmt: skip
    wk("report", "timeline", "--out", "all.svg")
    svg = (tmp_path / "all.svg").read_text(encoding="utf-8")
    rows = re.findall(r'<g class="row" data-key="([^"]+)"', svg)
    assert rows == ["wk-noord", "wk-noord-a", "wk-zuid", "aa-zuid-deel"]


def test_timeline_of_an_unknown_instance_is_bad_input(wk: Any) -> None:
    out = wk("report", "timeline", "wk-nergens", code=2)
    assert "wk-nergens" in out.output


def test_charts_are_written_into_a_folder(wk: Any, tmp_path: Path) -> None:
    wk("report", "charts", "--out", "grafieken")
    names = sorted(p.name for p in (tmp_path / "grafieken").iterdir())
    assert names == ["overdue.svg", "paused.svg", "phases.svg"]
    assert "Samen starten" in (tmp_path / "grafieken" / "phases.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args",
    [
        ("report", "charts", "--out", "a-file/grafieken"),
        ("report", "timeline", "wk-zuid", "--out", "a-file/tl.svg"),
        ("report", "council", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json",
         "--out", "a-file/raad.json"),
        ("report", "council", "--from", "2026-01-01", "--to", "2026-12-31", "--format", "html",
         "--out", "a-file/raad.html"),
    ],
)  # fmt: skip
def test_an_out_that_cannot_be_written_is_bad_input_naming_it(
    wk: Any, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """A folder that could not be made for --out (a file in its way, no permission) was
    "unexpected error: FileExistsError", exit 1."""
    (tmp_path / "a-file").write_text("")
    result = wk(*args, code=2)
    assert "--out 'a-file/" in result.stderr
    assert "unexpected" not in result.stderr

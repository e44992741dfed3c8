"""The installed ``wijkkompas`` program, run as a newcomer would run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROGRAM = Path(sys.executable).with_name("wijkkompas")


def wijkkompas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROGRAM), *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def test_help_lists_the_workflow_commands(tmp_path):
    result = wijkkompas("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "workflow" in result.stdout
    sub = wijkkompas("workflow", "--help", cwd=tmp_path)
    for command in ("validate", "list", "show", "diagram", "timeline"):
        assert command in sub.stdout


def test_every_shipped_workflow_validates(tmp_path):
    files = sorted(str(p) for p in (REPO / "workflows").glob("*.yaml"))
    assert len(files) >= 3
    result = wijkkompas("workflow", "validate", *files, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count(": valid") == len(files)


def test_a_newcomers_file_from_the_docs_works_end_to_end(tmp_path):
    text = (REPO / "docs" / "workflow-format.md").read_text(encoding="utf-8")
    example = re.search(r"## A complete small example\n\n```yaml\n(.*?)```", text, re.S)
    assert example
    path = tmp_path / "buurtaanpak.yaml"
    path.write_text(example.group(1), encoding="utf-8")
    assert wijkkompas("workflow", "validate", str(path), cwd=tmp_path).returncode == 0
    shown = wijkkompas("workflow", "show", str(path), cwd=tmp_path)
    assert "pause buttons: geen-budget" in shown.stdout
    diagram = wijkkompas("workflow", "diagram", str(path), cwd=tmp_path)
    assert "s_verkennen_paused --> s_verkennen: resume" in diagram.stdout
    timeline = wijkkompas("workflow", "timeline", str(path), "--start", "2027-01-04", cwd=tmp_path)
    assert "Planned end: 2030-02-04" in timeline.stdout


def test_mistakes_give_exit_2_and_file_line_col_messages(tmp_path):
    path = tmp_path / "fout.yaml"
    path.write_text(
        "key: fout\nversion: 1\ntitle: Fout\nphases:\n  - id: a\n    title: A\n"
        "    duration: P1X\n    milestones:\n      - {id: m, titel: M}\n",
        encoding="utf-8",
    )
    result = wijkkompas("workflow", "validate", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:7:15: error: phase 'a', duration: 'P1X' is not an ISO 8601 duration; write "
        "for example P30D (30 days), P6W (6 weeks), P3M (3 months), P1Y6M (a year and a half)",
        f"{path}:9:9: error: milestone 'm' is missing the required key 'title'",
        f"{path}:9:17: error: unknown key 'titel' in milestone 'm'; did you mean 'title'?",
        f"{path}: invalid (3 error(s))",
    ]


def test_make_run_shows_tree_and_timeline(tmp_path):
    show = wijkkompas("workflow", "show", "wijkkompas", cwd=tmp_path)
    timeline = wijkkompas(
        "workflow", "timeline", "wijkkompas", "--start", "2027-01-04", cwd=tmp_path
    )
    assert show.returncode == 0
    assert timeline.returncode == 0
    for phase in (
        "Samen starten",
        "Karakteriseren van het gebied",
        "Keuzes maken",
        "Voorbereiding",
    ):
        assert phase in show.stdout
        assert phase in timeline.stdout

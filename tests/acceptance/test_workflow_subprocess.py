"""The installed ``wijkkompas`` program, run as a newcomer would run it."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRAM = Path(sys.executable).with_name("wijkkompas")


def wijkkompas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROGRAM), *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def listed_commands(help_text: str) -> set[str]:
    """The names click lists under 'Commands:' (two spaces in, then the name): not words of
    the group's description, which names the commands too."""
    _, found, listing = help_text.partition("\nCommands:\n")
    assert found, f"no 'Commands:' section in:\n{help_text}"
    return {match.group(1) for match in re.finditer(r"^  (\S+)", listing, re.M)}


def test_help_lists_the_workflow_commands(tmp_path):
    result = wijkkompas("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "workflow" in listed_commands(result.stdout)
    sub = wijkkompas("workflow", "--help", cwd=tmp_path)
    assert sub.returncode == 0
    expected = {"validate", "list", "show", "diagram", "timeline", "schema", "versions"}
    assert expected <= listed_commands(sub.stdout)


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


def test_the_shipped_method_shows_its_phases_in_tree_and_timeline(tmp_path):
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


def _read_lines(stream: IO[str] | None, sink: queue.Queue[str | None]) -> None:
    """Every line of ``stream`` into ``sink``, then None at its end."""
    for line in stream or ():
        sink.put(line)
    sink.put(None)


@pytest.mark.slow
def test_make_run_seeds_the_demo_serves_the_api_and_runs_the_scheduler(tmp_path):
    """The real `make run`: the Makefile's own run target in an empty directory, with this
    virtual environment (``-o`` keeps make from installing it again). It prints a token for the
    demo programme office, serves the API with it, and runs the scheduler until its first pass
    has delivered; then Ctrl-C (SIGINT to the whole process group, as a terminal sends it) must
    stop both cleanly."""
    make = shutil.which("make")
    assert make, "make is not installed: `make run` and `make test` need it"
    venv = Path(sys.executable).parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKKOMPAS_")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        env["WIJKKOMPAS_PORT"] = port = str(probe.getsockname()[1])
    command = [make, "--no-print-directory", "-f", str(REPO / "Makefile"), f"VENV={venv}",
               "-o", f"{venv}/.installed", "run"]  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []
    with subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 90
            while not (
                any("pass mode=instant" in line for line in output)
                and any("serving the API at" in line for line in output)
            ):
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, "make run ended before it served:\n" + "".join(output)
                output.append(line)
            token = re.search(r"programme office \(valid one day\): (wk_\S+)", "".join(output))
            assert token, "".join(output)
            answer = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/status",
                headers={"Authorization": f"Bearer {token.group(1)}"},
            )
            assert answer.status_code == 200, answer.text
            served = len(answer.json()["items"])
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            reader.join(timeout=10)
    while (line := lines.get(timeout=10)) is not None:
        output.append(line)
    text = "".join(output)
    seeded = re.search(r"^demo: (\d+) instances with \d+ events seeded, ", text, re.M)
    assert seeded, text
    assert re.search(rf"^{seeded.group(1)} wijken en deelprojecten · ", text, re.M), text  # status
    assert served == int(seeded.group(1))
    assert f"scheduler: delivering into {tmp_path / 'maildir' / 'new'}" in text
    sent = re.search(r"pass mode=instant .*messages=(\d+) .*failed=0 ", text)
    assert sent, text
    assert int(sent.group(1)) > 0
    assert len(list((tmp_path / "maildir" / "new").glob("*.eml"))) == int(sent.group(1))
    assert (tmp_path / "wijkkompas.db").is_file()
    assert "scheduler: stopped" in text, text
    assert "Finished server process" in text, text

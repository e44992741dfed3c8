"""`make test` fails a test that hangs instead of hanging itself (a per-test timeout)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_every_test_has_a_default_timeout(pytestconfig: pytest.Config) -> None:
    timeout = float(pytestconfig.getini("timeout"))
    assert 60 <= timeout <= 300  # room for the slowest test on two busy cores, no more


def test_a_hanging_test_fails_under_the_suites_configuration(tmp_path: Path) -> None:
    hanging = tmp_path / "test_hangs.py"
    hanging.write_text(
        textwrap.dedent(
            """\
            import time

            def test_hangs():
                time.sleep(600)
            """
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
            "-o", "timeout=2", str(hanging),
        ],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Timeout" in result.stdout

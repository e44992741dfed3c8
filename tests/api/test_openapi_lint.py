"""The OpenAPI document follows the NLGov REST API Design Rules 2.0: comply or explain.

Spectral (pinned in tools/api-lint) lints each document with the rule set Logius publishes for
the rules (vendored unchanged, see tools/api-lint/SOURCE.md). Every finding of severity error
fails, unless its rule is in EXPLAINED, whose entries each point to their explanation in
docs/api.md; an entry that no longer fires fails too, so the list stays honest.

Two fixtures prove the lint can pass and can fail: a small realistic document that complies, and
the same with planted violations. docs/openapi.json is linted once the HTTP API commits it.

Without node or the installed CLI the lint tests skip with the reason (``make test`` installs
the CLI when npm is there); with CI=true they fail instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_DIR = REPO / "tools" / "api-lint"
RULESET = LINT_DIR / "wijkkompas.spectral.yml"
LOGIUS_RULESET = LINT_DIR / "logius-adr.spectral.yml"
SPECTRAL = LINT_DIR / "node_modules" / ".bin" / "spectral"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
COMPLIANT = FIXTURES / "compliant.openapi.json"
VIOLATIONS = FIXTURES / "violations.openapi.json"
API_DOCUMENT = REPO / "docs" / "openapi.json"
API_MD = REPO / "docs" / "api.md"
NPM_REGISTRY = "https://registry.npmjs.org/"
INSTALL_HINT = (
    "run `make test` or `npm ci --prefix tools/api-lint --no-audit --no-fund --ignore-scripts`"
)

# Spectral's severities in --format json.
ERROR = 0


@dataclass(frozen=True, kw_only=True)
class Explained:
    """A rule we do not comply with, and the section of docs/api.md that says why."""

    rule: str
    explanation: str  # the heading's anchor in docs/api.md


EXPLAINED = (Explained(rule="openapi3", explanation="openapi3-the-document-is-openapi-31-not-30"),)


@dataclass(frozen=True, kw_only=True)
class Finding:
    rule: str
    severity: int
    where: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.where} (line {self.line}): {self.message}"


@dataclass(frozen=True, kw_only=True)
class Lint:
    exit_status: int
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == ERROR)

    @property
    def unexplained_errors(self) -> tuple[Finding, ...]:
        explained = {entry.rule for entry in EXPLAINED}
        return tuple(f for f in self.errors if f.rule not in explained)


def spectral_or_skip() -> Path:
    if shutil.which("node") is None:
        reason = "node is not on PATH, so the Spectral CLI cannot run"
    elif not SPECTRAL.exists():
        missing = "" if shutil.which("npm") else " and npm is not on PATH to install it"
        reason = f"the Spectral CLI is not installed in tools/api-lint/node_modules{missing}"
    else:
        return SPECTRAL
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; with CI=true the OpenAPI lint is required ({INSTALL_HINT})")
    pytest.skip(f"{reason}; {INSTALL_HINT}")


@cache
def _run_spectral(document: Path) -> Lint:
    completed = subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            "--ruleset",
            str(RULESET),
            "--format",
            "json",
            "--fail-severity",
            "error",
            "--quiet",
            str(document),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode not in (0, 1):
        pytest.fail(
            f"spectral crashed on {document.relative_to(REPO)} (exit {completed.returncode}): "
            f"{completed.stderr.strip() or completed.stdout.strip()}"
        )
    findings = tuple(
        Finding(
            rule=item["code"],
            severity=item["severity"],
            where=".".join(str(part) for part in item["path"]) or "(document)",
            line=item["range"]["start"]["line"] + 1,
            message=item["message"],
        )
        for item in json.loads(completed.stdout)
    )
    lint = Lint(exit_status=completed.returncode, findings=findings)
    # The exit status and the parsed findings must tell the same story, or we are not reading
    # what Spectral decided.
    assert (lint.exit_status == 1) == bool(lint.errors), (
        f"spectral exit {lint.exit_status} but errors parsed: {[str(f) for f in lint.errors]}"
    )
    return lint


def lint(document: Path) -> Lint:
    spectral_or_skip()
    return _run_spectral(document)


def assert_complies(result: Lint, document: Path) -> None:
    name = document.relative_to(REPO)
    assert not result.unexplained_errors, (
        f"{name} breaks the NLGov API Design Rules; comply, or add the rule to EXPLAINED "
        "with a section in docs/api.md:\n"
        + "\n".join(f"  {finding}" for finding in result.unexplained_errors)
    )
    fired = {finding.rule for finding in result.errors}
    stale = [entry.rule for entry in EXPLAINED if entry.rule not in fired]
    assert not stale, (
        f"EXPLAINED lists rules that {name} no longer breaks: {stale}; remove them "
        "here and their sections in docs/api.md"
    )


def github_anchor(heading: str) -> str:
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_the_compliant_fixture_passes_with_only_explained_findings():
    result = lint(COMPLIANT)
    assert_complies(result, COMPLIANT)


def test_planted_violations_fail_the_lint_where_they_were_planted():
    result = lint(VIOLATIONS)

    assert result.exit_status == 1
    unexplained = {(f.rule, f.where) for f in result.unexplained_errors}
    assert unexplained == {
        ("path-keys-no-trailing-slash", "paths./instances/"),
        ("missing-version-header", "paths./instances/{key}.get.responses.200.headers"),
    }
    with pytest.raises(AssertionError, match="missing-version-header"):
        assert_complies(result, VIOLATIONS)


def test_the_committed_openapi_document_complies():
    if not API_DOCUMENT.exists():
        pytest.skip("docs/openapi.json is not committed yet (the HTTP API brings it)")
    assert_complies(lint(API_DOCUMENT), API_DOCUMENT)


def test_every_explained_rule_has_its_section_in_docs_api_md():
    text = API_MD.read_text(encoding="utf-8")
    headings = {
        github_anchor(match.group(2)): match.group(2)
        for match in re.finditer(r"^(#{2,6}) (.+)$", text, re.M)
    }
    for entry in EXPLAINED:
        assert entry.explanation in headings, (
            f"EXPLAINED points {entry.rule} to docs/api.md#{entry.explanation}, which is no heading"
        )
        assert entry.rule in headings[entry.explanation], (
            f"the section docs/api.md#{entry.explanation} does not name the rule {entry.rule}"
        )


def test_the_vendored_rule_set_is_the_file_source_md_names():
    # Git's blob id of the file, so anyone can compare it with the Logius repository.
    content = LOGIUS_RULESET.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()
    source = (LINT_DIR / "SOURCE.md").read_text(encoding="utf-8")
    assert f"`{blob}`" in source, (
        "tools/api-lint/logius-adr.spectral.yml differs from the file SOURCE.md records; "
        "vendor it unchanged and update SOURCE.md"
    )


def test_the_spectral_lock_installs_only_from_the_public_npm_registry():
    manifest = json.loads((LINT_DIR / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((LINT_DIR / "package-lock.json").read_text(encoding="utf-8"))
    pinned = manifest["dependencies"]["@stoplight/spectral-cli"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"spectral-cli is not pinned: {pinned!r}"
    packages = {name: entry for name, entry in lock["packages"].items() if name}
    assert packages["node_modules/@stoplight/spectral-cli"]["version"] == pinned
    elsewhere = {
        name: entry.get("resolved")
        for name, entry in packages.items()
        if not str(entry.get("resolved", "")).startswith(NPM_REGISTRY)
    }
    assert not elsewhere, f"packages not from {NPM_REGISTRY}: {elsewhere}"
    unchecked = [name for name, entry in packages.items() if "sha512-" not in entry["integrity"]]
    assert not unchecked, f"packages without a sha512 integrity: {unchecked}"

"""Property-based tests of the live server against the committed OpenAPI document
(schemathesis): for every operation, generated requests (valid and not) get no 5xx, and every
response conforms to what the document says (status codes, content type, body schema, headers).

Bounded: a few examples per operation (hypothesis, no shrinking deadline), on a SQLite file, as
the programme office of the seeded programme with a few instances, so that generated keys
sometimes hit one and most requests exercise the refusals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.live import LiveServer

pytestmark = [pytest.mark.xdist_group("api"), pytest.mark.slow, pytest.mark.timeout(300)]

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES = 8


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_operation_keeps_its_documented_contract(server: LiveServer) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    for owner in ("deltawonen", "swz"):
        server.programme.instance(owner)
    schema = schemathesis.openapi.from_path(DOCUMENT)
    headers = {"Authorization": f"Bearer {server.programme.tokens['programme_office']}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server.url + "/api/v1", headers=headers, checks=checks)

        try:
            run()
        except Exception as exc:  # collect them all: one report for the whole API
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert not failures, "\n\n".join(failures)

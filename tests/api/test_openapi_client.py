"""A client written from ``docs/openapi.json`` alone runs a wijk through two phases, on SQLite
and PostgreSQL, and sees what the command line sees.

``DocumentClient`` knows nothing of the server but the committed document: it finds each
operation by its operationId or by method and path, fills the path parameters, checks a JSON
body against the request schema before sending it, and checks every answer against the
document: its status is one the operation lists, its media type one that status lists, and its
body valid against that schema (JSON Schema 2020-12, ``$ref`` resolved into the document's
components).

With it, as the programme office, the test creates a wijk and a deelproject, then does what an
integrator would: asks to advance, reads what the gate still needs from the 409 problem
(``unmet``), records those milestones as done (or skipped) and gives the approvals, and asks
again, through two phases. At the end ``GET /instances/{key}`` equals ``instance show KEY
--json`` of the command line on the same database, and the event feed holds every event of
both instances once, in order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from cli import main
from tests.api.live import LiveServer

pytestmark = [pytest.mark.xdist_group("api"), pytest.mark.slow]

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
BASE_URI = "urn:wijkkompas:openapi"
METHODS = ("get", "put", "post", "patch", "delete")

SKIPPED = {"intentieovereenkomst": "the partners sign it later", "gebiedsprofiel": "not needed"}
"""Milestones the integrator skips (with a reason) instead of recording them as done."""


class DocumentMismatch(AssertionError):
    """A request or an answer does not fit the OpenAPI document."""


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class DocumentClient:
    """Calls the API as the OpenAPI document describes it, and holds every answer to it."""

    def __init__(self, document: dict[str, Any], http: httpx.Client) -> None:
        self.document = document
        self.http = http
        self.base = document["servers"][0]["url"].rstrip("/")
        self.registry: Registry[Any] = Registry().with_resource(
            BASE_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self.operations: dict[str, tuple[str, str]] = {}
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    operation_id = item[method].get("operationId", f"{method} {path}")
                    self.operations[operation_id] = (method, path)
        self.sent = 0
        self.checked = 0
        """Answers whose body was checked against a schema of the document."""

    def _find(self, operation: str) -> tuple[str, str, dict[str, Any]]:
        """``operation``: an operationId, or ``METHOD /path/{param}``."""
        if " " in operation:
            method, path = operation.split(" ", 1)
            method = method.lower()
        elif operation in self.operations:
            method, path = self.operations[operation]
        else:
            raise DocumentMismatch(f"the document has no operation {operation!r}")
        found = self.document["paths"].get(path, {}).get(method)
        if found is None:
            raise DocumentMismatch(f"the document has no {method.upper()} {path}")
        return method, path, found

    def _validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{BASE_URI}#{pointer}"}, registry=self.registry)

    def call(
        self,
        operation: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **parameters: str,
    ) -> httpx.Response:
        method, path, spec = self._find(operation)
        names = {p["name"] for p in spec.get("parameters", []) if p["in"] == "path"}
        if names != set(parameters):
            raise DocumentMismatch(f"{path} takes the path parameters {sorted(names)}")
        url = self.base + path.format(**{k: quote(v, safe="") for k, v in parameters.items()})
        where = f"/paths/{_escape(path)}/{method}"
        if body is not None:
            content = spec.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                raise DocumentMismatch(f"{method.upper()} {path} takes no JSON body")
            schema = f"{where}/requestBody/content/application~1json/schema"
            errors = [e.message for e in self._validator(schema).iter_errors(body)]
            if errors:
                raise DocumentMismatch(f"the body for {path} does not fit: {errors}")
        answer = self.http.request(method, url, json=body, params=query, headers=headers)
        self.sent += 1
        self._check(answer, spec, where)
        return answer

    def _check(self, answer: httpx.Response, spec: dict[str, Any], where: str) -> None:
        status = str(answer.status_code)
        responses = spec["responses"]
        if status not in responses:
            raise DocumentMismatch(
                f"{where}: status {status} is not in the document ({sorted(responses)}): "
                f"{answer.text[:300]}"
            )
        content = responses[status].get("content")
        if not content:
            return
        media = answer.headers.get("content-type", "").split(";")[0].strip()
        if media not in content:
            raise DocumentMismatch(f"{where} {status}: {media!r} is not one of {sorted(content)}")
        if "json" in media:
            pointer = f"{where}/responses/{status}/content/{_escape(media)}/schema"
            errors = [e.message for e in self._validator(pointer).iter_errors(answer.json())]
            if errors:
                raise DocumentMismatch(f"{where} {status}: the body does not fit: {errors}")
        self.checked += 1


def _expect(answer: httpx.Response, status: int) -> Any:
    assert answer.status_code == status, answer.text[:500]
    return answer.json()


def _through_the_gate(api: DocumentClient, key: str) -> list[str]:
    """Advance ``key`` into its next phase, doing what the gate's 409 problem says is missing;
    the unmet criteria met along the way."""
    met: list[str] = []
    for _ in range(20):
        tried = api.call("POST /instances/{key}/advance", key=key)
        if tried.status_code == 200:
            return met
        problem = _expect(tried, 409)
        assert problem["code"] == "gate-not-met", problem
        progress = False
        for unmet in problem["unmet"]:
            if unmet["code"] == "milestone-open":
                milestone = unmet["milestone"]
                if milestone in SKIPPED:
                    answer = api.call(
                        "milestone_skip_api_v1_instances__key__milestones__milestone__skip_post",
                        key=key,
                        milestone=milestone,
                        body={"reason": SKIPPED[milestone]},
                    )
                else:
                    answer = api.call(
                        "POST /instances/{key}/milestones/{milestone}/done",
                        key=key,
                        milestone=milestone,
                        body={"evidence": f"https://docs.example/{key}/{milestone}"},
                    )
            elif unmet["code"] == "approval-missing":
                milestone = unmet["approval"]
                answer = api.call(
                    "POST /instances/{key}/approvals/{approval}",
                    key=key,
                    approval=milestone,
                    body={"decision": "go", "ref": f"besluit {key} {milestone}"},
                )
            else:
                raise AssertionError(f"the integrator cannot meet {unmet}")
            if answer.status_code == 200:
                met.append(milestone)
                progress = True
                moved = [
                    e
                    for e in answer.json()["followed"]
                    if e["type"] in ("phase_advanced", "instance_completed")
                ]
                if moved:  # an automatic gate: the engine moved on by itself
                    return met
            else:
                # Its turn has not come (it depends on one still open): next time round.
                assert _expect(answer, 409)["code"] == "rule-violation", answer.text
        assert progress, f"nothing of {problem['unmet']} could be met"
    raise AssertionError(f"{key} did not pass its gate")


def _cli_show(db_url: str, key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["--db", db_url, "instance", "show", key, "--json"])
    assert result.exit_code == 0, (result.output, result.stderr)
    return json.loads(result.stdout)


def test_a_client_from_the_document_runs_a_wijk_through_two_phases(
    server: LiveServer, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    with server.client("programme_office") as http:
        api = DocumentClient(document, http)
        wijk = {
            "key": "wk-holtenbroek",
            "workflow": "wijkkompas",
            "title": "Holtenbroek",
            "regie": {"type": "gemeente", "organisation": "Gemeente Zwolle"},
            "areas": ["WK019303"],
        }
        created = _expect(api.call("POST /instances", body=wijk), 201)
        assert (created["key"], created["phase"]) == ("wk-holtenbroek", "samen-starten")
        deel = _expect(
            api.call(
                "create_instance_api_v1_instances_post",
                body={
                    **wijk,
                    "key": "wk-holtenbroek-noord",
                    "title": "Holtenbroek Noord",
                    "parent": "wk-holtenbroek",
                    "areas": [],
                },
            ),
            201,
        )
        assert deel["key"] == "wk-holtenbroek-noord"
        _expect(
            api.call(
                "POST /instances/{key}/milestones/{milestone}/done",
                key="wk-holtenbroek-noord",
                milestone="aanleiding-en-opdracht",
            ),
            200,
        )
        children = _expect(api.call("GET /instances/{key}/children", key="wk-holtenbroek"), 200)
        assert [c["key"] for c in children["items"]] == ["wk-holtenbroek-noord"]

        first = _through_the_gate(api, "wk-holtenbroek")
        assert "college" in first
        assert set(SKIPPED) & set(first) == {"intentieovereenkomst"}
        shown = _expect(api.call("GET /instances/{key}", key="wk-holtenbroek"), 200)
        assert shown["phase"] == "karakteriseren"

        second = _through_the_gate(api, "wk-holtenbroek")
        assert "stuurgroep" in second
        assert "gebiedsprofiel" in second
        api_view = _expect(api.call("GET /instances/{key}", key="wk-holtenbroek"), 200)
        assert api_view["phase"] == "samen-plannen"
        deel_view = _expect(api.call("GET /instances/{key}", key="wk-holtenbroek-noord"), 200)

        logs = {
            key: _expect(api.call("GET /instances/{key}/events", key=key), 200)["items"]
            for key in ("wk-holtenbroek", "wk-holtenbroek-noord")
        }
        fed: list[dict[str, Any]] = []
        after = 0
        while True:
            page = _expect(api.call("GET /events", query={"after": after, "limit": 7}), 200)
            fed += page["items"]
            if not page["items"]:
                break
            assert page["next_after"] == page["items"][-1]["position"]
            after = page["next_after"]
        audit = _expect(api.call("GET /audit"), 200)
        assert (audit["intact"], audit["consistent"]) == (True, True)
        assert api.checked == api.sent  # every answer above was checked against the document

    assert api_view == _cli_show(db_url, "wk-holtenbroek", monkeypatch, tmp_path)
    assert deel_view == _cli_show(db_url, "wk-holtenbroek-noord", monkeypatch, tmp_path)

    positions = [item["position"] for item in fed]
    assert positions == sorted(set(positions)), "the feed repeats or reorders positions"
    for key, log in logs.items():
        from_feed = [(i["seq"], i["hash"]) for i in fed if i["instance"] == key]
        assert from_feed == [(e["seq"], e["hash"]) for e in log], key
        assert [seq for seq, _ in from_feed] == list(range(1, len(log) + 1))
    assert len(logs["wk-holtenbroek"]) == api_view["events"]
    # The principal recorded everything but karakteriseren's automatic advance (the engine's).
    assert {e["by"] for e in logs["wk-holtenbroek"]} == {
        "gemeente-zwolle/programme_office",
        "engine",
    }


def test_the_client_refuses_what_the_document_does_not_have(server: LiveServer) -> None:
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    with server.client("programme_office") as http:
        api = DocumentClient(document, http)
        with pytest.raises(DocumentMismatch, match="no GET /nowhere"):
            api.call("GET /nowhere")
        with pytest.raises(DocumentMismatch, match="does not fit"):
            api.call("POST /instances", body={"key": "x"})  # no workflow, title, regie
        with pytest.raises(DocumentMismatch, match="path parameters"):
            api.call("GET /instances/{key}")
        # An answer the document does not list is caught too.
        bare = {**document, "paths": {"/instances": {"get": {"responses": {"201": {}}}}}}
        with pytest.raises(DocumentMismatch, match="status 200 is not in the document"):
            DocumentClient(bare, http).call("GET /instances")

"""The first instances of a workflow, started at the same moment by several clients, all start,
on SQLite and PostgreSQL, and the workflow version is stored once.

The first instance on a workflow version stores its definition; a second one racing it used to
fail its unique insert and answer 412 ``conflict`` ("stored by someone else meanwhile"), a
status that means "your If-Match is stale" to a client that sent none.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from adapters.http.app import PREFIX
from tests.api.live import LiveServer

pytestmark = pytest.mark.xdist_group("api")

CLIENTS = 12
WORKFLOWS = {
    # workflow: a regie type it allows
    "wijkkompas": "gemeente",
    "collectieve-aanpak": "bewonersinitiatief",
    "corporatie-renovatie": "woningcorporatie",
}


def test_the_first_instances_of_a_workflow_at_once_all_start(server: LiveServer) -> None:
    for workflow, regie in WORKFLOWS.items():
        barrier = threading.Barrier(CLIENTS, timeout=30)

        def create(
            i: int,
            workflow: str = workflow,
            regie: str = regie,
            barrier: threading.Barrier = barrier,
        ) -> httpx.Response:
            with server.client("programme_office") as http:
                barrier.wait()
                return http.post(
                    f"{PREFIX}/instances",
                    json={
                        "key": f"{workflow}-{i}",
                        "workflow": workflow,
                        "title": f"Buurt {i}",
                        "regie": {"type": regie},
                    },
                )

        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(create, range(CLIENTS)))
        assert [a.status_code for a in answers] == [201] * CLIENTS, [
            a.text[:200] for a in answers if a.status_code != 201
        ]
        with server.client("programme_office") as http:
            versions = http.get(f"{PREFIX}/workflows/{workflow}/versions").json()["items"]
            listed = http.get(f"{PREFIX}/instances", params={"workflow": workflow}).json()
        assert len(versions) == 1, versions
        assert len(listed["items"]) == CLIENTS
        assert {i["workflow"]["version"] for i in listed["items"]} == {versions[0]["version"]}

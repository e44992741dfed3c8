"""The API tests run against a live server on loopback, on a SQLite file and on PostgreSQL (the
database fixtures are the integration tests')."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import LiveServer, live_server
from tests.integration.conftest import db_url, postgres_url

__all__ = ["db_url", "postgres_url"]


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(db_url, tmp_path) as live:
        yield live

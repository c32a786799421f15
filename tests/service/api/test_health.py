"""/healthz, /readyz: what probes see. A load balancer that sends traffic to a replica whose
database is gone, or whose schema is older than its code, fails these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from parzen.service.config import Settings
from parzen.service.db.migrate import head_revision, upgrade
from parzen.service.main import create_app
from parzen.service.server import free_port


def _probe(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:  # no token: probes carry none
        yield client


@pytest.fixture
def old_schema(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    yield from _probe(Settings(database_url=url, artifact_dir=tmp_path / "a"))


def test_ready_at_head_without_a_token(client: TestClient) -> None:
    del client.headers["Authorization"]
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_old_schema_is_not_ready_and_says_to_migrate(old_schema: TestClient) -> None:
    ready = old_schema.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["detail"] == (
        f"schema at 0002, server needs {head_revision()}: run `parzen migrate`"
    )
    assert old_schema.get("/healthz").status_code == 200  # alive all the same: no restart


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_unreachable_database_is_not_ready(kind: str, tmp_path: Path) -> None:
    url = (
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"  # nobody listens
        if kind == "postgresql"
        else f"sqlite:///{tmp_path / 'removed' / 'parzen.db'}"  # a directory that is not there
    )
    for client in _probe(Settings(database_url=url, artifact_dir=tmp_path / "a")):
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"].startswith("database unreachable: ")
        assert client.get("/healthz").status_code == 200
        scraped = client.get("/metrics")  # a scrape still answers, and says the database is down
        assert scraped.status_code == 200 and "parzen_database_up 0.0" in scraped.text

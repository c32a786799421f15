"""Errors a client can act on: 503 + Retry-After when the database cannot answer (nothing
applied), an answer built from what was committed, and 500s that say the connection closes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.service.storage import Storage
from tests.service.factories import study_spec
from tests.service.writes import api_tell


class Breaker:
    """Makes every statement fail as a dead database connection does, from the moment
    `break_now` is called, or from the commit of the first transaction that tells a trial."""

    def __init__(self, storage: Storage) -> None:
        self.broken = self.after_tell = self.told = False
        self._engine = storage.engine
        event.listen(self._engine, "before_cursor_execute", self._execute)
        event.listen(self._engine, "commit", self._commit)

    def _execute(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.broken:
            raise OperationalError(statement, {}, Exception("server closed the connection"))
        if self.after_tell and statement.startswith("UPDATE trials SET state"):
            self.told = True

    def _commit(self, _conn: Any) -> None:
        self.broken = self.broken or self.told

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._execute)
        event.remove(self._engine, "commit", self._commit)


@pytest.fixture
def breaker(storage: Storage) -> Any:
    b = Breaker(storage)
    yield b
    b.close()


def _leased(client: TestClient, storage: Storage) -> dict[str, Any]:
    storage.create_study(spec=study_spec())
    trial: dict[str, Any] = client.post("/api/v1/studies/study/ask", json={}).json()["trial"]
    return trial


def test_database_unavailable_answers_503_with_retry_after_and_applies_nothing(
    client: TestClient, storage: Storage, breaker: Breaker
) -> None:
    """Fails if a dead database answers a plain-text 500 (the SDK would still retry, but
    nothing says when, or that nothing was applied)."""
    trial = _leased(client, storage)
    breaker.broken = True
    response = api_tell(client, trial, "complete", 0.5)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    assert "database is unavailable" in response.json()["detail"]
    breaker.broken = False
    assert storage.get_trial(study_name="study", number=1).state == "running"
    assert api_tell(client, trial, "complete", 0.5).status_code == 200


def test_a_committed_tell_answers_what_it_committed(
    client: TestClient, storage: Storage, breaker: Breaker
) -> None:
    """Fails if the answer to a tell is read after its commit: a database that goes away in
    between turns an applied tell into a 5xx, and 5xx must mean nothing was applied."""
    trial = _leased(client, storage)
    breaker.after_tell = True
    response = api_tell(client, trial, "complete", 0.5)
    breaker.broken = breaker.after_tell = False
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "complete" and response.json()["value"] == 0.5
    assert storage.get_trial(study_name="study", number=1).state == "complete"


class _BrokenWorkers(Storage):
    def list_workers(self) -> list[Any]:
        raise RuntimeError("a bug")


def test_a_500_is_json_and_says_the_connection_closes(settings: Settings, storage: Storage) -> None:
    """Fails if a 500 leaves the keep-alive connection looking reusable: the server drops it,
    and the client's next request on it is reset."""
    broken = _BrokenWorkers(storage.engine)
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with (
        ServerThread(create_app(settings, broken)) as server,
        httpx.Client(base_url=server.url, headers=headers, limits=limits) as http,
    ):
        assert http.get("/healthz").status_code == 200  # the one connection is open
        response = http.get("/api/v1/workers")
        assert response.status_code == 500
        assert response.headers["connection"] == "close"
        assert "RuntimeError" in response.json()["detail"]
        for _ in range(3):  # the client knew to open a new connection
            assert http.get("/healthz").status_code == 200

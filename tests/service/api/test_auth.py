from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.service.api.test_studies import study_body


def _token(client: TestClient, role: str) -> str:
    created = client.post("/api/v1/tokens", json={"role": role, "name": f"{role} test"})
    assert created.status_code == 201
    return str(created.json()["token"])


def test_missing_and_wrong_tokens_get_401_and_no_data(client: TestClient) -> None:
    client.post("/api/v1/studies", json=study_body())
    anonymous = client.get("/api/v1/studies", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and "s1" not in anonymous.text
    wrong = client.get("/api/v1/studies", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "s1" not in wrong.text


def test_roles(client: TestClient) -> None:
    viewer = {"Authorization": f"Bearer {_token(client, 'viewer')}"}
    worker = {"Authorization": f"Bearer {_token(client, 'worker')}"}
    assert client.post("/api/v1/studies", json=study_body(), headers=worker).status_code == 403
    assert client.post("/api/v1/studies", json=study_body()).status_code == 201
    assert client.get("/api/v1/studies/s1", headers=viewer).status_code == 200
    refused = client.post("/api/v1/studies/s1/ask", headers=viewer)
    assert refused.status_code == 403 and "worker" in refused.json()["detail"]
    asked = client.post("/api/v1/studies/s1/ask", headers=worker)
    assert asked.status_code == 200
    assert client.post("/api/v1/tokens", json={"role": "admin"}, headers=worker).status_code == 403
    assert client.post("/api/v1/studies/s1/stop", headers=worker).status_code == 403


def test_tokens_are_stored_hashed_and_can_be_revoked(client: TestClient, storage: Storage) -> None:
    token = _token(client, "viewer")
    with storage.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM tokens").scalars().all()
    assert token not in stored and all(len(h) == 64 for h in stored)
    listed = client.get("/api/v1/tokens").json()["data"]
    viewer_id = next(t["id"] for t in listed if t["role"] == "viewer")
    assert client.delete(f"/api/v1/tokens/{viewer_id}").status_code == 204
    after = client.get("/api/v1/studies", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401


def test_wrong_tokens_are_throttled_per_address_with_retry_after(
    client: TestClient, settings: Settings
) -> None:
    """Past PARZEN_AUTH_FAILURES_PER_MINUTE wrong tokens an address gets 429, even with a good
    token (else a right guess would still get through); other addresses are not affected."""
    limit = settings.auth_failures_per_minute
    for attempt in range(limit):
        wrong = client.get("/api/v1/studies", headers={"Authorization": f"Bearer guess{attempt}"})
        assert wrong.status_code == 401
    blocked = client.get("/api/v1/studies", headers={"Authorization": "Bearer guess"})
    assert blocked.status_code == 429 and "try again" in blocked.json()["detail"]
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert client.get("/api/v1/studies").status_code == 429  # the admin token, same address
    elsewhere = TestClient(client.app, client=("192.0.2.7", 40000))
    elsewhere.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    assert elsewhere.get("/api/v1/studies").status_code == 200
    data = client.get("/dashboard/api/studies", headers={"Authorization": "Bearer guess"})
    assert data.status_code == 429 and "retry-after" in data.headers


def test_a_missing_token_is_not_counted_as_a_guess(client: TestClient, settings: Settings) -> None:
    for _ in range(settings.auth_failures_per_minute + 5):
        assert client.get("/api/v1/studies", headers={"Authorization": ""}).status_code == 401
    assert client.get("/api/v1/studies").status_code == 200


def test_a_short_admin_token_is_refused_with_how_to_make_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARZEN_ADMIN_TOKEN", "a")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "at least 16 characters" in str(refused.value)
    assert "secrets.token_urlsafe(32)" in str(refused.value)
    monkeypatch.setenv("PARZEN_ADMIN_TOKEN", "x" * 16)
    assert Settings().admin_token == "x" * 16


def test_start_up_warns_once_when_no_admin_token_exists(
    database_url: str, tmp_path: Path, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """Auth on and no admin token anywhere: nobody could create a study or a token."""
    caplog.set_level(logging.WARNING, "parzen.service")
    settings = Settings(database_url=database_url, artifact_dir=tmp_path)
    with TestClient(create_app(settings, storage)) as anonymous:
        anonymous.get("/healthz")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no admin token" in warnings[0]
    assert "PARZEN_ADMIN_TOKEN=$(python -c" in warnings[0]
    caplog.clear()
    storage.create_token(role="admin", name="first")
    with TestClient(create_app(settings, storage)):
        pass
    assert not [r for r in caplog.records if "no admin token" in r.getMessage()]


def test_a_token_revoked_on_one_replica_is_refused_by_another_after_the_cache_seconds(
    settings: Settings, storage: Storage
) -> None:
    """PARZEN_TOKEN_CACHE_SECONDS bounds how long another replica trusts a revoked token."""
    import time

    settings = settings.model_copy(update={"token_cache_seconds": 0.5})
    other = Storage(storage.engine)
    with (
        TestClient(create_app(settings, storage)) as here,
        TestClient(create_app(settings, other)) as there,
    ):
        here.headers["Authorization"] = there.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        token = _token(here, "viewer")
        viewer = {"Authorization": f"Bearer {token}"}
        assert there.get("/api/v1/studies", headers=viewer).status_code == 200
        viewer_id = next(
            t["id"] for t in here.get("/api/v1/tokens").json()["data"] if t["name"] == "viewer test"
        )
        assert here.delete(f"/api/v1/tokens/{viewer_id}").status_code == 204
        revoked_at = time.monotonic()
        assert here.get("/api/v1/studies", headers=viewer).status_code == 401
        if time.monotonic() - revoked_at < 0.4:
            assert there.get("/api/v1/studies", headers=viewer).status_code == 200
        time.sleep(0.6)
        assert there.get("/api/v1/studies", headers=viewer).status_code == 401

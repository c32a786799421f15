from __future__ import annotations

from fastapi.testclient import TestClient

from service.storage import Storage
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
    listed = client.get("/api/v1/tokens").json()
    viewer_id = next(t["id"] for t in listed if t["role"] == "viewer")
    assert client.delete(f"/api/v1/tokens/{viewer_id}").status_code == 204
    after = client.get("/api/v1/studies", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401

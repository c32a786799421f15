from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.api.test_studies import study_body
from tests.service.writes import api_tell


def _register(client: TestClient, builders: list[str], datasets: list[str]) -> str:
    body = {"host": "node-1", "pid": 42, "gpu": "0", "builders": builders, "datasets": datasets}
    response = client.post("/api/v1/workers", json=body)
    assert response.status_code == 201
    return str(response.json()["id"])


def test_lease_only_hands_out_what_the_worker_can_run(client: TestClient) -> None:
    client.post("/api/v1/studies", json=study_body())  # mlp on digits
    unable = _register(client, ["convnet"], ["digits"])
    assert client.post(f"/api/v1/workers/{unable}/lease").json()["status"] == "done"
    able = _register(client, ["mlp", "convnet"], ["digits"])
    leased = client.post(f"/api/v1/workers/{able}/lease").json()
    assert leased["status"] == "ok" and leased["trial"]["study"] == "s1"
    workers = {w["id"]: w for w in client.get("/api/v1/workers").json()}
    assert workers[able]["current_trial_id"] == leased["trial"]["id"]
    assert workers[able]["state"] == "busy" and workers[unable]["current_trial_id"] is None
    api_tell(client, leased["trial"], "complete", 0.5)
    after = {w["id"]: w for w in client.get("/api/v1/workers").json()}[able]
    assert after["trials_done"] == 1 and after["current_trial_id"] is None


def test_unknown_worker_is_refused_as_another_tokens_worker(client: TestClient) -> None:
    """A 404 here would tell a token which worker ids exist under other tokens."""
    refused = client.post("/api/v1/workers/nope/lease")
    assert refused.status_code == 403 and "not registered with this token" in refused.text

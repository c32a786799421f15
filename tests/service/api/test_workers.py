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
    workers = {w["id"]: w for w in client.get("/api/v1/workers").json()["data"]}
    assert workers[able]["current_trial_id"] == leased["trial"]["id"]
    assert workers[able]["state"] == "busy" and workers[unable]["current_trial_id"] is None
    api_tell(client, leased["trial"], "complete", 0.5)
    after = {w["id"]: w for w in client.get("/api/v1/workers").json()["data"]}[able]
    assert after["trials_done"] == 1 and after["current_trial_id"] is None


def test_unknown_worker_is_refused_as_another_tokens_worker(client: TestClient) -> None:
    """A 404 here would tell a token which worker ids exist under other tokens."""
    refused = client.post("/api/v1/workers/nope/lease")
    assert refused.status_code == 403 and "not registered with this token" in refused.text


def _workers(client: TestClient) -> dict[str, dict[str, object]]:
    return {str(w["id"]): w for w in client.get("/api/v1/workers").json()["data"]}


def test_goodbye_marks_the_worker_exited_and_hands_its_trial_back_uncounted(
    client: TestClient,
) -> None:
    """Fails if an exiting worker stays `busy`/`idle` forever, keeps its trial until the lease
    runs out, or if handing the trial back uses up one of its max_attempts."""
    client.post("/api/v1/studies", json=study_body(max_attempts=1))
    leaving = _register(client, ["mlp"], ["digits"])
    trial = client.post(f"/api/v1/workers/{leaving}/lease").json()["trial"]

    said = client.post(f"/api/v1/workers/{leaving}/goodbye")
    assert said.status_code == 200
    assert said.json()["state"] == "exited" and said.json()["current_trial_id"] is None
    assert _workers(client)[leaving]["state"] == "exited"
    handed_back = client.get(f"/api/v1/studies/s1/trials/{trial['number']}").json()
    assert handed_back["state"] == "queued"
    assert [a["outcome"] for a in handed_back["attempts"]] == ["released"]

    # With max_attempts=1, a counted attempt would have failed the trial: it is leased again.
    other = _register(client, ["mlp"], ["digits"])
    again = client.post(f"/api/v1/workers/{other}/lease").json()["trial"]
    assert (again["id"], again["attempt"]) == (trial["id"], trial["attempt"] + 1)
    assert api_tell(client, again, "complete", 0.5).status_code == 200


def test_goodbye_is_idempotent_and_leaves_other_workers_trials_alone(client: TestClient) -> None:
    """Fails if a repeated goodbye (a retry after a lost answer) errors or hands back a trial
    that another worker now runs."""
    client.post("/api/v1/studies", json=study_body())
    leaving = _register(client, ["mlp"], ["digits"])
    staying = _register(client, ["mlp"], ["digits"])
    client.post(f"/api/v1/workers/{leaving}/lease")
    kept = client.post(f"/api/v1/workers/{staying}/lease").json()["trial"]
    assert client.post(f"/api/v1/workers/{leaving}/goodbye").status_code == 200
    repeated = client.post(f"/api/v1/workers/{leaving}/goodbye")
    assert repeated.status_code == 200 and repeated.json()["state"] == "exited"
    assert client.get(f"/api/v1/studies/s1/trials/{kept['number']}").json()["state"] == "running"
    assert _workers(client)[staying]["state"] == "busy"


def test_goodbye_only_from_the_worker_s_own_token(client: TestClient) -> None:
    """Fails if a goodbye for nobody passes silently, or a viewer token or another worker
    token can end a worker."""
    assert client.post("/api/v1/workers/nope/goodbye").status_code == 403
    worker = _register(client, ["mlp"], ["digits"])
    for role in ("viewer", "worker"):
        created = client.post("/api/v1/tokens", json={"role": role, "name": role})
        other = {"Authorization": f"Bearer {created.json()['token']}"}
        refused = client.post(f"/api/v1/workers/{worker}/goodbye", headers=other)
        assert refused.status_code == 403
    assert _workers(client)[worker]["state"] == "idle"


def test_workers_and_tokens_lists_answer_data_and_count(client: TestClient) -> None:
    """Breaks if /workers or /tokens stop answering the `{data, count}` envelope that
    /studies and /trials answer."""
    _register(client, ["mlp"], ["digits"])
    workers = client.get("/api/v1/workers").json()
    assert set(workers) == {"data", "count"} and workers["count"] == len(workers["data"]) == 1
    tokens = client.get("/api/v1/tokens").json()
    assert set(tokens) == {"data", "count"} and tokens["count"] == len(tokens["data"])

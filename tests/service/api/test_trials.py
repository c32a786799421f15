from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.api.test_studies import study_body
from tests.service.writes import api_heartbeat, api_report, api_tell


def test_ask_report_tell_cycle(client: TestClient) -> None:
    client.post("/api/v1/studies", json=study_body())
    asked = client.post("/api/v1/studies/s1/ask")
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["status"] == "ok"
    trial = body["trial"]
    assert trial["number"] == 1 and trial["attempt"] == 1
    assert trial["metric"] == "val_accuracy" and trial["objective"]["builder"] == "mlp"
    assert trial["params"]["activation"] in ("relu", "elu", "selu")
    tid = trial["id"]
    report = api_report(client, trial, 1, {"val_accuracy": 0.8, "loss": 0.4})
    assert report.json() == {"should_stop": False, "reason": ""}
    assert api_heartbeat(client, trial).json()["should_stop"] is False
    told = api_tell(client, trial, "complete", 0.8)
    assert told.status_code == 200 and told.json()["state"] == "complete"
    repeat = api_tell(client, trial, "complete", 0.8)
    assert repeat.status_code == 200
    changed = api_tell(client, trial, "complete", 0.9)
    assert changed.status_code == 409 and "already complete" in changed.json()["detail"]
    detail = client.get("/api/v1/studies/s1/trials/1").json()
    assert detail["intermediate"][0]["values"] == {"val_accuracy": 0.8, "loss": 0.4}
    assert detail["attempts"][0]["outcome"] == "complete"
    assert client.get("/api/v1/studies/s1/best").json()["number"] == 1
    assert client.get(f"/api/v1/trials/{tid}").json()["value"] == 0.8


def test_list_trials_filters_orders_and_pages(client: TestClient) -> None:
    client.post("/api/v1/studies", json=study_body(budget={"max_trials": 5, "max_parallel": 5}))
    trials = [client.post("/api/v1/studies/s1/ask").json()["trial"] for _ in range(3)]
    for trial, value in zip(trials[:2], (0.3, 0.7), strict=True):
        api_tell(client, trial, "complete", value)
    page = client.get(
        "/api/v1/studies/s1/trials", params={"state": "complete", "order": "-value"}
    ).json()
    assert page["count"] == 2 and [t["value"] for t in page["data"]] == [0.7, 0.3]
    running = client.get("/api/v1/studies/s1/trials", params={"state": ["running", "queued"]})
    assert running.json()["count"] == 1
    assert (
        client.get("/api/v1/studies/s1/trials", params={"limit": 1}).json()["data"][0]["number"]
        == 1
    )
    assert client.get("/api/v1/studies/s1/trials", params={"state": "bogus"}).status_code == 422


def test_nan_tell_fails_trial(client: TestClient) -> None:
    client.post("/api/v1/studies", json=study_body())
    trial = client.post("/api/v1/studies/s1/ask").json()["trial"]
    # Python's json writes NaN as a bare token, as many clients do.
    response = client.post(
        f"/api/v1/trials/{trial['id']}/tell",
        content='{"state": "complete", "value": NaN, "lease_token": "'
        + trial["lease_token"]
        + '"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "failed"


def test_missing_things_are_404(client: TestClient) -> None:
    assert client.post("/api/v1/studies/nope/ask").status_code == 404
    assert (
        client.post(
            "/api/v1/trials/999/tell", json={"state": "failed", "lease_token": "t"}
        ).status_code
        == 404
    )
    assert client.get("/api/v1/studies/nope/best").status_code == 404
    client.post("/api/v1/studies", json=study_body())
    best = client.get("/api/v1/studies/s1/best")
    assert best.status_code == 404 and "no complete trial" in best.json()["detail"]

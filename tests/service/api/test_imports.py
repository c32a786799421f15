"""`POST /studies/{name}/trials/import`: finished trials into a study's history."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.service.api.test_studies import study_body


def _import(client: TestClient, trials: list[dict], **headers: str):
    body = json.dumps({"trials": trials})  # NaN as JavaScript's literal, which the route takes
    headers["Content-Type"] = "application/json"
    return client.post("/api/v1/studies/s1/trials/import", content=body, headers=headers)


GOOD = {
    "params": {
        "learning_rate": 0.01,
        "units": 32,
        "activation": "elu",
        "layer": {"kind": "dense", "width": 64},
        "dropout": 0.1,
    },
    "state": "complete",
    "value": 0.9,
}


def test_imported_trials_join_the_history_and_count_toward_the_budget(client: TestClient) -> None:
    assert client.post("/api/v1/studies", json=study_body()).status_code == 201
    pruned = GOOD | {"state": "pruned", "value": 0.4}
    answer = _import(client, [GOOD, pruned, GOOD | {"value": float("nan")}])
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"numbers": [1, 2, 3]}
    study = client.get("/api/v1/studies/s1").json()
    assert study["counts"] == {"complete": 1, "pruned": 1, "failed": 1}  # NaN fails
    assert study["best_value"] == 0.9 and study["trials_created"] == 3
    trial = client.get("/api/v1/studies/s1/trials/1").json()
    assert trial["params"] == GOOD["params"] and trial["attempt"] == 0
    assert client.post("/api/v1/studies/s1/ask").json()["trial"]["number"] == 4


def test_one_invalid_trial_stores_nothing_and_names_its_path(client: TestClient) -> None:
    assert client.post("/api/v1/studies", json=study_body()).status_code == 201
    bad = GOOD | {"params": GOOD["params"] | {"layer": {"kind": "dense", "width": 9999}}}
    answer = _import(client, [GOOD, bad])
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["path"] == "$.trials[1].params.layer.width"
    assert client.get("/api/v1/studies/s1").json()["trials_created"] == 0


def test_importing_needs_an_admin_token_and_an_existing_study(client: TestClient) -> None:
    worker = client.post("/api/v1/tokens", json={"role": "worker", "name": "w"}).json()["token"]
    assert client.post("/api/v1/studies", json=study_body()).status_code == 201
    assert _import(client, [GOOD], Authorization=f"Bearer {worker}").status_code == 403
    missing = client.post("/api/v1/studies/nope/trials/import", json={"trials": [GOOD]})
    assert missing.status_code == 404

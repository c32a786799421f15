from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.service.factories import MIXED_SPACE


def study_body(name: str = "s1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "direction": "maximize",
        "metric": "val_accuracy",
        "space": MIXED_SPACE,
        "algorithm": "tpe",
        "algorithm_settings": {"n_startup_trials": 3, "gamma": 0.2},
        "objective": {"builder": "mlp", "dataset": "digits", "max_epochs": 5},
        "seed": 3,
        "budget": {"max_trials": 10, "max_parallel": 2},
    }
    return body | changes


def test_create_get_list_delete(client: TestClient) -> None:
    created = client.post("/api/v1/studies", json=study_body())
    assert created.status_code == 201, created.text
    study = created.json()
    assert study["name"] == "s1" and study["state"] == "running"
    assert study["budget"]["max_trials"] == 10
    assert study["algorithm_settings"]["n_startup_trials"] == 3
    assert study["objective"]["max_epochs"] == 5 and study["objective"]["patience"] == 3
    assert client.get("/api/v1/studies/s1").json()["seed"] == 3
    listed = client.get("/api/v1/studies").json()
    assert listed["count"] == 1 and listed["data"][0]["counts"] == {}
    assert client.delete("/api/v1/studies/s1").status_code == 204
    assert client.get("/api/v1/studies/s1").status_code == 404


def test_default_algorithm_is_multivariate_tpe_with_its_defaults(client: TestClient) -> None:
    body = study_body()
    del body["algorithm"], body["algorithm_settings"]
    study = client.post("/api/v1/studies", json=body).json()
    assert study["algorithm"] == "tpe-mv"
    assert study["algorithm_settings"] == {
        "n_startup_trials": 10,
        "gamma": 0.1,
        "n_ei_candidates": 24,
        "prior_weight": 1.0,
        "constant_liar": True,
    }


def test_duplicate_name_is_409(client: TestClient) -> None:
    assert client.post("/api/v1/studies", json=study_body()).status_code == 201
    again = client.post("/api/v1/studies", json=study_body())
    assert again.status_code == 409 and "already exists" in again.json()["detail"]


def test_invalid_space_is_422_with_json_path_and_nothing_stored(client: TestClient) -> None:
    space = dict(MIXED_SPACE)
    space["layer"] = {
        "type": "choice",
        "options": [{"kind": "dense", "width": {"type": "int", "low": 64, "high": 16}}],
    }
    response = client.post("/api/v1/studies", json=study_body(space=space))
    assert response.status_code == 422
    issues = response.json()["detail"]
    assert issues[0]["path"] == "$.space.layer.options[0].width.low"
    assert "high" in issues[0]["msg"]
    assert client.get("/api/v1/studies").json()["count"] == 0


def test_log_scale_bound_and_empty_choice_are_named(client: TestClient) -> None:
    space = {
        "lr": {"type": "loguniform", "low": 0, "high": 1},
        "act": {"type": "choice", "options": []},
    }
    response = client.post("/api/v1/studies", json=study_body(space=space))
    assert response.status_code == 422
    paths = {issue["path"] for issue in response.json()["detail"]}
    assert {"$.space.lr.low", "$.space.act.options"} <= paths or len(paths) >= 2


def test_unknown_algorithm_setting_is_422(client: TestClient) -> None:
    body = study_body(algorithm_settings={"n_startup": 3})
    response = client.post("/api/v1/studies", json=body)
    assert response.status_code == 422
    assert "n_startup" in str(response.json()["detail"])


def test_unknown_field_and_bad_budget_are_422(client: TestClient) -> None:
    assert client.post("/api/v1/studies", json=study_body(budjet={})).status_code == 422
    bad = study_body(budget={"max_trials": 0})
    response = client.post("/api/v1/studies", json=bad)
    assert response.status_code == 422 and "max_trials" in response.text


def test_pause_resume_stop(client: TestClient) -> None:
    client.post("/api/v1/studies", json=study_body())
    assert client.post("/api/v1/studies/s1/pause").json()["state"] == "paused"
    assert client.post("/api/v1/studies/s1/ask").json()["status"] == "paused"
    assert client.post("/api/v1/studies/s1/resume").json()["state"] == "running"
    assert client.post("/api/v1/studies/s1/stop").json()["state"] == "stopped"
    assert client.post("/api/v1/studies/missing/stop").status_code == 404


def test_pruner_is_stored_and_validated(client: TestClient) -> None:
    body = study_body(pruner={"type": "median", "n_warmup_steps": 3})
    study = client.post("/api/v1/studies", json=body).json()
    assert study["pruner"] == {"type": "median", "n_startup_trials": 5, "n_warmup_steps": 3}
    bad = client.post("/api/v1/studies", json=study_body(name="s2", pruner={"type": "sha"}))
    assert bad.status_code == 422 and bad.json()["detail"][0]["path"] == "$.pruner"
    plain = client.post("/api/v1/studies", json=study_body(name="s3")).json()
    assert plain["pruner"] == {"type": "none"}


def test_a_bad_space_and_an_unknown_algorithm_are_one_422_naming_both(client: TestClient) -> None:
    """Breaks if the study checks stop running as validators of StudyCreate, so that a body
    with several problems is refused one problem at a time."""
    space = {"lr": {"type": "loguniform", "low": 0, "high": 1}}
    body = study_body(space=space, algorithm="tpe-nope", pruner={"type": "sha"}, seed=-1)
    response = client.post("/api/v1/studies", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    paths = {issue.get("path") for issue in detail}
    assert {"$.space.lr.low", "$.algorithm", "$.pruner"} <= paths
    assert any(issue["loc"] == ["body", "seed"] for issue in detail)
    assert "tpe-nope" in str(detail)
    assert client.get("/api/v1/studies").json()["count"] == 0

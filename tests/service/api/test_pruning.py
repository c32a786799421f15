"""Pruning through the API: pruner settings checked at creation, the reason returned with
the trial and shown on the dashboard's trial page."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.api.test_studies import study_body
from tests.service.writes import api_report, api_tell


def test_asha_takes_max_epochs_from_the_objective_and_bad_settings_get_422(
    client: TestClient,
) -> None:
    budget = {"max_trials": 10, "max_parallel": 2, "max_epochs_total": 300}
    created = client.post(
        "/api/v1/studies", json=study_body(pruner={"type": "asha"}, budget=budget)
    )
    assert created.status_code == 201, created.text
    assert created.json()["budget"]["max_epochs_total"] == 300
    assert created.json()["pruner"] == {
        "type": "asha",
        "min_epochs": 1,
        "reduction_factor": 3,
        "max_epochs": 5,
    }
    bad = client.post(
        "/api/v1/studies",
        json=study_body("s2", pruner={"type": "hyperband", "reduction_factor": 1}),
    )
    assert bad.status_code == 422
    assert "reduction_factor must be an integer >= 2" in bad.json()["detail"][0]["msg"]


def test_a_pruned_trial_says_why_in_the_api_and_on_its_page(client: TestClient) -> None:
    body = study_body(pruner={"type": "asha"}, budget={"max_trials": 10, "max_parallel": 4})
    client.post("/api/v1/studies", json=body)
    trials = [client.post("/api/v1/studies/s1/ask").json()["trial"] for _ in range(3)]
    answers = [
        api_report(client, trial, 1, {"val_accuracy": accuracy}).json()
        for trial, accuracy in zip(trials, (0.9, 0.8, 0.5), strict=True)
    ]
    assert [a["should_stop"] for a in answers] == [False, False, True]
    reason = (
        "epoch 1: val_accuracy 0.5 is below the rung's top third (3 configurations), cut-off 0.9"
    )
    assert answers[2]["reason"] == reason
    api_tell(client, trials[2], "pruned")
    assert client.get("/api/v1/studies/s1/trials/3").json()["pruned_reason"] == reason
    assert client.get("/api/v1/studies/s1/trials/1").json()["pruned_reason"] is None
    page = client.get("/studies/s1/trials/3")
    assert page.status_code == 200 and "is below the rung&#39;s top third" in page.text

"""Input no row can hold is a 422 on both databases; a study at every limit stays readable."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from parzen.service.limits import MAX_JSON_DEPTH, MAX_KEY_LENGTH, MAX_STRING_LENGTH, MAX_TEXT_LENGTH
from parzen.service.space_limits import MAX_OPTIONS
from tests.service.api.test_studies import study_body
from tests.service.test_limits import nested
from tests.service.test_space_limits import AT_THE_LIMITS
from tests.service.writes import api_report, api_tell

HUGE = 2**70


def leased(client: TestClient, name: str = "s1", worker_id: str | None = None) -> dict[str, Any]:
    assert client.post("/api/v1/studies", json=study_body(name)).status_code == 201
    body = {"worker_id": worker_id} if worker_id else {}
    trial: dict[str, Any] = client.post(f"/api/v1/studies/{name}/ask", json=body).json()["trial"]
    return trial


def assert_422(response: Any, words: str = "") -> None:
    assert response.status_code == 422, response.text
    assert words in response.text


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/trials/{HUGE}",
        f"/api/v1/trials/{2**31}",
        f"/api/v1/trials/{HUGE}/artifact",
        f"/api/v1/studies/s1/trials/{HUGE}",
        f"/api/v1/studies/s1/trials?offset={HUGE}",
        f"/api/v1/studies?offset={HUGE}",
        f"/dashboard/api/studies/s1/changes?seq={HUGE}",
        f"/dashboard/api/studies/s1/changes?epoch={HUGE}",
        f"/dashboard/api/studies/s1/trials?page={HUGE}",
        f"/dashboard/api/studies/s1/trials/{HUGE}/state",
        f"/dashboard/api/trials/{HUGE}/artifact",
        "/api/v1/studies/a%00b",
        "/api/v1/studies/a%00b/trials",
        "/dashboard/api/studies/a%00b/history",
        "/studies/a%00b",
    ],
)
def test_reads_with_impossible_path_or_query_values_are_422(client: TestClient, url: str) -> None:
    """Fails if an integer past its column or a NUL reaches the database (a 500 there)."""
    leased(client)
    assert_422(client.get(url))


def test_writes_with_impossible_ids_and_numbers_are_422(client: TestClient) -> None:
    trial = leased(client)
    tid = trial["id"]
    assert_422(client.post(f"/api/v1/trials/{HUGE}/report", json={"step": 1, "values": {}}))
    assert_422(client.post(f"/api/v1/trials/{HUGE}/heartbeat", json={}))
    assert_422(client.post(f"/api/v1/trials/{HUGE}/tell", json={"state": "failed"}))
    assert_422(client.post(f"/api/v1/trials/{tid}/tell", json={"state": "failed", "attempt": HUGE}))
    assert_422(client.post(f"/api/v1/trials/{tid}/release", json={"attempt": HUGE}))
    assert_422(client.post(f"/api/v1/finalizations/{HUGE}/heartbeat"))
    assert_422(client.delete(f"/api/v1/tokens/{HUGE}"))
    assert_422(client.post("/api/v1/workers", json={"host": "h", "pid": HUGE}))
    split = {"objective": {"split": {"seed": HUGE}}}
    assert_422(client.post("/api/v1/studies", json=study_body("s2", **split)), "s2" * 0)
    assert_422(client.post("/api/v1/workers/w%00/lease"))
    assert_422(client.post(f"/api/v1/workers/{'w' * 65}/lease"))


def test_a_step_of_2_31_is_422_and_2_31_minus_1_is_stored(client: TestClient) -> None:
    """Fails if a step past the INTEGER column is accepted (a 500 on PostgreSQL)."""
    trial = leased(client)
    assert_422(api_report(client, trial, 2**31, {"val_loss": 1.0}), "less than or equal")
    assert api_report(client, trial, 2**31 - 1, {"val_loss": 1.0}).status_code == 200
    detail = client.get(f"/api/v1/trials/{trial['id']}").json()
    assert detail["last_step"] == 2**31 - 1


@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("study name", study_body("a\x00b")),
        ("metric", study_body(metric="val\x00loss")),
        ("builder", study_body(objective={"builder": "m\x00"})),
        ("space constant", study_body(space={"x": {"type": "choice", "options": ["\x00"]}})),
        ("space key", study_body(space={"x\x00": {"type": "int", "low": 0, "high": 2}})),
        ("algorithm setting", study_body(algorithm_settings={"gamma\x00": 1})),
    ],
)
def test_nul_in_a_study_is_422(client: TestClient, where: str, body: dict[str, Any]) -> None:
    """Fails if a NUL reaches PostgreSQL, which refuses it in text and json (a 500 there)."""
    assert_422(client.post("/api/v1/studies", json=body))
    assert client.get("/api/v1/studies").json()["count"] == 0


def test_nul_and_long_strings_in_trial_and_worker_writes_are_422(client: TestClient) -> None:
    trial = leased(client)
    assert_422(api_report(client, trial, 1, {"val\x00loss": 1.0}), "NUL")
    assert_422(api_tell(client, trial, "failed", error="boom\x00"), "NUL")
    assert_422(api_tell(client, trial, "complete", 1.0, metrics={"a": ["x\x00"]}), "$.metrics.a[0]")
    assert_422(api_tell(client, trial, "failed", error="e" * (MAX_TEXT_LENGTH + 1)))
    assert_422(client.post("/api/v1/workers", json={"host": "h\x00"}), "NUL")
    assert_422(client.post("/api/v1/workers", json={"host": "h" * 256}))
    assert_422(client.post("/api/v1/workers", json={"host": "h", "gpu": "g" * 65}))
    assert_422(client.post("/api/v1/workers", json={"host": "h", "builders": ["b\x00"]}))
    assert_422(client.post("/api/v1/tokens", json={"role": "viewer", "name": "t\x00"}))
    assert_422(client.post("/api/v1/studies/s1/ask", json={"worker_id": "w" * 65}))
    assert_422(client.post("/api/v1/studies/s1/ask", json={"worker_id": "w\x00"}))


def test_too_deep_metrics_or_space_are_422_and_nothing_breaks(client: TestClient) -> None:
    """Fails if metrics 130 deep or a space 85 choices deep are stored (every listing then
    answered 500) or answer anything but a 422 naming the limit and the path."""
    trial = leased(client)
    told = api_tell(client, trial, "complete", 1.0, metrics=nested(130))
    assert_422(told, "nested deeper than 32")
    assert told.json()["detail"][0]["path"] == "$.metrics" + ".a" * MAX_JSON_DEPTH
    space: dict[str, Any] = {"x": {"type": "uniform", "low": 0, "high": 1}}
    for _ in range(85):
        space = {"c": {"type": "choice", "options": [space]}}
    assert_422(client.post("/api/v1/studies", json=study_body("deep", space=space)), "deeper")
    assert client.get("/api/v1/studies").status_code == 200
    assert client.get(f"/api/v1/trials/{trial['id']}").json()["state"] == "running"


def test_non_finite_numbers_are_422_where_they_cannot_be_stored(client: TestClient) -> None:
    """Fails if NaN in a budget or setting is stored, or if refusing it fails to encode the
    422 (FastAPI echoes the input, and JSON has no NaN)."""
    for body in (
        '{"name": "n", "space": {"x": {"type": "int", "low": 0, "high": 2}}, '
        '"budget": {"timeout_seconds": Infinity}}',
        '{"name": "n", "space": {"x": {"type": "int", "low": 0, "high": 2}}, '
        '"algorithm_settings": {"gamma": NaN}}',
    ):
        response = client.post(
            "/api/v1/studies", content=body, headers={"Content-Type": "application/json"}
        )
        assert_422(response)


def limit_space() -> dict[str, Any]:
    """A space at every limit: 10 nested choices, the longest constant and option lists."""
    deepest: dict[str, Any] = {"x": {"type": "uniform", "low": 0, "high": 1}}
    for _ in range(10):
        deepest = {"nest": {"type": "choice", "options": [deepest, "none"]}}
    options = [f"{i:0{MAX_KEY_LENGTH}d}" for i in range(MAX_OPTIONS)]
    return (
        AT_THE_LIMITS
        | deepest
        | {
            "note": "n" * MAX_STRING_LENGTH,
            "c": {"type": "choice", "options": options},
        }
    )


def test_a_study_at_every_limit_is_readable_everywhere(client: TestClient) -> None:
    """Fails if anything the limits accept cannot be read back by every read route."""
    body = study_body("edge", space=limit_space(), algorithm="random", algorithm_settings={})
    created = client.post("/api/v1/studies", json=body)
    assert created.status_code == 201, created.text[:2000]
    worker = client.post(
        "/api/v1/workers", json={"host": "h" * 255, "gpu": "g" * 64, "builders": ["mlp"]}
    ).json()
    asked = client.post("/api/v1/studies/edge/ask", json={"worker_id": worker["id"]})
    trial = asked.json()["trial"]
    values = {f"{i:0{MAX_KEY_LENGTH}d}": float(i) for i in range(3000)}
    assert api_report(client, trial, 2**31 - 1, values | {"val_accuracy": 0.5}).status_code == 200
    metrics = nested(MAX_JSON_DEPTH) | {"s": "m" * MAX_STRING_LENGTH, "i": 2**53}
    told = api_tell(client, trial, "complete", 0.5, metrics=metrics, error="e" * MAX_TEXT_LENGTH)
    assert told.status_code == 200, told.text
    number, tid = trial["number"], trial["id"]
    for url in (
        "/api/v1/studies",
        "/api/v1/studies/edge",
        "/api/v1/studies/edge/trials",
        f"/api/v1/studies/edge/trials/{number}",
        f"/api/v1/trials/{tid}",
        "/api/v1/studies/edge/best",
        "/api/v1/workers",
        "/dashboard/api/studies",
        "/dashboard/api/studies/edge/history",
        "/dashboard/api/studies/edge/trials",
        "/dashboard/api/studies/edge/params",
        "/dashboard/api/studies/edge/importance",
        "/dashboard/api/studies/edge/curves",
        "/dashboard/api/studies/edge/timeline",
        "/dashboard/api/studies/edge/workers",
        "/dashboard/api/studies/edge/changes?seq=0&epoch=0",
        f"/dashboard/api/studies/edge/trials/{number}/state",
        "/",
        "/studies/edge",
        f"/studies/edge/trials/{number}",
    ):
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:500])

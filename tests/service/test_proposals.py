"""No value that is not finite leaves the server: an ask on a space that cannot be sampled
answers 422 at creation, and 409 naming the parameter for a study stored before the limits."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from service.algorithms import ALGORITHMS
from service.storage import Storage
from tests.service.factories import study_spec
from tests.service.test_space_limits import UNSAMPLABLE


@pytest.mark.parametrize("example", list(UNSAMPLABLE))
def test_unsamplable_space_is_a_422_at_create_and_a_409_at_ask(
    client: TestClient, storage: Storage, example: str
) -> None:
    """Fails if such a space is stored through the API, or if asking a study that holds one
    (stored by an older server) answers 500, stores a trial or hands out null/inf."""
    node, path, reason = UNSAMPLABLE[example]
    for algorithm in ALGORITHMS:
        name = f"s-{algorithm}"
        body = {"name": name, "space": {"x": node}, "algorithm": algorithm}
        created = client.post("/api/v1/studies", json=body)
        assert created.status_code == 422, created.text
        [error] = [e for e in created.json()["detail"] if e["path"] == "$.space" + path[1:]]
        assert reason in error["msg"]

        settings = {} if algorithm == "random" else {"n_startup_trials": 0}
        spec = study_spec(name, space={"x": node}, algorithm=algorithm)
        storage.create_study(spec=replace(spec, algorithm_settings=settings))
        asked = client.post(f"/api/v1/studies/{name}/ask", json={})
        assert asked.status_code == 409, (algorithm, asked.text)
        assert path in asked.json()["detail"] and "cannot be sampled" in asked.json()["detail"]
        assert client.get(f"/api/v1/studies/{name}").json()["trials_created"] == 0
        assert client.get("/api/v1/studies").status_code == 200

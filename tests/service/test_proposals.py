"""No value that is not finite leaves the server: an ask on a space that cannot be sampled
answers 422 at creation, and 409 naming the parameter for a study stored before the limits."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from parzen.service.algorithms import ALGORITHMS
from parzen.service.storage import Storage
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


def test_a_worker_lease_skips_a_study_that_cannot_be_sampled(
    client: TestClient, storage: Storage
) -> None:
    """Fails if one unsamplable study (stored before the limits) blocks every worker's lease."""
    node = UNSAMPLABLE["lognormal mu=800"][0]
    storage.create_study(spec=study_spec("bad", space={"x": node}))  # served first: oldest
    storage.create_study(spec=study_spec("good"))
    body = {"host": "node", "builders": ["mlp"], "datasets": ["digits"]}
    worker = client.post("/api/v1/workers", json=body).json()["id"]
    leased = client.post(f"/api/v1/workers/{worker}/lease")
    assert leased.status_code == 200, leased.text
    assert leased.json()["trial"]["study"] == "good"


def test_a_study_with_a_pruner_gets_a_sampler_that_knows_it(storage: Storage) -> None:
    """If this fails, the pool builds tpe-mv for a pruning study as for any other, and the
    rule that keeps it off configurations already trained to the end (tpe_mv.py) never acts
    in the service: ASHA's convnet replay loses to Optuna at most epoch budgets again."""
    from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
    from parzen.service.proposals import SamplerPool

    pool = SamplerPool()
    for name, pruner, prunes in (
        ("asha", {"type": "asha"}, True),
        ("plain", {"type": "none"}, False),
    ):
        record = storage.create_study(spec=study_spec(name, algorithm="tpe-mv", pruner=pruner))
        pool.propose(record, [], 0, 1)
        sampler = pool._entries[record.id].sampler
        assert isinstance(sampler, MultivariateTPESampler) and sampler._prunes is prunes

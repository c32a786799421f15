"""The OpenAPI document tells clients every status a route can answer."""

from __future__ import annotations

from parzen.service.config import Settings
from parzen.service.main import create_app

EVERY = {"400", "401", "403", "413", "422", "429", "503"}
# Routes that look nothing up by their path, or answer 403 for a missing worker id (so that
# no token can probe other tokens' workers): no 404.
NO_LOOKUP = {"/api/v1/workers/{worker_id}/lease", "/api/v1/workers/{worker_id}/goodbye"}


def _operations() -> list[tuple[str, str, dict[str, object]]]:
    doc = create_app(Settings(database_url="sqlite://")).openapi()
    return [
        (method, path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/v1/")
    ]


def test_every_api_route_declares_its_error_answers() -> None:
    """Fails if a route can answer 401, 403, 429, 503 ... or 404 for what its path names
    without the document saying so: a generated client would not expect it."""
    operations = _operations()
    assert len(operations) >= 25
    for method, path, op in operations:
        declared = set(op["responses"])  # type: ignore[arg-type]
        assert declared >= EVERY, (method, path, EVERY - declared)
        if "{" in path and path not in NO_LOOKUP:
            assert "404" in declared, (method, path)


def test_operation_ids_read_as_resource_and_action() -> None:
    """Fails if generated clients get FastAPI's `create_study_api_v1_studies_post` names back,
    or two operations share one id (FastAPI would only warn)."""
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids))
    assert {"studies-create", "studies-list", "trials-get_by_id", "trials-tell"} <= set(ids)
    assert "studies-import_trials" in ids  # a noun other than its tag's stays
    assert not any("api_v1" in str(i) or "_study" in str(i) for i in ids)


# The operations whose stored state can refuse them (storage raises ConflictError): a study
# name taken, a state change, a superseded lease, a trial told twice, a finalization running.
CONFLICTS = {
    "studies-create",
    "studies-pause",
    "studies-resume",
    "studies-stop",
    "trials-ask",
    "trials-report",
    "trials-heartbeat",
    "trials-tell",
    "trials-release",
    "finalization-finalize",
    "finalization-heartbeat",
    "finalization-finish",
    "artifacts-upload",
}


def test_exactly_the_routes_that_can_conflict_declare_409() -> None:
    """Fails if a route that can answer 409 does not say so, or a read claims it can."""
    declaring = {str(op["operationId"]) for _, _, op in _operations() if "409" in op["responses"]}  # type: ignore[operator]
    assert declaring == CONFLICTS


def test_error_answers_declare_the_detail_model() -> None:
    """Fails if a declared error answer loses its schema (`{"detail": ...}`)."""
    for method, path, op in _operations():
        for code, answer in op["responses"].items():  # type: ignore[attr-defined]
            if code.startswith(("4", "5")):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorPublic"}, (method, path, code)

"""Nobody can learn which studies, trials, tokens or workers exist without the right token.

Every route with a path parameter (API, dashboard data and pages) is asked for a thing that
exists and for one that does not: without a token both answers must be the same (401, or the
sign-in redirect for a page), and a token of too weak a role gets 403 for both. If any lookup
ran before authentication (a `StudyDep` listed before the role), the missing one would be 404.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from tests.service.api.test_studies import study_body

EXISTING = {"name": "s1", "number": "0", "trial_id": "1", "finalization_id": "1", "token_id": "1"}
MISSING = {"name": "nope", "number": "999", "trial_id": "999", "finalization_id": "999"}
MISSING |= {"token_id": "999", "worker_id": "no-such-worker"}


def _setup(client: TestClient) -> dict[str, str]:
    assert client.post("/api/v1/studies", json=study_body()).status_code == 201
    asked = client.post("/api/v1/studies/s1/ask", json={"worker_id": "w-probe"})
    assert asked.status_code == 200, asked.text
    registered = client.post("/api/v1/workers", json={"host": "probe"})
    assert registered.status_code == 201, registered.text
    return EXISTING | {"worker_id": str(registered.json()["id"])}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    # FastAPI keeps included routers whole; this walks the routes they serve, prefixes added
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if route.path and "{" in route.path and route.methods:
            found += [(method, route.path) for method in sorted(route.methods - {"HEAD"})]
    return found


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], path)


def _ask(client: TestClient, method: str, path: str, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}" if token else ""}
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, path, headers=headers, json=body, follow_redirects=False)


def test_without_a_token_nothing_tells_whether_it_exists(client: TestClient) -> None:
    existing = _setup(client)
    routes = _routes(client)
    assert len(routes) > 20  # the walk does see the API, the dashboard data and the pages
    for method, path in routes:
        there = _ask(client, method, _fill(path, existing), "")
        absent = _ask(client, method, _fill(path, MISSING), "")
        expected = 303 if not path.startswith(("/api/", "/dashboard/api/")) else 401
        assert (there.status_code, absent.status_code) == (expected, expected), (method, path)
        assert "s1" not in there.text and "nope" not in absent.text, (method, path)


def test_a_weaker_role_is_refused_before_anything_is_looked_up(client: TestClient) -> None:
    existing = _setup(client)
    tokens = {
        role: client.post("/api/v1/tokens", json={"role": role, "name": role}).json()["token"]
        for role in ("viewer", "worker")
    }
    refused = 0
    for method, path in _routes(client):
        for token in tokens.values():
            there = _ask(client, method, _fill(path, existing), token).status_code
            absent = _ask(client, method, _fill(path, MISSING), token).status_code
            if 403 in (there, absent):
                assert there == absent == 403, (method, path, there, absent)
                refused += 1
    assert refused >= 8  # delete, pause, resume, stop, finalize, ask... for viewer and worker

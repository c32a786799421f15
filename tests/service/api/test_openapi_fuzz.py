"""Property-based requests from the OpenAPI document (schemathesis), with an admin token,
on both databases, a bounded number of examples per operation (PARZEN_FUZZ_EXAMPLES).

Fails when any request the schema allows, or any malformed variation of it, gets a 5xx, or a
status the route does not declare: the document then lies to clients, or input breaks us.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from tests.conftest import ADMIN_TOKEN
from tests.service.api.test_studies import study_body

EXAMPLES = int(os.environ.get("PARZEN_FUZZ_EXAMPLES", "25"))


# The document does not depend on the database: build it once, aim it at each test's server.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://", admin_token=ADMIN_TOKEN)).openapi()
)


@pytest.fixture
def aimed(client: TestClient, live_server: ServerThread) -> str:
    """A study and a leased trial to aim at: names and ids that exist get past the 404s."""
    client.post("/api/v1/studies", json=study_body())
    client.post("/api/v1/studies/s1/ask")
    return live_server.url


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_gets_a_5xx_or_an_undeclared_status(case: schemathesis.Case, aimed: str) -> None:
    case.call_and_validate(
        base_url=aimed,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        checks=[not_a_server_error, status_code_conformance],
    )

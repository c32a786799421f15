"""Each artifact test runs on the local directory and on a real S3-compatible server (moto),
on SQLite and PostgreSQL: four runs, each with a database and a bucket of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from parzen.service.artifacts import ArtifactStore, LocalArtifactStore
from parzen.service.artifacts.s3 import S3ArtifactStore
from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.s3server import moto_s3, new_bucket, object_keys, pending_uploads
from tests.service.api.test_studies import study_body


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@dataclass
class Where:
    """Where the artifacts of one test live, and what is in there now."""

    kind: str
    settings: Settings
    endpoint: str | None = None
    bucket: str | None = None

    def store(self, **limits: int) -> ArtifactStore:
        if self.settings.artifact_url:
            return S3ArtifactStore(self.settings.artifact_url, endpoint_url=self.endpoint, **limits)
        return LocalArtifactStore(self.settings.artifact_dir, max_bytes=limits["max_bytes"])

    def contents(self) -> list[str]:
        """Every stored name: objects in the bucket, files (temporary ones too) in the dir."""
        if self.bucket is not None:
            assert self.endpoint is not None
            prefix = "parzen/ckpt/"  # the prefix of the test's artifact URL
            return [k.removeprefix(prefix) for k in object_keys(self.endpoint, self.bucket)]
        root = self.settings.artifact_dir
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    def unfinished(self) -> list[str]:
        """Multipart uploads begun and neither completed nor aborted."""
        if self.bucket is None or self.endpoint is None:
            return []
        return pending_uploads(self.endpoint, self.bucket)


@pytest.fixture(params=["local", "s3"])
def where(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Where:
    if request.param == "local":
        return Where("local", settings)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = new_bucket(endpoint)
    changed = settings.model_copy(
        update={"artifact_url": f"s3://{bucket}/parzen/ckpt", "s3_endpoint_url": endpoint}
    )
    return Where("s3", changed, endpoint, bucket)


AppClient = Callable[..., TestClient]


@pytest.fixture
def app_client(where: Where, database_url: str) -> Iterator[AppClient]:
    """A factory of real apps on the test's database and store (each its own Storage, as a
    second replica would have); `store=` replaces the store (for small limits)."""
    opened: list[tuple[TestClient, Storage]] = []

    def make(store: ArtifactStore | None = None) -> TestClient:
        storage = Storage.from_url(database_url)
        app: FastAPI = create_app(where.settings, storage)
        if store is not None:
            app.state.artifacts = store
        client = TestClient(app)
        client.__enter__()
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        opened.append((client, storage))
        return client

    yield make
    for client, storage in opened:
        client.__exit__(None, None, None)
        storage.close()


def leased(client: TestClient, study: str = "s1") -> dict[str, Any]:
    if client.get(f"/api/v1/studies/{study}").status_code == 404:
        assert client.post("/api/v1/studies", json=study_body(study)).status_code == 201
    asked = client.post(f"/api/v1/studies/{study}/ask")
    assert asked.status_code == 200, asked.text
    trial: dict[str, Any] = asked.json()["trial"]
    return trial

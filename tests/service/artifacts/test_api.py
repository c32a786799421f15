"""Checkpoints through the API on both stores: round trips, limits, deletion, two replicas."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.service.storage import Storage
from parzen.worker.client import ParzenClient, ParzenError
from tests.conftest import ADMIN_TOKEN
from tests.service.api.test_studies import study_body
from tests.service.artifacts.conftest import AppClient, Where, leased
from tests.service.writes import api_upload

MiB = 2**20


def test_checkpoint_round_trip_then_study_delete_removes_it(
    where: Where, app_client: AppClient
) -> None:
    """Upload, download (API and dashboard), delete the study: the checkpoint is gone from
    the store. Fails if deleting a study leaves its checkpoints behind (issue 11)."""
    client = app_client()
    trial, other = leased(client, "s1"), leased(client, "keep")
    data = os.urandom(300_000)
    assert api_upload(client, trial, data).status_code == 204
    assert api_upload(client, other, b"other study").status_code == 204
    # One key per attempt (a late completer never overwrites the running attempt's).
    assert where.contents() == ["keep/trial-1-attempt-1.keras", "s1/trial-1-attempt-1.keras"]
    got = client.get(f"/api/v1/trials/{trial['id']}/artifact")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data))
    assert client.get(f"/dashboard/api/trials/{trial['id']}/artifact").content == data

    assert client.delete("/api/v1/studies/s1").status_code == 204
    assert where.contents() == ["keep/trial-1-attempt-1.keras"]  # the other study's stays
    assert client.get(f"/api/v1/trials/{other['id']}/artifact").content == b"other study"


def test_checkpoint_uploaded_through_one_replica_downloads_through_another(
    where: Where, app_client: AppClient
) -> None:
    """Two app instances sharing the database and the store: fails if the store is local to
    one of them (which it is only when both share a directory, as here for 'local')."""
    first, second = app_client(), app_client()
    trial = leased(first)
    data = os.urandom(2 * MiB + 17)
    assert api_upload(first, trial, data).status_code == 204
    got = second.get(f"/api/v1/trials/{trial['id']}/artifact")
    assert got.status_code == 200 and got.content == data


def test_upload_in_several_parts_is_whole_and_replaces_the_last(
    where: Where, app_client: AppClient
) -> None:
    """A chunked upload bigger than one multipart part (S3: 3 parts of 5 MiB) arrives whole;
    uploading again replaces it. Fails if parts are lost, reordered or left pending."""
    client = app_client(where.store(max_bytes=64 * MiB, part_bytes=5 * MiB))
    trial = leased(client)
    data = os.urandom(12 * MiB + 5)
    chunks = (data[i : i + MiB] for i in range(0, len(data), MiB))  # no Content-Length
    assert api_upload(client, trial, chunks).status_code == 204
    assert client.get(f"/api/v1/trials/{trial['id']}/artifact").content == data
    assert api_upload(client, trial, b"second try").status_code == 204
    assert client.get(f"/api/v1/trials/{trial['id']}/artifact").content == b"second try"
    assert where.unfinished() == []


def test_streamed_upload_over_the_limit_is_413_and_stores_nothing(
    where: Where, app_client: AppClient
) -> None:
    """A chunked upload (no declared length) that passes the limit after a part was sent:
    413, no object, no pending multipart upload, no temp file, and no artifact recorded."""
    client = app_client(where.store(max_bytes=6 * MiB, part_bytes=5 * MiB))
    trial = leased(client)
    chunks = (os.urandom(MiB) for _ in range(8))
    answer = api_upload(client, trial, chunks)
    assert answer.status_code == 413, answer.text
    assert str(6 * MiB) in answer.json()["detail"]
    assert where.contents() == [] and where.unfinished() == []
    assert client.get(f"/api/v1/trials/{trial['id']}/artifact").status_code == 404


def test_declared_oversize_is_refused_before_the_body_is_sent(
    where: Where, database_url: str
) -> None:
    """A request that declares 5 GiB and sends nothing: the server answers 413 at once.
    Fails if the server waits to read the body up to the limit (issue 11)."""
    storage = Storage.from_url(database_url)
    with ServerThread(create_app(where.settings, storage)) as server:
        api = ParzenClient(server.url, ADMIN_TOKEN)
        api._call("POST", "/studies", json=study_body())
        trial = api._call("POST", "/studies/s1/ask")["trial"]
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(
                f"PUT /api/v1/trials/{trial['id']}/artifact HTTP/1.1\r\n"
                f"Host: {server.host}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
                f"X-Parzen-Lease-Token: {trial['lease_token']}\r\n"
                f"Content-Length: {5 * 2**30}\r\n\r\n".encode()
            )
            head = sock.recv(65536).decode(errors="replace")  # no body byte was sent
            assert head.startswith("HTTP/1.1 413"), head
            assert time.monotonic() - started < 5
        api.close()
    storage.close()
    assert where.contents() == []


def test_worker_client_streams_a_checkpoint_into_its_file(
    where: Where, database_url: str, tmp_path: Path
) -> None:
    """ParzenClient.download_artifact writes the whole object to the target; a missing
    artifact is a ParzenError 404 that leaves no file behind."""
    storage = Storage.from_url(database_url)
    with ServerThread(create_app(where.settings, storage)) as server:
        api = ParzenClient(server.url, ADMIN_TOKEN)
        api._call("POST", "/studies", json=study_body())
        first = api._call("POST", "/studies/s1/ask")["trial"]
        second = api._call("POST", "/studies/s1/ask")["trial"]
        source = tmp_path / "best.keras"
        source.write_bytes(os.urandom(3 * MiB + 1))
        api.upload_artifact(first["id"], source, lease_token=first["lease_token"])
        target = api.download_artifact(first["id"], tmp_path / "cache" / "1.keras")
        assert target.read_bytes() == source.read_bytes()
        with pytest.raises(ParzenError) as missing:
            api.download_artifact(second["id"], tmp_path / "cache" / "2.keras")
        assert missing.value.status_code == 404
        assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["1.keras"]
        api.close()
    storage.close()


def test_object_store_down_is_503_with_retry_after(where: Where, app_client: AppClient) -> None:
    """An S3 endpoint that does not answer: uploads and downloads answer 503 + Retry-After
    (the worker's client retries those), never a 500; nothing is recorded."""
    if where.kind == "local":
        pytest.skip("only an object store can be down")
    from parzen.service.artifacts.s3 import S3ArtifactStore
    from parzen.service.server import free_port

    assert where.settings.artifact_url
    down = S3ArtifactStore(
        where.settings.artifact_url, endpoint_url=f"http://127.0.0.1:{free_port()}"
    )
    client = app_client(down)
    trial = leased(client)
    answer = api_upload(client, trial, b"x" * 1000)
    assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
    assert client.get(f"/api/v1/trials/{trial['id']}/artifact").status_code == 404


def test_an_artifact_url_that_is_not_s3_is_refused_with_the_form_it_needs() -> None:
    from pydantic import ValidationError

    from parzen.service.config import Settings

    for url in ("https://bucket/prefix", "s3://", "s3:///prefix"):
        with pytest.raises(ValidationError, match="s3://bucket/prefix"):
            Settings(artifact_url=url)
    assert Settings(artifact_url="s3://b/p").artifact_url == "s3://b/p"

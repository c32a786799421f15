"""Local mode (PARZEN_AUTH=false) answers clients on this machine only, whatever started it."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.service.storage import Storage


@pytest.fixture
def local_app(database_url: str, tmp_path: Path, storage: Storage) -> FastAPI:
    settings = Settings(database_url=database_url, auth=False, artifact_dir=tmp_path)
    return create_app(settings, storage)


def _own_non_loopback_address() -> str | None:
    """This machine's address on its network, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))  # a documentation address: routed, never reached
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.mark.parametrize("address", ["10.1.2.3", "192.0.2.9", "2001:db8::1", "testclient"])
def test_a_client_from_another_host_is_refused(local_app: FastAPI, address: str) -> None:
    with TestClient(local_app, client=(address, 40000)) as remote:
        for path in ("/api/v1/studies", "/dashboard/api/studies", "/", "/healthz"):
            refused = remote.get(path)
            assert refused.status_code == 403, path
            assert "local mode serves only this machine" in refused.json()["detail"]
            assert "PARZEN_AUTH" in refused.json()["detail"]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_a_loopback_client_needs_no_token(local_app: FastAPI, address: str) -> None:
    with TestClient(local_app, client=(address, 40000)) as local:
        assert local.get("/api/v1/studies").status_code == 200


def test_a_server_bound_to_every_address_still_serves_only_this_machine(
    local_app: FastAPI,
) -> None:
    """As `uvicorn --factory --host 0.0.0.0 service.main:create_app` with auth off would."""
    with ServerThread(local_app, host="0.0.0.0") as server:
        loopback = httpx.get(f"http://127.0.0.1:{server.port}/api/v1/studies", timeout=10)
        assert loopback.status_code == 200
        address = _own_non_loopback_address()
        if address is None:
            pytest.skip("this machine has no non-loopback address to connect from")
        remote = httpx.get(f"http://{address}:{server.port}/api/v1/studies", timeout=10)
        assert remote.status_code == 403 and "local mode" in remote.json()["detail"]

"""/login and /logout: form posts from this site only, and failed sign-ins are throttled."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.service.storage import Storage, TokenRecord
from tests.conftest import ADMIN_TOKEN

HOST = "parzen.example:8000"


@pytest.fixture
def browser(settings: Settings, storage: Storage) -> Iterator[TestClient]:
    app = create_app(settings, storage)
    with TestClient(app, base_url=f"http://{HOST}", follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize(
    "origin", ["null", "https://evil.example", "http://parzen.example:9999", "http://evil.example"]
)
@pytest.mark.parametrize("path", ["/login", "/logout"])
def test_posts_from_other_or_opaque_origins_are_refused(
    browser: TestClient, origin: str, path: str
) -> None:
    """Origin: null comes from sandboxed frames and data: URLs: a login-CSRF vector."""
    refused = browser.post(path, data={"token": ADMIN_TOKEN}, headers={"Origin": origin})
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert "other sites are refused" in refused.json()["detail"]


def test_a_cross_site_fetch_without_origin_is_refused(browser: TestClient) -> None:
    headers = {"Sec-Fetch-Site": "cross-site"}
    refused = browser.post("/login", data={"token": ADMIN_TOKEN}, headers=headers)
    assert refused.status_code == 403 and "set-cookie" not in refused.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": f"http://{HOST}", "Sec-Fetch-Site": "same-origin"},
        {"Origin": f"HTTP://{HOST.upper()}"},
        {},  # curl, or an old browser's same-origin form
    ],
)
def test_posts_from_this_site_sign_in(browser: TestClient, headers: dict[str, str]) -> None:
    signed = browser.post("/login", data={"token": ADMIN_TOKEN}, headers=headers)
    assert signed.status_code == 303 and "parzen_token=" in signed.headers["set-cookie"]


def test_failed_sign_ins_are_throttled_with_retry_after(
    browser: TestClient, settings: Settings
) -> None:
    for attempt in range(settings.auth_failures_per_minute):
        assert browser.post("/login", data={"token": f"guess{attempt}"}).status_code == 401
    blocked = browser.post("/login", data={"token": ADMIN_TOKEN})
    assert blocked.status_code == 429 and "set-cookie" not in blocked.headers
    assert 1 <= int(blocked.headers["retry-after"]) <= 60 and "Too many failed" in blocked.text
    browser.cookies.set("parzen_token", ADMIN_TOKEN)
    assert browser.get("/dashboard/api/studies").status_code == 429


def test_a_sign_in_waiting_for_the_database_blocks_no_other_request(
    settings: Settings, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, the token lookup of a sign-in runs on the event loop: while the
    database takes its time, every other request of the process (probes, workers' reports)
    waits for it."""
    looked_up = threading.Event()
    slow = storage.authenticate

    def authenticate(*, token: str) -> TokenRecord | None:
        looked_up.set()
        time.sleep(1.0)
        return slow(token=token)

    monkeypatch.setattr(storage, "authenticate", authenticate)
    with ServerThread(create_app(settings, storage)) as server, httpx.Client() as client:
        signing_in = threading.Thread(
            target=lambda: client.post(f"{server.url}/login", data={"token": ADMIN_TOKEN})
        )
        signing_in.start()
        assert looked_up.wait(5)
        start = time.perf_counter()
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        assert time.perf_counter() - start < 0.5
        signing_in.join()

"""Playwright driving Debian's Chromium against a real server (uvicorn in a thread) whose
study a test client is filling. SQLite is enough here: the storage suite covers PostgreSQL.

Without /usr/bin/chromium (or the playwright package) these tests skip, unless
PARZEN_REQUIRE_BROWSER=1 (CI), where they fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from tests.conftest import ADMIN_TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[4] / "test-artifacts" / "screenshots"


def _unavailable(reason: str) -> None:
    if os.environ.get("PARZEN_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and PARZEN_REQUIRE_BROWSER=1 requires the browser tests")
    pytest.skip(f"{reason}: browser tests skipped (set PARZEN_REQUIRE_BROWSER=1 to fail)")


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    path = tmp_path / "parzen.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"Debian's chromium is missing at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Console:
    """Errors the page logged or threw; a test ends by asserting there were none."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _message(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    console.watch(tab)
    yield tab
    context.close()


@pytest.fixture
def api(live_server: ServerThread) -> Iterator[ParzenClient]:
    with ParzenClient(live_server.url, ADMIN_TOKEN, retry_seconds=5) as client:
        yield client


@pytest.fixture
def viewer_token(api: ParzenClient) -> str:
    return str(api.create_token("viewer", "dashboard test")["token"])


def sign_in(page: Any, server: ServerThread, token: str, target: str = "/") -> None:
    page.goto(f"{server.url}{target}")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}{target}")


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

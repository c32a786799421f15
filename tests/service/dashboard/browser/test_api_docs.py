"""/docs and /redoc in Chromium with every request off this server refused (offline)."""

from __future__ import annotations

from typing import Any

from parzen.service.server import ServerThread
from tests.service.dashboard.browser.conftest import SCREENSHOTS, Console, screenshot


def _offline(page: Any, server: ServerThread) -> list[str]:
    """Refuse every request that does not go to the server; the refused URLs of what a page
    needs to work (scripts, styles, fonts, data). ReDoc's footer logo, an image on
    cdn.redoc.ly that the bundle hard-codes, is refused too but not counted."""
    refused: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(server.url) or url.startswith("data:") or url.startswith("blob:"):
            request_route.continue_()
        else:
            if request_route.request.resource_type != "image":
                refused.append(url)
            request_route.abort()

    page.route("**/*", route)
    return refused


def test_swagger_ui_renders_its_operations_offline(
    page: Any, live_server: ServerThread, console: Console
) -> None:
    """A blank /docs means its assets came from a CDN again."""
    refused = _offline(page, live_server)
    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/api/v1/studies").first.is_visible()
    screenshot(page, "api-docs")
    assert refused == [] and console.errors == []


def test_redoc_renders_its_operations_offline(
    page: Any, live_server: ServerThread, console: Console
) -> None:
    """ReDoc draws the operations from the local bundle."""
    refused = _offline(page, live_server)
    page.goto(f"{live_server.url}/redoc")
    page.wait_for_selector("[data-section-id^='tag/studies']", timeout=20_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # the first screen: the page is very long
    page.screenshot(path=SCREENSHOTS / "api-redoc.png", timeout=30_000)
    assert refused == []

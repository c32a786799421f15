"""Compare studies in Chromium: pick studies on the studies page, every one drawn."""

from __future__ import annotations

from typing import Any

from parzen.service.server import ServerThread
from parzen.service.storage import Storage
from tests.service.dashboard.browser.conftest import Console, screenshot, sign_in
from tests.service.dashboard.fill import import_trials


def test_compare_draws_every_selected_study_by_trial_and_by_epochs(
    live_server: ServerThread, storage: Storage, viewer_token: str, page: Any, console: Console
) -> None:
    """Three studies picked: three best-so-far lines on each plot, best values side by side."""
    for name, count in (("alpha", 30), ("beta", 20), ("gamma", 10), ("left-out", 5)):
        import_trials(storage, name, count)
    sign_in(page, live_server, viewer_token, "/")
    assert page.locator("#compare").is_disabled()
    for name in ("alpha", "beta", "gamma"):
        page.check(f"input.pick[value={name}]")
    page.wait_for_timeout(2500)  # a refresh of the table keeps the picks
    assert page.locator("input.pick:checked").count() == 3
    page.click("#compare")
    page.wait_for_url("**/compare?study=alpha&study=beta&study=gamma")
    page.wait_for_selector("body[data-loaded=true]", state="attached", timeout=30_000)
    for plot in ("by-trial", "by-epochs"):
        names = page.evaluate(f"document.getElementById('{plot}').data.map(t => t.name)")
        assert names == ["alpha", "beta", "gamma"], plot
    header = page.locator("#compare-table thead").inner_text()
    assert all(name in header for name in ("alpha", "beta", "gamma"))
    assert "left-out" not in header
    best = {n: storage.get_study(name=n).best_value for n in ("alpha", "beta", "gamma")}
    row = page.locator("#compare-table tbody tr").nth(2).inner_text()
    assert all(f"{v:.4g}" in row for v in best.values() if v is not None), row
    assert page.locator("#compare-table tr[data-param=learning_rate]").count() == 1
    screenshot(page, "compare")
    assert console.errors == []


def test_compare_needs_two_to_five_studies(live_server: ServerThread, storage: Storage) -> None:
    import httpx

    import_trials(storage, "solo", 3)
    from tests.conftest import ADMIN_TOKEN

    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    one = httpx.get(f"{live_server.url}/dashboard/api/compare?study=solo", headers=auth)
    assert one.status_code == 422 and "2 to 5" in one.json()["detail"]
    missing = httpx.get(
        f"{live_server.url}/dashboard/api/compare?study=solo&study=nope", headers=auth
    )
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]

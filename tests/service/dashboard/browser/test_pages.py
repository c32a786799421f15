"""Every page in a real browser: loads with no console error, plots drawn, live updates,
sorting and filtering, and refusal without a token. Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any

from parzen.service.server import ServerThread
from parzen.service.storage import Storage
from parzen.worker.client import ParzenClient
from tests.service.dashboard.browser.conftest import Console, screenshot, sign_in
from tests.service.dashboard.fill import STUDY, fill_demo, import_trials, run_trial

STUDY_PLOTS = ("history", "importance", "parallel", "slices", "curves", "timeline")


def _plots_drawn(page: Any, plots: tuple[str, ...] = STUDY_PLOTS) -> None:
    for plot in plots:
        page.wait_for_selector(f"#{plot}[data-rendered=plot] .main-svg", state="attached")


def _table_numbers(page: Any) -> list[int]:
    cells = page.locator("#trial-table tbody tr[data-number]")
    return [int(n) for n in cells.evaluate_all("rows => rows.map(r => r.dataset.number)")]


def test_without_a_token_the_dashboard_is_refused(
    live_server: ServerThread, api: ParzenClient, page: Any, console: Console
) -> None:
    api.create_study({"name": "secret", "space": {"x": {"type": "uniform", "low": 0, "high": 1}}})
    page.goto(f"{live_server.url}/studies/secret")
    assert page.url.startswith(f"{live_server.url}/login?next=")
    assert "secret" not in page.locator("main").inner_text()
    data = page.request.get(f"{live_server.url}/dashboard/api/studies/secret/history")
    assert data.status == 401
    page.fill("#token", "not-a-token")
    page.click("button[type=submit]")
    assert "Unknown or revoked token" in page.locator(".error").inner_text()
    screenshot(page, "login")
    assert console.errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]


def test_studies_page_lists_every_study(
    live_server: ServerThread,
    api: ParzenClient,
    storage: Storage,
    viewer_token: str,
    page: Any,
    console: Console,
) -> None:
    fill_demo(api, trials=6, epochs=1)
    import_trials(storage, "imported-mlp", 120, every_failed=40)
    sign_in(page, live_server, viewer_token)
    rows = page.locator("table.studies tbody tr")
    assert rows.count() == 2
    demo = page.locator(f"tr[data-study={STUDY}]")
    assert "running" in demo.inner_text() and "1 failed" in demo.inner_text()
    assert "6 / 60" in demo.locator(".progress").inner_text()
    imported = page.locator("tr[data-study=imported-mlp]").inner_text()
    assert "115 complete" in imported and "2 pruned" in imported
    run_trial(api)  # the table follows the study live
    page.wait_for_function(
        "document.querySelector('tr[data-study=demo] .progress').innerText.includes('7 / 60')"
    )
    screenshot(page, "studies")
    assert console.errors == []


def test_study_page_draws_every_plot_and_follows_the_study_live(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, page: Any, console: Console
) -> None:
    fill_demo(api, trials=10, epochs=3)
    sign_in(page, live_server, viewer_token, f"/studies/{STUDY}")
    _plots_drawn(page)
    page.wait_for_selector("#workers table")
    assert _table_numbers(page)[0] == 11  # newest first; trial 11 is still running
    assert "gpu-node-1" in page.locator("#workers").inner_text()
    screenshot(page, "study")

    new = run_trial(api, outcome="running", epochs=1)  # a new trial and its first epoch
    page.wait_for_selector(f"#trial-table tr[data-number='{new['number']}'][data-state=running]")
    curve = f"document.getElementById('curves').data.some(t => t.name === 'trial {new['number']}')"
    page.wait_for_function(curve)
    finished = run_trial(api)  # a complete trial enters the history plot
    in_history = f"document.getElementById('history').data[0].x.includes({finished['number']})"
    page.wait_for_function(in_history)
    assert console.errors == []


def test_a_large_study_draws_bounded_data_and_its_table_sorts_filters_and_pages(
    live_server: ServerThread, storage: Storage, viewer_token: str, page: Any, console: Console
) -> None:
    """2,500 trials: the plots get bounded data (timings: bench/dashboard.py, as they depend
    on the machine's load), and the table is sorted, filtered and paged by the server."""
    import_trials(storage, "large", 2500, every_failed=50)
    sign_in(page, live_server, viewer_token, "/studies/large")
    _plots_drawn(page, ("history", "importance", "parallel", "slices"))
    notes = page.locator("#history-note").inner_text() + page.locator("#params-note").inner_text()
    assert "2,450 trials" in notes and "1,000 of 2,401 complete trials" in notes
    screenshot(page, "study-2500")
    page.wait_for_selector("#page-info")
    assert "page 1 of 100 · 2,500 trials" in page.locator("#page-info").inner_text()
    assert _table_numbers(page)[:2] == [2500, 2499]  # newest first

    page.click("#trial-table th[data-key=value]")  # minimize: best first
    page.wait_for_selector("#trial-table th.sorted-asc[data-key=value]")
    values = page.locator("#trial-table tbody tr td:nth-child(3)").all_inner_texts()
    assert [float(v) for v in values] == sorted(float(v) for v in values)
    page.click("#trial-table th[data-key=value]")
    page.wait_for_selector("#trial-table th.sorted-desc[data-key=value]")
    page.check("#state-filter input[data-state=failed]")
    page.wait_for_function("document.getElementById('page-info').innerText.endsWith(' 50 trials')")
    states = page.locator("#trial-table tbody tr").evaluate_all("r => r.map(x => x.dataset.state)")
    assert set(states) == {"failed"} and len(states) == 25
    page.uncheck("#state-filter input[data-state=failed]")
    page.click("#trial-table th[data-key=number]")
    page.wait_for_selector("#trial-table th.sorted-asc[data-key=number]")
    page.click("#pager button:has-text('Next')")
    page.wait_for_function("document.getElementById('page-info').innerText.startsWith('page 2')")
    assert _table_numbers(page) == list(range(26, 51))
    page.select_option("#top", "10")
    page.wait_for_function("document.getElementById('params-note').innerText.startsWith('241 of')")
    assert console.errors == []


def test_trial_pages_show_epochs_errors_and_artifacts_live(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, page: Any, console: Console
) -> None:
    fill_demo(api, trials=6, epochs=3)
    sign_in(page, live_server, viewer_token, f"/studies/{STUDY}/trials/1")
    page.wait_for_selector("#epochs-plot[data-rendered=plot]")
    assert (
        "/scratch/parzen/demo/trial-1-attempt-1/best.keras"
        in page.locator("code.path").inner_text()
    )
    assert page.locator("table >> text=val_loss").count() >= 1
    screenshot(page, "trial-complete")

    page.goto(f"{live_server.url}/studies/{STUDY}/trials/6")
    assert "ResourceExhaustedError" in page.locator(".error-text").inner_text()
    screenshot(page, "trial-failed")

    running = api.ask(STUDY).trial
    assert running is not None
    page.goto(f"{live_server.url}/studies/{STUDY}/trials/{running.number}")
    page.wait_for_selector("#epochs-plot[data-rendered=empty]")
    api.report(running.id, 1, {"val_loss": 0.9, "loss": 0.7}, lease_token=running.lease_token)
    page.wait_for_selector("#epochs-plot[data-rendered=plot]")
    api.tell(running.id, "complete", 0.9, lease_token=running.lease_token)
    page.wait_for_selector(".badge.state-complete")
    assert console.errors == []

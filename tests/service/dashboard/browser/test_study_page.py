"""The study page's reading aids in Chromium: the best parameters with their copy buttons,
plot points that open their trial, integer ticks for integer parameters."""

from __future__ import annotations

import json
from typing import Any

from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from tests.service.dashboard.browser.conftest import Console, screenshot, sign_in
from tests.service.dashboard.fill import STUDY, fill_demo, study_body


def _drawn(page: Any, *plots: str) -> None:
    """The plots drawn and every panel loaded (so the layout no longer moves); 30 s, as the
    parameter plots come after the history, and CI machines are shared."""
    for plot in plots:
        page.wait_for_selector(
            f"#{plot}[data-rendered=plot] .main-svg", state="attached", timeout=30_000
        )
    page.wait_for_selector("body[data-loaded=true]", state="attached", timeout=30_000)


def _click_point(page: Any, point: Any) -> None:
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.up()


def test_best_parameters_are_in_the_header_and_copy_as_json_and_yaml(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, browser: Any, console: Console
) -> None:
    """The header names the best trial's parameters; the buttons copy them as documents."""
    fill_demo(api, trials=6, epochs=2)
    best = api.best_trial(STUDY)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    console.watch(page)
    try:
        sign_in(page, live_server, viewer_token, f"/studies/{STUDY}")
        header = page.locator("#best-params")
        text = header.text_content() or ""
        assert f"trial {best['number']}" in text and "learning_rate" in text
        page.click("#best-params button[data-copy=json]")
        page.wait_for_selector("#best-params button[data-copy=json]:has-text('copied')")
        assert json.loads(page.evaluate("navigator.clipboard.readText()")) == best["params"]
        page.click("#best-params button[data-copy=yaml]")
        page.wait_for_selector("#best-params button[data-copy=yaml]:has-text('copied')")
        assert "learning_rate: " in page.evaluate("navigator.clipboard.readText()")
        screenshot(page, "study-best-params")
        assert console.errors == []
    finally:
        context.close()


def test_clicking_a_history_point_opens_its_trial(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, page: Any, console: Console
) -> None:
    """Every point of the optimization history links to its trial page."""
    fill_demo(api, trials=5, epochs=2)
    sign_in(page, live_server, viewer_token, f"/studies/{STUDY}")
    _drawn(page, "history")
    point = page.locator("#history .scatterlayer .trace").first.locator("path.point").nth(2)
    number = page.evaluate("document.getElementById('history').data[0].x[2]")
    _click_point(page, point)
    page.wait_for_url(f"{live_server.url}/studies/{STUDY}/trials/{number}")
    assert console.errors == []


def test_clicking_a_slice_point_opens_its_trial(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, page: Any, console: Console
) -> None:
    fill_demo(api, trials=5, epochs=2)
    sign_in(page, live_server, viewer_token, f"/studies/{STUDY}")
    _drawn(page, "slices")
    point = page.locator("#slices .scatterlayer .trace").first.locator("path.point").first
    number = page.evaluate("document.getElementById('slices').data[0].customdata[0]")
    _click_point(page, point)
    page.wait_for_url(f"{live_server.url}/studies/{STUDY}/trials/{number}")
    assert console.errors == []


def test_integer_parameters_get_integer_ticks_and_log_axes_real_values(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, page: Any, console: Console
) -> None:
    """No 1.5 or 2.5 on an integer axis; a log axis is labelled with the values it marks
    (0.001, 0.01; not powers like 10⁻³ next to a bare "2")."""
    fill_demo(api, trials=8, epochs=2)
    sign_in(page, live_server, viewer_token, f"/studies/{STUDY}")
    _drawn(page, "slices")
    axes = page.evaluate(
        """() => { const l = document.getElementById('slices').layout;
        return Object.keys(l).filter(k => k.startsWith('xaxis')).map(k => ({
          title: l[k].title?.text, type: l[k].type, tickvals: l[k].tickvals ?? null,
          ticktext: l[k].ticktext ?? null })); }"""
    )
    by_title = {a["title"]: a for a in axes}
    integer = [a for t, a in by_title.items() if t and ("filters" in t or "width" in t)]
    assert integer, by_title.keys()
    for axis in integer:
        assert axis["tickvals"] and all(float(v).is_integer() for v in axis["tickvals"]), axis
    rendered = page.locator("#slices .xtick text").all_text_contents()
    assert rendered and not any(t.endswith(".5") for t in rendered)
    lr = by_title["learning_rate"]
    assert lr["type"] == "log" and len(lr["ticktext"]) >= 2
    assert all(float(t) == v for t, v in zip(lr["ticktext"], lr["tickvals"], strict=True))
    screenshot(page, "study-slices")
    assert console.errors == []


def test_trial_chart_titles_its_axes_marks_the_best_epoch_and_the_median(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, page: Any, console: Console
) -> None:
    """The learning rate gets an axis of its own, the best epoch is marked, and a pruned
    trial is drawn against the median of the others at each epoch."""
    fill_demo(api, trials=4, epochs=3)
    trial = api.ask(STUDY).trial
    assert trial is not None
    for step, val_loss in enumerate((2.0, 1.5, 1.7), start=1):
        values = {"val_loss": val_loss, "accuracy": 0.5 + step / 10, "learning_rate": 10**-step}
        api.report(trial.id, step, values, lease_token=trial.lease_token)
    api.tell(trial.id, "pruned", lease_token=trial.lease_token)
    sign_in(page, live_server, viewer_token, f"/studies/{STUDY}/trials/{trial.number}")
    page.wait_for_selector("#epochs-plot[data-rendered=plot] .main-svg", state="attached")
    plot = page.evaluate(
        """() => { const d = document.getElementById('epochs-plot');
        return { layout: { x: d.layout.xaxis.title.text, y: d.layout.yaxis.title.text,
                           y2: d.layout.yaxis2?.title.text, y3: d.layout.yaxis3?.type,
                           y3title: d.layout.yaxis3?.title.text,
                           shapes: d.layout.shapes.map(s => s.x0),
                           notes: d.layout.annotations.map(a => a.text) },
                 traces: d.data.map(t => [t.name, t.yaxis ?? 'y']) }; }"""
    )
    traces = dict(plot["traces"])
    assert traces["learning_rate"] == "y3" and plot["layout"]["y3"] == "log"
    assert plot["layout"]["y3title"] == "learning rate"
    assert traces["val_loss"] == "y" and traces["accuracy"] == "y2"
    assert plot["layout"]["x"] == "epoch" and plot["layout"]["y"] == "val_loss"
    assert plot["layout"]["y2"] == "accuracy"
    assert plot["layout"]["shapes"] == [2] and "best epoch 2: 1.5" in plot["layout"]["notes"][0]
    assert any(name.startswith("median of the others") for name in traces)
    screenshot(page, "trial-pruned")
    assert console.errors == []


def test_column_chooser_parameter_sort_and_a_csv_that_matches_the_table(
    live_server: ServerThread, storage: Any, viewer_token: str, page: Any, console: Console
) -> None:
    """A parameter column hides and comes back; sorting by a parameter happens on the
    server across pages; the CSV holds the filtered rows in the table's order."""
    import csv
    import io

    import httpx

    from tests.service.dashboard.fill import import_trials

    import_trials(storage, "table", 60, every_failed=10)
    sign_in(page, live_server, viewer_token, "/studies/table")
    page.wait_for_selector("#trial-table th[data-param=dropout]")
    page.click("#column-chooser summary")
    page.uncheck("#column-chooser input[data-column=dropout]")
    assert page.locator("#trial-table th[data-param=dropout]").count() == 0
    page.check("#column-chooser input[data-column=dropout]")
    page.click("#column-chooser summary")
    page.click("#trial-table th[data-param=learning_rate]")
    page.wait_for_selector("#trial-table th.sorted-asc[data-param=learning_rate]")
    column = page.locator("#trial-table thead th").all_inner_texts().index("learning_rate") + 1

    def shown() -> list[float]:
        cells = page.locator(f"#trial-table tbody tr td:nth-child({column})").all_inner_texts()
        return [float(c) for c in cells]

    first = shown()
    assert first == sorted(first) and len(first) == 25
    page.click("#pager button:has-text('Next')")
    page.wait_for_function("document.getElementById('page-info').innerText.startsWith('page 2')")
    second = shown()
    assert min(second) >= max(first)  # sorted over the whole study, not per page
    page.check("#state-filter input[data-state=failed]")
    page.wait_for_function("document.getElementById('page-info').innerText.endsWith(' 6 trials')")
    href = page.locator("#csv-download").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = httpx.get(f"{live_server.url}{href}", cookies=cookies)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    numbers = [int(n) for n in page.locator("#trial-table tbody tr").evaluate_all(
        "r => r.map(x => x.dataset.number)")]  # fmt: skip
    assert [int(r["number"]) for r in rows] == numbers and {r["state"] for r in rows} == {"failed"}
    rates = [float(r["learning_rate"]) for r in rows]
    assert rates == sorted(rates)
    screenshot(page, "study-table-param-sort")
    assert console.errors == []


def test_clicking_a_timeline_bar_opens_its_trial(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, page: Any, console: Console
) -> None:
    fill_demo(api, trials=3, epochs=2)
    sign_in(page, live_server, viewer_token, f"/studies/{STUDY}")
    _drawn(page, "timeline")
    bar = page.locator("#timeline .barlayer .trace").first.locator("path").first
    number = page.evaluate("document.getElementById('timeline').data[0].customdata[0]")
    _click_point(page, bar)
    page.wait_for_url(f"{live_server.url}/studies/{STUDY}/trials/{number}")
    assert console.errors == []


def _asha_study(api: ParzenClient) -> int:
    """Four trials trained to epoch 9 and a fifth cut at the first rung by the server's ASHA;
    returns the pruned trial's number."""
    body = study_body(name="asha")
    body["objective"]["max_epochs"] = 9
    body["pruner"] = {"type": "asha", "min_epochs": 1, "reduction_factor": 3}
    body["budget"]["max_epochs_total"] = 100
    api.create_study(body)
    for loss in (0.2, 0.3, 0.4, 0.5):
        trial = api.ask("asha").trial
        assert trial is not None
        for step in range(1, 10):
            api.report(
                trial.id, step, {"val_loss": loss + 0.1 / step}, lease_token=trial.lease_token
            )
        api.tell(trial.id, "complete", loss + 0.01, lease_token=trial.lease_token)
    cut = api.ask("asha").trial
    assert cut is not None
    assert api.report(cut.id, 1, {"val_loss": 5.0}, lease_token=cut.lease_token)
    api.tell(cut.id, "pruned", lease_token=cut.lease_token)
    return cut.number


def test_pruned_trials_show_their_rung_reason_the_epochs_saved_and_their_own_colour(
    live_server: ServerThread, api: ParzenClient, viewer_token: str, browser: Any, console: Console
) -> None:
    """Fails if the study page stops saying why a trial was pruned (in the table), how many
    epochs the pruner saved and spent against the epoch budget, or draws a pruned learning
    curve in the colour of a complete one."""
    number = _asha_study(api)
    reason = api.trial("asha", number)["pruned_reason"]
    assert reason and reason.startswith("epoch 1: ")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    console.watch(page)
    try:
        sign_in(page, live_server, viewer_token, "/studies/asha")
        _drawn(page, "curves")
        epochs = page.locator("#epochs").text_content() or ""
        # 4 x 9 + 1 epochs of a budget of 100; the pruned trial saved 8 of its 9.
        assert "37 / 100 epochs" in epochs and "8 saved" in epochs, epochs
        row = page.locator(f"#trials tr[data-number='{number}']")
        assert reason in (row.locator(".pruned-reason").get_attribute("title") or "")
        colours = page.evaluate(
            "() => Object.fromEntries(document.getElementById('curves').data"
            ".filter((t) => t.name.startsWith('trial ')).map((t) => [t.legendgroup, t.line.color]))"
        )
        assert set(colours) == {"complete", "pruned"} and colours["complete"] != colours["pruned"]
        screenshot(page, "study-pruned")
        assert console.errors == []
    finally:
        page.close()

"""How fast the study page draws its first plot in headless Chromium, at 1,000, 10,000 and
100,000 trials, and how fast its trials table answers.

For each level, a real server (uvicorn in a thread, local mode) over a fresh SQLite database
gets one study of a 6-parameter mixed space, whose history is then written in one go
(`Storage.add_trials`: random draws, a synthetic objective). Debian's Chromium, launched
as the browser tests launch it, then opens the study page `--runs` times, each in a fresh
context (nothing cached: Plotly.js is downloaded and compiled every time), and once more in
the last context (warm: Plotly.js from the HTTP cache). Per level, medians of:

- html: the page's HTML received (navigation responseEnd);
- data: the history plot's data received (its /history request's responseEnd);
- plotly: Plotly.js loaded and run (a fixed cost, whatever the study: the page asks for its
  data meanwhile);
- first plot: the optimization history drawn by Plotly (`window.parzenFirstPlot`), all from
  navigation start; warm: the same on the warm visit;
- all plots: every plot with data drawn (parameter plots and importance come second);
- table: the trials table's data (`/dashboard/api/studies/<study>/trials`, 25 rows) for the
  first, a middle and the last page, by number and by value (descending), median and worst.

The last lines printed are `first_plot_seconds_at_100000: <s>` (target: 2 s) and
`first_plot_seconds_at_10000: <s>` (cold, median; target: 1 s).
The 10,000-trial page is saved to test-artifacts/screenshots/study-10000.png.

    python bench/dashboard.py                     # 1,000, 10,000, 100,000 trials, 3 runs each
    python bench/dashboard.py --levels 10000 --runs 5
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script: this tree's service, not the installed one
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from parzen.service.algorithms import RandomSampler
from parzen.service.config import Settings
from parzen.service.db.engine import make_engine
from parzen.service.db.migrate import upgrade
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.service.space import parse_space
from parzen.service.storage import FinishedTrial, Storage

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = Path(__file__).resolve().parents[1] / "test-artifacts/screenshots/study-10000.png"
STUDY = "bench-dashboard"
TARGET_SECONDS = {10_000: 1.0, 100_000: 2.0}
TABLE_TARGET_SECONDS = 0.3
PLOTS_WITH_DATA = ("history", "importance", "parallel", "slices")  # imported: no epochs

SPACE: dict[str, Any] = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "units": {"type": "int", "low": 16, "high": 512, "log": True},
    "layers": {"type": "int", "low": 1, "high": 6},
    "activation": {"type": "choice", "options": ["relu", "elu", "selu", "gelu"]},
    "layer": {
        "type": "choice",
        "options": [
            {"kind": "conv", "filters": {"type": "int", "low": 8, "high": 128}},
            {"kind": "dense", "width": {"type": "int", "low": 16, "high": 1024}},
        ],
    },
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
}


@dataclass(frozen=True)
class Visit:
    html: float
    data: float
    plotly: float
    first_plot: float
    all_plots: float


def objective(params: dict[str, Any], rng: np.random.Generator) -> float:
    loss = 0.5 + (math.log10(params["learning_rate"]) + 3.0) ** 2 / 4
    loss += (math.log2(params["units"]) - 7.0) ** 2 / 16 + (params["dropout"] - 0.2) ** 2
    return float(loss + rng.normal(0.0, 0.03))


STUDY_BODY: dict[str, Any] = {
    "name": STUDY,
    "direction": "minimize",
    "metric": "val_loss",
    "space": SPACE,
    "seed": 1,
    "budget": {"max_trials": 100_000, "max_parallel": 4},
}


def fill(storage: Storage, trials: int) -> None:
    space = parse_space(SPACE)
    sampler = RandomSampler(space, seed=1)
    rng = np.random.default_rng(0)
    finished = []
    for number in range(1, trials + 1):
        vals = sampler.propose(number)
        params = space.params_from_vals(vals)
        finished.append(FinishedTrial(vals, params, "complete", objective(params, rng)))
    storage.add_trials(study_name=STUDY, trials=finished)


@contextmanager
def served(trials: int) -> Iterator[str]:
    """A server in local mode whose study has `trials` finished trials."""
    with tempfile.TemporaryDirectory(prefix="parzen-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        storage = Storage(make_engine(url))
        settings = Settings(database_url=url, auth=False, artifact_dir=Path(tmp) / "artifacts")
        with ServerThread(create_app(settings, storage)) as server:
            httpx.post(f"{server.url}/api/v1/studies", json=STUDY_BODY).raise_for_status()
            fill(storage, trials)
            yield f"{server.url}/studies/{STUDY}"
        storage.close()


def visit(page: Any, url: str) -> Visit:
    page.goto(url)
    page.wait_for_function("window.parzenFirstPlot !== undefined", timeout=60_000)
    for plot in PLOTS_WITH_DATA:
        page.wait_for_selector(f"#{plot}[data-rendered=plot]", state="attached", timeout=60_000)
    all_plots = page.evaluate("performance.now()")
    marks = page.evaluate(
        """() => [
            performance.getEntriesByType("navigation")[0].responseEnd,
            performance.getEntriesByType("resource")
                .find((e) => e.name.endsWith("/history")).responseEnd,
            window.parzenPlotlyReady, window.parzenFirstPlot]"""
    )
    html, data, plotly, first = (m / 1000 for m in marks)
    return Visit(html, data, plotly, first, all_plots / 1000)


def table_seconds(url: str, trials: int) -> list[float]:
    """The trials table's data, pages first / middle / last, by number and by value."""
    api = url.replace("/studies/", "/dashboard/api/studies/") + "/trials"
    last = max(1, -(-trials // 25))
    seconds = []
    with httpx.Client(timeout=60) as client:
        for order, desc in (("number", "false"), ("value", "true")):
            for page in (1, (last + 1) // 2, last):
                start = time.perf_counter()
                client.get(
                    api, params={"order": order, "desc": desc, "page": page}
                ).raise_for_status()
                seconds.append(time.perf_counter() - start)
    return seconds


def measure(browser: Any, trials: int, runs: int) -> tuple[list[Visit], Visit, list[float]]:
    with served(trials) as url:
        table = table_seconds(url, trials)
        cold = []
        for run in range(runs):
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            cold.append(visit(page, url))
            if run < runs - 1:
                context.close()
        warm = visit(page, url)
        if trials == 10_000:
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT, full_page=True)
        context.close()
    return cold, warm, table


def median(visits: list[Visit], field: str) -> float:
    return float(statistics.median(getattr(v, field) for v in visits))


def render(
    results: dict[int, tuple[list[Visit], Visit, list[float]]],
    runs: int,
    anchors: dict[int, tuple[list[Visit], Visit, list[float]]],
) -> Table:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = Table(
        title=f"Study page in headless Chromium (seconds from navigation; median of {runs} "
        f"cold visits; {os.cpu_count()} CPUs, load {load})"
    )
    columns = ("bundle", "trials", "html", "data", "plotly", "first plot", "warm", "all plots")
    for column in (*columns, "table page\nmedian", "table page\nworst"):
        table.add_column(column, justify="right")
    rows = [("partial", r) for r in results.items()] + [("full", r) for r in anchors.items()]
    for bundle, (trials, (cold, warm, pages)) in rows:
        table.add_row(
            bundle,
            f"{trials:,}",
            *(f"{median(cold, f):.2f}" for f in ("html", "data", "plotly", "first_plot")),
            f"{warm.first_plot:.2f}",
            f"{median(cold, 'all_plots'):.2f}",
            f"{statistics.median(pages):.3f}",
            f"{max(pages):.3f}",
        )
    return table


def use_bundle(name: str) -> None:
    """Serve the partial bundle (the default), or the full plotly.min.js of the plotly
    package as the anchor, at the same URL and with the same headers."""
    import plotly

    import parzen.service.dashboard as dashboard

    if not hasattr(use_bundle, "partial"):
        use_bundle.partial = dashboard.PLOTLY_JS  # type: ignore[attr-defined]
    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dashboard.PLOTLY_JS = full if name == "full" else use_bundle.partial  # type: ignore[attr-defined]
    dashboard._plotly_gzipped.cache_clear()


def importance_seconds(trials: int, runs: int = 3) -> tuple[float, float, str]:
    """The importance card at `trials` complete trials, server side and uncached: median
    seconds of the parameter table (cached apart, shared with the parameter plots) and of
    the fit, and the method the card names."""
    from parzen.service.dashboard.importance import forest_importance
    from parzen.service.dashboard.params import ParamView
    from parzen.service.storage.dashboard import TrialVals

    space, view = parse_space(SPACE), ParamView.of(SPACE)
    sampler, rng = RandomSampler(space, seed=1), np.random.default_rng(0)
    rows = []
    for number in range(1, trials + 1):
        vals = sampler.propose(number)
        rows.append(TrialVals(number, objective(space.params_from_vals(vals), rng), vals))
    tables, fits, method = [], [], ""
    for _ in range(runs):
        started = time.perf_counter()
        table = view.table(rows)
        tables.append(time.perf_counter() - started)
        started = time.perf_counter()
        method = forest_importance(table).method
        fits.append(time.perf_counter() - started)
    return float(statistics.median(tables)), float(statistics.median(fits)), method


def importance_table(levels: list[int]) -> Table:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = Table(title=f"Importance card, server side (seconds, median of 3; load {load})")
    for column in ("trials", "table", "fit", "method"):
        table.add_column(column, justify="right")
    for trials in levels:
        table_s, fit_s, method = importance_seconds(trials)
        table.add_row(f"{trials:,}", f"{table_s:.3f}", f"{fit_s:.3f}", method)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--levels", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--anchor-levels",
        type=int,
        nargs="*",
        default=[10_000],
        help="levels also visited with the full plotly.min.js (4.8 MB), in the same run",
    )
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    console = Console()
    results: dict[int, tuple[list[Visit], Visit, list[float]]] = {}
    anchors: dict[int, tuple[list[Visit], Visit, list[float]]] = {}
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for trials in args.levels:
            console.log(f"{trials:,} trials: filling, then {args.runs} cold visits and a warm one")
            use_bundle("partial")
            results[trials] = measure(browser, trials, args.runs)
        for trials in args.anchor_levels:
            console.log(f"{trials:,} trials, full plotly.min.js: the same visits")
            use_bundle("full")
            anchors[trials] = measure(browser, trials, args.runs)
        browser.close()
    console.print(render(results, args.runs, anchors))
    console.print(importance_table(args.levels))
    console.print(f"{time.monotonic() - started:.0f} s in all")
    for trials in sorted(results, reverse=True):
        if trials not in TARGET_SECONDS:
            continue
        first = median(results[trials][0], "first_plot")
        pages = max(results[trials][2])
        verdict = "met" if first <= TARGET_SECONDS[trials] else "missed"
        console.print(
            f"target: first plot within {TARGET_SECONDS[trials]:g} s at {trials:,} trials: "
            f"{verdict}; table pages within {TABLE_TARGET_SECONDS:g} s: "
            f"{'met' if pages <= TABLE_TARGET_SECONDS else 'missed'}"
        )
    sys.stdout.flush()
    for trials in sorted(results, reverse=True):
        if trials in TARGET_SECONDS:
            print(f"first_plot_seconds_at_{trials}: {median(results[trials][0], 'first_plot'):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a worker's time goes: training against everything else, and memory across trials.

A real server (SQLite, loopback) and an in-process burst-mode daemon run N trials of a
convnet on digits. Overhead is all of a trial's wall time except the training itself:
asking for the trial, building the model, reports, checkpoint saving and the tell.
Resident memory is read after every trial: it should stay flat.

    python bench/worker_overhead.py [--trials 20] [--epochs 12]

The last line is `overhead_fraction: <x>` (target <= 0.05 for trials of about 10 s).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from service.config import Settings
from service.db.migrate import upgrade
from service.main import create_app
from service.server import ServerThread
from worker.client import ParzenClient
from worker.daemon import DaemonConfig, create

TOKEN = "bench-admin-token-local"  # PARZEN_ADMIN_TOKEN needs 16 characters
SPACE = {
    "conv": {"type": "choice", "options": ["conv", "separable"]},
    "blocks": 2,
    "filters": {"type": "int", "low": 24, "high": 40},
    "kernel_size": 3,
    "batch_norm": {"type": "choice", "options": [True, False]},
    "residual": {"type": "choice", "options": [True, False]},
    "dense_units": 64,
    "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-2},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=12, help="epochs per trial (no early stop)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        timings = run(Path(tmp), args.trials, args.epochs)
    show(timings)


def run(tmp: Path, trials: int, epochs: int) -> list:  # type: ignore[type-arg]
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    settings = Settings(database_url=url, admin_token=TOKEN, artifact_dir=tmp / "artifacts")
    with ServerThread(create_app(settings)) as server:
        with ParzenClient(server.url, TOKEN) as api:
            api.create_study(
                {
                    "name": "overhead",
                    "direction": "maximize",
                    "metric": "val_accuracy",
                    "space": SPACE,
                    "seed": 0,
                    "objective": {
                        "builder": "convnet",
                        "dataset": "digits",
                        "max_epochs": epochs,
                        "patience": epochs,
                        "batch_size": 32,
                    },
                    "budget": {"max_trials": trials, "max_parallel": 1},
                }
            )
        config = DaemonConfig(
            url=server.url, token=TOKEN, burst=True, poll_seconds=0.1, artifact_dir=tmp / "worker"
        )
        started = time.perf_counter()
        daemon = create(config)
        daemon.run()
        print(f"{trials} trials in {time.perf_counter() - started:.1f} s")
    return daemon.timings


def show(timings: list) -> None:  # type: ignore[type-arg]
    table = Table(
        "trial",
        "outcome",
        "total s",
        "training s",
        "overhead s",
        "overhead %",
        "lease ms",
        "reports+saves ms",
        "RSS MiB",
    )
    for t in timings:
        table.add_row(
            str(t.number),
            t.outcome,
            f"{t.total_seconds:.2f}",
            f"{t.fit_seconds - t.callback_seconds:.2f}",
            f"{t.overhead_seconds:.3f}",
            f"{100 * t.overhead_seconds / t.total_seconds:.1f}",
            f"{1000 * t.lease_seconds:.1f}",
            f"{1000 * t.callback_seconds:.0f}",
            f"{t.rss_bytes / 2**20:.0f}",
        )
    Console().print(table)
    total = sum(t.total_seconds for t in timings)
    overhead = sum(t.overhead_seconds for t in timings)
    rss = [t.rss_bytes / 2**20 for t in timings]
    half = len(rss) // 2
    growth = statistics.median(rss[half:]) - statistics.median(rss[:half])
    # Caches that fill up (TensorFlow's kernels, oneDNN's primitives) level off; a leak
    # keeps its slope: the second half's trend says which.
    slope = statistics.linear_regression(range(half, len(rss)), rss[half:]).slope
    print(
        f"mean trial {total / len(timings):.2f} s; RSS first {rss[0]:.0f} MiB, "
        f"last {rss[-1]:.0f} MiB, median second half minus first half {growth:+.0f} MiB, "
        f"second half's trend {slope:+.2f} MiB per trial"
    )
    print(f"overhead_fraction: {overhead / total:.4f}")


if __name__ == "__main__":
    main()

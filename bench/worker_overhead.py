"""Where a worker's time goes: training against everything else, and memory across trials.

A real server (SQLite, loopback) and an in-process burst-mode daemon run N trials of a
convnet on digits. Overhead is all of a trial's wall time except the training itself:
asking for the trial, building the model (timed on its own: the builder's call, its compile
included), reports, checkpoint saving and the tell. Resident memory is read after every
trial: it should stay flat.

    python bench/worker_overhead.py [--trials 20] [--epochs 12] [--startups 3]

First, `--startups` times a real `parzen worker --burst` process (python -m parzen.cli.main, a
fresh interpreter each time: imports, Keras, the dataset, the first lease and build) from
its spawn to its first trained epoch on record at the server (the trial's `last_step`).

The trials' headline lines are `model_build_seconds_mean: <s>`, then
`overhead_fraction: <x>` (target <= 0.05 for trials of about 10 s); with `--startups`,
`worker_start_to_first_epoch_seconds: <s>` comes last.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script: this tree's code, not the installed one
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from parzen.service.config import Settings
from parzen.service.db.migrate import upgrade
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from parzen.worker.daemon import DaemonConfig, create

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
    parser.add_argument("--startups", type=int, default=3, help="`parzen worker` starts timed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        startups = [startup(Path(tmp) / f"start-{k}", args.epochs) for k in range(args.startups)]
        timings = run(Path(tmp), args.trials, args.epochs)
    show(timings)
    if startups:
        each = ", ".join(f"{x:.2f}" for x in startups)
        median = statistics.median(startups)
        print(f"parzen worker start to first trained epoch: median {median:.2f} s ({each})")
        print(f"worker_start_to_first_epoch_seconds: {statistics.median(startups):.2f}")


def study_body(name: str, trials: int, epochs: int) -> dict:  # type: ignore[type-arg]
    return {
        "name": name,
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


def startup(tmp: Path, epochs: int) -> float:
    """Seconds from spawning `parzen worker --burst` to its first epoch reported."""
    tmp.mkdir(parents=True)
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    settings = Settings(database_url=url, admin_token=TOKEN, artifact_dir=tmp / "artifacts")
    root = Path(__file__).resolve().parents[1]
    with ServerThread(create_app(settings)) as server, ParzenClient(server.url, TOKEN) as api:
        api.create_study(study_body("startup", 1, epochs))
        command = [sys.executable, "-m", "parzen.cli.main", "worker", "--burst", "--poll", "0.1"]
        env = os.environ | {"PARZEN_URL": server.url, "PARZEN_TOKEN": TOKEN}
        started = time.perf_counter()
        worker = subprocess.Popen(
            [*command, "--artifact-dir", str(tmp / "worker")],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                with_step = api.trials("startup")["data"] if worker.poll() is None else []
                if any(t.get("last_step") for t in with_step):
                    return time.perf_counter() - started
                if worker.poll() is not None:
                    raise RuntimeError("parzen worker exited before its first epoch")
                time.sleep(0.05)
        finally:
            worker.terminate()
            worker.wait(timeout=60)


def run(tmp: Path, trials: int, epochs: int) -> list:  # type: ignore[type-arg]
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    settings = Settings(database_url=url, admin_token=TOKEN, artifact_dir=tmp / "artifacts")
    with ServerThread(create_app(settings)) as server:
        with ParzenClient(server.url, TOKEN) as api:
            api.create_study(study_body("overhead", trials, epochs))
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
        "build s",
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
            f"{t.build_seconds:.3f}",
            f"{1000 * t.lease_seconds:.1f}",
            f"{1000 * t.callback_seconds:.0f}",
            f"{t.rss_bytes / 2**20:.0f}",
        )
    Console(width=120).print(table)  # ten columns: 80, the default off a terminal, cuts them
    total = sum(t.total_seconds for t in timings)
    overhead = sum(t.overhead_seconds for t in timings)
    build = sum(t.build_seconds for t in timings)
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
    builds = sorted(t.build_seconds for t in timings)
    print(
        f"model build: mean {build / len(timings):.3f} s per trial "
        f"(min {builds[0]:.3f}, median {statistics.median(builds):.3f}, max {builds[-1]:.3f}), "
        f"{100 * build / overhead:.1f}% of the overhead, {100 * build / total:.2f}% of the time"
    )
    print(f"model_build_seconds_mean: {build / len(timings):.3f}")
    print(f"overhead_fraction: {overhead / total:.4f}")


if __name__ == "__main__":
    main()

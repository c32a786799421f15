"""Does the sealed test step pick better models than the naive best-validation pick?

For each dataset and seed: a real server (SQLite) and an in-process worker run a TPE study
of MLPs with a small validation split, then finalize it (top 5, k-fold re-scoring). From
the report: the test score of the naive pick (best validation value), of the re-scored
pick and of the ensemble, and the naive pick's validation-test gap.

    python bench/selection.py [--seeds 5] [--trials 60] [--datasets digits_flat,breast_cancer]
    python bench/selection.py --datasets digits_flat --seeds 2 --first-seed 3  # a share of it

Each finished run is appended to --results (JSON lines), so runs can be split over
processes (one per dataset, say) and summarized together with --summarize.

The last line is `ensemble_minus_naive_test: <mean difference>` (positive: the ensemble
scores better on test, for this metric, accuracy, where higher is better).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from parzen.service.config import Settings
from parzen.service.db.migrate import upgrade
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from parzen.worker.daemon import DaemonConfig, create

TOKEN = "bench-admin-token-local"  # PARZEN_ADMIN_TOKEN needs 16 characters
SPACE = {
    "layers": {"type": "int", "low": 1, "high": 3},
    "units": {"type": "int", "low": 8, "high": 256, "log": True},
    "activation": {"type": "choice", "options": ["relu", "elu", "selu"]},
    "batch_norm": {"type": "choice", "options": [True, False]},
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
    "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 3e-2},
}


def run_one(tmp: Path, dataset: str, seed: int, trials: int, epochs: int) -> dict[str, Any]:
    url = f"sqlite:///{tmp / f'{dataset}-{seed}.db'}"
    upgrade(url)
    settings = Settings(database_url=url, admin_token=TOKEN, artifact_dir=tmp / "store")
    with ServerThread(create_app(settings)) as server, ParzenClient(server.url, TOKEN) as api:
        api.create_study(
            {
                "name": "selection",
                "direction": "maximize",
                "metric": "val_accuracy",
                "space": SPACE,
                "seed": seed,
                "algorithm_settings": {"n_startup_trials": 10},
                "objective": {
                    "builder": "mlp",
                    "dataset": dataset,
                    "max_epochs": epochs,
                    "patience": 4,
                    "batch_size": 64,
                    "split": {"seed": seed, "validation_fraction": 0.1, "test_fraction": 0.3},
                },
                "budget": {"max_trials": trials, "max_parallel": 1},
            }
        )
        config = DaemonConfig(
            url=server.url, token=TOKEN, burst=True, poll_seconds=0.1, artifact_dir=tmp / "worker"
        )
        create(config).run()
        api.finalize("selection", top_k=5, rescore="kfold")
        create(config).run()
        report = api.test_report("selection")["report"]
    naive = report["candidates"][0]
    return {
        "dataset": dataset,
        "seed": seed,
        "naive_test": naive["test"],
        "naive_gap": naive["gap"],
        "rescored_test": report["pick"]["test"],
        "ensemble_test": report["ensemble"]["test"],
        # The two weighting rules on the same predictions: which one a small split should use.
        "fitted_ensemble_test": report["ensemble"].get("fitted_test"),
        "equal_ensemble_test": report["ensemble"].get("equal_test"),
        "ensemble_weighting": report["ensemble"].get("weighting", "fitted"),
        "rank_correlation": report["rank_correlation"],
        "ranking_note": report.get("ranking_note"),
        "validation_rows": report["validation_rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0, help="to split seeds over processes")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--datasets", default="digits_flat,breast_cancer")
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--results", type=Path, default=Path("selection-results.jsonl"))
    parser.add_argument("--summarize", action="store_true", help="only print --results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in [] if args.summarize else args.datasets.split(","):
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                row = run_one(Path(tmp), dataset, seed, args.trials, args.max_epochs)
                with args.results.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                print(f"{dataset} seed {seed}: {row}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {}
    for line in args.results.read_text().splitlines():
        row = json.loads(line)
        results.setdefault(row["dataset"], []).append(row)
    show(results, args, time.perf_counter() - started)


def show(
    results: dict[str, list[dict[str, Any]]], args: argparse.Namespace, seconds: float
) -> None:
    table = Table(
        "dataset",
        "validation rows",
        "naive pick test",
        "re-scored pick test",
        "ensemble test",
        "fitted weights test",
        "equal weights test",
        "naive val-test gap",
        "ensemble - naive",
        title=f"{args.trials} trials per study, test accuracy (mean ± sd over seeds)",
    )
    differences = []
    for dataset, rows in results.items():

        def cell(key: str, rows: list[dict[str, Any]] = rows) -> str:
            values = [r[key] for r in rows if r.get(key) is not None]
            if not values:  # results written before the report had this figure
                return "-"
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.4f} ± {spread:.4f}"

        diffs = [r["ensemble_test"] - r["naive_test"] for r in rows]
        differences += diffs
        table.add_row(
            f"{dataset} ({len(rows)} seeds)",
            str(rows[0]["validation_rows"]),
            cell("naive_test"),
            cell("rescored_test"),
            cell("ensemble_test"),
            cell("fitted_ensemble_test"),
            cell("equal_ensemble_test"),
            cell("naive_gap"),
            f"{statistics.mean(diffs):+.4f}",
        )
    Console().print(table)
    print(f"total {seconds / 60:.1f} min")
    print(f"ensemble_minus_naive_test: {statistics.mean(differences):+.4f}")


if __name__ == "__main__":
    main()

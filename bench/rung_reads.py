"""What a report costs when it reaches an ASHA rung, as the rung fills: against a report of
the same trial that reaches none, in the same run, on SQLite and PostgreSQL.

A report at a rung reads the rung's other entries (one value per distinct configuration,
storage/rungs.py) under the study's rung lock, so on a long study its cost grows with the
rung, and every rung decision of the study waits for the one before. An `asha` study of
bench/ask_latency.py's 6-parameter space gets `level` entries at its first rung (epoch 1):
finished trials of random configurations, bulk-imported, each with its rung entry inserted
beside it. Then each sample asks a trial and times, in this process, its report at epoch 1
(it reaches the rung and is judged) and its report at epoch 2 (no rung: the anchor).

    python bench/rung_reads.py                         # 100, 1,000, 10,000 entries
    python bench/rung_reads.py --levels 1000 --databases sqlite

The last line is `rung_report_ms_at_<top>_entries: <the worse database's median>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select

if not __package__:  # run as a script: python bench/rung_reads.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.ask_latency import (
    DATABASES,
    DEFAULT_POSTGRES_URL,
    SPACE,
    Database,
    database_urls,
    random_trials,
)
from parzen.service.db.engine import make_engine
from parzen.service.db.models import RungEntry, Trial
from parzen.service.proposals import SamplerPool
from parzen.service.space import parse_space
from parzen.service.storage import Storage, StudySpec
from parzen.service.storage.rungs import configuration_key

STUDY = "rungs"
LEVELS = (100, 1000, 10000)
SAMPLES = 30


def create_study(storage: Storage) -> None:
    storage.create_study(
        spec=StudySpec(
            name=STUDY,
            direction="minimize",
            metric="loss",
            space=SPACE,
            algorithm="random",
            algorithm_settings={},
            objective={"builder": "mlp", "dataset": "digits"},
            seed=1,
            max_trials=1_000_000,
            max_parallel=10_000,
            timeout_seconds=None,
            target_value=None,
            lease_seconds=600.0,
            max_attempts=3,
            pruner={"type": "asha", "min_epochs": 1, "reduction_factor": 3, "max_epochs": 27},
        )
    )


def fill_rung(storage: Storage, entries: int) -> None:
    """Finished trials of random configurations until the first rung holds `entries`."""
    study_id = storage.get_study(name=STUDY).id
    with storage.session() as session:
        have = session.scalar(select(func.count()).where(RungEntry.study_id == study_id)) or 0
    missing = entries - have
    if missing <= 0:
        return
    rng = np.random.default_rng(entries)
    trials = random_trials(
        parse_space(SPACE), range(missing), rng=rng, seed=entries, state="pruned"
    )
    numbers = storage.add_trials(study_name=STUDY, trials=trials)
    with storage.session() as session:
        imported = session.execute(
            select(Trial.id, Trial.vals).where(
                Trial.study_id == study_id, Trial.number.in_(numbers)
            )
        ).all()
        rows: list[dict[str, Any]] = [
            {
                "study_id": study_id,
                "trial_id": trial_id,
                "bracket": 0,
                "epoch": 1,
                "attempt": 1,
                "value": float(rng.uniform(0.5, 1.5)),
                "keep": False,
                "configuration": configuration_key(vals),
            }
            for trial_id, vals in imported
        ]
        session.execute(insert(RungEntry), rows)


def sample(storage: Storage, pool: SamplerPool) -> tuple[float, float, str]:
    """One trial's report at the rung (epoch 1) and at no rung (epoch 2), in seconds."""
    trial = storage.ask(study_name=STUDY, worker_id=None, proposer=pool).trial
    assert trial is not None
    token = trial.lease_token
    assert token is not None
    start = time.perf_counter()
    judged = storage.report(trial_id=trial.id, lease_token=token, step=1, values={"loss": 0.1})
    rung = time.perf_counter() - start  # the best value yet: kept
    start = time.perf_counter()
    storage.report(trial_id=trial.id, lease_token=token, step=2, values={"loss": 0.1})
    return rung, time.perf_counter() - start, judged.reason if judged.should_stop else ""


def run(
    kind: Database, levels: Sequence[int], samples: int
) -> list[tuple[Database, int, float, float]]:
    rows = []
    with database_urls(kind, DEFAULT_POSTGRES_URL) as (url, _):
        storage = Storage(make_engine(url))
        try:
            create_study(storage)
            pool = SamplerPool()
            for level in levels:
                fill_rung(storage, level)
                sample(storage, pool)  # warm
                timed = [sample(storage, pool) for _ in range(samples)]
                stopped = [reason for _, _, reason in timed if reason]
                if stopped:
                    raise RuntimeError(f"a sample was stopped ({stopped[0]}): it must continue")
                rung = statistics.median(t[0] for t in timed) * 1000
                plain = statistics.median(t[1] for t in timed) * 1000
                rows.append((kind, level, rung, plain))
                Console(stderr=True).print(
                    f"{kind} {level:,} entries: at the rung {rung:.2f} ms, at none {plain:.2f} ms"
                )
        finally:
            storage.close()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--levels", default=",".join(str(x) for x in LEVELS))
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    levels = sorted(int(x) for x in args.levels.split(","))
    load = os.getloadavg()[0]
    kinds = [x.strip() for x in args.databases.split(",")]
    if any(kind not in DATABASES for kind in kinds):
        parser.error(f"--databases takes sqlite and/or postgresql (got {args.databases!r})")
    rows = [row for kind in DATABASES if kind in kinds for row in run(kind, levels, args.samples)]
    table = Table(
        title="A report at an ASHA rung against one at no rung, as the rung fills",
        caption=f"median of {args.samples} each; 1-min load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs",
    )
    for name in ("database", "rung entries", "at the rung ms", "at no rung ms", "ratio"):
        table.add_column(name, justify="right")
    for kind, level, rung, plain in rows:
        table.add_row(kind, f"{level:,}", f"{rung:.2f}", f"{plain:.2f}", f"{rung / plain:.1f}")
    Console(width=120).print(table)
    top = levels[-1]
    worst = max(rung for _, level, rung, _ in rows if level == top)
    print(f"rung_report_ms_at_{top}_entries: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

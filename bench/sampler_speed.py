"""The tpe-mv sampler alone, before and after issue 15, on the same history in one run.

The frozen copy of the sampler before it was vectorized
(tests/service/algorithms/reference_tpe_mv.py) and today's `MultivariateTPESampler` are fed
the same random finished trials of bench/ask_latency.py's space, then each proposes
`--samples` times, alternating, at every level; both must propose the same. As in the
service's ask loop, each proposal after the first follows the observation of the one before
it as a running trial (the constant liar), and the time is that observe and the proposal:
what the sampler keeps between proposals has to be brought up to date, not merely reused.

    python bench/sampler_speed.py                  # 1,000, 5,000, 10,000 trials
    python bench/sampler_speed.py --levels 10000 --samples 20

The last line is `sampler_ms_at_10000: <ms>` (target <= 25; 15 at 5,000).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script: this tree's code, not the installed one
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.ask_latency import SEED, SPACE, objective
from parzen.service.algorithms import Observation, RandomSampler
from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
from parzen.service.space import parse_space
from tests.service.algorithms.reference_tpe_mv import MultivariateTPESampler as Before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--levels", type=int, nargs="+", default=[1000, 5000, 10_000])
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args(argv)
    space = parse_space(SPACE)
    random, rng = RandomSampler(space, seed=12345), np.random.default_rng(0)
    before, after = Before(space, seed=SEED), MultivariateTPESampler(space, seed=SEED)
    table = Table(title="tpe-mv sampler alone, median ms per proposal (same history, same run)")
    for column in ("finished trials", "before", "after", "speed-up", "same proposals"):
        table.add_column(column, justify="right")
    finished, number, medians = 0, 0, {}
    for level in sorted(args.levels):
        batch = []
        for _ in range(level - finished):
            number += 1
            vals = random.propose(number)
            loss = objective(space.params_from_vals(vals), rng)
            batch.append(Observation(number, "complete", vals, loss))
        before.observe(batch)
        after.observe(batch)
        finished = level
        times: dict[str, list[float]] = {"before": [], "after": []}
        same = 0
        previous: list[Observation] = []  # the last proposal, now a running trial
        for _ in range(args.samples):
            number += 1
            proposals = []
            for name, sampler in (("before", before), ("after", after)):
                start = time.perf_counter()
                sampler.observe(previous)
                proposals.append(sampler.propose(number))
                times[name].append(time.perf_counter() - start)
            same += proposals[0] == proposals[1]
            previous = [Observation(number, "running", proposals[1], None)]
        b, a = (float(np.median(times[n])) * 1000 for n in ("before", "after"))
        medians[level] = a
        table.add_row(
            f"{level:,}", f"{b:.1f}", f"{a:.1f}", f"{b / a:.1f}x", f"{same}/{args.samples}"
        )
    console = Console()
    console.print(table)
    console.print(f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    top = max(medians)
    print(f"sampler_ms_at_{top}: {medians[top]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

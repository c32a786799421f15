"""`median` (as Optuna's MedianPruner): at a step, a trial whose intermediate value is worse
than the median of the finished trials' values at that same step is pruned, once enough
trials have finished (`n_startup_trials`) and past the first `n_warmup_steps` steps.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MedianPruner:
    n_startup_trials: int = 5
    n_warmup_steps: int = 2

    def should_prune(
        self, *, step: int, value: float, others: Sequence[float], maximize: bool
    ) -> bool:
        if step <= self.n_warmup_steps or len(others) < self.n_startup_trials:
            return False
        median = statistics.median(others)
        return value < median if maximize else value > median

    def reason(
        self, *, step: int, metric: str, value: float, others: Sequence[float], maximize: bool
    ) -> str:
        """Why `should_prune` said yes, in the words the dashboard and the API show."""
        side = "below" if maximize else "above"
        return (
            f"epoch {step}: {metric} {value:.4g} is {side} the median of {len(others)} "
            f"finished trials at that epoch, {statistics.median(others):.4g}"
        )

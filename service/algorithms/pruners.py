"""Pruners: stop a running trial early when its learning curve is clearly behind.

`median` (as Optuna's MedianPruner): at a step, a trial whose intermediate value is worse
than the median of the finished trials' values at that same step is pruned, once enough
trials have finished (`n_startup_trials`) and past the first `n_warmup_steps` steps.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.algorithms.base import AlgorithmSettingsError

PRUNERS = ("none", "median")


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


def validate_pruner(settings: Mapping[str, object] | None) -> dict[str, object]:
    """Normalized pruner settings: {"type": "none"} or {"type": "median", ...}."""
    settings = dict(settings or {"type": "none"})
    kind = settings.pop("type", "none")
    if kind not in PRUNERS:
        raise AlgorithmSettingsError(f"unknown pruner {kind!r}; expected one of: {PRUNERS}")
    if kind == "none":
        if settings:
            raise AlgorithmSettingsError(
                f"pruner 'none' takes no settings (got {sorted(settings)})"
            )
        return {"type": "none"}
    defaults = MedianPruner()
    problems = [
        f"unknown pruner setting {key!r}"
        for key in settings
        if key not in ("n_startup_trials", "n_warmup_steps")
    ]
    values = {
        "n_startup_trials": defaults.n_startup_trials,
        "n_warmup_steps": defaults.n_warmup_steps,
    } | settings
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{key} must be an integer >= 0 (got {value!r})")
    if problems:
        raise AlgorithmSettingsError("; ".join(problems))
    return {"type": "median", **values}


def make_pruner(settings: Mapping[str, object]) -> MedianPruner | None:
    if settings.get("type") != "median":
        return None
    return MedianPruner(
        int(str(settings["n_startup_trials"])), int(str(settings["n_warmup_steps"]))
    )

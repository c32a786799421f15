"""Study specs for tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from parzen.service.storage import StudySpec

MIXED_SPACE: dict[str, Any] = {
    "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "units": {"type": "int", "low": 16, "high": 256, "log": True},
    "activation": {"type": "choice", "options": ["relu", "elu", "selu"]},
    "layer": {
        "type": "choice",
        "options": [
            {
                "kind": "conv",
                "filters": {"type": "int", "low": 8, "high": 64},
                "kernel_size": {"type": "choice", "options": [3, 5]},
            },
            {"kind": "dense", "width": {"type": "int", "low": 16, "high": 512}},
        ],
    },
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
}


def study_spec(name: str = "study", **changes: Any) -> StudySpec:
    spec = StudySpec(
        name=name,
        direction="minimize",
        metric="val_loss",
        space=MIXED_SPACE,
        algorithm="tpe",
        algorithm_settings={"n_startup_trials": 5},
        objective={"builder": "mlp", "dataset": "digits"},
        seed=7,
        max_trials=20,
        max_parallel=4,
        timeout_seconds=None,
        target_value=None,
        lease_seconds=30.0,
        max_attempts=3,
        pruner={"type": "none"},
    )
    return replace(spec, **changes)


def quadratic(params: dict[str, Any]) -> float:
    """A cheap objective over MIXED_SPACE with a known good region."""
    import math

    loss = (math.log10(params["learning_rate"]) + 2.5) ** 2 + params["dropout"]
    return loss + (0.0 if params["layer"]["kind"] == "conv" else 0.3)

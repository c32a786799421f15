"""Pruners: stop a running trial early when its learning curve is clearly behind.

`median` (median.py), `asha` and `hyperband` (halving.py); `none` prunes nothing. The server
decides when a worker reports (service/storage/trials.py; ASHA's rungs in storage/rungs.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from parzen.service.algorithms.base import AlgorithmSettingsError
from parzen.service.algorithms.pruners.halving import HalvingPruner, Judgement
from parzen.service.algorithms.pruners.median import MedianPruner

PRUNERS = ("none", "median", "asha", "hyperband")
Pruner = MedianPruner | HalvingPruner

__all__ = [
    "PRUNERS",
    "HalvingPruner",
    "Judgement",
    "MedianPruner",
    "Pruner",
    "make_pruner",
    "validate_pruner",
]

_MEDIAN_KEYS = {"n_startup_trials": 5, "n_warmup_steps": 2}
_HALVING_KEYS = {"min_epochs": 1, "reduction_factor": 3, "max_epochs": None}


def validate_pruner(
    settings: Mapping[str, object] | None, *, max_epochs: int | None = None
) -> dict[str, object]:
    """Normalized pruner settings, defaults filled in: {"type": "none"}, {"type": "median",
    ...}, {"type": "asha" | "hyperband", "min_epochs", "reduction_factor", "max_epochs"}.
    `max_epochs` (the objective's) is the default of the halving pruners' own."""
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
    known: Mapping[str, int | None] = _MEDIAN_KEYS if kind == "median" else _HALVING_KEYS
    problems = [
        f"unknown pruner setting {key!r} for {kind}" for key in settings if key not in known
    ]
    values: dict[str, object] = dict(known) | settings
    if kind != "median" and values["max_epochs"] is None:
        values["max_epochs"] = max_epochs
    for key, value in values.items():
        if key == "max_epochs" and value is None and kind == "asha":
            continue  # rungs without end: plain ask/tell users may train as long as they like
        lowest = 2 if key == "reduction_factor" else (0 if kind == "median" else 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            problems.append(f"{key} must be an integer >= {lowest} (got {value!r})")
    if not problems and kind != "median" and values["max_epochs"] is not None:
        low, high = values["min_epochs"], values["max_epochs"]
        assert isinstance(low, int) and isinstance(high, int)
        if high <= low:
            problems.append(f"max_epochs ({high}) must be > min_epochs ({low})")
    if problems:
        raise AlgorithmSettingsError("; ".join(problems))
    return {"type": kind, **values}


def make_pruner(settings: Mapping[str, object]) -> Pruner | None:
    kind = settings.get("type")
    if kind == "median":
        return MedianPruner(
            int(str(settings["n_startup_trials"])), int(str(settings["n_warmup_steps"]))
        )
    if kind in ("asha", "hyperband"):
        top = settings.get("max_epochs")
        return HalvingPruner(
            min_epochs=int(str(settings["min_epochs"])),
            reduction_factor=int(str(settings["reduction_factor"])),
            max_epochs=None if top is None else int(str(top)),
            hyperband=kind == "hyperband",
        )
    return None

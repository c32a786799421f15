"""Samplers that propose trial parameters from a study's history."""

import importlib
from typing import TYPE_CHECKING, Any

from parzen.service.algorithms.base import (
    ALGORITHMS,
    AlgorithmSettingsError,
    Observation,
    Sampler,
    TrialState,
    make_sampler,
    parse_algorithm,
    validate_algorithm,
)
from parzen.service.algorithms.random import RandomSampler
from parzen.service.algorithms.tpe_settings import TPESettings

if TYPE_CHECKING:
    from parzen.service.algorithms.tpe import TPESampler

__all__ = [
    "ALGORITHMS",
    "AlgorithmSettingsError",
    "Observation",
    "RandomSampler",
    "Sampler",
    "TPESampler",
    "TPESettings",
    "TrialState",
    "make_sampler",
    "parse_algorithm",
    "preload",
    "validate_algorithm",
]


def preload() -> None:
    """Import the TPE samplers' modules (SciPy's special functions, hyperopt): ~0.2 s and
    ~0.7 s that a server pays at start-up instead of in its first asks. The CLI and the
    workers never import them."""
    importlib.import_module("parzen.service.algorithms.tpe_mv")
    importlib.import_module("parzen.service.algorithms.tpe")


def __getattr__(name: str) -> Any:
    # hyperopt takes about a second to import; load it only when TPE is used.
    if name == "TPESampler":
        from parzen.service.algorithms.tpe import TPESampler

        return TPESampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

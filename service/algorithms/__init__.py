"""Samplers that propose trial parameters from a study's history."""

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
    "validate_algorithm",
]


def __getattr__(name: str) -> Any:
    # hyperopt takes about a second to import; load it only when TPE is used.
    if name == "TPESampler":
        from parzen.service.algorithms.tpe import TPESampler

        return TPESampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

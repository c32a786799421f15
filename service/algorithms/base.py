"""The sampler interface, the records samplers read, and the algorithm registry."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from parzen.service.space import SearchSpace
from parzen.service.suggest import did_you_mean

TrialState = Literal["queued", "running", "complete", "pruned", "failed"]
FINISHED_STATES: frozenset[TrialState] = frozenset({"complete", "pruned"})


@dataclass(frozen=True, slots=True)
class Observation:
    number: int  # trial number within the study: 1, 2, 3...
    state: TrialState
    vals: Mapping[str, float | int]  # label -> natural value or option index; active only
    loss: float | None  # to minimize; None unless complete or pruned


class Sampler(ABC):
    @abstractmethod
    def observe(self, observations: Iterable[Observation]) -> None:
        """Upsert observations by number; a number may come again with a new state."""

    @abstractmethod
    def propose(self, number: int) -> dict[str, float | int]:
        """Vals for the new trial `number`: active labels only."""


class AlgorithmSettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Setting:
    default: int | float
    integer: bool
    low: float  # exclusive unless low_inclusive
    high: float | None = None  # exclusive
    low_inclusive: bool = False
    boolean: bool = False

    def normalize(self, value: object) -> int | float | None:
        """The value as int, float or bool, or None when it breaks the rule."""
        if self.boolean:
            return value if isinstance(value, bool) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(value) or (self.integer and not float(value).is_integer()):
            return None
        above = value >= self.low if self.low_inclusive else value > self.low
        if not above or (self.high is not None and value >= self.high):
            return None
        return int(value) if self.integer else float(value)

    def rule(self) -> str:
        if self.boolean:
            return "true or false"
        kind = "an integer" if self.integer else "a number"
        if self.high is not None:
            return f"{kind} in ({self.low:g}, {self.high:g})"
        return f"{kind} {'>=' if self.low_inclusive else '>'} {self.low:g}"


_BOOLEAN_TRUE = _Setting(True, integer=False, low=0, boolean=True)
# Both TPEs take the same settings with the same defaults: hyperopt's except
# n_startup_trials (hyperopt: 20 startup jobs) and gamma, which is Optuna's rule (the best
# min(ceil(gamma * finished), 25) trials form the good group; hyperopt's own is
# ceil(0.25 * sqrt(n))): bench/search_quality.py, average rank 5.09 -> 4.13 among 7 TPE
# variants; for tpe-mv these are Optuna's defaults. constant_liar: pending trials join the
# bad group (true) or are left out (false).
_TPE_SETTINGS: dict[str, _Setting] = {
    "n_startup_trials": _Setting(10, integer=True, low=0, low_inclusive=True),
    "gamma": _Setting(0.1, integer=False, low=0, high=1),
    "n_ei_candidates": _Setting(24, integer=True, low=1, low_inclusive=True),
    "prior_weight": _Setting(1.0, integer=False, low=0),
    "constant_liar": _BOOLEAN_TRUE,
}
_SETTINGS: dict[str, dict[str, _Setting]] = {
    "random": {},
    "tpe": _TPE_SETTINGS,
    "tpe-mv": _TPE_SETTINGS,
}
ALGORITHMS: tuple[str, ...] = tuple(_SETTINGS)


def validate_algorithm(name: str, settings: Mapping[str, object]) -> dict[str, object]:
    """Settings with defaults filled in; AlgorithmSettingsError says what to fix."""
    return dict(_validated(name, settings))


def make_sampler(
    name: str, settings: Mapping[str, object], space: SearchSpace, seed: int
) -> Sampler:
    valid = _validated(name, settings)
    if name == "random":
        from parzen.service.algorithms.random import RandomSampler

        return RandomSampler(space, seed=seed)
    sampler_class: Callable[..., Sampler]
    if name == "tpe-mv":
        from parzen.service.algorithms.tpe_mv import MultivariateTPESampler

        sampler_class = MultivariateTPESampler
    else:
        from parzen.service.algorithms.tpe import TPESampler  # imports hyperopt, slow to load

        sampler_class = TPESampler
    return sampler_class(
        space,
        seed=seed,
        n_startup_trials=int(valid["n_startup_trials"]),
        gamma=float(valid["gamma"]),
        n_ei_candidates=int(valid["n_ei_candidates"]),
        prior_weight=float(valid["prior_weight"]),
        constant_liar=bool(valid["constant_liar"]),
    )


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 (got {seed!r})")
    return seed


def trial_seed(seed: int, number: int) -> int:
    """A seed for trial `number` of a study: same study seed and number, same seed."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def trial_rng(seed: int, number: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, number]))


def _validated(name: str, settings: Mapping[str, object]) -> dict[str, int | float]:
    if name not in _SETTINGS:
        raise AlgorithmSettingsError(
            f"unknown algorithm {name!r}; expected one of: {', '.join(ALGORITHMS)}"
            f"{did_you_mean(str(name), ALGORITHMS)}"
        )
    if not isinstance(settings, Mapping):
        raise AlgorithmSettingsError(f"settings must be an object (got {settings!r})")
    specs = _SETTINGS[name]
    problems = [_unknown_setting(name, str(key), specs) for key in settings if key not in specs]
    valid: dict[str, int | float] = {}
    for key, spec in specs.items():
        value = settings.get(key, spec.default)
        normalized = spec.normalize(value)
        if normalized is None:
            problems.append(f"{key} must be {spec.rule()} (got {value!r})")
        else:
            valid[key] = normalized
    if problems:
        raise AlgorithmSettingsError("; ".join(problems))
    return valid


def _unknown_setting(name: str, key: str, specs: Mapping[str, _Setting]) -> str:
    if not specs:
        return f"unknown setting {key!r}: {name} takes no settings"
    hint = did_you_mean(key, specs)
    return f"unknown setting {key!r} for {name}{hint}; known settings: {', '.join(specs)}"

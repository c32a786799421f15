"""The sampler interface, the records samplers read, and the algorithm registry."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from parzen.service.algorithms.tpe_settings import TPESettings
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
class _Rule:
    """What a setting's value must be; its default is TPESettings' field."""

    integer: bool = False
    low: float = 0.0  # exclusive unless low_inclusive
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


# One rule per field of TPESettings, in its order.
_TPE_RULES: dict[str, _Rule] = {
    "n_startup_trials": _Rule(integer=True, low=0, low_inclusive=True),
    "gamma": _Rule(low=0, high=1),
    "n_ei_candidates": _Rule(integer=True, low=1, low_inclusive=True),
    "prior_weight": _Rule(low=0),
    "constant_liar": _Rule(boolean=True),
}
_RULES: dict[str, dict[str, _Rule]] = {
    "random": {},
    "tpe": _TPE_RULES,
    "tpe-mv": _TPE_RULES,
}
ALGORITHMS: tuple[str, ...] = tuple(_RULES)


def validate_algorithm(name: str, settings: Mapping[str, object]) -> dict[str, object]:
    """Settings with defaults filled in; AlgorithmSettingsError says what to fix."""
    parsed = parse_algorithm(name, settings)
    return {} if parsed is None else asdict(parsed)


def parse_algorithm(name: str, settings: Mapping[str, object]) -> TPESettings | None:
    """The TPESettings of a tpe or tpe-mv study, defaults filled in; None for random, which
    takes none. AlgorithmSettingsError lists every problem at once."""
    given = _validated(name, settings)
    return None if name == "random" else TPESettings(**given)


def make_sampler(
    name: str,
    settings: Mapping[str, object],
    space: SearchSpace,
    seed: int,
    *,
    prunes: bool = False,
) -> Sampler:
    """`prunes`: the study has a pruner; tpe-mv then does not propose again a configuration
    already trained to the end while a candidate holds another (tpe_mv.py says why)."""
    tpe_settings = parse_algorithm(name, settings)
    if tpe_settings is None:
        from parzen.service.algorithms.random import RandomSampler

        return RandomSampler(space, seed=seed)
    if name == "tpe-mv":
        from parzen.service.algorithms.tpe_mv import MultivariateTPESampler

        return MultivariateTPESampler(space, seed=seed, settings=tpe_settings, prunes=prunes)
    from parzen.service.algorithms.tpe import TPESampler  # imports hyperopt, slow to load

    return TPESampler(space, seed=seed, settings=tpe_settings)


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 (got {seed!r})")
    return seed


def trial_seed(seed: int, number: int) -> int:
    """A seed for trial `number` of a study: same study seed and number, same seed."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def trial_rng(seed: int, number: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, number]))


def _validated(name: str, settings: Mapping[str, object]) -> dict[str, Any]:
    """The settings given, normalized; the ones left out keep TPESettings' defaults."""
    if name not in _RULES:
        raise AlgorithmSettingsError(
            f"unknown algorithm {name!r}; expected one of: {', '.join(ALGORITHMS)}"
            f"{did_you_mean(str(name), ALGORITHMS)}"
        )
    if not isinstance(settings, Mapping):
        raise AlgorithmSettingsError(f"settings must be an object (got {settings!r})")
    rules = _RULES[name]
    problems = [_unknown_setting(name, str(key), rules) for key in settings if key not in rules]
    given: dict[str, Any] = {}
    for key, rule in rules.items():
        if key not in settings:
            continue
        value = settings[key]
        normalized = rule.normalize(value)
        if normalized is None:
            problems.append(f"{key} must be {rule.rule()} (got {value!r})")
        else:
            given[key] = normalized
    if problems:
        raise AlgorithmSettingsError("; ".join(problems))
    return given


def _unknown_setting(name: str, key: str, rules: Mapping[str, _Rule]) -> str:
    if not rules:
        return f"unknown setting {key!r}: {name} takes no settings"
    hint = did_you_mean(key, rules)
    return f"unknown setting {key!r} for {name}{hint}; known settings: {', '.join(rules)}"

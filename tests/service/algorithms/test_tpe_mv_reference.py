"""The vectorized multivariate TPE proposes exactly what the plain formulas propose.

`reference_tpe_mv.py` is the sampler as it was before it was made fast (issue 15). Both are
fed the same observations, in the same batches, and must return identical vals for every
proposal: finished, pruned, failed and running trials (the constant liar), trials seen
first as running and then finished, tied and non-finite losses, nested choices, grids,
Gaussian and weighted options, and histories long enough that kernels repeat.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from parzen.service.algorithms import Observation, RandomSampler, tpe_kernels
from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
from parzen.service.algorithms.tpe_settings import TPESettings
from parzen.service.space import SearchSpace, parse_space
from tests.service.algorithms import reference_tpe_mv
from tests.service.algorithms.cases import BOUNDED, MIXED

NESTED = parse_space(
    {
        "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
        "units": {"type": "int", "low": 16, "high": 512, "log": True},
        "layers": {"type": "int", "low": 1, "high": 6},
        "activation": {"type": "choice", "options": ["relu", "elu", "selu", "gelu"]},
        "layer": {
            "type": "choice",
            "options": [
                {
                    "kind": "conv",
                    "filters": {"type": "int", "low": 8, "high": 128},
                    "kernel_size": {"type": "choice", "options": [3, 5, 7]},
                    "pool": {
                        "type": "choice",
                        "options": [
                            {"name": "max", "size": {"type": "int", "low": 2, "high": 4}},
                            "none",
                        ],
                    },
                },
                {"kind": "dense", "width": {"type": "int", "low": 16, "high": 1024}},
            ],
        },
        "dropout": {"type": "quniform", "low": 0.0, "high": 0.5, "q": 0.05},
    }
)
GAUSSIAN = parse_space(
    {
        "n": {"type": "normal", "mu": 0, "sigma": 1},
        "qn": {"type": "qnormal", "mu": 3, "sigma": 2, "q": 1},
        "ln": {"type": "qlognormal", "mu": 0, "sigma": 1, "q": 0.5},
        "p": {"type": "pchoice", "options": ["a", "b", "c"], "probabilities": [0.7, 0.2, 0.1]},
    }
)
SPACES = {"nested": NESTED, "mixed": MIXED, "bounded": BOUNDED, "gaussian": GAUSSIAN}


def loss_of(vals: dict[str, Any], rng: np.random.Generator) -> float | None:
    """A loss with ties (rounded), an occasional NaN (a diverged model) and noise."""
    if rng.random() < 0.03:
        return math.nan
    total = sum(float(v) if abs(float(v)) < 1e6 else 0.0 for v in vals.values())
    return round(math.sin(total) + 0.3 * rng.normal(), 1)


def drive(space: SearchSpace, seed: int, steps: int, history: int = 0, **settings: Any) -> None:
    """Ask both samplers `steps` times in closed loop, trials finishing out of order (each
    seen first as running, then finished): every proposal must be identical. `history`:
    random finished trials observed first, in one batch."""
    fast = MultivariateTPESampler(space, seed=seed, settings=TPESettings(**settings))
    plain = reference_tpe_mv.MultivariateTPESampler(space, seed=seed, **settings)
    rng = np.random.default_rng(seed)
    if history:
        random = RandomSampler(space, seed=seed + 100)
        first = [random.propose(number) for number in range(1, history + 1)]
        batch = [Observation(k, "complete", v, loss_of(v, rng)) for k, v in enumerate(first, 1)]
        fast.observe(batch)
        plain.observe(batch)
    running: dict[int, dict[str, Any]] = {}
    for number in range(history + 1, history + steps + 1):
        vals = fast.propose(number)
        assert vals == plain.propose(number), f"seed {seed}, trial {number}: proposals differ"
        running[number] = vals
        batch = [Observation(number, "running", vals, None)]
        for done in [n for n in running if rng.random() < 0.4]:
            state = str(rng.choice(["complete", "complete", "complete", "pruned", "failed"]))
            done_vals = running.pop(done)
            loss = None if state == "failed" else loss_of(done_vals, rng)
            batch.append(Observation(done, state, done_vals, loss))  # type: ignore[arg-type]
        fast.observe(batch)
        plain.observe(batch)


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_proposals_equal_the_plain_implementation(name: str, seed: int) -> None:
    """Fails when a speed-up changes a proposal: the arithmetic must stay bit for bit."""
    drive(SPACES[name], seed, 70, n_startup_trials=5)


@pytest.mark.parametrize(
    "settings",
    [
        {"constant_liar": False},
        {"gamma": 0.3, "prior_weight": 2.0, "n_ei_candidates": 64},
        {"prior_weight": 0.5, "n_startup_trials": 3, "n_ei_candidates": 1},
    ],
)
def test_proposals_equal_the_plain_implementation_under_other_settings(
    settings: dict[str, Any],
) -> None:
    drive(NESTED, 5, 50, **settings)


@pytest.mark.parametrize("seed", [3, 4])
def test_proposals_equal_the_plain_implementation_on_a_long_history(seed: int) -> None:
    """3,000 trials, a tenth still running: grid kernels repeat and are scored once, the
    bad group's weights ramp; the proposals after each new batch must still be equal."""
    random = RandomSampler(NESTED, seed=seed + 100)
    rng = np.random.default_rng(seed)
    history = []
    for number in range(1, 3001):
        vals = random.propose(number)
        if rng.random() < 0.1:
            history.append(Observation(number, "running", vals, None))
        else:
            history.append(Observation(number, "complete", vals, loss_of(vals, rng)))
    fast = MultivariateTPESampler(NESTED, seed=seed)
    plain = reference_tpe_mv.MultivariateTPESampler(NESTED, seed=seed)
    for start in range(0, 3000, 1000):
        fast.observe(history[start : start + 1000])
        plain.observe(history[start : start + 1000])
        for number in range(3001, 3004):
            assert fast.propose(number) == plain.propose(number)


@pytest.mark.parametrize(("name", "seed"), [("nested", 6), ("mixed", 7), ("bounded", 8)])
def test_proposals_equal_the_plain_implementation_as_a_long_history_grows(
    name: str, seed: int
) -> None:
    """Past 256 trials the bad density's sorts come from the sampler's kept column orders:
    trials arriving one or a few at a time, running then finished out of order, are
    inserted into them, and every proposal must still equal the plain one."""
    drive(SPACES[name], seed, 40, history=400)


@pytest.mark.parametrize(("name", "seed"), [("nested", 9), ("mixed", 10), ("gaussian", 11)])
def test_every_density_equals_the_plain_one_to_the_bit(
    name: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails when a speed-up changes any score, even where the chosen candidate survives
    it (a proposal rarely turns on the last bit): every log l(x) and log g(x) of five
    proposals after a 2,000-trial history, a tenth of it running, must be identical."""
    scores: dict[str, list[np.ndarray]] = {"fast": [], "plain": []}
    for key, cls in (("fast", tpe_kernels._Mixture), ("plain", reference_tpe_mv._Mixture)):
        monkeypatch.setattr(cls, "log_pdf", _recorded(cls.log_pdf, scores[key]))
    space = SPACES[name]
    random, rng = RandomSampler(space, seed=seed), np.random.default_rng(seed)
    history = []
    for number in range(1, 2001):
        vals = random.propose(number)
        finished = rng.random() < 0.9
        loss = loss_of(vals, rng) if finished else None
        history.append(Observation(number, "complete" if finished else "running", vals, loss))
    fast = MultivariateTPESampler(space, seed=seed)
    plain = reference_tpe_mv.MultivariateTPESampler(space, seed=seed)
    for sampler in (fast, plain):
        sampler.observe(history)
    for number in range(2001, 2006):
        vals = fast.propose(number)
        assert vals == plain.propose(number)
        for sampler in (fast, plain):
            sampler.observe([Observation(number, "running", vals, None)])
    assert len(scores["fast"]) == len(scores["plain"]) >= 10
    for got, expected in zip(scores["fast"], scores["plain"], strict=True):
        assert np.array_equal(got, expected, equal_nan=True)


def _recorded(
    log_pdf: Callable[[Any, np.ndarray], np.ndarray], into: list[np.ndarray]
) -> Callable[[Any, np.ndarray], np.ndarray]:
    def recording(self: Any, x: np.ndarray) -> np.ndarray:
        out = log_pdf(self, x)
        into.append(out.copy())
        return out

    return recording

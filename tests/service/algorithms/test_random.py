from __future__ import annotations

import math

import numpy as np

from parzen.service.algorithms import Observation, RandomSampler
from parzen.service.space import SearchSpace, parse_space

Vals = dict[str, float | int]

ALL_TYPES = parse_space(
    {
        "u": {"type": "uniform", "low": -1, "high": 2},
        "qu": {"type": "quniform", "low": 0.15, "high": 0.7, "q": 0.1},
        "lu": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
        "qlu": {"type": "qloguniform", "low": 1, "high": 100, "q": 5},
        "n": {"type": "normal", "mu": 3, "sigma": 2},
        "qn": {"type": "qnormal", "mu": 0, "sigma": 3, "q": 0.5},
        "ln": {"type": "lognormal", "mu": 0, "sigma": 1},
        "qln": {"type": "qlognormal", "mu": 1, "sigma": 1, "q": 2},
        "i": {"type": "int", "low": -3, "high": 3},
        "istep": {"type": "int", "low": 10, "high": 100, "step": 30},
        "ilog": {"type": "int", "low": 1, "high": 1000, "log": True},
        "c": {"type": "choice", "options": ["a", "b", "c"]},
        "pc": {"type": "pchoice", "options": ["x", "y", "z"], "probabilities": [0.7, 0.3, 0]},
    }
)
CONDITIONAL = parse_space(
    {
        "layer": {
            "type": "choice",
            "options": [
                {"filters": {"type": "int", "low": 8, "high": 64}},
                {"units": {"type": "int", "low": 16, "high": 512, "step": 16}},
                "identity",
            ],
        }
    }
)


def draws(space: SearchSpace = ALL_TYPES, n: int = 2000, seed: int = 0) -> list[Vals]:
    sampler = RandomSampler(space, seed=seed)
    return [sampler.propose(number) for number in range(1, n + 1)]


def column(samples: list[Vals], label: str) -> np.ndarray:
    return np.array([vals[label] for vals in samples])


def on_grid(values: np.ndarray, q: float) -> bool:
    return bool(np.allclose(values / q, np.round(values / q), atol=1e-9))


def test_samples_stay_within_bounds_for_every_type() -> None:
    samples = draws()
    assert all(set(vals) == set(ALL_TYPES.dimensions) for vals in samples)
    u, qu, lu, qlu = (column(samples, k) for k in ("u", "qu", "lu", "qlu"))
    assert u.min() >= -1 and u.max() <= 2
    assert qu.min() >= 0.2 and qu.max() <= 0.7 and on_grid(qu, 0.1)
    assert set(np.round(qu, 9)) == {0.2, 0.3, 0.4, 0.5, 0.6, 0.7}
    assert lu.min() >= 1e-5 and lu.max() <= 1e-1
    assert qlu.min() >= 5 and qlu.max() <= 100 and on_grid(qlu, 5)
    assert on_grid(column(samples, "qn"), 0.5) and on_grid(column(samples, "qln"), 2)
    assert column(samples, "ln").min() > 0
    assert set(column(samples, "i")) == set(range(-3, 4))
    assert set(column(samples, "istep")) == {10, 40, 70, 100}
    ilog = column(samples, "ilog")
    assert ilog.min() >= 1 and ilog.max() <= 1000
    for label in ("i", "istep", "ilog", "c", "pc"):
        assert all(type(vals[label]) is int for vals in samples)
    assert all(type(vals["u"]) is float for vals in samples)


def test_distributions_have_the_prior_shape() -> None:
    samples = draws(n=4000)
    log_lu = np.log10(column(samples, "lu"))
    counts, _ = np.histogram(log_lu, bins=4, range=(-5, -1))
    assert np.all(np.abs(counts / len(samples) - 0.25) < 0.03), counts
    n = column(samples, "n")
    assert abs(n.mean() - 3) < 0.15 and abs(n.std() - 2) < 0.15
    assert abs(np.log(column(samples, "ln")).std() - 1) < 0.1
    # Log-scaled ints: as many draws in [1, 31] as in [32, 1000].
    assert 0.45 < np.mean(column(samples, "ilog") <= 31) < 0.55
    pc = column(samples, "pc")
    assert abs(np.mean(pc == 0) - 0.7) < 0.04 and not np.any(pc == 2)


def test_conditional_branches_are_respected() -> None:
    samples = draws(CONDITIONAL, n=300)
    for vals in samples:
        assert list(vals) == CONDITIONAL.active_labels(vals)
        CONDITIONAL.params_from_vals(vals)
    assert {vals["layer"] for vals in samples} == {0, 1, 2}
    assert all(vals.get("layer.units", 16) % 16 == 0 for vals in samples)


def test_proposals_depend_only_on_seed_and_number() -> None:
    a, b = RandomSampler(ALL_TYPES, seed=7), RandomSampler(ALL_TYPES, seed=7)
    b.observe([Observation(1, "complete", a.propose(1), 0.5)])
    assert [a.propose(n) for n in (3, 1, 2)] == [b.propose(n) for n in (3, 1, 2)]
    assert a.propose(1) != a.propose(2)
    assert a.propose(1) != RandomSampler(ALL_TYPES, seed=8).propose(1)
    assert not any(math.isnan(v) for v in a.propose(5).values())

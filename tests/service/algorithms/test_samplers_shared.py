"""The behaviour both TPE samplers must share, one suite over both (as Optuna's
tests/samplers_tests run every sampler): seeding, the startup phase, the constant liar,
failed trials, nested conditional spaces, grids and the settings every study may give.
A sampler's own tests (hyperopt's gamma, tpe-mv's joint kernels) stay in its module."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from parzen.service.algorithms import (
    Observation,
    RandomSampler,
    Sampler,
    TPESettings,
    make_sampler,
    validate_algorithm,
)
from parzen.service.algorithms.tpe import TPESampler
from parzen.service.algorithms.tpe_mv import MultivariateTPESampler
from parzen.service.space import SearchSpace, parse_space
from tests.service.algorithms.cases import (
    BOUNDED,
    MIXED,
    SQUARE,
    Vals,
    history,
    min_distance,
    mixed_loss,
    run,
    square,
)


@dataclass(frozen=True)
class SamplerKind:
    """One TPE sampler: its algorithm name in a study, and a factory taking the settings."""

    algorithm: str
    cls: type[TPESampler] | type[MultivariateTPESampler]

    def __call__(self, space: SearchSpace, *, seed: int, **settings: Any) -> Sampler:
        return self.cls(space, seed=seed, settings=TPESettings(**settings))


KINDS = {
    "tpe": SamplerKind("tpe", TPESampler),
    "tpe-mv": SamplerKind("tpe-mv", MultivariateTPESampler),
}


@pytest.fixture(params=sorted(KINDS))
def sampler(request: pytest.FixtureRequest) -> SamplerKind:
    return KINDS[request.param]


def test_same_history_in_any_order_gives_the_same_proposal(sampler: SamplerKind) -> None:
    done = history(MIXED, 24, mixed_loss)
    done[3] = Observation(4, "pruned", done[3].vals, done[3].loss)
    done[5] = Observation(6, "failed", done[5].vals, None)
    pending = [
        Observation(25, "running", done[0].vals, None),
        Observation(26, "queued", RandomSampler(MIXED, seed=5).propose(26), None),
    ]

    first = sampler(MIXED, seed=3)
    first.observe(done + pending)
    second = sampler(MIXED, seed=3)
    second.observe(reversed(pending))
    for obs in reversed(done):  # each one seen first as running, then finished
        second.observe([Observation(obs.number, "running", obs.vals, None)])
        second.observe([obs])
    proposals = [first.propose(27), first.propose(28)]
    assert proposals == [second.propose(27), second.propose(28)]
    assert proposals[0] != proposals[1]
    assert proposals[0] != sampler(MIXED, seed=4).propose(27)
    assert list(proposals[0]) == MIXED.active_labels(proposals[0])


@pytest.mark.parametrize("tenth", ["complete", "pruned"])
def test_startup_phase_counts_finished_trials_only(sampler: SamplerKind, tenth: str) -> None:
    done = history(SQUARE, 9, square)
    pending = [Observation(k, "running", {"x": 0.5, "y": 0.5}, None) for k in range(10, 40)]
    failed = [Observation(k, "failed", {"x": 0.1, "y": 0.1}, None) for k in range(40, 50)]
    tpe = sampler(SQUARE, seed=11, n_startup_trials=10)
    tpe.observe(done + pending + failed)
    random = RandomSampler(SQUARE, seed=11)
    assert tpe.propose(50) == random.propose(50)

    last = history(SQUARE, 10, square)[-1]
    tpe.observe([Observation(last.number, tenth, last.vals, last.loss)])  # type: ignore[arg-type]
    assert tpe.propose(50) != random.propose(50)


@pytest.mark.parametrize("near_best", [10, 0])
def test_pending_trials_keep_parallel_proposals_apart(sampler: SamplerKind, near_best: int) -> None:
    """Eight asks in flight after 20 trials (the last `near_best` of them close to the
    optimum): with the constant liar they spread, without it (or unseen) they crowd."""
    with_liar, liar_off, unseen = [], [], []
    for seed in range(6):
        done = history(SQUARE, 20 - near_best, square, seed=seed)
        done += [
            Observation(k, "complete", vals, square(vals))
            for k in range(21 - near_best, 21)
            for vals in [{"x": 1 + 0.3 * math.cos(k), "y": -2 + 0.3 * math.sin(k)}]
        ]
        for tpe, distances in (
            (sampler(SQUARE, seed=seed), with_liar),
            (sampler(SQUARE, seed=seed, constant_liar=False), liar_off),
        ):
            tpe.observe(done)
            proposals = []
            for number in range(21, 29):
                proposals.append(tpe.propose(number))
                tpe.observe([Observation(number, "running", proposals[-1], None)])
            if distances is with_liar:
                assert len({tuple(vals.values()) for vals in proposals}) == 8
            distances.append(min_distance(proposals))
        plain = sampler(SQUARE, seed=seed)
        plain.observe(done)
        unseen.append(min_distance([plain.propose(number) for number in range(21, 29)]))
    assert np.mean(with_liar) > 4 * np.mean(unseen), (with_liar, unseen)
    assert np.mean(with_liar) > 4 * np.mean(liar_off), (with_liar, liar_off)


def test_without_the_constant_liar_pending_trials_are_left_out(sampler: SamplerKind) -> None:
    done = history(SQUARE, 12, square)
    pending = [Observation(k, "running", {"x": 1.0, "y": -2.0}, None) for k in range(13, 21)]
    reference = sampler(SQUARE, seed=2, constant_liar=False)
    reference.observe(done)
    plain = sampler(SQUARE, seed=2, constant_liar=False)
    plain.observe(done + pending)
    liar = sampler(SQUARE, seed=2)
    liar.observe(done + pending)
    assert plain.propose(21) == reference.propose(21) != liar.propose(21)


def test_failed_trials_are_left_out_of_the_model(sampler: SamplerKind) -> None:
    done = history(SQUARE, 12, square)
    bad = [Observation(k, "failed", {"x": 1.0, "y": -2.0}, None) for k in range(13, 21)]
    reference = sampler(SQUARE, seed=2)
    reference.observe(done)
    with_failed = sampler(SQUARE, seed=2)
    with_failed.observe(done + [Observation(o.number, "running", o.vals, None) for o in bad])
    assert with_failed.propose(21) != reference.propose(21)  # pending ones do count
    with_failed.observe(bad)
    assert with_failed.propose(21) == reference.propose(21)


def test_beats_random_on_a_quadratic(sampler: SamplerKind) -> None:
    seeds = range(8)
    tpe = np.array([run(sampler(SQUARE, seed=seed), square, 40) for seed in seeds])
    rnd = np.array([run(RandomSampler(SQUARE, seed=seed), square, 40) for seed in seeds])
    assert tpe[:, 20:].mean() < 0.5 * rnd[:, 20:].mean()
    assert tpe.min(axis=1).mean() < 0.5 * rnd.min(axis=1).mean()


def test_conditional_branches_are_all_explored_and_well_formed(sampler: SamplerKind) -> None:
    tpe = sampler(MIXED, seed=5, n_startup_trials=5)
    branches = set()
    for number in range(1, 41):
        vals = tpe.propose(number)
        assert list(vals) == MIXED.active_labels(vals)
        MIXED.params_from_vals(vals)
        branches.add((vals["optimizer"], vals["layer"]))
        tpe.observe([Observation(number, "complete", vals, mixed_loss(vals))])
    assert {layer for _, layer in branches} == {0, 1, 2}


@pytest.mark.parametrize("sign", [1, -1])
def test_values_stay_on_the_grid_at_the_edges(sampler: SamplerKind, sign: int) -> None:
    def toward_edge(vals: Vals) -> float:
        return sign * sum(
            vals[k] / (b[1] - b[0]) for k, dim in BOUNDED.dimensions.items() if (b := dim.bounds)
        )

    tpe = sampler(BOUNDED, seed=9, n_startup_trials=3)
    proposals = []
    for number in range(1, 41):
        vals = tpe.propose(number)
        proposals.append(vals)
        tpe.observe([Observation(number, "complete", vals, toward_edge(vals))])
        assert all(type(vals[k]) is int for k in ("i", "istep", "ilog"))
        assert all(type(vals[k]) is float for k in ("lu", "qu", "qlu"))
        assert -3 <= vals["i"] <= 3 and vals["istep"] in (10, 40, 70, 100)
        assert 1 <= vals["ilog"] <= 1000 and 1e-4 <= vals["lu"] <= 1e-2
        assert vals["qu"] in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
        assert 5 <= vals["qlu"] <= 100 and vals["qlu"] % 5 == 0
    edge = {"i": -3, "istep": 10, "qu": 0.2} if sign == 1 else {"i": 3, "istep": 100, "qu": 0.7}
    for label, value in edge.items():
        assert sum(vals[label] == value for vals in proposals) >= 3  # the edges were visited


def test_space_without_dimensions_proposes_nothing(sampler: SamplerKind) -> None:
    tpe = sampler(parse_space({"epochs": 3}), seed=0, n_startup_trials=0)
    tpe.observe([Observation(1, "complete", {}, 0.5)])
    assert tpe.propose(2) == {}


def test_settings_are_validated_with_defaults(sampler: SamplerKind) -> None:
    assert validate_algorithm(sampler.algorithm, {}) == {
        "n_startup_trials": 10,
        "gamma": 0.1,
        "n_ei_candidates": 24,
        "prior_weight": 1.0,
        "constant_liar": True,
    }
    settings = validate_algorithm(sampler.algorithm, {"gamma": 0.5, "n_startup_trials": 3.0})
    assert settings["n_startup_trials"] == 3


def test_make_sampler_applies_the_settings(sampler: SamplerKind) -> None:
    done = history(SQUARE, 5, square)
    random = make_sampler("random", {}, SQUARE, seed=4)
    patient = make_sampler(sampler.algorithm, {"n_startup_trials": 6}, SQUARE, seed=4)
    eager = make_sampler(sampler.algorithm, {"n_startup_trials": 5}, SQUARE, seed=4)
    assert isinstance(random, RandomSampler) and isinstance(eager, sampler.cls)
    for tpe in (patient, eager):
        tpe.observe(done)
    assert patient.propose(6) == random.propose(6) != eager.propose(6)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_sampler(sampler.algorithm, {}, SQUARE, seed=-1)

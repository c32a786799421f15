from __future__ import annotations

import logging
import math
import pathlib
import subprocess
import sys

import pytest
from hyperopt.tpe import DEFAULT_LF

from parzen.service.algorithms import (
    AlgorithmSettingsError,
    Observation,
    RandomSampler,
    Sampler,
    TPESampler,
    TPESettings,
    make_sampler,
    validate_algorithm,
)
from tests.service.algorithms.cases import SQUARE, history, square


def test_model_phase_starts_right_after_the_startup_trials() -> None:
    corners = [(1, -2), (-4, 4), (4, 4), (-4, -4), (4, -4)]
    done = [
        Observation(k, "complete", {"x": float(x), "y": float(y)}, square({"x": x, "y": y}))
        for k, (x, y) in enumerate(corners, start=1)
    ]
    tpe, rnd = (
        TPESampler(SQUARE, seed=0, settings=TPESettings(n_startup_trials=5)),
        RandomSampler(SQUARE, seed=0),
    )
    tpe.observe(done)

    def farthest_from_best(sampler: Sampler) -> float:
        proposals = [sampler.propose(number) for number in range(6, 26)]
        return max(math.hypot(v["x"] - 1, v["y"] + 2) / 10 for v in proposals)

    # hyperopt's own startup rule (20 trials by default) would still sample at random here.
    assert farthest_from_best(tpe) < 0.3 < farthest_from_best(rnd)


@pytest.mark.parametrize(
    ("finished", "pending", "expected"), [(10, 0, 1), (100, 0, 10), (200, 16, 20), (400, 0, 25)]
)
def test_the_good_group_is_a_fraction_of_the_finished_trials(
    finished: int, pending: int, expected: int
) -> None:
    # hyperopt alone would take ceil(0.25 * sqrt(n)) of all n trials, pending ones included.
    sampler = TPESampler(SQUARE, seed=0, settings=TPESettings(gamma=0.1))
    sampler.observe(history(SQUARE, finished, square))
    sampler.observe(
        Observation(k, "running", {"x": 0.0, "y": 0.0}, None)
        for k in range(finished + 1, finished + pending + 1)
    )
    n = finished + pending
    gamma = sampler._options()["gamma"]
    assert min(math.ceil(gamma * math.sqrt(n)), DEFAULT_LF) == expected


def test_random_takes_no_settings() -> None:
    assert validate_algorithm("random", {}) == {}


def test_hyperopt_does_not_log_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sampler = TPESampler(SQUARE, seed=0, settings=TPESettings(n_startup_trials=0))
    sampler.observe(history(SQUARE, 3, square))
    sampler.propose(4)
    assert not [r for r in caplog.records if r.name.startswith("hyperopt")]


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        (
            "tpee",
            {},
            "unknown algorithm 'tpee'; expected one of: random, tpe, tpe-mv (did you mean 'tpe'?)",
        ),
        ("tpe", {"gama": 0.3}, "unknown setting 'gama' for tpe (did you mean 'gamma'?)"),
        ("tpe", {"gamma": 1}, "gamma must be a number in (0, 1) (got 1)"),
        ("tpe", {"n_startup_trials": -1}, "n_startup_trials must be an integer >= 0 (got -1)"),
        ("tpe", {"n_ei_candidates": 0}, "n_ei_candidates must be an integer >= 1"),
        ("tpe", {"n_ei_candidates": True}, "n_ei_candidates must be an integer >= 1 (got True)"),
        ("tpe", {"n_ei_candidates": 2.5}, "n_ei_candidates must be an integer >= 1 (got 2.5)"),
        ("tpe", {"prior_weight": 0}, "prior_weight must be a number > 0"),
        ("tpe", {"constant_liar": "yes"}, "constant_liar must be true or false (got 'yes')"),
        ("tpe", {"prior_weight": math.inf}, "prior_weight must be a number > 0"),
        ("random", {"seed": 1}, "unknown setting 'seed': random takes no settings"),
    ],
)
def test_bad_settings_say_what_to_fix(name: str, settings: dict[str, object], message: str) -> None:
    with pytest.raises(AlgorithmSettingsError) as caught:
        validate_algorithm(name, settings)
    assert message in str(caught.value)


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(AlgorithmSettingsError, match=r"gamma must .*; prior_weight must"):
        make_sampler("tpe", {"gamma": 0, "prior_weight": -1}, SQUARE, seed=0)


def test_hyperopt_is_imported_by_tpe_only() -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    importers = [
        path.relative_to(root).as_posix()
        for folder in ("service", "worker", "cli")
        for path in (root / folder).rglob("*.py")
        if "import hyperopt" in (text := path.read_text()) or "from hyperopt" in text
    ]
    assert importers == ["service/algorithms/tpe.py"]
    code = (
        "import sys, service.algorithms as a; a.validate_algorithm('tpe', {}); "
        "assert 'hyperopt' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)

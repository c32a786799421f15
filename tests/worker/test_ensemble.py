from __future__ import annotations

import numpy as np
import pytest

from parzen.worker.datasets import DatasetInfo
from parzen.worker.ensemble import greedy_ensemble
from parzen.worker.scoring import scorer_for

INFO = DatasetInfo("toy", "classification", {"x": (2,)}, 2)


def _onehot(labels: np.ndarray, confidence: float) -> np.ndarray:
    probs = np.full((len(labels), 2), 1 - confidence)
    probs[np.arange(len(labels)), labels] = confidence
    return probs


def test_a_clearly_better_member_gets_most_of_the_weight() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = _onehot(y, 0.9)  # right everywhere
    flipped = y.copy()
    flipped[:160] = 1 - flipped[:160]
    bad = _onehot(flipped, 0.9)  # wrong on 40%
    noise = rng.dirichlet([1, 1], 400)
    scorer = scorer_for("val_loss", INFO)
    ensemble = greedy_ensemble([bad, good, noise], lambda p: scorer.score(y, p), maximize=False)
    assert ensemble.weights[1] > 0.8
    assert ensemble.weights.sum() == pytest.approx(1.0)
    assert ensemble.score <= scorer.score(y, good) + 1e-12


def test_complementary_members_share_the_weight() -> None:
    y = np.array([0, 1] * 100)
    left = _onehot(y, 0.9)
    left[:100] = _onehot(1 - y[:100], 0.55)  # unsure and wrong on the first half
    right = _onehot(y, 0.9)
    right[100:] = _onehot(1 - y[100:], 0.55)  # unsure and wrong on the second half
    scorer = scorer_for("val_accuracy", INFO)
    ensemble = greedy_ensemble([left, right], lambda p: scorer.score(y, p), maximize=True)
    assert scorer.score(y, left) == scorer.score(y, right) == 0.5
    assert ensemble.score == 1.0
    assert np.allclose(ensemble.weights, [0.5, 0.5])


def test_best_prefix_trimming_keeps_the_single_best_when_adding_only_hurts() -> None:
    y = np.zeros(50, dtype=int)
    perfect = _onehot(y, 0.99)
    poor = _onehot(y, 0.6)
    scorer = scorer_for("val_loss", INFO)
    ensemble = greedy_ensemble([poor, perfect], lambda p: scorer.score(y, p), maximize=False)
    assert list(ensemble.weights) == [0.0, 1.0]


def test_scorers_and_standard_errors() -> None:
    y = np.array([0, 1, 1, 0])
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    accuracy = scorer_for("val_accuracy", INFO)
    assert accuracy.score(y, probs) == 0.75
    assert accuracy.standard_error(y, probs) == pytest.approx(0.5 / 2)
    loss = scorer_for("val_loss", INFO)
    expected = -np.mean(np.log([0.8, 0.7, 0.4, 0.9]))
    assert loss.score(y, probs) == pytest.approx(expected)
    regression = DatasetInfo("r", "regression", {"x": (3,)}, None)
    mse = scorer_for("val_loss", regression)
    assert mse.score(np.array([1.0, 2.0]), np.array([[1.5], [2.0]])) == pytest.approx(0.125)


def test_multi_output_metric_names_a_head() -> None:
    info = DatasetInfo("two", "classification", {"a": (2,)}, 10, ("digit", "parity"))
    scorer = scorer_for("val_digit_accuracy", info)
    assert scorer.head == "digit"
    predicted = {"digit": np.eye(10)[[3, 4]], "parity": np.eye(2)[[1, 0]]}
    assert (
        scorer.score(scorer.target({"digit": np.array([3, 5])}), scorer.prediction(predicted))
        == 0.5
    )
    with pytest.raises(ValueError, match="name one head"):
        scorer_for("val_loss", info)
    with pytest.raises(ValueError, match="cannot score 'val_auc'"):
        scorer_for("val_auc", INFO)


def test_accuracy_studies_fit_ensembles_on_log_loss() -> None:
    from parzen.worker.scoring import smooth_scorer

    accuracy = scorer_for("val_accuracy", INFO)
    assert smooth_scorer(accuracy).kind == "crossentropy"
    assert smooth_scorer(scorer_for("val_loss", INFO)) == scorer_for("val_loss", INFO)
    # Two members right on every row, each confident on a different half: accuracy cannot
    # tell the blend from either one (all 1.0); log loss prefers the blend.
    y = np.array([0, 1] * 20)
    first, second = _onehot(y, 0.95), _onehot(y, 0.55)
    first[20:], second[20:] = _onehot(y[20:], 0.55), _onehot(y[20:], 0.95)
    by_accuracy = greedy_ensemble([first, second], lambda p: accuracy.score(y, p), maximize=True)
    loss = smooth_scorer(accuracy)
    by_loss = greedy_ensemble([first, second], lambda p: loss.score(y, p), maximize=False)
    assert list(by_accuracy.weights) == [1.0, 0.0]
    assert np.allclose(by_loss.weights, [0.5, 0.5])
    assert by_loss.score < loss.score(y, first)

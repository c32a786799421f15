"""The sealed test report's honesty on small data: ties, and too few rows for weights."""

from __future__ import annotations

from parzen.worker.evaluation import MIN_ROWS_PER_WEIGHT, _ranking, weights_trusted


def test_all_tied_validation_says_it_cannot_rank_instead_of_a_null() -> None:
    """Five candidates at validation accuracy 1.0: no correlation, and a note saying why."""
    ranking = _ranking([1.0] * 5, [0.91, 0.93, 0.9, 0.95, 0.92])
    assert ranking["correlation"] is None
    assert "cannot rank" in ranking["note"] and "all 5 are tied at 1" in ranking["note"]


def test_partly_tied_validation_gets_a_tie_aware_correlation() -> None:
    """Ties in validation count as ties (Kendall tau-b), not as a failure."""
    ranking = _ranking([0.9, 0.9, 0.8, 0.7], [0.88, 0.86, 0.8, 0.75])
    assert ranking["note"] is None
    assert ranking["correlation"] is not None and 0.8 < ranking["correlation"] <= 1.0
    reversed_ = _ranking([0.9, 0.9, 0.8, 0.7], [0.7, 0.72, 0.8, 0.9])
    assert reversed_["correlation"] is not None and reversed_["correlation"] < -0.8


def test_a_test_split_that_ties_every_candidate_is_named() -> None:
    ranking = _ranking([0.9, 0.8, 0.7], [0.5, 0.5, 0.5])
    assert ranking["correlation"] is None and "does not tell" in ranking["note"]


def test_ensemble_weights_need_enough_validation_rows_per_candidate() -> None:
    """18 validation rows for 5 candidates: weights would overfit, so they are not fitted."""
    assert not weights_trusted(18, 5)
    assert weights_trusted(MIN_ROWS_PER_WEIGHT * 5, 5)
    assert weights_trusted(57, 5)  # breast_cancer in bench/selection.py: fitted weights gained
    assert weights_trusted(359, 3)  # the end-to-end test's split keeps fitted weights

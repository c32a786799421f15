from __future__ import annotations

import pytest

from service.algorithms import AlgorithmSettingsError
from service.algorithms.pruners import MedianPruner, make_pruner, validate_pruner


def test_median_pruner_respects_direction_startup_and_warmup() -> None:
    pruner = MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    others = [0.5, 0.7, 0.9]
    assert pruner.should_prune(step=2, value=0.6, others=others, maximize=True)
    assert not pruner.should_prune(step=2, value=0.8, others=others, maximize=True)
    assert pruner.should_prune(step=2, value=0.8, others=others, maximize=False)
    assert not pruner.should_prune(step=1, value=0.0, others=others, maximize=True)
    assert not pruner.should_prune(step=5, value=0.0, others=[0.9], maximize=True)


def test_pruner_settings_are_validated() -> None:
    assert validate_pruner(None) == {"type": "none"}
    assert make_pruner(validate_pruner(None)) is None
    settings = validate_pruner({"type": "median", "n_warmup_steps": 4})
    assert settings == {"type": "median", "n_startup_trials": 5, "n_warmup_steps": 4}
    assert make_pruner(settings) == MedianPruner(5, 4)
    with pytest.raises(AlgorithmSettingsError, match="unknown pruner 'hyperband'"):
        validate_pruner({"type": "hyperband"})
    with pytest.raises(AlgorithmSettingsError, match="n_warmup_steps must be an integer"):
        validate_pruner({"type": "median", "n_warmup_steps": -1})
    with pytest.raises(AlgorithmSettingsError, match="unknown pruner setting 'patience'"):
        validate_pruner({"type": "median", "patience": 3})

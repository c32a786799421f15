from __future__ import annotations

import pytest

from parzen.service.algorithms import AlgorithmSettingsError
from parzen.service.algorithms.pruners import (
    HalvingPruner,
    MedianPruner,
    make_pruner,
    validate_pruner,
)


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
    with pytest.raises(AlgorithmSettingsError, match="unknown pruner 'halving'"):
        validate_pruner({"type": "halving"})
    with pytest.raises(AlgorithmSettingsError, match="n_warmup_steps must be an integer"):
        validate_pruner({"type": "median", "n_warmup_steps": -1})
    with pytest.raises(AlgorithmSettingsError, match="unknown pruner setting 'patience'"):
        validate_pruner({"type": "median", "patience": 3})


def test_halving_settings_take_max_epochs_from_the_objective() -> None:
    asha = validate_pruner({"type": "asha"}, max_epochs=27)
    assert asha == {"type": "asha", "min_epochs": 1, "reduction_factor": 3, "max_epochs": 27}
    assert make_pruner(asha) == HalvingPruner(1, 3, 27)
    own = validate_pruner({"type": "hyperband", "max_epochs": 9}, max_epochs=27)
    assert make_pruner(own) == HalvingPruner(1, 3, 9, hyperband=True)
    # ASHA may run without an end (plain ask/tell); Hyperband needs one to size its brackets.
    assert validate_pruner({"type": "asha"})["max_epochs"] is None
    with pytest.raises(AlgorithmSettingsError, match="max_epochs must be an integer >= 1"):
        validate_pruner({"type": "hyperband"})
    with pytest.raises(AlgorithmSettingsError, match="reduction_factor must be an integer >= 2"):
        validate_pruner({"type": "asha", "reduction_factor": 1}, max_epochs=9)
    with pytest.raises(AlgorithmSettingsError, match=r"max_epochs \(3\) must be > min_epochs"):
        validate_pruner({"type": "asha", "min_epochs": 3}, max_epochs=3)
    with pytest.raises(AlgorithmSettingsError, match="unknown pruner setting 'eta' for asha"):
        validate_pruner({"type": "asha", "eta": 3}, max_epochs=9)


def test_rungs_are_powers_of_the_reduction_factor_below_max_epochs() -> None:
    asha = HalvingPruner(min_epochs=2, reduction_factor=3, max_epochs=54)
    assert asha.rungs() == [2, 6, 18]
    assert [asha.rung_at(step) for step in (1, 2, 5, 6, 53)] == [None, 2, 2, 6, 18]
    hyperband = HalvingPruner(min_epochs=1, reduction_factor=3, max_epochs=27, hyperband=True)
    assert hyperband.n_brackets == 4
    assert [hyperband.rungs(b) for b in range(4)] == [[1, 3, 9], [3, 9], [9], []]


def test_judge_keeps_the_top_fraction_ties_included_and_waits_for_enough_entries() -> None:
    asha = HalvingPruner(reduction_factor=3)
    assert asha.judge(0.1, [0.9], maximize=True).keep  # 2 entries: too few to judge
    assert asha.judge(0.9, [0.5, 0.7], maximize=True).keep
    losing = asha.judge(0.6, [0.5, 0.7], maximize=True)
    assert not losing.keep and losing.cutoff == 0.7 and losing.entries == 3
    assert asha.judge(0.7, [0.5, 0.7], maximize=True).keep  # a tie with the cut-off
    # Six entries keep two; minimizing, the two smallest.
    assert asha.judge(0.2, [0.1, 0.3, 0.4, 0.5, 0.6], maximize=False).keep
    assert not asha.judge(0.35, [0.1, 0.2, 0.4, 0.5, 0.6], maximize=False).keep


def test_hyperband_draws_brackets_as_optunas_hyperband_pruner() -> None:
    """The same study name and trial number land in the same bracket as in Optuna (real
    optuna), so the two Hyperbands of the benchmark split trials alike."""
    from types import SimpleNamespace

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    theirs = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    study = optuna.create_study(study_name="bench-7", pruner=theirs)
    theirs._try_initialization(study)
    ours = HalvingPruner(min_epochs=1, reduction_factor=3, max_epochs=27, hyperband=True)
    for number in range(200):
        trial = SimpleNamespace(number=number)
        assert ours.bracket("bench-7", number) == theirs._get_bracket_id(study, trial)

"""KerasTuner-style hypermodels: the space Parzen derives from `build(hp)` (against the real
keras-tuner package), and models built from the trials Parzen proposes."""

from __future__ import annotations

import keras
import pytest

from parzen.service.algorithms import RandomSampler
from parzen.service.space import parse_space
from parzen.worker.hypermodels import as_builder, hypermodel_space
from parzen.worker.hypermodels_hp import HyperparameterError, HyperParameters
from parzen.worker.hypermodels_space import (
    build_tree,
    params_from_values,
    record_space,
    values_from_params,
)
from parzen.worker.registry import Registry
from tests.worker.kt_models import build_conditional, build_layers, digits, kt_hypermodel_class

EXPECTED_CONDITIONAL = {
    "model_type": {
        "type": "choice",
        "options": [
            {"name": "mlp", "units": {"type": "int", "low": 8, "high": 64, "step": 8}},
            {
                "name": "cnn",
                # log sampling with a step multiplies: KerasTuner's grid 4, 8, 16, 32
                "filters": {"type": "choice", "options": [4, 8, 16, 32]},
                "pool": {
                    "type": "choice",
                    "options": [
                        False,
                        {"name": True, "pool_size": {"type": "choice", "options": [2, 4]}},
                    ],
                },
            },
        ],
    },
    "dropout": {"type": "quniform", "low": 0.0, "high": 0.5, "q": 0.1},
    "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
}


def test_a_keras_tuner_hypermodel_with_conditional_scopes_yields_the_nested_space() -> None:
    """Ranges, steps, log sampling and nested conditions of a real keras_tuner.HyperModel
    subclass become Parzen's nested conditional space."""
    assert hypermodel_space(kt_hypermodel_class()) == EXPECTED_CONDITIONAL
    space = parse_space(EXPECTED_CONDITIONAL)
    assert "model_type.cnn.pool.1.pool_size" in space.dimensions


def test_the_space_keras_tuner_itself_records_converts_to_the_same(tmp_path) -> None:
    """KerasTuner's own hp (as a real Tuner populates it) and Parzen's agree."""
    import keras_tuner

    from parzen.worker.hypermodels_oracle import declarations_of

    tuner = keras_tuner.RandomSearch(
        kt_hypermodel_class()(), objective="val_accuracy", max_trials=1, directory=tmp_path
    )
    declared = declarations_of(tuner.oracle.hyperparameters)
    from parzen.worker.hypermodels_space import render_space

    assert render_space(build_tree(declared)) == EXPECTED_CONDITIONAL


def test_parameters_that_depend_on_an_earlier_choice_are_all_found() -> None:
    space = hypermodel_space(build_layers)
    assert space["layers"] == {"type": "int", "low": 1, "high": 3, "step": 1}
    assert {k for k in space if k.startswith("units_")} == {"units_0", "units_1", "units_2"}


@pytest.mark.slow
def test_trials_proposed_by_parzen_build_valid_models_that_train() -> None:
    """Every branch proposed builds, trains an epoch, and uses the proposed values."""
    space = parse_space(EXPECTED_CONDITIONAL)
    sampler = RandomSampler(space, seed=3)
    builder = as_builder(build_conditional)
    x, y, xv, yv = digits(64)
    seen = set()
    for number in range(1, 9):
        params = space.params_from_vals(sampler.propose(number))
        model = builder(params, None)
        model.fit(x, y, validation_data=(xv, yv), epochs=1, batch_size=32, verbose=0)
        branch = params["model_type"]
        seen.add(branch["name"])
        layers = {type(layer).__name__: layer for layer in model.layers[:-1]}  # not the head
        if branch["name"] == "mlp":
            assert layers["Dense"].units == branch["units"] and "Conv2D" not in layers
        else:
            assert layers["Conv2D"].filters == branch["filters"]
            assert ("MaxPooling2D" in layers) == (branch["pool"] is not False)
        rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        assert rate == pytest.approx(params["learning_rate"], rel=1e-5)
    assert seen == {"mlp", "cnn"}


@pytest.mark.slow
def test_the_daemon_trains_a_hypermodel_study_created_from_its_space(api, run_daemon) -> None:
    """A hypermodel registered from a module is a builder the worker daemon runs as it is."""
    from tests.worker.conftest import study

    body = study("hm", "kt_conditional", "digits", hypermodel_space(build_conditional))
    api.create_study(body | {"budget": {"max_trials": 3, "max_parallel": 1}})
    daemon = run_daemon(modules=("tests.worker.kt_models",))
    assert daemon.counts == {"complete": 3}
    assert {t["state"] for t in api.all_trials("hm")} == {"complete"}


def test_values_and_nested_params_convert_both_ways() -> None:
    tree = build_tree(record_space(build_conditional))
    params = {
        "model_type": {"name": "cnn", "filters": 8, "pool": {"name": True, "pool_size": 4}},
        "dropout": 0.2,
        "learning_rate": 0.01,
    }
    values = values_from_params(tree, params)
    assert values == {
        "model_type": "cnn",
        "filters": 8,
        "pool": True,
        "pool_size": 4,
        "dropout": 0.2,
        "learning_rate": 0.01,
    }
    assert params_from_values(tree, values) == params


def test_the_hp_object_answers_as_keras_tuners_does() -> None:
    hp = HyperParameters({"kind": "b"})
    kind = hp.Choice("kind", ["a", "b"])
    with hp.conditional_scope("kind", ["a"]):
        assert hp.Int("only_a", 1, 5) is None  # inactive: None, as KerasTuner
    assert hp.Int("only_b", 2, 9, parent_name="kind", parent_values="b") == 2  # default: low
    assert hp.Float("f", 0.1, 1.0, default=0.5) == 0.5
    assert hp.Fixed("const", 7) == 7 and hp.get("const") == 7
    assert kind == "b" and hp.values == {"kind": "b", "only_b": 2, "f": 0.5, "const": 7}
    with pytest.raises(ValueError, match="inactive"):
        hp.get("only_a")
    with pytest.raises(KeyError):
        hp.get("nothing")
    with (
        pytest.raises(HyperparameterError, match="declare the parent"),
        hp.conditional_scope("undeclared", [1]),
    ):
        pass
    with pytest.raises(HyperparameterError, match="reverse_log"):
        hp.Float("g", 0.1, 1.0, sampling="reverse_log")


def test_the_registry_registers_a_hypermodel_as_a_builder_of_the_same_name() -> None:
    registry = Registry()
    registry.load_modules(["tests.worker.kt_models"])
    registry.load_modules(["tests.worker.kt_models"])  # twice: harmless
    assert registry.hypermodel("kt_layers") is build_layers
    assert "kt_layers" in registry.builder_names()
    model = registry.builder("kt_layers")({"layers": 2, "units_0": 16, "units_1": 8}, None)
    assert [layer.units for layer in model.layers if type(layer).__name__ == "Dense"] == [16, 8, 10]

from __future__ import annotations

import importlib
import importlib.util
import math
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from parzen.worker.backend import is_out_of_memory
from parzen.worker.builders.mlp import build_mlp
from parzen.worker.callbacks import TrialFailed
from parzen.worker.datasets import DatasetInfo, SearchData, Split, SplitSpec
from parzen.worker.datasets.builtin import DigitsFlat, Wine
from parzen.worker.trainer import Objective, TrainResult, train_trial

pytestmark = pytest.mark.slow

PLUGIN_SRC = Path(__file__).resolve().parents[2] / "examples" / "parzen_example_plugin" / "src"
SMALL = {"layers": 1, "units": 16}


class RecordingReporter:
    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at = stop_at
        self.steps: list[int] = []
        self.values: list[dict[str, float]] = []

    def report(self, step: int, values: Mapping[str, float]) -> bool:
        self.steps.append(step)
        self.values.append(dict(values))
        return self.stop_at is not None and step >= self.stop_at

    def series(self, key: str) -> list[float]:
        return [values[key] for values in self.values]


@pytest.fixture(scope="module")
def digits() -> SearchData:
    data = DigitsFlat().load_search(SplitSpec())
    x, y = data.train.x, data.train.y
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    # Half of digits keeps each epoch short and the curves still clear.
    return SearchData(info=data.info, train=Split(x=x[:512], y=y[:512]), validation=data.validation)


@pytest.fixture(scope="module")
def wine() -> SearchData:
    return Wine().load_search(SplitSpec())


def run(
    data: SearchData,
    tmp_path: Path,
    *,
    params: Mapping[str, Any] = SMALL,
    reporter: RecordingReporter | None = None,
    builder: Any = build_mlp,
    **objective: Any,
) -> TrainResult:
    settings = {"builder": "mlp", "dataset": data.info.name, "batch_size": 64, **objective}
    return train_trial(
        params=params,
        objective=Objective(**settings),
        data=data,
        builder=builder,
        reporter=reporter or RecordingReporter(),
        artifact_dir=tmp_path / "artifacts",
        log_dir=tmp_path / "logs",
        seed=1,
    )


def test_value_is_the_best_reported_epoch_and_every_epoch_is_reported(digits, tmp_path):
    reporter = RecordingReporter()
    result = run(
        digits,
        tmp_path,
        reporter=reporter,
        metric="val_accuracy",
        direction="maximize",
        max_epochs=4,
    )

    assert reporter.steps == list(range(1, result.epochs_run + 1))
    assert result.epochs_run == 4
    accuracy = reporter.series("val_accuracy")
    assert result.value == max(accuracy)
    assert result.best_epoch == accuracy.index(max(accuracy)) + 1
    assert result.metrics == reporter.values[result.best_epoch - 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(result.metrics)
    assert all(isinstance(value, float) for value in reporter.values[0].values())
    assert not result.pruned
    assert result.fit_seconds > 0


def test_build_is_timed_apart_from_fit(wine, tmp_path):
    """Fails when the trainer stops timing the builder's call (build_seconds 0, or short of
    the builder's own time): the worker's build time and its share of the overhead go wrong.
    (Whether the build leaks into fit_seconds is not compared here: fit times on a shared
    machine vary by more than any pause a test can afford.)"""
    pause = 0.2

    def slow_builder(params: Mapping[str, Any], info: DatasetInfo) -> keras.Model:
        time.sleep(pause)  # a builder that takes its time, as a big model's does
        return build_mlp(params, info)

    plain = run(wine, tmp_path / "plain", max_epochs=2)
    slow = run(wine, tmp_path / "slow", builder=slow_builder, max_epochs=2)

    assert 0 < plain.build_seconds < plain.fit_seconds
    assert slow.build_seconds >= pause


def test_early_stopping_restores_the_best_epoch_into_model_and_checkpoint(digits, tmp_path):
    # Maximizing val_loss makes epoch 1 the best (the loss falls from there), so early
    # stopping must stop after `patience` more epochs and restore epoch 1's weights.
    reporter = RecordingReporter()
    result = run(
        digits, tmp_path, reporter=reporter, direction="maximize", patience=2, max_epochs=10
    )

    losses = reporter.series("val_loss")
    assert losses == sorted(losses, reverse=True)  # the premise: val_loss only falls
    assert result.best_epoch == 1
    assert result.epochs_run == 3
    assert result.value == losses[0]

    assert result.artifact == tmp_path / "artifacts" / "best.keras"
    assert result.artifact is not None and result.artifact.exists()
    restored = keras.models.load_model(result.artifact)
    evaluated = restored.evaluate(
        digits.validation.x, digits.validation.y, verbose=0, return_dict=True
    )
    assert evaluated["loss"] == pytest.approx(result.value, rel=1e-4)
    assert evaluated["accuracy"] == pytest.approx(result.metrics["val_accuracy"], abs=1e-6)


def test_reporter_saying_stop_prunes_the_trial(digits, tmp_path):
    reporter = RecordingReporter(stop_at=2)
    result = run(digits, tmp_path, reporter=reporter, max_epochs=10, patience=10)

    assert result.pruned
    assert result.epochs_run == 2
    assert reporter.steps == [1, 2]
    assert result.artifact is not None


def test_reporter_errors_pass_through_unwrapped(wine, tmp_path):
    class LostServer:
        def report(self, step: int, values: Mapping[str, float]) -> bool:
            raise ConnectionError("server went away")

    with pytest.raises(ConnectionError, match="server went away"):
        train_trial(
            params=SMALL,
            objective=Objective(builder="mlp", dataset="wine"),
            data=wine,
            builder=build_mlp,
            reporter=LostServer(),
            artifact_dir=tmp_path,
        )


def test_configure_devices_runs_without_gpus() -> None:
    """Fails if device setup raises or warns on a machine without GPUs, leaves a GPU it
    found without memory growth (TensorFlow would take all its memory at the first op), or
    leaves the backend unable to compute. In a fresh process, as the daemon calls it: in this
    one, earlier tests have set the devices up already."""
    script = "\n".join(
        [
            "import keras",
            "from worker.backend import configure_devices",
            "configure_devices()",
            "if keras.backend.backend() == 'tensorflow':",
            "    import tensorflow as tf",
            "    gpus = tf.config.list_physical_devices('GPU')",
            "    assert all(tf.config.experimental.get_memory_growth(g) for g in gpus), gpus",
            "print('result', keras.ops.convert_to_numpy(keras.ops.ones((2,)) * 2).tolist())",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "result [2.0, 2.0]"
    assert "cannot enable memory growth" not in done.stderr


def nan_builder(params: Mapping[str, Any], info: DatasetInfo) -> keras.Model:
    inputs = keras.Input(shape=info.input_shapes["input"])
    poisoned = keras.layers.Rescaling(scale=float("nan"))(inputs)
    outputs = keras.layers.Dense(info.num_classes, activation="softmax")(poisoned)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_nan_loss_fails_the_trial(wine, tmp_path):
    reporter = RecordingReporter()
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "best.keras").write_text("left by an earlier attempt")
    with pytest.raises(TrialFailed, match="loss became NaN at epoch 1") as failure:
        run(wine, tmp_path, builder=nan_builder, reporter=reporter)
    assert failure.value.kind == "nan"
    assert reporter.steps == []
    assert not (tmp_path / "artifacts" / "best.keras").exists()


def test_exploding_learning_rate_fails_the_trial(wine, tmp_path):
    params = {**SMALL, "optimizer": "sgd", "learning_rate": 1e10}
    with pytest.raises(TrialFailed, match=r"became (NaN|inf) at epoch \d+"):
        run(wine, tmp_path, params=params, max_epochs=5)


def test_missing_metric_lists_the_available_keys(wine, tmp_path):
    with pytest.raises(TrialFailed, match=r"'val_auc'.*val_accuracy, val_loss") as failure:
        run(wine, tmp_path, metric="val_auc", direction="maximize")
    assert failure.value.kind == "metric"


def test_builder_errors_are_wrapped_with_their_traceback(wine, tmp_path):
    with pytest.raises(TrialFailed, match=r"builder 'mlp' failed.*dropout") as failure:
        run(wine, tmp_path, params={"dropout": 2.0})
    assert failure.value.kind == "builder"
    assert failure.value.traceback is not None
    assert "float_param" in failure.value.traceback


def test_uncompiled_model_is_refused(wine, tmp_path):
    def uncompiled(params: Mapping[str, Any], info: DatasetInfo) -> keras.Model:
        inputs = keras.Input(shape=info.input_shapes["input"])
        return keras.Model(inputs, keras.layers.Dense(3)(inputs))

    with pytest.raises(TrialFailed, match="uncompiled"):
        run(wine, tmp_path, builder=uncompiled)


def test_out_of_memory_maps_to_a_clear_failure(wine, tmp_path):
    class ResourceExhaustedError(Exception):
        pass

    assert is_out_of_memory(ResourceExhaustedError("allocating tensor"))
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_out_of_memory(RuntimeError("RESOURCE_EXHAUSTED: while running replica 0"))
    assert not is_out_of_memory(RuntimeError("no room for doubt"))

    def hungry(params: Mapping[str, Any], info: DatasetInfo) -> keras.Model:
        raise MemoryError("unable to allocate 80 GiB")

    with pytest.raises(TrialFailed, match=r"out of memory.*batch_size") as failure:
        run(wine, tmp_path, builder=hungry)
    assert failure.value.kind == "oom"


def test_reduce_lr_halves_the_learning_rate_on_a_plateau(wine, tmp_path):
    reporter = RecordingReporter()
    # val_loss falls every epoch, so maximizing it is a plateau from epoch 2 on.
    result = run(
        wine,
        tmp_path,
        reporter=reporter,
        direction="maximize",
        patience=3,
        reduce_lr=True,
        max_epochs=4,
        params={**SMALL, "learning_rate": 0.01},
    )

    rates = reporter.series("learning_rate")
    assert rates[0] == pytest.approx(0.01)
    assert rates[-1] < rates[0]
    assert result.epochs_run == 4


def test_tensorboard_writes_logs_or_warns_why_not(wine, tmp_path, caplog):
    result = run(wine, tmp_path, tensorboard=True, max_epochs=1)

    assert result.epochs_run == 1
    if importlib.util.find_spec("tensorboard") is None:
        assert "need the tensorboard package" in caplog.text
    else:
        assert any((tmp_path / "logs").rglob("events.out.tfevents.*"))


def test_same_seed_same_curve(wine, tmp_path):
    first, second = RecordingReporter(), RecordingReporter()
    run(wine, tmp_path / "a", reporter=first, max_epochs=2)
    run(wine, tmp_path / "b", reporter=second, max_epochs=2)
    assert first.series("val_loss") == pytest.approx(second.series("val_loss"), rel=1e-6)


def test_multi_output_plugin_model_monitored_on_one_head(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    plugin = importlib.import_module("parzen_example_plugin")
    data = plugin.DigitsTwoView().load_search(SplitSpec())
    reporter = RecordingReporter()

    result = train_trial(
        params={"units": 16},
        objective=Objective(
            builder="two_tower",
            dataset="digits_two_view",
            metric="val_digit_accuracy",
            direction="maximize",
            max_epochs=3,
            batch_size=64,
        ),
        data=data,
        builder=plugin.build_two_tower,
        reporter=reporter,
        artifact_dir=tmp_path,
    )

    digit_accuracy = reporter.series("val_digit_accuracy")
    assert result.value == max(digit_accuracy)
    assert result.best_epoch == digit_accuracy.index(result.value) + 1
    assert {"val_parity_accuracy", "val_digit_loss", "val_loss"} <= set(result.metrics)
    model = keras.models.load_model(result.artifact)
    assert set(model.input_names if hasattr(model, "input_names") else []) <= {"image", "stats"}
    predictions = model.predict(data.validation.x, verbose=0)
    assert predictions["digit"].shape == (len(data.validation), 10)
    assert predictions["parity"].shape == (len(data.validation), 2)
    assert not math.isnan(float(np.sum(predictions["digit"])))


def test_objective_from_study_json():
    objective = Objective.from_dict(
        {
            "builder": "mlp",
            "dataset": "wine",
            "max_epochs": 5,
            "min_delta": 0,
            "split": {"seed": 3, "test_fraction": 0.25},
        },
        metric="val_accuracy",
        direction="maximize",
    )
    assert objective.metric == "val_accuracy"
    assert objective.direction == "maximize"
    assert objective.split == SplitSpec(seed=3, test_fraction=0.25)
    assert objective.min_delta == 0.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"builder": "mlp", "dataset": "wine", "epochs": 3, "lr": 1},
            "unknown objective keys: epochs, lr",
        ),
        ({"builder": "mlp"}, "objective needs dataset"),
        (
            {"builder": "mlp", "dataset": "wine", "split": {"sed": 1}},
            "unknown objective split keys: sed",
        ),
        (
            {"builder": "mlp", "dataset": "wine", "max_epochs": 0},
            "max_epochs must be an integer >= 1",
        ),
        ({"builder": "mlp", "dataset": "wine", "direction": "up"}, "direction must be"),
    ],
)
def test_objective_from_dict_rejects_bad_input(data, message):
    with pytest.raises(ValueError, match=message):
        Objective.from_dict(data)


def test_objective_metric_must_agree_with_the_study():
    with pytest.raises(ValueError, match="contradicts"):
        Objective.from_dict(
            {"builder": "mlp", "dataset": "wine", "metric": "val_loss"}, metric="val_accuracy"
        )


def test_a_trial_leaves_nothing_behind_in_the_process(digits, tmp_path):
    """TensorFlow's registry of custom gradients kept every trial's traced graphs alive
    (~12 MiB a convnet trial); after the reset no Python object of a trial survives."""
    import gc

    def objects_after_a_trial() -> int:
        run(digits, tmp_path, params={"layers": 2, "units": 32, "batch_norm": True}, max_epochs=2)
        gc.collect()
        return len(gc.get_objects())

    objects_after_a_trial()  # the first one warms caches that stay
    second = objects_after_a_trial()
    assert objects_after_a_trial() - second < 200  # one trial held ~19,000
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.framework import ops

        assert not [n for n in ops._gradient_registry._registry if "CustomGradient" in n]

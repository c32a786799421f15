"""What a builder is, and the pieces every builder shares: inputs, optimizer, compile."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras

from parzen.worker.builders.params import choice_param, float_param
from parzen.worker.datasets.base import DatasetInfo

Builder = Callable[[Mapping[str, Any], DatasetInfo], keras.Model]
"""Builds a compiled model from hyperparameters; must ignore parameters it does not know."""

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
ACTIVATIONS = ("relu", "elu", "selu", "gelu")


def model_inputs(info: DatasetInfo) -> tuple[Any, dict[str, Any]]:
    """`keras.Input`s named after the dataset's inputs: (what `keras.Model` takes, by name).

    A single input stays a bare tensor so that the model accepts the plain array that a
    single-input `Split` carries.
    """
    tensors = {
        name: keras.Input(shape=shape, name=name) for name, shape in info.input_shapes.items()
    }
    if len(tensors) == 1:
        return next(iter(tensors.values())), tensors
    return tensors, tensors


def make_optimizer(params: Mapping[str, Any]) -> keras.optimizers.Optimizer:
    """`optimizer` (adam | adamw | rmsprop | sgd, default adam) at `learning_rate` (1e-3).

    sgd takes `momentum` (default 0.9) and adamw `weight_decay` (default 0.004). `optimizer`
    may also be an object, as a search-space choice among sub-spaces gives it:
    `{"name": "sgd", "learning_rate": 0.01, "momentum": 0.8}`; its keys win over top-level ones.
    """
    chosen = params.get("optimizer")
    if isinstance(chosen, Mapping):
        params = {**params, **chosen, "optimizer": chosen.get("name", "adam")}
    name = choice_param(params, "optimizer", "adam", OPTIMIZERS)
    learning_rate = float_param(params, "learning_rate", 1e-3, minimum=0.0)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "adamw":
        weight_decay = float_param(params, "weight_decay", 0.004, minimum=0.0)
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    momentum = float_param(params, "momentum", 0.9, minimum=0.0, maximum=1.0)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)


def task_loss_and_metrics(info: DatasetInfo) -> tuple[str, list[str]]:
    if info.task == "classification":
        return "sparse_categorical_crossentropy", ["accuracy"]
    return "mse", ["mae"]


def compile_for_task(
    model: keras.Model,
    info: DatasetInfo,
    params: Mapping[str, Any],
    *,
    loss_weights: Mapping[str, float] | None = None,
) -> keras.Model:
    """Compile with the loss and metrics of the dataset's task and the optimizer of `params`.

    With several heads every head gets the task's loss and metrics, keyed by output name, so
    Keras logs them as `<head>_<metric>` and `val_<head>_<metric>`.
    """
    loss, metrics = task_loss_and_metrics(info)
    if len(info.output_names) == 1:
        model.compile(optimizer=make_optimizer(params), loss=loss, metrics=metrics)
        return model
    model.compile(
        optimizer=make_optimizer(params),
        loss={name: loss for name in info.output_names},
        metrics={name: list(metrics) for name in info.output_names},
        loss_weights=dict(loss_weights) if loss_weights is not None else None,
    )
    return model


def single_output_classes(info: DatasetInfo, builder: str) -> int:
    """Width of the output layer of a single-head builder: classes, or 1 for regression."""
    if len(info.output_names) != 1:
        raise ValueError(
            f"builder {builder!r} makes one output, but dataset {info.name!r} has "
            f"{len(info.output_names)} ({', '.join(info.output_names)}); use a builder made "
            "for several heads"
        )
    if info.task == "regression":
        return 1
    assert info.num_classes is not None  # DatasetInfo guarantees it for classification
    return info.num_classes


def output_layer(info: DatasetInfo, builder: str) -> keras.layers.Dense:
    width = single_output_classes(info, builder)
    activation = "softmax" if info.task == "classification" else None
    # float32 keeps the softmax stable under a mixed-precision policy.
    return keras.layers.Dense(
        width, activation=activation, dtype="float32", name=info.output_names[0]
    )

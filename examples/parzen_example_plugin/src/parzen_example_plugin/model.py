"""`two_tower`: an image tower and a stats tower through one shared layer, two heads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from parzen.worker.builders import compile_for_task, model_inputs
from parzen.worker.builders.params import choice_param, float_param, int_param
from parzen.worker.datasets import DatasetInfo

HEADS = {"digit": 10, "parity": 2}


def build_two_tower(params: Mapping[str, Any], info: DatasetInfo) -> keras.Model:
    """Parameters (all optional): units (32), activation (relu | gelu), dropout (0),
    parity_weight (0.5: the parity loss's weight next to the digit loss's 1), optimizer,
    learning_rate."""
    if set(info.input_shapes) != {"image", "stats"} or set(info.output_names) != set(HEADS):
        raise ValueError(
            f"builder 'two_tower' needs inputs image and stats and outputs digit and parity; "
            f"dataset {info.name!r} has inputs {sorted(info.input_shapes)} and outputs "
            f"{list(info.output_names)}"
        )
    units = int_param(params, "units", 32, minimum=1)
    activation = choice_param(params, "activation", "relu", ("relu", "gelu"))
    dropout = float_param(params, "dropout", 0.0, minimum=0.0, maximum=0.9)
    parity_weight = float_param(params, "parity_weight", 0.5, minimum=0.0)

    inputs, tensors = model_inputs(info)
    image = keras.layers.Flatten()(tensors["image"])
    image = keras.layers.Dense(units, activation=activation, name="image_tower")(image)
    stats = keras.layers.Dense(units, activation=activation, name="stats_tower")(tensors["stats"])
    # One layer, so one set of weights, applied to both towers.
    shared = keras.layers.Dense(units, activation=activation, name="shared")
    joined = keras.layers.Concatenate()([shared(image), shared(stats)])
    if dropout > 0:
        joined = keras.layers.Dropout(dropout)(joined)
    outputs = {
        head: keras.layers.Dense(classes, activation="softmax", name=head)(joined)
        for head, classes in HEADS.items()
    }
    model = keras.Model(inputs, outputs, name="two_tower")
    return compile_for_task(
        model, info, params, loss_weights={"digit": 1.0, "parity": parity_weight}
    )

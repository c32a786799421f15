"""`mlp`: a stack of dense blocks over the flattened inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from parzen.worker.builders.base import (
    ACTIVATIONS,
    compile_for_task,
    model_inputs,
    output_layer,
)
from parzen.worker.builders.params import (
    bool_param,
    choice_param,
    float_param,
    int_list_param,
    int_param,
)
from parzen.worker.datasets.base import DatasetInfo
from parzen.worker.registry import register_builder


@register_builder("mlp")
def build_mlp(params: Mapping[str, Any], info: DatasetInfo) -> keras.Model:
    """Parameters (all optional): layers (2), units (64, or a list: one per layer, which
    then sets the layer count), activation (relu | elu | selu | gelu), dropout (0..0.9),
    batch_norm (false), residual (false: skip connections between blocks, projected when
    widths differ), l2 (0), optimizer, learning_rate."""
    layers = int_param(params, "layers", 2, minimum=1)
    widths = int_list_param(params, "units", 64, length=layers)
    activation = choice_param(params, "activation", "relu", ACTIVATIONS)
    dropout = float_param(params, "dropout", 0.0, minimum=0.0, maximum=0.9)
    batch_norm = bool_param(params, "batch_norm", False)
    residual = bool_param(params, "residual", False)
    l2 = float_param(params, "l2", 0.0, minimum=0.0)
    head = output_layer(info, "mlp")

    model_in, tensors = model_inputs(info)
    flat = [keras.layers.Flatten()(tensor) for tensor in tensors.values()]
    x = flat[0] if len(flat) == 1 else keras.layers.Concatenate()(flat)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    for index, width in enumerate(widths):
        block_in = x
        x = _dense_block(x, width, activation, dropout, batch_norm, regularizer)
        if residual and index > 0:
            x = keras.layers.Add()([x, _match_width(block_in, width, regularizer)])
    model = keras.Model(model_in, head(x), name="mlp")
    return compile_for_task(model, info, params)


def _dense_block(
    x: Any, width: int, activation: str, dropout: float, batch_norm: bool, regularizer: Any
) -> Any:
    # selu is only self-normalizing with lecun_normal weights and alpha dropout.
    initializer = "lecun_normal" if activation == "selu" else "glorot_uniform"
    x = keras.layers.Dense(
        width,
        use_bias=not batch_norm,
        kernel_initializer=initializer,
        kernel_regularizer=regularizer,
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation(activation)(x)
    if dropout > 0:
        drop = keras.layers.AlphaDropout if activation == "selu" else keras.layers.Dropout
        x = drop(dropout)(x)
    return x


def _match_width(x: Any, width: int, regularizer: Any) -> Any:
    if x.shape[-1] == width:
        return x
    return keras.layers.Dense(width, use_bias=False, kernel_regularizer=regularizer)(x)

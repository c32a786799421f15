"""`convnet`: conv blocks over an image input, pooled only while the image is big enough."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from parzen.worker.builders.base import ACTIVATIONS, compile_for_task, model_inputs, output_layer
from parzen.worker.builders.params import bool_param, choice_param, float_param, int_param
from parzen.worker.datasets.base import DatasetInfo
from parzen.worker.registry import register_builder

MIN_POOLED_SIZE = 2
"""Pool only when the result keeps at least this many pixels a side (8x8 digits: 8→4→2)."""


@register_builder("convnet")
def build_convnet(params: Mapping[str, Any], info: DatasetInfo) -> keras.Model:
    """Parameters (all optional): conv (conv | separable), blocks (2), filters (32),
    filter_growth (2: filters multiply by it each block), kernel_size (3), batch_norm (false),
    residual (false: skip around each block, 1x1 projection when channels differ),
    global_pooling (true; false flattens), dense_units (0: no hidden dense layer),
    dropout (0..0.9, before the head), activation, optimizer, learning_rate."""
    height, width = _image_size(info)
    conv_kind = choice_param(params, "conv", "conv", ("conv", "separable"))
    blocks = int_param(params, "blocks", 2, minimum=1)
    filters = int_param(params, "filters", 32, minimum=1)
    growth = float_param(params, "filter_growth", 2.0, minimum=1.0)
    kernel_size = int_param(params, "kernel_size", 3, minimum=1)
    batch_norm = bool_param(params, "batch_norm", False)
    residual = bool_param(params, "residual", False)
    global_pooling = bool_param(params, "global_pooling", True)
    dense_units = int_param(params, "dense_units", 0, minimum=0)
    dropout = float_param(params, "dropout", 0.0, minimum=0.0, maximum=0.9)
    activation = choice_param(params, "activation", "relu", ACTIVATIONS)
    head = output_layer(info, "convnet")
    conv_layer = keras.layers.SeparableConv2D if conv_kind == "separable" else keras.layers.Conv2D

    model_in, _ = model_inputs(info)
    x = model_in
    for block in range(blocks):
        block_in = x
        channels = round(filters * growth**block)
        x = conv_layer(channels, kernel_size, padding="same", use_bias=not batch_norm)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization()(x)
        if residual:
            x = keras.layers.Add()([x, _match_channels(block_in, channels)])
        x = keras.layers.Activation(activation)(x)
        last = block == blocks - 1
        if not last and min(height, width) // 2 >= MIN_POOLED_SIZE:
            x = keras.layers.MaxPooling2D(2)(x)
            height, width = height // 2, width // 2

    x = keras.layers.GlobalAveragePooling2D()(x) if global_pooling else keras.layers.Flatten()(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation=activation)(x)
    if dropout > 0:
        x = keras.layers.Dropout(dropout)(x)
    model = keras.Model(model_in, head(x), name="convnet")
    return compile_for_task(model, info, params)


def _image_size(info: DatasetInfo) -> tuple[int, int]:
    shapes = dict(info.input_shapes)
    if len(shapes) != 1 or len(next(iter(shapes.values()))) != 3:
        described = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(
            f"builder 'convnet' needs one image input shaped (height, width, channels), but "
            f"dataset {info.name!r} has {described}; use 'mlp' for flat features"
        )
    height, width, _ = next(iter(shapes.values()))
    return height, width


def _match_channels(x: Any, channels: int) -> Any:
    if x.shape[-1] == channels:
        return x
    return keras.layers.Conv2D(channels, 1, padding="same", use_bias=False)(x)

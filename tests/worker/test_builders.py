from __future__ import annotations

import keras
import numpy as np
import pytest

from parzen.worker.builders import make_optimizer
from parzen.worker.builders.convnet import build_convnet
from parzen.worker.builders.mlp import build_mlp
from parzen.worker.datasets import DatasetInfo, SearchData, Split, SplitSpec
from parzen.worker.datasets.builtin import BreastCancer, Digits, DigitsFlat, Regression, Wine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def datasets() -> dict[str, SearchData]:
    spec = SplitSpec()
    return {
        cls.name: cls().load_search(spec)
        for cls in (Digits, DigitsFlat, BreastCancer, Wine, Regression)
    }


def head(split: Split, rows: int) -> tuple[np.ndarray, np.ndarray]:
    assert isinstance(split.x, np.ndarray) and isinstance(split.y, np.ndarray)
    return split.x[:rows], split.y[:rows]


def train_one_epoch(model: keras.Model, data: SearchData) -> dict[str, float]:
    # A few hundred rows are enough to show the model trains end to end.
    history = model.fit(
        *head(data.train, 256),
        validation_data=head(data.validation, 128),
        epochs=1,
        batch_size=64,
        verbose=0,
    )
    logs = {key: values[-1] for key, values in history.history.items()}
    assert all(np.isfinite(value) for value in logs.values()), logs
    return logs


def layer_types(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def dense_widths(model: keras.Model) -> list[int]:
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


@pytest.mark.parametrize(
    ("builder", "dataset"),
    [(build_mlp, "digits_flat"), (build_mlp, "regression"), (build_convnet, "digits")],
)
def test_defaults_build_a_compiled_model_that_trains(datasets, builder, dataset):
    data = datasets[dataset]
    model = builder({}, data.info)

    assert model.compiled
    logs = train_one_epoch(model, data)
    expected = {"accuracy", "val_accuracy"} if data.info.task == "classification" else {"mae"}
    assert expected <= set(logs)
    width = data.info.num_classes or 1
    assert model.output.shape[-1] == width


def test_mlp_variants(datasets):
    data = datasets["wine"]
    plain = build_mlp({"layers": 3, "units": 16}, data.info)
    assert dense_widths(plain) == [16, 16, 16, 3]
    assert "Add" not in layer_types(plain)

    residual = build_mlp(
        {
            "units": [32, 32, 16],
            "residual": True,
            "batch_norm": True,
            "activation": "selu",
            "dropout": 0.2,
            "l2": 1e-4,
            "optimizer": "rmsprop",
        },
        data.info,
    )
    types = layer_types(residual)
    assert types.count("Add") == 2
    assert types.count("BatchNormalization") == 3
    assert types.count("AlphaDropout") == 3
    # blocks of 32, 32 and 16, a 32->16 projection on the last skip, the head of 3
    assert sorted(dense_widths(residual)) == [3, 16, 16, 32, 32]
    assert residual.losses  # the l2 penalties
    assert isinstance(residual.optimizer, keras.optimizers.RMSprop)
    train_one_epoch(residual, data)


def test_mlp_takes_integers_as_floats_and_ignores_unknown_params(datasets):
    data = datasets["breast_cancer"]
    model = build_mlp({"layers": 1.0, "units": 8.0, "filters": 64, "kernel_size": 5}, data.info)
    assert dense_widths(model) == [8, 2]


def test_convnet_variants(datasets):
    data = datasets["digits"]
    model = build_convnet(
        {
            "conv": "separable",
            "blocks": 4,
            "filters": 8,
            "kernel_size": 5,
            "batch_norm": True,
            "residual": True,
            "global_pooling": False,
            "dense_units": 16,
            "dropout": 0.3,
            "activation": "gelu",
            "optimizer": "adamw",
            "learning_rate": 3e-3,
        },
        data.info,
    )
    types = layer_types(model)
    assert types.count("SeparableConv2D") == 4
    assert types.count("Add") == 4
    assert types.count("Conv2D") == 4  # 1x1 projections: 1->8, 8->16, 16->32, 32->64 channels
    assert "Flatten" in types and "GlobalAveragePooling2D" not in types
    # 8x8 pools to 4x4 and 2x2, then stops: a 2x2 map is not pooled further
    pooled = [
        layer.output.shape[1] for layer in model.layers if "MaxPooling2D" in type(layer).__name__
    ]
    assert pooled == [4, 2]
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    train_one_epoch(model, data)


def test_convnet_filter_growth_one_keeps_channels_and_needs_no_projection(datasets):
    data = datasets["digits"]
    model = build_convnet(
        {"blocks": 3, "filters": 4, "filter_growth": 1, "residual": True}, data.info
    )
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    # only the first block projects (1 input channel -> 4)
    assert [layer.filters for layer in convs] == [4, 4, 4, 4]
    assert [layer.kernel_size for layer in convs].count((1, 1)) == 1


def test_convnet_rejects_flat_input(datasets):
    with pytest.raises(ValueError, match=r"convnet.*image input.*digits_flat"):
        build_convnet({}, datasets["digits_flat"].info)


def test_single_output_builders_reject_multi_output_datasets():
    info = DatasetInfo(
        name="two_heads",
        task="classification",
        input_shapes={"input": (4,)},
        num_classes=3,
        output_names=("a", "b"),
    )
    with pytest.raises(ValueError, match=r"one output.*two_heads.*a, b"):
        build_mlp({}, info)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"activation": "tanh"}, "'activation' must be one of"),
        ({"dropout": 0.95}, "'dropout' must be in"),
        ({"layers": 0}, "'layers' must be >= 1"),
        ({"units": 2.5}, "'units' must be an integer"),
        ({"optimizer": "lbfgs"}, "'optimizer' must be one of"),
        ({"batch_norm": "yes"}, "'batch_norm' must be true or false"),
    ],
)
def test_bad_params_name_the_parameter(datasets, params, message):
    with pytest.raises(ValueError, match=message):
        build_mlp(params, datasets["wine"].info)


def test_optimizer_from_a_choice_among_sub_spaces():
    optimizer = make_optimizer(
        {"learning_rate": 0.05, "optimizer": {"name": "sgd", "momentum": 0.5}}
    )
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert float(optimizer.learning_rate) == pytest.approx(0.05)
    assert optimizer.momentum == 0.5

    adam = make_optimizer({"optimizer": {"name": "adam", "learning_rate": 0.02}})
    assert isinstance(adam, keras.optimizers.Adam)
    assert float(adam.learning_rate) == pytest.approx(0.02)

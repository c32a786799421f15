"""KerasTuner-style hypermodels and tiny data shared by the hypermodel, oracle and
start_trial tests (a module of its own so that subprocesses can import it)."""

from __future__ import annotations

from typing import Any

import keras

from parzen.worker.hypermodels import register_hypermodel


def digits(n: int = 240) -> tuple[Any, Any, Any, Any]:
    """(x, y, x_val, y_val): scikit-learn's 8x8 digits as images, n for training."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    y = data.target.astype("int32")
    return x[:n], y[:n], x[n : n + 120], y[n : n + 120]


@register_hypermodel("kt_conditional")
def build_conditional(hp: Any) -> keras.Model:
    """KerasTuner's model-selection example: an mlp or a cnn, each with its own
    parameters under conditional_scope, a nested scope, steps and log sampling."""
    model_type = hp.Choice("model_type", ["mlp", "cnn"])
    inputs = keras.Input((8, 8, 1))
    x = inputs
    with hp.conditional_scope("model_type", ["mlp"]):
        if model_type == "mlp":
            x = keras.layers.Flatten()(x)
            x = keras.layers.Dense(hp.Int("units", 8, 64, step=8), activation="relu")(x)
    with hp.conditional_scope("model_type", ["cnn"]):
        if model_type == "cnn":
            filters = hp.Int("filters", 4, 32, step=2, sampling="log")
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
            pool = hp.Boolean("pool")
            with hp.conditional_scope("pool", [True]):
                if pool:
                    x = keras.layers.MaxPooling2D(hp.Choice("pool_size", [2, 4]))(x)
            x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1))(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    learning_rate = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@register_hypermodel("kt_layers")
def build_layers(hp: Any) -> keras.Model:
    """Parameters that depend on an earlier choice: one `units_i` per layer."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    for i in range(hp.Int("layers", 1, 3)):
        x = keras.layers.Dense(hp.Int(f"units_{i}", 8, 32, step=8), activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def kt_hypermodel_class() -> Any:
    """`build_conditional` as a real `keras_tuner.HyperModel` subclass."""
    import keras_tuner

    class Conditional(keras_tuner.HyperModel):  # type: ignore[misc]
        def build(self, hp: Any) -> keras.Model:
            return build_conditional(hp)

    return Conditional

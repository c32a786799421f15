"""Scores computed from predictions, so that single models and ensembles are measured alike.

The study's metric names a Keras log key ("val_accuracy", "val_loss", "val_digit_accuracy"
for the head "digit" of a multi-output model); per-example scores also give the standard
error of a test score, against which the validation-test gap is judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parzen.worker.datasets import DatasetInfo

_EPS = 1e-7
ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy")
CROSSENTROPY = ("loss", "crossentropy", "sparse_categorical_crossentropy")
SUPPORTED = (*ACCURACY, *CROSSENTROPY, "mse", "mean_squared_error", "mae", "mean_absolute_error")


@dataclass(frozen=True)
class Scorer:
    kind: str  # accuracy, crossentropy, mse or mae
    head: str | None  # output of a multi-output model, None for a single output
    output_names: tuple[str, ...]

    def per_example(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        if self.kind == "accuracy":
            hits: np.ndarray = np.argmax(y_pred, axis=-1) == y_true.reshape(-1)
            return hits.astype(float)
        if self.kind == "crossentropy":
            chosen = y_pred[np.arange(len(y_true)), y_true.reshape(-1).astype(int)]
            return np.asarray(-np.log(np.clip(chosen, _EPS, 1.0)))
        error = y_pred.reshape(len(y_true), -1) - y_true.reshape(len(y_true), -1)
        return np.asarray((error**2 if self.kind == "mse" else np.abs(error)).mean(axis=1))

    def score(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(self.per_example(y_true, y_pred).mean())

    def standard_error(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        values = self.per_example(y_true, y_pred)
        return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0

    def target(self, y: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
        if isinstance(y, Mapping):
            return np.asarray(y[self.head or self.output_names[0]])
        return np.asarray(y)

    def prediction(self, predicted: Any) -> np.ndarray:
        """The scored head of what model.predict returned (an array, a list or a dict)."""
        if isinstance(predicted, Mapping):
            return np.asarray(predicted[self.head or self.output_names[0]])
        if isinstance(predicted, Sequence) and not isinstance(predicted, np.ndarray):
            index = self.output_names.index(self.head) if self.head else 0
            return np.asarray(predicted[index])
        return np.asarray(predicted)


def scorer_for(metric: str, info: DatasetInfo) -> Scorer:
    name = metric.removeprefix("val_")
    head = None
    for output in info.output_names if len(info.output_names) > 1 else ():
        if name.startswith(output + "_"):
            head, name = output, name.removeprefix(output + "_")
    if name not in SUPPORTED:
        raise ValueError(
            f"the sealed test step scores models from their predictions and cannot score "
            f"{metric!r}; use one of: {', '.join('val_' + s for s in SUPPORTED)}"
            + (" (prefixed by an output's name for a multi-output model)" if head else "")
        )
    if len(info.output_names) > 1 and head is None:
        raise ValueError(
            f"{metric!r} mixes the outputs of a multi-output model; name one head, e.g. "
            f"'val_{info.output_names[0]}_{name}'"
        )
    classification = info.task == "classification"
    if name in ACCURACY and not classification:
        raise ValueError(f"{metric!r} needs a classification dataset")
    if name in ACCURACY:
        kind = "accuracy"
    elif name in CROSSENTROPY:
        kind = "crossentropy" if classification else "mse"  # a regression's loss is its mse
    else:
        kind = "mse" if name in ("mse", "mean_squared_error") else "mae"
    return Scorer(kind, head, tuple(info.output_names))


def smooth_scorer(scorer: Scorer) -> Scorer:
    """What ensemble weights are fitted on: accuracy moves in steps of one row, so on a small
    validation split greedy selection finds no strict improvement and keeps a single model;
    log loss, a proper scoring rule, rewards every better-calibrated average."""
    if scorer.kind == "accuracy":
        return Scorer("crossentropy", scorer.head, scorer.output_names)
    return scorer

"""Built-in datasets, small enough to ship with scikit-learn and to need no download."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_regression

from parzen.worker.datasets.arrays import SINGLE_INPUT, ArrayDataset
from parzen.worker.datasets.base import Arrays
from parzen.worker.registry import register_dataset


@register_dataset("digits")
class Digits(ArrayDataset):
    """8x8x1 images of handwritten digits in [0, 1], 10 classes."""

    name = "digits"
    task = "classification"
    raw_inputs = frozenset({SINGLE_INPUT})

    def arrays(self) -> tuple[Arrays, Arrays]:
        digits = load_digits()
        images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
        return images, digits.target


@register_dataset("digits_flat")
class DigitsFlat(ArrayDataset):
    """The digits as 64 standardized features."""

    name = "digits_flat"
    task = "classification"

    def arrays(self) -> tuple[Arrays, Arrays]:
        digits = load_digits()
        return digits.data, digits.target


@register_dataset("breast_cancer")
class BreastCancer(ArrayDataset):
    name = "breast_cancer"
    task = "classification"

    def arrays(self) -> tuple[Arrays, Arrays]:
        data = load_breast_cancer()
        return data.data, data.target


@register_dataset("wine")
class Wine(ArrayDataset):
    name = "wine"
    task = "classification"

    def arrays(self) -> tuple[Arrays, Arrays]:
        data = load_wine()
        return data.data, data.target


@register_dataset("regression")
class Regression(ArrayDataset):
    """2000 generated rows of 20 features (10 informative), one noisy linear target."""

    name = "regression"
    task = "regression"

    def arrays(self) -> tuple[Arrays, Arrays]:
        x, y = make_regression(
            n_samples=2000, n_features=20, n_informative=10, noise=10.0, random_state=0
        )
        # make_regression's targets spread over hundreds; a fixed rescale (part of the
        # dataset's definition, not a split statistic) lets default learning rates converge.
        return x, np.asarray(y) / 100.0

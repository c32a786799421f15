"""`digits_two_view`: each digit seen as an image and as its row and column sums."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.datasets import load_digits

from parzen.worker.datasets import ArrayDataset, Arrays, DatasetInfo


class DigitsTwoView(ArrayDataset):
    """Inputs "image" (8x8x1 in [0, 1]) and "stats" (8 row and 8 column sums, standardized);
    outputs "digit" (10 classes, the split is stratified on it) and "parity" (2 classes)."""

    name = "digits_two_view"
    task = "classification"
    raw_inputs = frozenset({"image"})

    def arrays(self) -> tuple[Arrays, Arrays]:
        digits = load_digits()
        images = (digits.images / 16.0).astype(np.float32)
        stats = np.concatenate([images.sum(axis=2), images.sum(axis=1)], axis=1)
        x = {"image": images[..., np.newaxis], "stats": stats}
        y = {"digit": digits.target, "parity": digits.target % 2}
        return x, y

    def describe(self, x: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray]) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            task=self.task,
            input_shapes={key: tuple(int(d) for d in v.shape[1:]) for key, v in x.items()},
            num_classes=10,
            output_names=("digit", "parity"),
        )

"""Deterministic train/validation/test row split and train-only standardization."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from parzen.worker.datasets.base import SplitSpec


@dataclass(frozen=True)
class SplitIndices:
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def split_indices(num_rows: int, spec: SplitSpec, stratify: np.ndarray | None) -> SplitIndices:
    """Hold the test rows out first, then take validation from the rest.

    Depends only on (num_rows, spec, stratify), so every node computes the same rows.
    """
    rows = np.arange(num_rows)
    rest, test = train_test_split(
        rows, test_size=spec.test_fraction, random_state=spec.seed, stratify=stratify
    )
    # validation_fraction is of all rows, so rescale it to the rows left after the test split.
    relative_validation = spec.validation_fraction / (1.0 - spec.test_fraction)
    train, validation = train_test_split(
        rest,
        test_size=relative_validation,
        random_state=spec.seed,
        stratify=None if stratify is None else stratify[rest],
    )
    return SplitIndices(train=np.sort(train), validation=np.sort(validation), test=np.sort(test))


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray) -> Standardizer:
        values = train.astype(np.float64)
        std = values.std(axis=0)
        # A constant feature would divide by zero; leave it centred instead.
        std[std == 0.0] = 1.0
        return cls(mean=values.mean(axis=0), std=std)

    def apply(self, values: np.ndarray) -> np.ndarray:
        standardized: np.ndarray = ((values - self.mean) / self.std).astype(np.float32)
        return standardized

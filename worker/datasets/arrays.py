"""`ArrayDataset`: give it all rows as arrays, get search/test splits for free."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from parzen.worker.datasets.base import (
    Arrays,
    Dataset,
    DatasetInfo,
    SearchData,
    Split,
    SplitSpec,
    Task,
)
from parzen.worker.datasets.splitting import SplitIndices, Standardizer, split_indices

SINGLE_INPUT = "input"
SINGLE_OUTPUT = "output"


class ArrayDataset(Dataset):
    """A dataset held in memory as arrays.

    Subclasses set `name` and `task` and implement `arrays()`; splitting (stratified for
    classification), float32 inputs and standardization with train-split statistics come
    from here. Inputs named in `raw_inputs` (already scaled, e.g. images in [0, 1]) are only
    cast to float32. Override `describe` when the inferred `DatasetInfo` is not right (e.g.
    heads with different class counts).
    """

    task: ClassVar[Task]
    raw_inputs: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def arrays(self) -> tuple[Arrays, Arrays]:
        """All rows as (x, y); a dict of arrays for several inputs or outputs."""

    def describe(self, x: Mapping[str, np.ndarray], y: Mapping[str, np.ndarray]) -> DatasetInfo:
        first = next(iter(y.values()))
        return DatasetInfo(
            name=self.name,
            task=self.task,
            input_shapes={key: tuple(int(d) for d in v.shape[1:]) for key, v in x.items()},
            num_classes=int(first.max()) + 1 if self.task == "classification" else None,
            output_names=tuple(y),
        )

    def load_search(self, spec: SplitSpec) -> SearchData:
        x, y, rows = self._prepare(spec)
        stats = self._fit_standardizers(x, rows.train)
        return SearchData(
            info=self.describe(x, y),
            train=self._take(x, y, rows.train, stats),
            validation=self._take(x, y, rows.validation, stats),
        )

    def load_test(self, spec: SplitSpec) -> Split:
        x, y, rows = self._prepare(spec)
        return self._take(x, y, rows.test, self._fit_standardizers(x, rows.train))

    def _prepare(
        self, spec: SplitSpec
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], SplitIndices]:
        raw_x, raw_y = self.arrays()
        x = _as_dict(raw_x, SINGLE_INPUT)
        y = _as_dict(raw_y, SINGLE_OUTPUT)
        lengths = {key: len(v) for key, v in (*x.items(), *y.items())}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"dataset {self.name!r} has arrays of different lengths: {lengths}")
        labels = next(iter(y.values()))
        stratify = labels if self.task == "classification" else None
        return x, y, split_indices(len(labels), spec, stratify)

    def _fit_standardizers(
        self, x: Mapping[str, np.ndarray], train_rows: np.ndarray
    ) -> dict[str, Standardizer]:
        return {
            key: Standardizer.fit(values[train_rows])
            for key, values in x.items()
            if key not in self.raw_inputs
        }

    def _take(
        self,
        x: Mapping[str, np.ndarray],
        y: Mapping[str, np.ndarray],
        rows: np.ndarray,
        stats: Mapping[str, Standardizer],
    ) -> Split:
        inputs = {
            key: stats[key].apply(values[rows]) if key in stats else values[rows].astype(np.float32)
            for key, values in x.items()
        }
        targets = {key: self._target(values[rows]) for key, values in y.items()}
        return Split(x=_unwrap(inputs), y=_unwrap(targets))

    def _target(self, values: np.ndarray) -> np.ndarray:
        if self.task == "classification":
            return values.astype(np.int64)
        return values.astype(np.float32)


def _as_dict(arrays: Arrays, single_name: str) -> dict[str, np.ndarray]:
    if isinstance(arrays, np.ndarray):
        return {single_name: arrays}
    return {key: np.asarray(value) for key, value in arrays.items()}


def _unwrap(arrays: dict[str, np.ndarray]) -> Arrays:
    # One input (output) travels as a plain array so that it fits a single-input model.
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    return arrays

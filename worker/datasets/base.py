"""The records every dataset speaks in, and the `Dataset` contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

Task = Literal["classification", "regression"]
Arrays = np.ndarray | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class DatasetInfo:
    """What a builder needs to know to shape a model for a dataset.

    A dataset with one input (output) hands out plain arrays; with several, dicts keyed by
    the names below, which builders use as the names of the model's inputs (outputs).
    """

    name: str
    task: Task
    input_shapes: Mapping[str, tuple[int, ...]]
    num_classes: int | None
    output_names: tuple[str, ...] = ("output",)

    def __post_init__(self) -> None:
        if not self.input_shapes:
            raise ValueError(f"dataset {self.name!r} declares no inputs")
        if not self.output_names:
            raise ValueError(f"dataset {self.name!r} declares no outputs")
        if self.task == "classification" and (self.num_classes is None or self.num_classes < 2):
            raise ValueError(
                f"classification dataset {self.name!r} needs num_classes >= 2, "
                f"got {self.num_classes}"
            )


@dataclass(frozen=True)
class Split:
    x: Arrays
    y: Arrays

    def __len__(self) -> int:
        first = self.y if isinstance(self.y, np.ndarray) else next(iter(self.y.values()))
        return int(first.shape[0])


@dataclass(frozen=True)
class SplitSpec:
    """How rows are dealt: fractions are of all rows; the same spec gives the same rows."""

    seed: int = 0
    validation_fraction: float = 0.2
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        for field in ("validation_fraction", "test_fraction"):
            value = getattr(self, field)
            if not 0.0 < value < 1.0:
                raise ValueError(f"split {field} must be in (0, 1), got {value}")
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                "split validation_fraction + test_fraction must leave rows to train on, got "
                f"{self.validation_fraction} + {self.test_fraction}"
            )


@dataclass(frozen=True)
class SearchData:
    """What a search trial gets: never the test split."""

    info: DatasetInfo
    train: Split
    validation: Split


class Dataset(ABC):
    """A named dataset. Search trials call `load_search`; only the sealed test step calls
    `load_test`, which returns the rows that `load_search` held out for the same spec."""

    name: str

    @abstractmethod
    def load_search(self, spec: SplitSpec) -> SearchData: ...

    @abstractmethod
    def load_test(self, spec: SplitSpec) -> Split: ...

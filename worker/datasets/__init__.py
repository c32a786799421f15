"""Datasets: records, the `Dataset` contract and `ArrayDataset`.

The built-in datasets live in `worker.datasets.builtin`; the registry imports it.
"""

from parzen.worker.datasets.arrays import ArrayDataset
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

__all__ = [
    "ArrayDataset",
    "Arrays",
    "Dataset",
    "DatasetInfo",
    "SearchData",
    "Split",
    "SplitIndices",
    "SplitSpec",
    "Standardizer",
    "Task",
    "split_indices",
]

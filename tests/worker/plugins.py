"""A plugin module loaded by name (`--module tests.worker.plugins`) in the daemon tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from parzen.worker.builders import mlp
from parzen.worker.datasets import SearchData, Split, SplitSpec
from parzen.worker.datasets.builtin import DigitsFlat
from parzen.worker.registry import register_builder, register_dataset


@register_builder("broken")
def broken(params: dict[str, Any], info: Any) -> Any:
    raise RuntimeError("deliberately broken builder")


INTERFERENCE: list[Callable[[], None]] = []  # run (and removed) when `interfered` builds


@register_builder("interfered")
def interfered(params: dict[str, Any], info: Any) -> Any:
    """The mlp, built after the test's interference with the trial it is leased for (its
    study deleted, the trial taken away, the worker's token revoked)."""
    while INTERFERENCE:
        INTERFERENCE.pop(0)()
    return mlp.build_mlp(params, info)


SPLIT_LOADS: list[tuple[str, int]] = []  # ("search" | "test", split seed), in call order


@register_dataset("sealed_digits")
class SealedDigits(DigitsFlat):
    """digits_flat that records every load of its splits: the test of the seal."""

    name = "sealed_digits"

    def load_search(self, spec: SplitSpec) -> SearchData:
        SPLIT_LOADS.append(("search", spec.seed))
        return super().load_search(spec)

    def load_test(self, spec: SplitSpec) -> Split:
        SPLIT_LOADS.append(("test", spec.seed))
        return super().load_test(spec)

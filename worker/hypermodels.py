"""KerasTuner-style hypermodels as Parzen builders.

A hypermodel is a `build(hp)` function, a `keras_tuner.HyperModel` instance, or a class
whose instances have `build(hp)` (made with no arguments). `build` returns a compiled model,
as KerasTuner requires. Register one like a builder plugin::

    @register_hypermodel("my_cnn")
    def build(hp): ...

    [project.entry-points."parzen.hypermodels"]
    my_cnn = "my_pkg.models:build"

The registry (worker/registry.py) turns each into a builder of the same name, whose trial
parameters are replayed through Parzen's `hp` object; `hypermodel_space` derives the study's
search space from it (`parzen study create --hypermodel my_cnn`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from parzen.worker.hypermodels_hp import HyperParameters
from parzen.worker.hypermodels_space import (
    build_tree,
    record_space,
    render_space,
    values_from_params,
)
from parzen.worker.registry import HYPERMODEL_GROUP, HYPERMODEL_MARK

__all__ = ["HYPERMODEL_GROUP", "as_builder", "hypermodel_space", "register_hypermodel"]
_ADAPTER = "__parzen_hypermodel_builder__"

H = TypeVar("H")
BuildFn = Callable[[HyperParameters], Any]


def register_hypermodel(name: str) -> Callable[[H], H]:
    """Mark a `build(hp)` function or a HyperModel (class or instance) as hypermodel `name`."""

    def mark(hypermodel: H) -> H:
        setattr(hypermodel, HYPERMODEL_MARK, name)
        return hypermodel

    return mark


def build_function(hypermodel: Any) -> BuildFn:
    """The `build(hp)` of a function, a HyperModel instance, or a HyperModel class."""
    if isinstance(hypermodel, type):
        hypermodel = hypermodel()
    build = getattr(hypermodel, "build", None)
    if callable(build) and not _is_plain_function(hypermodel):
        return build  # type: ignore[no-any-return]
    if callable(hypermodel):
        return hypermodel  # type: ignore[no-any-return]
    raise TypeError(f"{hypermodel!r} is neither a build(hp) function nor a HyperModel")


def hypermodel_space(hypermodel: Any) -> dict[str, Any]:
    """The Parzen search space of a hypermodel, derived from its `hp` declarations."""
    return render_space(build_tree(record_space(build_function(hypermodel))))


def as_builder(hypermodel: Any) -> Callable[[Mapping[str, Any], Any], Any]:
    """A Parzen builder `(params, info) -> model` that replays `params` through `build(hp)`.

    The same object always gets the same builder, so that registering a module twice is
    harmless. The tree of declarations is recorded on first use (one set of builds)."""
    cached = getattr(hypermodel, _ADAPTER, None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    build = build_function(hypermodel)
    tree: list[Any] = []

    def builder(params: Mapping[str, Any], info: Any) -> Any:
        if not tree:
            tree.extend(build_tree(record_space(build)))
        return build(HyperParameters(values_from_params(tree, params)))

    builder.__doc__ = f"Parzen builder of the hypermodel {hypermodel!r}."
    # An object that takes no attributes gets a new builder each time.
    with contextlib.suppress(AttributeError, TypeError):
        setattr(hypermodel, _ADAPTER, builder)
    return builder


def _is_plain_function(obj: Any) -> bool:
    return callable(obj) and not hasattr(type(obj), "build") and hasattr(obj, "__code__")

"""Which builders and datasets this worker can run, and where they came from.

Three sources, loaded in this order by `Registry.default(modules)`:

1. Built-ins: the modules in `BUILTIN_MODULES`.
2. Installed packages: entry points in the groups `parzen.builders` and `parzen.datasets`
   (and `parzen.hypermodels`: KerasTuner-style `build(hp)` hypermodels, registered as
   builders; see worker/hypermodels.py).
   The entry point's name is the registered name; it points at a builder function, or at a
   `Dataset` subclass (or any zero-argument callable returning a `Dataset`)::

       [project.entry-points."parzen.builders"]
       two_tower = "my_pkg.models:build_two_tower"

3. Modules named in the worker's config (`load_modules(["my_pkg.my_module"])`). One
   mechanism: decorate, then name the module. `@register_builder("name")` and
   `@register_dataset("name")` only mark the object; the registry imports the module and
   picks up the marked objects found in it. Marking instead of writing to a global table
   keeps every `Registry` independent and makes importing a module twice harmless.

A name registered twice by different objects is an error. A broken entry point (a package
installed on the node but unrelated to this worker's config) is skipped with a warning and
listed in `Registry.problems`; a module named in the config that fails is an error.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from parzen.worker.datasets.base import Dataset, SearchData, Split, SplitSpec

if TYPE_CHECKING:
    from parzen.worker.builders.base import Builder

logger = logging.getLogger(__name__)

BUILDER_GROUP = "parzen.builders"
DATASET_GROUP = "parzen.datasets"
HYPERMODEL_GROUP = "parzen.hypermodels"
HYPERMODEL_MARK = "__parzen_hypermodel__"  # set by worker.hypermodels.register_hypermodel
BUILTIN_MODULES = (
    "parzen.worker.builders.mlp",
    "parzen.worker.builders.convnet",
    "parzen.worker.datasets.builtin",
)

_BUILDER_MARK = "__parzen_builder__"
_DATASET_MARK = "__parzen_dataset__"

Kind = Literal["builder", "dataset", "hypermodel"]
DatasetFactory = Callable[[], Dataset]
B = TypeVar("B", bound=Callable[..., Any])
D = TypeVar("D", bound=Callable[[], Dataset])


class PluginError(Exception):
    """A plugin could not be loaded or clashes with one already registered."""


class UnknownPluginError(LookupError):
    """A builder or dataset name that no installed plugin provides."""


def register_builder(name: str) -> Callable[[B], B]:
    """Mark a builder function for registration under `name` (see the module docstring)."""

    def mark(builder: B) -> B:
        setattr(builder, _BUILDER_MARK, name)
        return builder

    return mark


def register_dataset(name: str) -> Callable[[D], D]:
    """Mark a `Dataset` subclass (or factory) for registration under `name`."""

    def mark(factory: D) -> D:
        setattr(factory, _DATASET_MARK, name)
        return factory

    return mark


@dataclass(frozen=True)
class _Entry:
    obj: Any
    source: str


class Registry:
    """Builders and datasets by name. One per worker process: it caches loaded datasets."""

    def __init__(self) -> None:
        self._builders: dict[str, _Entry] = {}
        self._datasets: dict[str, _Entry] = {}
        self._hypermodels: dict[str, _Entry] = {}
        self._dataset_instances: dict[str, Dataset] = {}
        self._search_data: dict[tuple[str, SplitSpec], SearchData] = {}
        self.problems: list[str] = []

    @classmethod
    def default(cls, modules: Sequence[str] = ()) -> Registry:
        """Built-ins, then installed entry points, then the config's `modules`."""
        registry = cls()
        registry.load_modules(BUILTIN_MODULES)
        registry.load_entry_points()
        registry.load_modules(modules)
        return registry

    def add_builder(self, name: str, builder: Builder, *, source: str) -> None:
        if not callable(builder):
            raise PluginError(f"builder {name!r} from {source} is not callable: {builder!r}")
        self._add(self._builders, "builder", name, _Entry(builder, source))

    def add_dataset(self, name: str, dataset: Dataset | DatasetFactory, *, source: str) -> None:
        if not isinstance(dataset, Dataset) and not callable(dataset):
            raise PluginError(
                f"dataset {name!r} from {source} is neither a Dataset nor a callable making one"
            )
        self._add(self._datasets, "dataset", name, _Entry(dataset, source))

    def load_modules(self, names: Iterable[str]) -> None:
        """Import each module and register the objects marked in it."""
        for name in names:
            try:
                module = importlib.import_module(name)
            except Exception as exc:
                raise PluginError(f"cannot import plugin module {name!r}: {exc}") from exc
            self._register_marked(module)

    def add_hypermodel(self, name: str, hypermodel: Any, *, source: str) -> None:
        """A KerasTuner-style hypermodel, registered as the builder `name` as well."""
        from parzen.worker.hypermodels import as_builder

        self._add(self._hypermodels, "hypermodel", name, _Entry(hypermodel, source))
        self.add_builder(name, as_builder(hypermodel), source=source)

    def hypermodel(self, name: str) -> Any:
        entry = self._hypermodels.get(name)
        if entry is None:
            raise self._unknown("hypermodel", name, self._hypermodels, HYPERMODEL_GROUP)
        return entry.obj

    def load_entry_points(self) -> None:
        groups: tuple[tuple[str, Callable[..., None]], ...] = (
            (BUILDER_GROUP, self.add_builder),
            (DATASET_GROUP, self.add_dataset),
            (HYPERMODEL_GROUP, self.add_hypermodel),
        )
        for group, add in groups:
            for point in entry_points(group=group):
                source = f"entry point {point.name!r} = {point.value!r} ({group})"
                try:
                    add(point.name, point.load(), source=source)
                except Exception as exc:
                    self.problems.append(f"{source}: {exc}")
                    logger.warning("skipping %s: %s", source, exc, exc_info=True)

    def builder(self, name: str) -> Builder:
        entry = self._builders.get(name)
        if entry is None:
            raise self._unknown("builder", name, self._builders, BUILDER_GROUP)
        builder: Builder = entry.obj
        return builder

    def dataset(self, name: str) -> Dataset:
        """The dataset's single instance in this registry, made on first use."""
        if name in self._dataset_instances:
            return self._dataset_instances[name]
        entry = self._datasets.get(name)
        if entry is None:
            raise self._unknown("dataset", name, self._datasets, DATASET_GROUP)
        dataset = entry.obj if isinstance(entry.obj, Dataset) else entry.obj()
        if not isinstance(dataset, Dataset):
            raise PluginError(
                f"dataset {name!r} from {entry.source} made {dataset!r}, not a Dataset"
            )
        if getattr(dataset, "name", name) != name:
            raise PluginError(
                f"dataset registered as {name!r} ({entry.source}) calls itself "
                f"{dataset.name!r}; give both the same name"
            )
        self._dataset_instances[name] = dataset
        return dataset

    def load_search(self, name: str, spec: SplitSpec) -> SearchData:
        """Train and validation splits, loaded once per (name, spec) and then cached."""
        key = (name, spec)
        if key not in self._search_data:
            self._search_data[key] = self.dataset(name).load_search(spec)
        return self._search_data[key]

    def load_test(self, name: str, spec: SplitSpec) -> Split:
        """The sealed test split: never cached, so it lives only as long as its evaluation."""
        return self.dataset(name).load_test(spec)

    def builder_names(self) -> list[str]:
        return sorted(self._builders)

    def dataset_names(self) -> list[str]:
        return sorted(self._datasets)

    def source(self, kind: Kind, name: str) -> str:
        table = self._builders if kind == "builder" else self._datasets
        if name not in table:
            group = BUILDER_GROUP if kind == "builder" else DATASET_GROUP
            raise self._unknown(kind, name, table, group)
        return table[name].source

    def _register_marked(self, module: ModuleType) -> None:
        for attribute, obj in vars(module).items():
            # vars(), not getattr(): a subclass must not inherit its parent's mark.
            own = getattr(obj, "__dict__", {})
            source = f"module {module.__name__!r} ({attribute})"
            if _BUILDER_MARK in own:
                self.add_builder(own[_BUILDER_MARK], obj, source=source)
            if _DATASET_MARK in own:
                self.add_dataset(own[_DATASET_MARK], obj, source=source)
            if HYPERMODEL_MARK in own:
                self.add_hypermodel(own[HYPERMODEL_MARK], obj, source=source)

    @staticmethod
    def _add(table: dict[str, _Entry], kind: Kind, name: str, entry: _Entry) -> None:
        existing = table.get(name)
        if existing is not None and existing.obj is not entry.obj:
            raise PluginError(
                f"{kind} {name!r} from {entry.source} clashes with the one from "
                f"{existing.source}; rename one of them"
            )
        if existing is None:
            table[name] = entry

    @staticmethod
    def _unknown(kind: Kind, name: str, table: dict[str, _Entry], group: str) -> UnknownPluginError:
        installed = ", ".join(sorted(table)) or "none"
        return UnknownPluginError(
            f"no {kind} named {name!r} is installed on this worker; installed {kind}s: "
            f"{installed}. Install a package with a {group!r} entry point, or name its "
            "module in the worker config."
        )

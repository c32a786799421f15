from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from parzen.worker.datasets import Dataset, SplitSpec
from parzen.worker.registry import (
    PluginError,
    Registry,
    UnknownPluginError,
    register_builder,
    register_dataset,
)

PLUGIN_SRC = Path(__file__).resolve().parents[2] / "examples" / "parzen_example_plugin" / "src"
BUILTIN_BUILDERS = {"convnet", "mlp"}
BUILTIN_DATASETS = {"breast_cancer", "digits", "digits_flat", "regression", "wine"}

PLUGIN_MODULE = """
    import numpy as np

    from parzen.worker.builders.mlp import build_mlp
    from parzen.worker.datasets import ArrayDataset
    from parzen.worker.registry import register_builder, register_dataset


    @register_builder("{prefix}_builder")
    def build(params, info):
        return build_mlp(params, info)


    @register_dataset("{prefix}_data")
    class Tiny(ArrayDataset):
        name = "{prefix}_data"
        task = "regression"

        def arrays(self):
            return np.arange(40.0).reshape(20, 2), np.arange(20.0)


    class Unregistered(Tiny):
        name = "unregistered"
"""


def write_module(directory: Path, source: str) -> str:
    """A uniquely named module in `directory`, so that sys.modules never serves an old one."""
    prefix = f"plugin_{uuid.uuid4().hex[:8]}"
    (directory / f"{prefix}.py").write_text(textwrap.dedent(source.format(prefix=prefix)))
    return prefix


def write_distribution(directory: Path, name: str, entry_points: str) -> None:
    """An installed distribution as importlib.metadata finds it: a dist-info on sys.path."""
    dist_info = directory / f"{name}-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def test_default_registry_has_the_builtins():
    registry = Registry.default()

    assert set(registry.builder_names()) >= BUILTIN_BUILDERS
    assert set(registry.dataset_names()) >= BUILTIN_DATASETS
    assert registry.builder_names() == sorted(registry.builder_names())
    assert registry.source("builder", "mlp") == "module 'parzen.worker.builders.mlp' (build_mlp)"


def test_unknown_names_say_what_is_installed():
    registry = Registry.default()

    with pytest.raises(UnknownPluginError, match=r"no builder named 'resnet'.*convnet, mlp"):
        registry.builder("resnet")
    with pytest.raises(UnknownPluginError, match=r"no dataset named 'cifar10'.*digits_flat"):
        registry.dataset("cifar10")


def test_modules_named_in_the_config_register_their_marked_objects(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    prefix = write_module(tmp_path, PLUGIN_MODULE)
    registry = Registry.default(modules=[prefix])

    assert f"{prefix}_builder" in registry.builder_names()
    # The subclass inherits its parent's mark as an attribute but is not registered by it.
    assert f"{prefix}_data" in registry.dataset_names()
    assert "unregistered" not in registry.dataset_names()
    dataset = registry.dataset(f"{prefix}_data")
    assert isinstance(dataset, Dataset)
    assert registry.dataset(f"{prefix}_data") is dataset

    data = registry.load_search(f"{prefix}_data", SplitSpec())
    model = registry.builder(f"{prefix}_builder")({"units": 4}, data.info)
    assert model.output.shape[-1] == 1

    # Loading a module twice (it is cached in sys.modules) registers nothing new.
    registry.load_modules([prefix])
    assert registry.builder_names().count(f"{prefix}_builder") == 1


def test_search_data_is_loaded_once_per_name_and_spec(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    prefix = write_module(tmp_path, PLUGIN_MODULE)
    registry = Registry()
    registry.load_modules([prefix])
    name = f"{prefix}_data"

    first = registry.load_search(name, SplitSpec(seed=1))
    assert registry.load_search(name, SplitSpec(seed=1)) is first
    assert registry.load_search(name, SplitSpec(seed=2)) is not first
    assert registry.load_test(name, SplitSpec(seed=1)) is not registry.load_test(
        name, SplitSpec(seed=1)
    )


def test_registries_do_not_share_state(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    prefix = write_module(tmp_path, PLUGIN_MODULE)
    Registry.default(modules=[prefix])

    assert f"{prefix}_builder" not in Registry.default().builder_names()


def test_a_name_taken_by_another_object_is_an_error(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    clash = write_module(
        tmp_path,
        """
        from parzen.worker.registry import register_builder

        @register_builder("mlp")
        def my_mlp(params, info):
            raise NotImplementedError
        """,
    )
    with pytest.raises(PluginError, match=rf"builder 'mlp' from module '{clash}'.*clashes"):
        Registry.default(modules=[clash])


def test_a_module_that_cannot_be_imported_is_an_error():
    with pytest.raises(PluginError, match="cannot import plugin module 'no_such_parzen_plugin'"):
        Registry().load_modules(["no_such_parzen_plugin"])


def test_decorators_return_the_object_unchanged():
    def builder(params, info):
        raise NotImplementedError

    assert register_builder("x")(builder) is builder
    assert register_dataset("y")(Dataset) is Dataset
    assert vars(builder)["__parzen_builder__"] == "x"


def test_entry_points_of_installed_packages_are_discovered(tmp_path, monkeypatch):
    write_distribution(
        tmp_path,
        "parzen_example_plugin",
        """
        [parzen.builders]
        two_tower = parzen_example_plugin.model:build_two_tower

        [parzen.datasets]
        digits_two_view = parzen_example_plugin.data:DigitsTwoView
        """,
    )
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    monkeypatch.syspath_prepend(str(tmp_path))

    registry = Registry.default()

    assert "two_tower" in registry.builder_names()
    assert "digits_two_view" in registry.dataset_names()
    assert registry.problems == []
    assert "entry point 'two_tower'" in registry.source("builder", "two_tower")
    data = registry.load_search("digits_two_view", SplitSpec())
    assert data.info.output_names == ("digit", "parity")
    assert set(data.train.x) == {"image", "stats"}
    model = registry.builder("two_tower")({}, data.info)
    assert set(model.output) == {"digit", "parity"}


def test_a_broken_entry_point_is_skipped_and_reported(tmp_path, monkeypatch):
    write_distribution(
        tmp_path,
        "broken_parzen_plugin",
        """
        [parzen.builders]
        broken = no_such_module_anywhere:build
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    registry = Registry.default()

    assert "broken" not in registry.builder_names()
    assert set(registry.builder_names()) >= BUILTIN_BUILDERS
    assert len(registry.problems) == 1
    assert "'broken'" in registry.problems[0]
    assert "no_such_module_anywhere" in registry.problems[0]


def test_a_dataset_must_answer_to_its_registered_name():
    class Misnamed(Dataset):
        name = "something_else"

        def load_search(self, spec):
            raise NotImplementedError

        def load_test(self, spec):
            raise NotImplementedError

    registry = Registry()
    registry.add_dataset("expected", Misnamed, source="test")
    with pytest.raises(PluginError, match=r"registered as 'expected'.*'something_else'"):
        registry.dataset("expected")

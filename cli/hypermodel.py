"""`parzen study create --hypermodel NAME`: the study's space from a KerasTuner-style
hypermodel installed here (an entry point of `parzen.hypermodels`, or a `--module`)."""

from __future__ import annotations

from typing import Any

import typer

from parzen.cli.common import err_console


def fill_space(document: dict[str, Any], name: str, modules: list[str]) -> dict[str, Any]:
    """The study file with its `space` derived from hypermodel `name`, and its objective's
    builder set to that hypermodel unless the file names one."""
    from parzen.worker.hypermodels import hypermodel_space
    from parzen.worker.hypermodels_hp import HyperparameterError
    from parzen.worker.registry import PluginError, Registry, UnknownPluginError

    if "space" in document:
        err_console.print(
            "[red]error[/red] the study file has a space; --hypermodel fills it in: remove one"
        )
        raise typer.Exit(2)
    try:
        registry = Registry.default(modules)
        space = hypermodel_space(registry.hypermodel(name))
    except (PluginError, UnknownPluginError, HyperparameterError) as exc:
        err_console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from exc
    objective = dict(document.get("objective") or {})
    objective.setdefault("builder", name)
    return {**document, "space": space, "objective": objective}

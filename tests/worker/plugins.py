"""A plugin module loaded by name (`--module tests.worker.plugins`) in the daemon tests."""

from __future__ import annotations

from typing import Any

from worker.registry import register_builder


@register_builder("broken")
def broken(params: dict[str, Any], info: Any) -> Any:
    raise RuntimeError("deliberately broken builder")

"""Typed reads of hyperparameters: defaults for what a partial space leaves out, and an
error that names the parameter for a value a builder cannot use."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


def int_param(
    params: Mapping[str, Any], name: str, default: int, *, minimum: int | None = None
) -> int:
    value = params.get(name, default)
    # hyperopt's quniform and friends hand integers over as floats (3.0).
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter {name!r} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"parameter {name!r} must be >= {minimum}, got {value}")
    return value


def float_param(
    params: Mapping[str, Any],
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"parameter {name!r} must be a number, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"parameter {name!r} must be in [{minimum}, {maximum}], got {value}")
    return float(value)


def bool_param(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    # A hp.choice over [False, True] may arrive as 0/1 from a JSON round trip.
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise ValueError(f"parameter {name!r} must be true or false, got {value!r}")


def choice_param(
    params: Mapping[str, Any], name: str, default: str, choices: Collection[str]
) -> str:
    value = params.get(name, default)
    if value not in choices:
        raise ValueError(f"parameter {name!r} must be one of {sorted(choices)}, got {value!r}")
    return str(value)


def int_list_param(
    params: Mapping[str, Any], name: str, default: int, *, length: int, minimum: int = 1
) -> list[int]:
    """One int per layer: a list sets each (and the layer count), a scalar repeats."""
    value = params.get(name, default)
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(f"parameter {name!r} must not be an empty list")
        return [int_param({name: item}, name, default, minimum=minimum) for item in value]
    return [int_param(params, name, default, minimum=minimum)] * length

"""The conversion between a sampler's vals and a trial's parameters, over a parsed space.

Samplers exchange "vals" (label -> natural value, or option index for choices, active labels
only); `SearchSpace.params_from_vals` turns them into the nested parameters a builder gets.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from parzen.service.space.model import (
    Categorical,
    Constant,
    Dimension,
    IntRange,
    Option,
    Scalar,
    SubSpace,
    Vals,
)


@dataclass(frozen=True, slots=True)
class SearchSpace:
    raw: Mapping[str, Any]
    root: SubSpace
    dimensions: Mapping[str, Dimension]

    def active_labels(self, vals: Vals) -> list[str]:
        return [dim.label for dim, _ in walk_active(self.root, vals)]

    def params_from_vals(self, vals: Vals) -> dict[str, Any]:
        """The nested real parameters: constants included, inactive branches absent."""
        return build_params(self.root, vals)

    def flat_params(self, vals: Vals) -> dict[str, Scalar]:
        """Label -> real value for active labels; a choice among sub-spaces gives its index."""
        flat: dict[str, Scalar] = {}
        for dim, value in walk_active(self.root, vals):
            dist = dim.distribution
            if isinstance(dist, Categorical) and dist.constant_options:
                flat[dim.label] = cast(Constant, chosen_option(dim, value)).value
            else:
                flat[dim.label] = real_value(dim, value)
        return flat


def walk_all(sub: SubSpace) -> Iterator[Dimension]:
    """Every dimension once, parents before the dimensions of their branches."""
    seen: set[str] = set()

    def walk(sub: SubSpace) -> Iterator[Dimension]:
        for entry in sub.params.values():
            if isinstance(entry, Dimension) and entry.label not in seen:
                seen.add(entry.label)
                yield entry
                if isinstance(entry.distribution, Categorical):
                    for option in entry.distribution.options:
                        if isinstance(option, SubSpace):
                            yield from walk(option)

    return walk(sub)


def walk_active(sub: SubSpace, vals: Vals) -> Iterator[tuple[Dimension, float | int]]:
    for entry in sub.params.values():
        if isinstance(entry, Dimension):
            value = lookup(entry, vals)
            yield entry, value
            if isinstance(entry.distribution, Categorical):
                option = chosen_option(entry, value)
                if isinstance(option, SubSpace):
                    yield from walk_active(option, vals)


def build_params(sub: SubSpace, vals: Vals) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, entry in sub.params.items():
        if isinstance(entry, Constant):
            params[name] = entry.value
        elif isinstance(entry.distribution, Categorical):
            option = chosen_option(entry, lookup(entry, vals))
            if isinstance(option, Constant):
                params[name] = option.value
            else:
                params[name] = build_params(option, vals)
        else:
            params[name] = real_value(entry, lookup(entry, vals))
    return params


def lookup(dim: Dimension, vals: Vals) -> float | int:
    if dim.label not in vals:
        raise ValueError(f"vals has no value for the active parameter '{dim.label}'")
    value = vals[dim.label]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"vals['{dim.label}'] must be a number (got {value!r})")
    return value


def chosen_option(dim: Dimension, value: float | int) -> Option:
    assert isinstance(dim.distribution, Categorical)
    options = dim.distribution.options
    if not float(value).is_integer() or not 0 <= value < len(options):
        raise ValueError(
            f"vals['{dim.label}'] must be an option index in 0..{len(options) - 1} (got {value!r})"
        )
    return options[int(value)]


def real_value(dim: Dimension, value: float | int) -> float | int:
    if isinstance(dim.distribution, IntRange | Categorical):
        if not float(value).is_integer():
            raise ValueError(f"vals['{dim.label}'] must be an integer (got {value!r})")
        return int(value)
    return float(value)

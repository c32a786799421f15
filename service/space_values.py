"""The inverse of `SearchSpace.params_from_vals`: a finished trial's nested parameters (an
import, a warm start) as the samplers' vals, each checked against its dimension."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from parzen.service.space import (
    BRANCH_NAME_KEYS,
    Bounded,
    Categorical,
    Constant,
    IntRange,
    SearchSpace,
    SpaceIssue,
    SpaceValidationError,
    SubSpace,
)


def vals_from_params(space: SearchSpace, params: Mapping[str, Any]) -> dict[str, float | int]:
    """Label -> value (option index for choices) of `params`; SpaceValidationError naming
    the path of every value the space does not allow."""
    vals: dict[str, float | int] = {}
    issues: list[SpaceIssue] = []
    _walk(space.root, params, "$", vals, issues)
    if issues:
        raise SpaceValidationError(issues)
    return vals


def _walk(
    sub: SubSpace,
    params: Mapping[str, Any],
    path: str,
    vals: dict[str, float | int],
    issues: list[SpaceIssue],
) -> None:
    for name, entry in sub.params.items():
        if isinstance(entry, Constant):
            continue  # constants are the space's, whatever the import says
        where = f"{path}.{name}"
        if name not in params:
            issues.append(SpaceIssue(where, "missing: the space's parameter has no value"))
            continue
        value, dist = params[name], entry.distribution
        if isinstance(dist, Categorical):
            index = _option_index(dist, value)
            if index is None:
                issues.append(SpaceIssue(where, f"{value!r} is not one of the options"))
                continue
            vals[entry.label] = index
            option = dist.options[index]
            if isinstance(option, SubSpace):
                _walk(option, value, where, vals, issues)
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            issues.append(SpaceIssue(where, f"must be a number (got {value!r})"))
            continue
        number = float(value)
        if not math.isfinite(number):
            issues.append(SpaceIssue(where, f"must be finite (got {value!r})"))
        elif isinstance(dist, IntRange):
            if not number.is_integer() or not dist.low <= number <= dist.high:
                issues.append(SpaceIssue(where, f"{value!r} is not an integer in the range"))
            else:
                vals[entry.label] = int(number)
        elif isinstance(dist, Bounded) and not dist.low <= number <= dist.high:
            issues.append(SpaceIssue(where, f"{value!r} is outside [{dist.low}, {dist.high}]"))
        else:
            vals[entry.label] = number


def _option_index(dist: Categorical, value: Any) -> int | None:
    for index, option in enumerate(dist.options):
        if isinstance(option, Constant):
            if option.value == value and type(option.value) is type(value):
                return index
        elif isinstance(value, Mapping) and _same_branch(option, value):
            return index
    for index, option in enumerate(dist.options):  # 1 for 1.0 and the like
        plain = not isinstance(value, Mapping | bool)
        constant = option.value if isinstance(option, Constant) else None
        if plain and not isinstance(constant, bool) and constant is not None and constant == value:
            return index
    return None


def _same_branch(option: SubSpace, value: Mapping[str, Any]) -> bool:
    tags = {
        key: entry.value
        for key, entry in option.params.items()
        if key in BRANCH_NAME_KEYS and isinstance(entry, Constant)
    }
    if tags:
        return all(value.get(key) == tag for key, tag in tags.items())
    return set(option.params) <= set(value)

"""The parser of search spaces: the JSON schema users write, checked in one pass that lists
every issue with its JSON path and what to fix."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from parzen.service.space.model import (
    BRANCH_NAME_KEYS,
    NAME_PATTERN,
    Bounded,
    Categorical,
    Constant,
    Dimension,
    Distribution,
    Gaussian,
    IntRange,
    Option,
    SubSpace,
    no_multiple_within,
)
from parzen.service.space.paths import child_path, show
from parzen.service.space.values import SearchSpace, walk_all
from parzen.service.suggest import did_you_mean

PROBABILITY_TOLERANCE = 1e-6
_REQUIRED: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "quniform": ("low", "high", "q"),
    "loguniform": ("low", "high"),
    "qloguniform": ("low", "high", "q"),
    "normal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "lognormal": ("mu", "sigma"),
    "qlognormal": ("mu", "sigma", "q"),
    "int": ("low", "high"),
    "choice": ("options",),
    "pchoice": ("options", "probabilities"),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {"int": ("step", "log")}


@dataclass(frozen=True, slots=True)
class SpaceIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpaceValidationError(ValueError):
    def __init__(self, issues: Sequence[SpaceIssue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues))


def parse_space(raw: object) -> SearchSpace:
    """Validate a JSON search space; raise SpaceValidationError listing every issue."""
    parser = _Parser()
    if not isinstance(raw, Mapping):
        parser.issue("$", "a search space must be an object mapping names to parameters")
    elif not raw:
        parser.issue("$", "the search space is empty; define at least one parameter")
    root = parser.params(raw, "$", prefix="")
    if parser.issues:
        raise SpaceValidationError(parser.issues)
    assert isinstance(raw, Mapping)
    dimensions = {dim.label: dim for dim in walk_all(root)}
    return SearchSpace(
        raw=copy.deepcopy(dict(raw)), root=root, dimensions=MappingProxyType(dimensions)
    )


class _Parser:
    """Walks the raw space once, collecting every issue instead of stopping at the first."""

    def __init__(self) -> None:
        self.issues: list[SpaceIssue] = []
        self.seen: dict[str, Dimension] = {}

    def issue(self, path: str, message: str) -> None:
        self.issues.append(SpaceIssue(path, message))

    def params(self, raw: object, path: str, *, prefix: str) -> SubSpace:
        params: dict[str, Constant | Dimension] = {}
        for name, value in raw.items() if isinstance(raw, Mapping) else ():
            child = child_path(path, name)
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                self.issue(
                    child,
                    f"invalid parameter name {show(name)}: use letters, digits, "
                    "'_' and '-', starting with a letter or '_'",
                )
                continue
            label = f"{prefix}.{name}" if prefix else name
            if isinstance(value, Mapping):
                entry: Constant | Dimension | None = self.node(value, child, label)
            else:
                entry = self.constant(value, child)
            if entry is not None:
                params[name] = entry
        return SubSpace(params)

    def constant(self, value: object, path: str) -> Constant | None:
        if isinstance(value, list | tuple):
            self.issue(
                path,
                "lists are not allowed here; to choose among values use "
                '{"type": "choice", "options": [...]}',
            )
        elif isinstance(value, float) and not math.isfinite(value):
            self.issue(path, f"must be a finite number (got {value})")
        elif value is None or isinstance(value, str | int | float | bool):
            return Constant(value)
        else:
            self.issue(
                path,
                f"unsupported value of type {type(value).__name__}; use a "
                "string, number, boolean or null",
            )
        return None

    def node(self, raw: Mapping[Any, Any], path: str, label: str) -> Dimension | None:
        if "type" not in raw:
            self.issue(
                path,
                "missing field 'type'; an object here is a parameter node, "
                'e.g. {"type": "uniform", "low": 0, "high": 1}',
            )
            return None
        kind = raw["type"]
        if kind not in _PARSERS:
            self.issue(f"{path}.type", _unknown_type_message(kind))
            return None
        issues_before = len(self.issues)
        if not self.check_fields(raw, path, kind):
            return None  # without every required field there is nothing more to check
        dist = _PARSERS[kind](self, raw, path, label)
        if dist is None or len(self.issues) > issues_before:
            return None
        return self.register(Dimension(label, kind, dist, path))

    def check_fields(self, raw: Mapping[Any, Any], path: str, kind: str) -> bool:
        """Report unknown and missing fields; True when every required field is there."""
        known = ("type", *_REQUIRED[kind], *_OPTIONAL.get(kind, ()))
        unknown = [key for key in raw if key not in known]
        missing = [key for key in _REQUIRED[kind] if key not in raw]
        for key in unknown:
            hint = did_you_mean(str(key), known)
            self.issue(child_path(path, key), f"unknown field '{key}' for {kind}{hint}")
        for key in missing:
            self.issue(path, f"missing field '{key}'")
        return not missing

    def register(self, dim: Dimension) -> Dimension:
        existing = self.seen.setdefault(dim.label, dim)
        if existing != dim:
            self.issue(
                dim.path,
                f"duplicate label '{dim.label}': defined differently at "
                f"{existing.path} and {dim.path}; give the two options different names",
            )
        return existing

    def number(self, value: object, path: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            note = "; booleans are not numbers" if isinstance(value, bool) else ""
            self.issue(path, f"must be a number (got {show(value)}{note})")
            return None
        if not math.isfinite(value):
            self.issue(path, f"must be a finite number (got {value})")
            return None
        return float(value)

    def field_number(self, raw: Mapping[Any, Any], key: str, path: str) -> float | None:
        return self.number(raw[key], f"{path}.{key}")

    def positive(self, raw: Mapping[Any, Any], key: str, path: str) -> float | None:
        value = self.field_number(raw, key, path)
        if value is not None and value <= 0:
            self.issue(f"{path}.{key}", f"{key} must be > 0 (got {show(raw[key])})")
            return None
        return value

    def integer(self, raw: Mapping[Any, Any], key: str, path: str, rule: str) -> int | None:
        value = self.field_number(raw, key, path)
        if value is not None and not value.is_integer():
            self.issue(f"{path}.{key}", f"{rule} (got {show(raw[key])})")
            return None
        return None if value is None else int(value)


def _parse_bounded(p: _Parser, raw: Mapping[Any, Any], path: str, label: str) -> Bounded | None:
    kind, log = raw["type"], raw["type"] in ("loguniform", "qloguniform")
    low, high = p.field_number(raw, "low", path), p.field_number(raw, "high", path)
    q = p.positive(raw, "q", path) if "q" in raw else None
    if low is None or high is None:
        return None
    if log and low <= 0:
        p.issue(
            f"{path}.low",
            f"{kind} bounds must be > 0 (got low={show(raw['low'])}); "
            "use uniform for ranges that include 0",
        )
    elif low >= high:
        p.issue(f"{path}.low", f"low ({show(raw['low'])}) must be < high ({show(raw['high'])})")
    elif q is not None and no_multiple_within(low, high, q):
        p.issue(
            f"{path}.q",
            f"no multiple of q ({show(raw['q'])}) lies within "
            f"[{show(raw['low'])}, {show(raw['high'])}]; widen the range or lower q",
        )
    return Bounded(low, high, q, log)


def _parse_gaussian(p: _Parser, raw: Mapping[Any, Any], path: str, label: str) -> Gaussian | None:
    mu, sigma = p.field_number(raw, "mu", path), p.positive(raw, "sigma", path)
    q = p.positive(raw, "q", path) if "q" in raw else None
    if mu is None or sigma is None:
        return None
    return Gaussian(mu, sigma, q, log=raw["type"] in ("lognormal", "qlognormal"))


def _parse_int(p: _Parser, raw: Mapping[Any, Any], path: str, label: str) -> IntRange | None:
    low = p.integer(raw, "low", path, "int bounds must be integers")
    high = p.integer(raw, "high", path, "int bounds must be integers")
    step = p.integer(raw, "step", path, "step must be an integer") if "step" in raw else 1
    log = raw.get("log", False)
    if not isinstance(log, bool):
        p.issue(f"{path}.log", f"log must be true or false (got {show(log)})")
    if low is None or high is None or step is None:
        return None
    if step < 1:
        p.issue(f"{path}.step", f"step must be >= 1 (got {step})")
    elif low >= high:
        p.issue(f"{path}.low", f"low ({low}) must be < high ({high})")
    elif log is True and step != 1:
        p.issue(f"{path}.step", f"log=true requires step 1 (got {step})")
    elif log is True and low < 1:
        p.issue(f"{path}.low", f"log=true requires low >= 1 (got {low})")
    elif (high - low) % step:
        below = low + (high - low) // step * step
        p.issue(
            f"{path}.high",
            f"high - low ({high - low}) must be a multiple of step ({step}); "
            f"use high {below} or {below + step}",
        )
    return IntRange(low, high, step, log is True)


def _parse_choice(p: _Parser, raw: Mapping[Any, Any], path: str, label: str) -> Categorical | None:
    raw_options, where = raw["options"], f"{path}.options"
    if not isinstance(raw_options, list | tuple):
        p.issue(where, f"options must be a list (got {show(raw_options)})")
        return None
    if not raw_options:
        p.issue(where, f"{raw['type']} needs at least one option")
        return None
    options: list[Option] = []
    first_index: dict[str, int] = {}
    for i, value in enumerate(raw_options):
        key = json.dumps(value, sort_keys=True, default=repr)
        if key in first_index:
            shown = "sub-space" if isinstance(value, Mapping) else show(value)
            p.issue(
                f"{where}[{i}]",
                f"duplicate option {shown} (same as options"
                f"[{first_index[key]}]; options must be distinct)",
            )
            continue
        first_index[key] = i
        if isinstance(value, Mapping):
            prefix = f"{label}.{_branch_tag(value, i)}"
            option: Option | None = p.params(value, f"{where}[{i}]", prefix=prefix)
        else:
            option = p.constant(value, f"{where}[{i}]")
        if option is not None:
            options.append(option)
    probabilities = _parse_probabilities(p, raw, path) if raw["type"] == "pchoice" else None
    return Categorical(tuple(options), probabilities)


def _branch_tag(option: Mapping[Any, Any], index: int) -> str:
    for key in BRANCH_NAME_KEYS:
        tag = option.get(key)
        if isinstance(tag, str) and NAME_PATTERN.match(tag):
            return tag
    return str(index)


def _parse_probabilities(p: _Parser, raw: Mapping[Any, Any], path: str) -> tuple[float, ...] | None:
    values, where = raw["probabilities"], f"{path}.probabilities"
    if not isinstance(values, list | tuple):
        p.issue(where, f"probabilities must be a list of numbers (got {show(values)})")
        return None
    numbers = [p.number(value, f"{where}[{i}]") for i, value in enumerate(values)]
    probs = tuple(n for n in numbers if n is not None)
    if len(probs) < len(numbers):
        return None
    negative = [i for i, x in enumerate(probs) if x < 0]
    if len(probs) != len(raw["options"]):
        p.issue(
            where,
            f"probabilities has {len(probs)} entries but options has "
            f"{len(raw['options'])}; give one probability per option",
        )
    elif negative:
        i = negative[0]
        p.issue(f"{where}[{i}]", f"probabilities must be >= 0 (got {show(values[i])})")
    elif abs(sum(probs) - 1) > PROBABILITY_TOLERANCE:
        p.issue(where, f"probabilities must sum to 1 (got {sum(probs):.6g})")
    return probs


_NodeParser = Callable[[_Parser, Mapping[Any, Any], str, str], Distribution | None]
_PARSERS: dict[str, _NodeParser] = {
    "uniform": _parse_bounded,
    "quniform": _parse_bounded,
    "loguniform": _parse_bounded,
    "qloguniform": _parse_bounded,
    "normal": _parse_gaussian,
    "qnormal": _parse_gaussian,
    "lognormal": _parse_gaussian,
    "qlognormal": _parse_gaussian,
    "int": _parse_int,
    "choice": _parse_choice,
    "pchoice": _parse_choice,
}


def _unknown_type_message(kind: object) -> str:
    expected = ", ".join(sorted(_PARSERS))
    if not isinstance(kind, str):
        return f"type must be a string naming one of: {expected} (got {show(kind)})"
    return f"unknown type '{kind}'; expected one of: {expected}{did_you_mean(kind, _PARSERS)}"

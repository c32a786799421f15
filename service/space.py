"""Search spaces: the JSON schema users write, its validation, and value conversion.

A space maps parameter names to nodes (objects with a "type") or constants (scalars).
Every node becomes a `Dimension` under a dotted label: "lr" at the top, "optimizer.sgd.momentum"
inside a choice's option, where the option is named by its `name` (or `kind`, or `type`)
string constant, else by its position ("layer.0.filters"). So each branch has its own
dimensions, and a branch may give a parameter its own range (adam's and sgd's learning
rates). Samplers
exchange "vals" (label -> natural value, or option index for choices, active labels only)
and `SearchSpace.params_from_vals` turns them into the nested parameters a builder gets.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

Scalar = str | int | float | bool | None
Vals = Mapping[str, float | int]
NodeType = Literal[
    "choice",
    "int",
    "lognormal",
    "loguniform",
    "normal",
    "pchoice",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "uniform",
]

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# String constants that name a choice's option in the labels of its parameters.
BRANCH_NAME_KEYS = ("name", "kind", "type")
PROBABILITY_TOLERANCE = 1e-6
NODE_TYPES: tuple[str, ...] = get_args(NodeType)
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


@dataclass(frozen=True, slots=True)
class Constant:
    value: Scalar


@dataclass(frozen=True, slots=True)
class Bounded:
    """uniform, quniform, loguniform, qloguniform; bounds in natural units."""

    low: float
    high: float
    q: float | None = None
    log: bool = False

    def snap(self, x: float) -> float:
        """The nearest legal value: within bounds and, when quantized, a multiple of q."""
        if self.q is None:
            return min(max(float(x), self.low), self.high)
        first, last = _multiples_within(self.low, self.high, self.q)
        k = min(max(round(x / self.q), first), last)
        return min(max(_tidy(k * self.q), self.low), self.high)


@dataclass(frozen=True, slots=True)
class Gaussian:
    """normal, qnormal, lognormal, qlognormal; mu and sigma are those of log(x) when log."""

    mu: float
    sigma: float
    q: float | None = None
    log: bool = False

    def snap(self, x: float) -> float:
        return float(x) if self.q is None else _tidy(round(x / self.q) * self.q)


@dataclass(frozen=True, slots=True)
class IntRange:
    """Integers low, low + step, ..., high (inclusive)."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    @property
    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def snap(self, x: float) -> int:
        k = min(max(round((x - self.low) / self.step), 0), self.size - 1)
        return self.low + k * self.step


@dataclass(frozen=True, slots=True)
class SubSpace:
    params: Mapping[str, Constant | Dimension]


Option = Constant | SubSpace


@dataclass(frozen=True, slots=True)
class Categorical:
    """choice and pchoice; vals hold the option index."""

    options: tuple[Option, ...]
    probabilities: tuple[float, ...] | None = None

    @property
    def constant_options(self) -> bool:
        return all(isinstance(option, Constant) for option in self.options)


Distribution = Bounded | Gaussian | IntRange | Categorical


@dataclass(frozen=True, slots=True)
class Dimension:
    label: str
    kind: NodeType
    distribution: Distribution
    # Where it was first defined; identical definitions in sibling branches share a dimension.
    path: str = field(compare=False)

    @property
    def categorical(self) -> bool:
        return isinstance(self.distribution, Categorical)

    @property
    def log(self) -> bool:
        return not isinstance(self.distribution, Categorical) and self.distribution.log

    @property
    def bounds(self) -> tuple[float, float] | None:
        if isinstance(self.distribution, Bounded | IntRange):
            return (self.distribution.low, self.distribution.high)
        return None


@dataclass(frozen=True, slots=True)
class SearchSpace:
    raw: Mapping[str, Any]
    root: SubSpace
    dimensions: Mapping[str, Dimension]

    def active_labels(self, vals: Vals) -> list[str]:
        return [dim.label for dim, _ in _walk_active(self.root, vals)]

    def params_from_vals(self, vals: Vals) -> dict[str, Any]:
        """The nested real parameters: constants included, inactive branches absent."""
        return _build_params(self.root, vals)

    def flat_params(self, vals: Vals) -> dict[str, Scalar]:
        """Label -> real value for active labels; a choice among sub-spaces gives its index."""
        flat: dict[str, Scalar] = {}
        for dim, value in _walk_active(self.root, vals):
            dist = dim.distribution
            if isinstance(dist, Categorical) and dist.constant_options:
                flat[dim.label] = cast(Constant, _option(dim, value)).value
            else:
                flat[dim.label] = _real_value(dim, value)
        return flat


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
    dimensions = {dim.label: dim for dim in _walk_all(root)}
    return SearchSpace(
        raw=copy.deepcopy(dict(raw)), root=root, dimensions=MappingProxyType(dimensions)
    )


# -- validation -------------------------------------------------------------------------


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
            child = _child_path(path, name)
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                self.issue(
                    child,
                    f"invalid parameter name {_show(name)}: use letters, digits, "
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
            hint = _did_you_mean(str(key), known)
            self.issue(_child_path(path, key), f"unknown field '{key}' for {kind}{hint}")
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
            self.issue(path, f"must be a number (got {_show(value)}{note})")
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
            self.issue(f"{path}.{key}", f"{key} must be > 0 (got {_show(raw[key])})")
            return None
        return value

    def integer(self, raw: Mapping[Any, Any], key: str, path: str, rule: str) -> int | None:
        value = self.field_number(raw, key, path)
        if value is not None and not value.is_integer():
            self.issue(f"{path}.{key}", f"{rule} (got {_show(raw[key])})")
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
            f"{kind} bounds must be > 0 (got low={_show(raw['low'])}); "
            "use uniform for ranges that include 0",
        )
    elif low >= high:
        p.issue(f"{path}.low", f"low ({_show(raw['low'])}) must be < high ({_show(raw['high'])})")
    elif q is not None and _no_multiple_within(low, high, q):
        p.issue(
            f"{path}.q",
            f"no multiple of q ({_show(raw['q'])}) lies within "
            f"[{_show(raw['low'])}, {_show(raw['high'])}]; widen the range or lower q",
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
        p.issue(f"{path}.log", f"log must be true or false (got {_show(log)})")
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
        p.issue(where, f"options must be a list (got {_show(raw_options)})")
        return None
    if not raw_options:
        p.issue(where, f"{raw['type']} needs at least one option")
        return None
    options: list[Option] = []
    first_index: dict[str, int] = {}
    for i, value in enumerate(raw_options):
        key = json.dumps(value, sort_keys=True, default=repr)
        if key in first_index:
            shown = "sub-space" if isinstance(value, Mapping) else _show(value)
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
        p.issue(where, f"probabilities must be a list of numbers (got {_show(values)})")
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
        p.issue(f"{where}[{i}]", f"probabilities must be >= 0 (got {_show(values[i])})")
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
        return f"type must be a string naming one of: {expected} (got {_show(kind)})"
    return f"unknown type '{kind}'; expected one of: {expected}{_did_you_mean(kind, _PARSERS)}"


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _child_path(path: str, name: object) -> str:
    if isinstance(name, str) and NAME_PATTERN.match(name):
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name if isinstance(name, str) else str(name))}]"


def _show(value: object) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


# -- values -----------------------------------------------------------------------------


def _walk_all(sub: SubSpace) -> Iterator[Dimension]:
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


def _walk_active(sub: SubSpace, vals: Vals) -> Iterator[tuple[Dimension, float | int]]:
    for entry in sub.params.values():
        if isinstance(entry, Dimension):
            value = _lookup(entry, vals)
            yield entry, value
            if isinstance(entry.distribution, Categorical):
                option = _option(entry, value)
                if isinstance(option, SubSpace):
                    yield from _walk_active(option, vals)


def _build_params(sub: SubSpace, vals: Vals) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, entry in sub.params.items():
        if isinstance(entry, Constant):
            params[name] = entry.value
        elif isinstance(entry.distribution, Categorical):
            option = _option(entry, _lookup(entry, vals))
            if isinstance(option, Constant):
                params[name] = option.value
            else:
                params[name] = _build_params(option, vals)
        else:
            params[name] = _real_value(entry, _lookup(entry, vals))
    return params


def _lookup(dim: Dimension, vals: Vals) -> float | int:
    if dim.label not in vals:
        raise ValueError(f"vals has no value for the active parameter '{dim.label}'")
    value = vals[dim.label]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"vals['{dim.label}'] must be a number (got {value!r})")
    return value


def _option(dim: Dimension, value: float | int) -> Option:
    assert isinstance(dim.distribution, Categorical)
    options = dim.distribution.options
    if not float(value).is_integer() or not 0 <= value < len(options):
        raise ValueError(
            f"vals['{dim.label}'] must be an option index in 0..{len(options) - 1} (got {value!r})"
        )
    return options[int(value)]


def _real_value(dim: Dimension, value: float | int) -> float | int:
    if isinstance(dim.distribution, IntRange | Categorical):
        if not float(value).is_integer():
            raise ValueError(f"vals['{dim.label}'] must be an integer (got {value!r})")
        return int(value)
    return float(value)


def _multiples_within(low: float, high: float, q: float) -> tuple[int, int]:
    """Indices k of the first and last multiples k * q within [low, high]."""
    first, last = low / q, high / q
    slack = 1e-9 * max(1.0, abs(first), abs(last))  # so that 0.7 / 0.1 counts as 7
    return math.ceil(first - slack), math.floor(last + slack)


def _no_multiple_within(low: float, high: float, q: float) -> bool:
    first, last = _multiples_within(low, high, q)
    return first > last


def _tidy(x: float) -> float:
    """Drop float noise such as 7 * 0.1 == 0.7000000000000001, and the sign of -0.0."""
    return float(f"{x:.12g}") + 0.0

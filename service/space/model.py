"""The model of a search space: its nodes, their distributions, and the dimensions they
become. Parsed from JSON by service/space/parser.py; see service/space/__init__.py."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

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
NODE_TYPES: tuple[str, ...] = get_args(NodeType)


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
        first, last = multiples_within(self.low, self.high, self.q)
        k = min(max(round(x / self.q), first), last)
        return min(max(tidy(k * self.q), self.low), self.high)


@dataclass(frozen=True, slots=True)
class Gaussian:
    """normal, qnormal, lognormal, qlognormal; mu and sigma are those of log(x) when log."""

    mu: float
    sigma: float
    q: float | None = None
    log: bool = False

    def snap(self, x: float) -> float:
        return float(x) if self.q is None else tidy(round(x / self.q) * self.q)


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


def multiples_within(low: float, high: float, q: float) -> tuple[int, int]:
    """Indices k of the first and last multiples k * q within [low, high]."""
    first, last = low / q, high / q
    slack = 1e-9 * max(1.0, abs(first), abs(last))  # so that 0.7 / 0.1 counts as 7
    return math.ceil(first - slack), math.floor(last + slack)


def no_multiple_within(low: float, high: float, q: float) -> bool:
    first, last = multiples_within(low, high, q)
    return first > last


def tidy(x: float) -> float:
    """Drop float noise such as 7 * 0.1 == 0.7000000000000001, and the sign of -0.0."""
    return float(f"{x:.12g}") + 0.0

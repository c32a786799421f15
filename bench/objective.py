"""What the search-quality benchmark knows of an objective."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Params = Mapping[str, Any]
Space = dict[str, Any]


@dataclass(frozen=True)
class Objective:
    name: str
    space: Space
    true_value: Callable[[Params], float]
    optimum: float
    noisy: Callable[[Params, np.random.Generator], float] | None = None

    def evaluate(self, params: Params, rng: np.random.Generator) -> float:
        return self.noisy(params, rng) if self.noisy else self.true_value(params)

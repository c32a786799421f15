"""Ensemble selection (Caruana et al., 2004): greedy forward selection with replacement.

Each round adds the model whose inclusion gives the best validation score of the running
average; the weights are the counts of the best prefix of rounds ("best-prefix trimming":
later rounds that only overfit validation are dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ensemble:
    weights: np.ndarray  # one per member, >= 0, summing to 1
    score: float  # validation score of the weighted average

    def predict(self, predictions: Sequence[np.ndarray]) -> np.ndarray:
        return np.tensordot(self.weights, np.stack(predictions), axes=1)


def greedy_ensemble(
    predictions: Sequence[np.ndarray],
    score: Callable[[np.ndarray], float],
    *,
    maximize: bool,
    rounds: int = 50,
) -> Ensemble:
    sign = 1.0 if maximize else -1.0
    counts = np.zeros(len(predictions))
    running = np.zeros_like(predictions[0], dtype=float)
    history: list[tuple[float, np.ndarray]] = []
    for size in range(1, rounds + 1):
        candidates = [sign * score((running * (size - 1) + p) / size) for p in predictions]
        best = int(np.argmax(candidates))  # ties go to the better-ranked (earlier) member
        counts[best] += 1
        running = (running * (size - 1) + predictions[best]) / size
        history.append((sign * candidates[best], counts.copy()))
    best_round = max(range(len(history)), key=lambda i: (sign * history[i][0], -i))
    value, chosen = history[best_round]
    return Ensemble(chosen / chosen.sum(), value)

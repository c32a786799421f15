"""Parameter importance: the mean decrease in impurity of a random forest (scikit-learn).

The forest regresses the objective value on the parameters of complete trials (log-scale
parameters in log10, categorical ones by option index, inactive ones as missing values,
which scikit-learn's trees route on their own). This is Optuna's
MeanDecreaseImpurityImportanceEvaluator; fANOVA would also split the variance by
interactions, at several times the cost. Importances sum to 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from service.dashboard.params import Cell, ParamColumn, ParamTable

METHOD = "random forest (scikit-learn), mean decrease in impurity"
MAX_TRIALS = 2000  # a subsample beyond this: the ranking is stable and the fit stays < 1 s
TREES = 64


@dataclass(frozen=True, slots=True)
class Importance:
    method: str
    trials: int
    scores: list[tuple[str, float]]  # most important first


def forest_importance(table: ParamTable, *, seed: int = 0) -> Importance:
    from sklearn.ensemble import RandomForestRegressor  # a second to import: only when used

    rows = len(table.values)
    if rows < 2 or not table.columns:
        return Importance(METHOD, rows, [])
    picked = np.arange(rows)
    if rows > MAX_TRIALS:
        picked = np.sort(np.random.default_rng(seed).choice(rows, MAX_TRIALS, replace=False))
    features = np.column_stack([_encode(column) for column in table.columns])[picked]
    target = np.asarray(table.values, dtype=float)[picked]
    if np.ptp(target) == 0:
        return Importance(METHOD, len(picked), [(c.label, 0.0) for c in table.columns])
    forest = RandomForestRegressor(n_estimators=TREES, min_samples_leaf=2, random_state=seed)
    forest.fit(features, target)
    scores = zip((c.label for c in table.columns), forest.feature_importances_, strict=True)
    ranked = sorted(((label, float(score)) for label, score in scores), key=lambda s: -s[1])
    return Importance(METHOD, len(picked), ranked)


def _encode(column: ParamColumn) -> np.ndarray:
    if column.options is not None:
        index = {name: i for i, name in enumerate(column.options)}
        return np.array([_code(index, v) for v in column.values], dtype=float)
    return np.array([_number(v, column.log) for v in column.values], dtype=float)


def _code(index: dict[str, int], value: Cell) -> float:
    return float(index[value]) if isinstance(value, str) and value in index else math.nan


def _number(value: Cell, log: bool) -> float:
    if not isinstance(value, int | float):
        return math.nan
    if log:
        return math.log10(value) if value > 0 else math.nan
    return float(value)

"""Parameter importance: the mean decrease in impurity of a random forest (scikit-learn).

The forest regresses the objective value on the parameters of complete trials (log-scale
parameters in log10, categorical ones by option index, inactive ones as missing values,
which scikit-learn's trees route on their own). This is Optuna's
MeanDecreaseImpurityImportanceEvaluator; fANOVA would also split the variance by
interactions, at several times the cost. Importances sum to 1.

Conditional spaces: a parameter that each branch of a choice defines under the same name
(`optimizer.adam.learning_rate`, `optimizer.sgd.learning_rate`) is one feature, "the learning
rate, whichever optimizer", labelled `optimizer.*.learning_rate`: split in two, each half
looked unimportant next to `optimizer` only because it is missing whenever the other branch
is taken. Every score says in how many of the fitted trials its parameter was active.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from parzen.service.dashboard.params import Cell, ParamColumn, ParamTable

METHOD = "random forest (scikit-learn), mean decrease in impurity"
MAX_TRIALS = 1000  # a subsample beyond this: the ranking is stable (bench/dashboard.py)
TREES = 32  # the fit's time at 10,000 trials: bench/dashboard.py's importance table


@dataclass(frozen=True, slots=True)
class Importance:
    method: str
    trials: int
    scores: list[tuple[str, float]]  # most important first
    active: dict[str, int] = field(default_factory=dict)  # label -> trials it was active in


def merged_columns(columns: list[ParamColumn]) -> list[ParamColumn]:
    """Columns of the same leaf name under different options of one choice, merged into
    one (`choice.*.leaf`, the active branch's value in each row); others unchanged."""
    choices = {c.label: set(c.options or ()) for c in columns if c.kind == "categorical"}
    groups: dict[str, list[ParamColumn]] = {}
    for column in columns:
        groups.setdefault(_branch_free(column.label, choices), []).append(column)
    merged = []
    for key, members in groups.items():
        if len(members) == 1:
            merged.append(members[0])
            continue
        first = members[0]
        options = None
        if first.options is not None:
            options = list(dict.fromkeys(o for m in members for o in (m.options or ())))
        rows = zip(*(m.values for m in members), strict=True)
        values = [next((v for v in row if v is not None), None) for row in rows]
        merged.append(replace(first, label=key, options=options, values=values))
    return merged


def _branch_free(label: str, choices: dict[str, set[str]]) -> str:
    """`optimizer.adam.learning_rate` -> `optimizer.*.learning_rate` when `optimizer` is a
    choice with an option `adam`; any other label as it is."""
    parts = label.split(".")
    for i in range(1, len(parts) - 1):
        parent = ".".join(parts[:i])
        if parts[i] in choices.get(parent, ()):
            return ".".join([*parts[:i], "*", *parts[i + 1 :]])
    return label


def forest_importance(table: ParamTable, *, seed: int = 0) -> Importance:
    from sklearn.ensemble import RandomForestRegressor  # a second to import: only when used

    rows = len(table.values)
    columns = merged_columns(table.columns)
    if rows < 2 or not columns:
        return Importance(METHOD, rows, [])
    picked = np.arange(rows)
    if rows > MAX_TRIALS:
        picked = np.sort(np.random.default_rng(seed).choice(rows, MAX_TRIALS, replace=False))
    features = np.column_stack([_encode(column) for column in columns])[picked]
    active = {c.label: int(n) for c, n in zip(columns, (~np.isnan(features)).sum(0), strict=True)}
    target = np.asarray(table.values, dtype=float)[picked]
    if np.ptp(target) == 0:
        return Importance(METHOD, len(picked), [(c.label, 0.0) for c in columns], active)
    forest = RandomForestRegressor(n_estimators=TREES, min_samples_leaf=2, random_state=seed)
    forest.fit(features, target)
    scores = zip((c.label for c in columns), forest.feature_importances_, strict=True)
    ranked = sorted(((label, float(score)) for label, score in scores), key=lambda s: -s[1])
    return Importance(METHOD, len(picked), ranked, active)


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

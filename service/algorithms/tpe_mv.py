"""Multivariate TPE on Parzen's own space model: numpy and scipy, no hyperopt.

hyperopt's TPE models every dimension on its own. Following Optuna's multivariate and group
TPE (Falkner et al. 2018; Watanabe 2023, "Tree-structured Parzen estimator: understanding its
algorithm components"), this sampler models the dimensions that are active together jointly:
each observation is one kernel over all of them (a product of per-dimension kernels), so the
good density l(x) keeps the correlations of the good points, and candidates are drawn whole
from l and ranked by log l(x) - log g(x).

A space with choices is decomposed into groups: the top-level dimensions form one group,
and each option that is a sub-space forms a group of its own dimensions, modelled on the
trials that took that option. A proposal samples the top-level group, then the group of each
option it chose, down the tree, so nested choices keep their shape.

The good group is the best `min(ceil(gamma * n), 25)` of the n finished trials (Optuna's
rule); pending trials join the bad group (a constant liar), so parallel workers are steered
apart, and the bad group's oldest trials are down-weighted past 25 (Optuna's weights).
Per-dimension bandwidths follow the distances to the neighbouring observations, clipped as
hyperopt's and Optuna's "magic clip" do; a prior kernel (the centre of the range, the range's
width) has weight `prior_weight`. int and quantized uniform dimensions use discrete kernels
(the probability of the value's cell), so a 3-valued ordinal is modelled as what it is,
and no narrower than half a cell, so that they reach the neighbouring values; except, in
the bad density, the kernels of pruned trials (and of running ones once the study prunes),
which shrink as Optuna's do, so that the many trials a pruner stops count against their
own values only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from parzen.service.algorithms.base import (
    FINISHED_STATES,
    Observation,
    Sampler,
    check_seed,
    trial_rng,
)
from parzen.service.algorithms.random import RandomSampler
from parzen.service.algorithms.tpe_kernels import (
    _CategoricalPart,
    _Choice,
    _ColumnOrder,
    _Kept,
    _Kernel,
    _kernel,
    _MassCache,
    _Mixture,
    _NumericPart,
    _optuna_weights,
)
from parzen.service.algorithms.tpe_settings import TPESettings
from parzen.service.space import Categorical, Dimension, SearchSpace, SubSpace

__all__ = ["MultivariateTPESampler", "_CategoricalPart", "_Choice", "_NumericPart", "_kernel"]

MAX_BELOW = 25  # Optuna's default: at most 25 trials in the good group
_PENDING, _FINISHED, _IGNORED = 0, 1, 2


class MultivariateTPESampler(Sampler):
    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        settings: TPESettings = TPESettings(),
    ) -> None:
        self._space = space
        self._seed = check_seed(seed)
        self._settings = settings
        self._random = RandomSampler(space, seed=seed)
        self._kernels = {label: _kernel(dim) for label, dim in space.dimensions.items()}
        self._column = {label: j for j, label in enumerate(space.dimensions)}
        # One row per trial number, in the order first seen; NaN where a label is inactive.
        self._rows: dict[int, int] = {}
        self._x = np.full((64, len(self._column)), np.nan)
        self._number = np.zeros(64, dtype=np.int64)
        self._loss = np.zeros(64)
        self._state = np.zeros(64, dtype=np.int8)
        self._pruned = np.zeros(64, dtype=bool)
        # Kept between proposals, per column: the rows' order and the kernels' masses.
        self._order = _ColumnOrder(len(self._column))
        self._masses = [_MassCache() for _ in self._column]

    def observe(self, observations: Iterable[Observation]) -> None:
        for obs in observations:
            row = self._rows.get(obs.number)
            before = None if row is None else self._x[row].copy()
            if row is None:
                row = self._rows[obs.number] = len(self._rows)
                self._grow(row + 1)
                self._number[row] = obs.number
            self._x[row] = np.nan
            for label, value in obs.vals.items():
                kernel = self._kernels.get(label)
                if kernel is not None:
                    self._x[row, self._column[label]] = (
                        float(value) if isinstance(kernel, _Choice) else kernel.internal(value)
                    )
            if before is not None and not np.array_equal(before, self._x[row], equal_nan=True):
                self._forget()  # a row already seen changed its values
            self._pruned[row] = obs.state == "pruned"
            if obs.state in FINISHED_STATES:
                self._state[row] = _FINISHED
                # A diverged model's NaN (or a pruned trial without a score) is the worst.
                loss = obs.loss
                self._loss[row] = math.inf if loss is None or math.isnan(loss) else loss
            elif obs.state == "failed" or not self._settings.constant_liar:
                self._state[row] = _IGNORED
            else:
                self._state[row] = _PENDING

    def propose(self, number: int) -> dict[str, float | int]:
        n = len(self._rows)
        state = self._state[:n]
        finished = np.flatnonzero(state == _FINISHED)
        if not self._kernels or len(finished) < self._settings.n_startup_trials:
            return self._random.propose(number)
        n_below = min(math.ceil(self._settings.gamma * len(finished)), MAX_BELOW)
        # Ties in loss go to the older trial: the split never depends on arrival order.
        order = finished[np.lexsort((self._number[finished], self._loss[finished]))]
        below = np.zeros(n, dtype=bool)
        below[order[:n_below]] = True
        above = (state == _PENDING) | ((state == _FINISHED) & ~below)
        vals: dict[str, float | int] = {}
        self._sample_group(self._space.root, vals, below, above, trial_rng(self._seed, number))
        return {label: vals[label] for label in self._kernels if label in vals}

    def _grow(self, size: int) -> None:
        if size <= len(self._number):
            return
        capacity = max(size, 2 * len(self._number))
        x = np.full((capacity, self._x.shape[1]), np.nan)
        x[: len(self._x)] = self._x
        self._x = x
        for name in ("_number", "_loss", "_state", "_pruned"):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def _sample_group(
        self,
        sub: SubSpace,
        vals: dict[str, float | int],
        below: np.ndarray,
        above: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        dims = [
            entry
            for entry in sub.params.values()
            if isinstance(entry, Dimension) and entry.label not in vals
        ]
        if dims:
            kernels = [self._kernels[dim.label] for dim in dims]
            x = self._x[: len(below), [self._column[dim.label] for dim in dims]]
            active = ~np.isnan(x).any(axis=1)
            good = self._mixture(kernels, x, below & active, below=True)
            bad = self._mixture(kernels, x, above & active, below=False)
            candidates = good.sample(rng, self._settings.n_ei_candidates)
            best = _best(candidates, good.log_pdf(candidates) - bad.log_pdf(candidates))
            for kernel, value in zip(kernels, best, strict=True):
                vals[kernel.dim.label] = (
                    int(value) if isinstance(kernel, _Choice) else kernel.external(value)
                )
        for entry in sub.params.values():
            if isinstance(entry, Dimension) and isinstance(entry.distribution, Categorical):
                option = entry.distribution.options[int(vals[entry.label])]
                if isinstance(option, SubSpace):
                    self._sample_group(option, vals, below, above, rng)

    def _mixture(
        self, kernels: Sequence[_Kernel], x: np.ndarray, rows: np.ndarray, *, below: bool
    ) -> _Mixture:
        picked = np.flatnonzero(rows)
        picked = picked[np.argsort(self._number[picked], kind="stable")]  # oldest first
        weights = np.ones(len(picked)) if below else _optuna_weights(len(picked))
        unfloored = None if below else self._unfloored(picked)
        return _Mixture(
            kernels,
            x[picked],
            weights,
            self._settings.prior_weight,
            unfloored=unfloored,
            kept=self._kept(kernels, picked),
        )

    def _kept(self, kernels: Sequence[_Kernel], picked: np.ndarray) -> list[_Kept | None] | None:
        """Per numeric kernel, the stable argsort of the picked rows' values (from the
        column's kept order) and the column's kept masses; a few picked rows: None, sorting
        and computing them is cheaper."""
        if len(picked) < 256:
            return None
        n = len(self._rows)
        position = np.full(n, -1, dtype=np.intp)
        position[picked] = np.arange(len(picked))
        kept: list[_Kept | None] = []
        for kernel in kernels:
            if isinstance(kernel, _Choice):
                kept.append(None)
                continue
            j = self._column[kernel.dim.label]
            ordered = position[self._order.rows(j, self._x[:n, j], self._number[:n])]
            kept.append(_Kept(ordered[ordered >= 0], picked, self._masses[j]))
        return kept

    def _forget(self) -> None:
        self._order.forget()
        for masses in self._masses:
            masses.forget()

    def _unfloored(self, rows: np.ndarray) -> np.ndarray:
        """The bad trials that count against their own grid values only: pruned ones, and
        once the study has pruned any, the running ones, most of which a pruner will stop
        too (tpe_kernels._bandwidths says why)."""
        pruned = self._pruned[: len(self._rows)]
        if not pruned.any():
            return np.asarray(pruned[rows])
        return np.asarray(pruned[rows] | (self._state[rows] == _PENDING))


def _best(candidates: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The candidate of the highest log l(x) - log g(x); ties go to the first drawn. The
    one place that picks: a change of tie order (on grids) is a change here alone."""
    return np.asarray(candidates[int(np.argmax(score))])

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

While the study prunes, a candidate whose whole configuration a trial already trained to the
end had is passed over for the best-scoring other one (`_repeats` says why).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from parzen.service.algorithms.base import (
    FINISHED_STATES,
    Observation,
    Sampler,
    check_seed,
    trial_rng,
)
from parzen.service.algorithms.random import RandomSampler
from parzen.service.algorithms.tpe_kept import _ColumnOrder, _Kept, _MassCache
from parzen.service.algorithms.tpe_kernels import (
    _CategoricalPart,
    _Choice,
    _Kernel,
    _kernel,
    _Mixture,
    _NumericPart,
    _optuna_weights,
)
from parzen.service.algorithms.tpe_settings import TPESettings
from parzen.service.space import (
    Bounded,
    Categorical,
    Dimension,
    Gaussian,
    SearchSpace,
    SubSpace,
)

__all__ = ["MultivariateTPESampler", "_CategoricalPart", "_Choice", "_NumericPart", "_kernel"]

MAX_BELOW = 25  # Optuna's default: at most 25 trials in the good group
_PENDING, _FINISHED, _IGNORED = 0, 1, 2
_Config = frozenset[tuple[str, float | int]]  # a trial's vals, as a set of items


class MultivariateTPESampler(Sampler):
    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        settings: TPESettings = TPESettings(),
        prunes: bool = False,
    ) -> None:
        """`prunes`: the study has a pruner (not `none`); then a configuration already
        trained to the end is not proposed again while a candidate holds another."""
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
        self._prunes = prunes
        self._continuous = {
            label
            for label, dim in space.dimensions.items()
            if isinstance(dim.distribution, Bounded | Gaussian) and dim.distribution.q is None
        }
        self._trained: set[_Config] = set()  # configurations trained to the end, if it prunes

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
                if self._prunes and obs.state == "complete":
                    self._keep_trained(obs.vals)
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
            score = good.log_pdf(candidates) - bad.log_pdf(candidates)
            if self._trained and self._discrete(dims, vals):
                repeats = self._repeats(kernels, candidates, vals)
                if not repeats.all():
                    score = np.where(repeats, -np.inf, score)
            best = _best(candidates, score)
            vals.update(_external(kernels, best))
        for entry in sub.params.values():
            if isinstance(entry, Dimension) and isinstance(entry.distribution, Categorical):
                option = entry.distribution.options[int(vals[entry.label])]
                if isinstance(option, SubSpace):
                    self._sample_group(option, vals, below, above, rng)

    def _discrete(self, dims: Sequence[Dimension], vals: dict[str, float | int]) -> bool:
        """Whether the group's candidates, with the values drawn so far, can repeat a
        configuration exactly (no continuous value among them)."""
        return not any(dim.label in self._continuous for dim in dims) and (
            not self._continuous.intersection(vals)
        )

    def _keep_trained(self, vals: Mapping[str, float | int]) -> None:
        """Keep a configuration trained to the end for `_repeats`; one with a continuous
        value never comes again exactly, so it is not kept (and costs nothing)."""
        if not self._continuous.intersection(vals):
            self._trained.add(frozenset(vals.items()))

    def _repeats(
        self,
        kernels: Sequence[_Kernel],
        candidates: np.ndarray,
        vals: dict[str, float | int],
    ) -> np.ndarray:
        """Which candidates complete a configuration a trial already trained to the end.

        Issue 13: under a pruner, TPE keeps proposing the configurations it knows best; on
        a grid that is a configuration already trained to the end, again (a noisy re-run at
        best; in bench/pruning.py's replay the same curve again: one seed of the convnet
        spent 131 of its 331 trials on them and never found the best configuration). So
        while the study prunes, the best-scoring candidate that is not such a repeat is
        taken, and a repeat only when every candidate is one. A configuration stopped at a
        rung may come again: its rung may have moved since (it keeps a third of more
        configurations), and forbidding those as well, or preferring new configurations to
        them, was worse (TPE + ASHA, convnet, 6 seeds, marks at least as good as Optuna's
        best TPE pruner, of 392: 347 as here, 3 forbidding both, 247 preferring new ones;
        106 before). A group that leaves branches to sample never completes a
        configuration, so in nested spaces the rule acts in the group that does. A study
        without a pruner keeps nothing here: its proposals are the plain TPE's."""
        repeats = np.zeros(len(candidates), dtype=bool)
        for i, candidate in enumerate(candidates):
            config = vals | _external(kernels, candidate)
            repeats[i] = frozenset(config.items()) in self._trained
        return repeats

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


def _external(kernels: Sequence[_Kernel], row: np.ndarray) -> dict[str, float | int]:
    """A candidate's values as vals hold them: option indices, natural values."""
    return {
        kernel.dim.label: int(value) if isinstance(kernel, _Choice) else kernel.external(value)
        for kernel, value in zip(kernels, row, strict=True)
    }


def _best(candidates: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The candidate of the highest log l(x) - log g(x); ties go to the first drawn. The
    one place that picks: a change of tie order (on grids) is a change here alone."""
    return np.asarray(candidates[int(np.argmax(score))])

"""Variants of Parzen's multivariate TPE, tried in the benchmark before any reaches the sampler.

A method `parzen-tpe-mv+ties+norun` runs the sampler with those variants patched in for the
length of the run (bench/search_quality.py applies them around each run, one run at a time
per process; through the server too, whose samplers look these names up at call time):

- ties: on a grid, tied observations share the gaps to the neighbouring distinct values.
  The sampler sorts with a stable argsort, so of k trials on one grid value the oldest gets
  the gap to the value on its left, the newest the gap on its right, and the ones between
  get the floor (issue 18: the one place besides the half-cell floor where its densities
  differ from Optuna's on grids);
- grow: n_ei_candidates times (1 + the trials running), at most 10 times: more candidates
  when the bad density has more liars to steer around;
- norun: a candidate equal to a trial still running (on the parameters of its group) is
  not taken while another candidate is left.

Each is a function of its own, so that one adopted can be moved into the sampler as it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from parzen.service.algorithms import tpe_kernels, tpe_mv
from parzen.service.space import Categorical, Dimension, SubSpace

_original_bandwidths = tpe_kernels._bandwidths
_original_propose = tpe_mv.MultivariateTPESampler.propose
_original_sample_group = tpe_mv.MultivariateTPESampler._sample_group


def bandwidths_tied_share(
    mus: np.ndarray,
    low: float,
    high: float,
    width: float,
    half_step: float | None,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """_bandwidths with ties shared: the rule applied to the distinct values, and every
    observation on a value gets that value's bandwidth. Equal to _bandwidths without ties."""
    n = len(mus)
    values, inverse = np.unique(mus, return_inverse=True)
    if n == 0 or len(values) == n:
        return _original_bandwidths(mus, low, high, width, half_step, order)
    floor = max(width / min(100.0, n + 2.0), half_step or 0.0)
    if len(values) == 1:  # all on one value: as the sampler does, the floor
        return np.full(n, np.clip(floor, floor, width))
    edges = np.concatenate([[low], values, [high]])
    sigmas = np.maximum(edges[1:-1] - edges[:-2], edges[2:] - edges[1:-1])
    sigmas[0], sigmas[-1] = edges[2] - edges[1], edges[-2] - edges[-3]
    return np.asarray(np.clip(sigmas[inverse], floor, width))


def _pending(sampler: Any) -> np.ndarray:
    n = len(sampler._rows)
    return np.flatnonzero(sampler._state[:n] == tpe_mv._PENDING)


def propose_growing(sampler: Any, number: int) -> dict[str, float | int]:
    base = sampler._settings
    grown = base.n_ei_candidates * min(1 + len(_pending(sampler)), 10)
    sampler._settings = dataclasses.replace(base, n_ei_candidates=grown)
    try:
        return _original_propose(sampler, number)
    finally:
        sampler._settings = base


def sample_group_not_running(
    sampler: Any,
    sub: SubSpace,
    vals: dict[str, float | int],
    below: np.ndarray,
    above: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """_sample_group, where a candidate equal, on the group's parameters, to a trial still
    running scores -inf (unless every candidate does): the best of the others is taken."""
    dims = [e for e in sub.params.values() if isinstance(e, Dimension) and e.label not in vals]
    if dims:
        kernels = [sampler._kernels[dim.label] for dim in dims]
        x = sampler._x[: len(below), [sampler._column[dim.label] for dim in dims]]
        active = ~np.isnan(x).any(axis=1)
        good = sampler._mixture(kernels, x, below & active, below=True)
        bad = sampler._mixture(kernels, x, above & active, below=False)
        candidates = good.sample(rng, sampler._settings.n_ei_candidates)
        score = good.log_pdf(candidates) - bad.log_pdf(candidates)
        running = x[_pending(sampler)]
        running = running[~np.isnan(running).any(axis=1)]
        taken = (candidates[:, None, :] == running[None, :, :]).all(axis=2).any(axis=1)
        if not taken.all():
            score = np.where(taken, -np.inf, score)
        best = candidates[int(np.argmax(score))]
        for kernel, value in zip(kernels, best, strict=True):
            vals[kernel.dim.label] = (
                int(value) if isinstance(kernel, tpe_mv._Choice) else kernel.external(value)
            )
    for entry in sub.params.values():
        if isinstance(entry, Dimension) and isinstance(entry.distribution, Categorical):
            option = entry.distribution.options[int(vals[entry.label])]
            if isinstance(option, SubSpace):
                sampler._sample_group(option, vals, below, above, rng)


VARIANTS = ("ties", "grow", "norun")


@contextlib.contextmanager
def applied(names: Sequence[str]) -> Iterator[None]:
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    cls: Any = tpe_mv.MultivariateTPESampler
    try:
        if "ties" in names:
            tpe_kernels._bandwidths = bandwidths_tied_share
        if "grow" in names:
            cls.propose = propose_growing
        if "norun" in names:
            cls._sample_group = sample_group_not_running
        yield
    finally:
        tpe_kernels._bandwidths = _original_bandwidths
        cls.propose = _original_propose
        cls._sample_group = _original_sample_group

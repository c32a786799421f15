"""service/algorithms/logsumexp.py equals scipy.special.logsumexp(axis=1) to the bit: every
tpe-mv density is a sum through it, and the reference tests require identical proposals."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from parzen.service.algorithms.logsumexp import logsumexp_rows


def test_log_sum_exp_is_scipys_to_the_bit() -> None:
    """The mixture's own log-sum-exp must equal scipy.special.logsumexp exactly, ties,
    infinities and NaN included, or proposals drift from the reference."""
    rng = np.random.default_rng(0)
    for case in range(120):
        a = rng.normal(size=(7, int(rng.integers(1, 400)))) * rng.uniform(0.1, 50)
        if case % 3 == 0:
            a = np.round(a)  # several maxima in a row
        if case % 5 == 0:
            a[rng.random(a.shape) < 0.2] = -np.inf
        if case % 7 == 0:
            a[2] = -np.inf
        if case % 11 == 0:
            a[4, 0] = np.inf
        if case % 13 == 0:
            a[5, -1] = np.nan
        expected = logsumexp(a, axis=1)
        assert np.array_equal(logsumexp_rows(a), expected, equal_nan=True), case


def test_log_sum_exp_is_scipys_to_the_bit_across_the_underflow() -> None:
    """Kernels far below the best one (their exp is 0.0 or subnormal) are skipped or kept
    exactly as np.exp would give them: the sum stays scipy's."""
    rng = np.random.default_rng(1)
    for case in range(60):
        a = -rng.uniform(0.0, 2000.0, size=(5, int(rng.integers(1, 3000))))
        a[:, 0] = 0.0  # the row's maximum, then entries on both sides of exp's underflow
        a[0, 1:] = rng.uniform(-746.0, -700.0, size=a.shape[1] - 1)
        if case % 3 == 0:
            a[1] = np.round(a[1] / 100) * 100  # ties at the maximum, exact -700, -800...
        if case % 5 == 0:
            a[2, rng.random(a.shape[1]) < 0.3] = -np.inf
        a += rng.normal(scale=300.0, size=(5, 1))
        assert np.array_equal(logsumexp_rows(a), logsumexp(a, axis=1), equal_nan=True), case

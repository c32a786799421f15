"""What the multivariate TPE keeps between proposals (service/algorithms/tpe_mv.py).

A new observation changes little of what a proposal computes from the whole history: each
numeric column's rows in sorted order (the bandwidths' sorts) and each kernel's log mass
within the bounds (its width moves only when a neighbour arrives). The sampler keeps both
here and brings them up to date as rows arrive; tpe_kernels.py uses them where given, with
every number what computing it afresh gives (tests/service/algorithms/test_tpe_kept.py and
the reference tests hold that).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parzen.service.algorithms.tpe_kernels import _log_gauss_mass, _Numeric


@dataclass(frozen=True, slots=True)
class _Kept:
    """What the sampler keeps of a numeric column between proposals, for one mixture."""

    by_mu: np.ndarray  # np.argsort(mus, kind="stable") of the mixture's centres
    rows: np.ndarray  # the sampler's row of each centre
    masses: _MassCache


class _MassCache:
    """Each row's last bandwidth on a column and its kernel's log mass within the bounds
    (two log_ndtr per kernel: 10% of a proposal at 10,000 trials). A new observation moves
    the bandwidths of its neighbours only, so nearly every mass is found here; the sampler
    forgets them all when a row already seen changes its values (its centre moves)."""

    def __init__(self) -> None:
        self._sigma = np.zeros(0)
        self._log_mass = np.zeros(0)

    def forget(self) -> None:
        self._sigma = np.zeros(0)
        self._log_mass = np.zeros(0)

    def log_mass(
        self, kernel: _Numeric, rows: np.ndarray, mu: np.ndarray, sigma: np.ndarray
    ) -> np.ndarray:
        """The log masses of kernels (mu, sigma), the centres' rows `rows` and then the
        prior kernel (the last, never kept): elementwise what _log_gauss_mass gives."""
        size = int(rows.max()) + 1 if len(rows) else 0
        if size > len(self._sigma):
            grown = max(size, 2 * len(self._sigma))
            self._sigma = np.append(self._sigma, np.full(grown - len(self._sigma), np.nan))
            self._log_mass = np.append(self._log_mass, np.zeros(grown - len(self._log_mass)))
        known = np.append(self._sigma[rows] == sigma[:-1], False)
        out = np.empty(len(mu))
        out[:-1] = self._log_mass[rows]
        todo = np.flatnonzero(~known)
        mu_todo, sigma_todo = mu[todo], sigma[todo]
        out[todo] = _log_gauss_mass(
            (kernel.low - mu_todo) / sigma_todo, (kernel.high - mu_todo) / sigma_todo
        )
        todo = todo[:-1]  # the prior kernel's mass is not a row's
        self._sigma[rows[todo]], self._log_mass[rows[todo]] = sigma[todo], out[todo]
        return out


class _ColumnOrder:
    """Each column's observed rows in the order of (value, trial number), kept up to date
    as rows arrive. A mixture's centres are rows taken oldest first, so the stable argsort
    of its centres on a dimension is this order restricted to its rows: a pass over the
    history instead of a sort of it per dimension, mixture and proposal (at 10,000 trials
    the sorts were 11% of a proposal)."""

    REBUILD = 64  # more new rows than this: one lexsort instead of inserting each

    def __init__(self, columns: int) -> None:
        self._order: list[np.ndarray] = [np.zeros(0, dtype=np.intp)] * columns
        self._rows = [0] * columns  # rows [0, _rows[j]) are in _order[j]

    def forget(self) -> None:
        """A row already ordered changed its values: rebuild every column."""
        self._rows = [0] * len(self._rows)

    def rows(self, j: int, values: np.ndarray, number: np.ndarray) -> np.ndarray:
        """The rows whose value in column j is not NaN, by (value, number), for a column of
        `values` and the rows' trial numbers (len(values) rows)."""
        n, done = len(values), self._rows[j]
        if done == 0 or n - done > self.REBUILD:
            rows = np.flatnonzero(~np.isnan(values))
            order = rows[np.lexsort((number[rows], values[rows]))]
        else:
            new = done + np.flatnonzero(~np.isnan(values[done:]))
            new = new[np.lexsort((number[new], values[new]))]
            old = self._order[j]
            old_values, old_numbers = values[old], number[old]
            at = [
                lo + int(np.searchsorted(old_numbers[lo:hi], number[row]))
                for row in new
                for lo, hi in [_equal_range(old_values, values[row])]
            ]
            order = np.insert(old, at, new) if len(new) else old
        self._order[j], self._rows[j] = order, n
        return order


def _equal_range(sorted_values: np.ndarray, value: float) -> tuple[int, int]:
    lo = int(np.searchsorted(sorted_values, value, side="left"))
    return lo, int(np.searchsorted(sorted_values, value, side="right"))

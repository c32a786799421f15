"""scipy.special.logsumexp over the rows of a 2-D array, bit for bit, at a fraction of its
cost: the sum over kernels of every tpe-mv density (tpe_kernels.py). At 10,000 trials it was
a third of a proposal, most of it the array-API dispatch, a second full pass, and numpy's
slow path for the exp of arguments whose result underflows to exactly 0.0.
"""

from __future__ import annotations

import numpy as np

_EXP_UNDERFLOW = -746.0  # np.exp(x) is exactly 0.0 below -745.13


def logsumexp_rows(a: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """scipy.special.logsumexp(a, axis=1) for real 2-D `a`, to the bit (scipy 1.17's
    steps: the row's maxima are taken out of the sum for precision, and rows whose result
    is not finite fall back to log(sum(exp(a)))). `overwrite`: `a` may be used as scratch.

    A row's result is not finite where its maximum is not (inf, -inf, NaN), or where a
    finite maximum within log(2 n) of the largest double overflows, and then the fallback
    overflows too: so the fallback is taken for the rows of a maximum that is not finite,
    before `a` is overwritten."""
    a_max = a.max(axis=1, keepdims=True)
    odd = np.flatnonzero(~np.isfinite(a_max[:, 0]))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fallback = np.log(np.exp(a[odd]).sum(axis=1))
        if overwrite and a.flags.c_contiguous:
            shifted = np.subtract(a, a_max, out=a)
        else:
            shifted = np.subtract(a, a_max, order="C")
    exps, m = _exp_below_zero(shifted)
    s = exps.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(s == 0, s, s / m)
        out = np.log1p(s) + np.log(m) + a_max
    out[odd, 0] = fallback
    return np.asarray(out[:, 0])


def _exp_below_zero(shifted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the finite rows of a - max(a) (rows whose maximum is not finite fall back to the
    plain formula): in place, exp(a - max(a)) with the maxima set to 0, and each row's count
    of maxima (the zeros of a - max(a)), as a column. Past a few thousand trials most kernels
    are hundreds of log units below the best one: numpy's exp of an argument that underflows
    takes a slow path, 25 times the cost of the rest, and its result is exactly 0.0, so only
    the entries above _EXP_UNDERFLOW are taken, and the maxima are found among them."""
    flat = shifted.reshape(-1)  # a view: `shifted` is a fresh C-contiguous array
    kept = np.flatnonzero(flat > _EXP_UNDERFLOW)
    near = flat[kept]
    values = np.exp(near)
    at_max = near == 0.0
    values[at_max] = 0.0  # scipy sets the maxima to -inf before the sum
    rows, columns = shifted.shape
    m = np.bincount(kept[at_max] // columns, minlength=rows).astype(float)[:, None]
    flat.fill(0.0)
    flat[kept] = values
    return shifted, m

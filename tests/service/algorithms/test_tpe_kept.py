"""What tpe-mv keeps between proposals (service/algorithms/tpe_kept.py) equals what it
would compute afresh; the proposals it serves are held to the reference in
test_tpe_mv_reference.py, and observing in pieces in test_tpe_mv.py."""

from __future__ import annotations

import numpy as np

from parzen.service.algorithms.tpe_kept import _ColumnOrder


def test_column_order_is_a_fresh_sort_as_rows_arrive() -> None:
    """Fails when the kept order drifts from np.lexsort((number, value)) of the non-NaN
    rows: ties (grid values) go by trial number, numbers arrive out of order, rows come one
    at a time or by the hundred, and a row that changes its value forces a rebuild."""
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=3000), 1)
    values[rng.random(3000) < 0.2] = np.nan  # inactive in that trial
    number = rng.permutation(3000) + 1
    order, n = _ColumnOrder(1), 0
    while n < len(values):
        n = min(len(values), n + int(rng.choice([1, 2, 5, 70, 300])))
        if rng.random() < 0.1:
            values[int(rng.integers(n))] = 0.0
            order.forget()
        rows = np.flatnonzero(~np.isnan(values[:n]))
        expected = rows[np.lexsort((number[rows], values[rows]))]
        np.testing.assert_array_equal(order.rows(0, values[:n], number[:n]), expected)

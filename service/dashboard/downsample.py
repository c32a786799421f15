"""Fewer points, same picture: what lets a study of 10,000 trials draw in a blink."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def minmax_decimate(points: Sequence[T], key: Callable[[T], float], buckets: int) -> list[T]:
    """Keep the lowest and the highest point of each of `buckets` consecutive runs, in order:
    the outline of a scatter survives, outliers included."""
    if len(points) <= 2 * buckets:
        return list(points)
    kept: list[T] = []
    size = len(points) / buckets
    for bucket in range(buckets):
        start, stop = int(bucket * size), int((bucket + 1) * size)
        run = range(start, stop)
        low = min(run, key=lambda i: key(points[i]))
        high = max(run, key=lambda i: key(points[i]))
        kept.extend(points[i] for i in sorted({low, high}))
    return kept


def records(points: Sequence[T], loss: Callable[[T], float]) -> list[T]:
    """The points that beat every earlier one: with them, a best-so-far line drawn from a
    decimated scatter is exactly the line of all points."""
    kept: list[T] = []
    for point in points:
        if not kept or loss(point) < loss(kept[-1]):
            kept.append(point)
    return kept


def evenly_spaced(items: Sequence[T], count: int) -> list[T]:
    """`count` items at even steps, the first one always included (items sorted best first,
    this keeps the best and a faithful spread of the rest)."""
    if len(items) <= count:
        return list(items)
    if count <= 0:
        return []
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]

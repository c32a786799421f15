"""The one walk over free-form JSON (metrics, spaces, settings): each limit, with its path."""

from __future__ import annotations

import math
from typing import Any

import pytest

from parzen.service.limits import (
    MAX_JSON_DEPTH,
    MAX_JSON_ITEMS,
    MAX_KEY_LENGTH,
    MAX_STRING_LENGTH,
    JsonLimitError,
    check_json,
    json_safe,
)


def nested(depth: int) -> dict[str, Any]:
    """`depth` objects inside one another."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_every_limit_holds_at_its_value() -> None:
    """Fails if a document exactly at every limit is refused."""
    check_json(nested(MAX_JSON_DEPTH))
    check_json({f"k{i}": i for i in range(MAX_JSON_ITEMS)})
    check_json({"k" * MAX_KEY_LENGTH: "v" * MAX_STRING_LENGTH, "big": 2**53, "x": -1e308})


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        (nested(MAX_JSON_DEPTH + 1), "$" + ".a" * MAX_JSON_DEPTH, "nested deeper than 32"),
        ({"a": [{str(i): 0 for i in range(MAX_JSON_ITEMS)}]}, "$.a[0]", "more than 10000"),
        ({"a": {"k" * (MAX_KEY_LENGTH + 1): 1}}, "$.a", "longer than 200"),
        ({"a": {"b\x00": 1}}, "$.a", "NUL"),
        ({"a": ["x", "v" * (MAX_STRING_LENGTH + 1)]}, "$.a[1]", "longer than 10000"),
        ({"a": "x\x00"}, "$.a", "NUL"),
        ({"a b": {"c": math.inf}}, '$["a b"].c', "finite"),
        ({"a": math.nan}, "$.a", "finite"),
        ({"a": 2**53 + 1}, "$.a", "2**53"),
        ({"a": -(2**64)}, "$.a", "2**53"),
        ({"a": object()}, "$.a", "not a JSON value"),
    ],
)
def test_each_violation_names_its_path(value: Any, path: str, words: str) -> None:
    """Fails if a value over a limit passes, or the error does not say where and why."""
    with pytest.raises(JsonLimitError) as caught:
        check_json(value)
    assert caught.value.path == path
    assert words in caught.value.message


def test_a_document_far_too_deep_is_refused_without_recursion() -> None:
    """Fails if the walk recurses (a 100,000-deep document would exhaust the stack)."""
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(JsonLimitError, match="nested deeper"):
        check_json(deep)


def test_metrics_may_carry_nan_which_the_store_records_as_null() -> None:
    """Fails if finite=False still refuses NaN (a diverged model's loss must be reportable)."""
    check_json({"loss": math.nan, "x": [math.inf]}, finite=False)


def test_json_safe_writes_non_finite_floats_as_strings() -> None:
    assert json_safe({"a": [math.nan, 1.0], "b": -math.inf}) == {"a": ["nan", 1.0], "b": "-inf"}

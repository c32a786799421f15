"""What one request may hold, checked before anything is stored (each violation a 422).

Every value that reaches the database must be one that every read path can serialize again
(the API's pydantic models, the dashboard's plain JSON, PostgreSQL's json and text columns):
so free-form JSON (metrics, report values, search spaces, algorithm and pruner settings) is
walked once, iteratively (a deep document must not exhaust Python's stack), for its depth,
its size, its keys and strings, NUL characters and numbers that JSON cannot carry.
The request body as a whole is capped by `service.body_limit` (PARZEN_MAX_BODY_BYTES).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

# Nesting of objects and arrays. A search space spends 3 levels per nested choice
# (node, options, option), so 32 allows 10 choices inside one another.
MAX_JSON_DEPTH = 32
MAX_JSON_ITEMS = 10_000  # members of all objects and arrays of one document together
MAX_KEY_LENGTH = 200
MAX_STRING_LENGTH = 10_000
MAX_TEXT_LENGTH = 100_000  # error texts (Text columns)
MAX_NAME_LENGTH = 200  # names and metrics: String(200) columns
MAX_HOST_LENGTH = 255
MAX_GPU_LENGTH = 64
MAX_WORKER_ID_LENGTH = 64
MAX_LIST_ITEMS = 1_000  # builders, datasets, excluded studies
# Integers inside JSON: what a double represents exactly, so every client reads them back.
MAX_JSON_INT = 2**53
# INTEGER columns (ids, numbers, steps, pids) are 32-bit signed on PostgreSQL.
MAX_DB_INT = 2**31 - 1


class JsonLimitError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}")


def check_json(value: object, path: str = "$", *, finite: bool = True) -> None:
    """Raise JsonLimitError naming the JSON path of the first value over a limit.

    finite=False lets NaN and infinities through, for metrics: a diverged model reports a
    NaN loss, and the store records it as null. The walk is iterative, and a path is only
    spelled out for an error (a 9,000-key report is checked in a few milliseconds)."""
    items = 0
    # Each container with its trail: (parent's trail, key or index), rendered on error.
    stack: list[tuple[object, int, Trail]] = [(value, 0, (None, path))]
    while stack:
        node, depth, trail = stack.pop()
        if not isinstance(node, dict | list):
            _check_scalar(node, trail, finite)
            continue
        if depth >= MAX_JSON_DEPTH:
            raise JsonLimitError(_render(trail), f"nested deeper than {MAX_JSON_DEPTH} levels")
        items += len(node)
        if items > MAX_JSON_ITEMS:
            raise JsonLimitError(_render(trail), f"more than {MAX_JSON_ITEMS} members in all")
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in pairs:
            if isinstance(node, dict):
                _check_key(key, trail)
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, (trail, key)))
            elif not (type(child) is float and (not finite or math.isfinite(child))):
                _check_scalar(child, (trail, key), finite)


Trail = tuple["Trail | None", object]


def _render(trail: Trail) -> str:
    parts: list[object] = []
    node: Trail | None = trail
    while node is not None:
        node, part = node
        parts.append(part)
    path = str(parts.pop())  # the root's own name, "$" unless told
    for part in reversed(parts):
        path = f"{path}[{part}]" if isinstance(part, int) else _child(path, str(part))
    return path


def _check_key(key: object, trail: Trail) -> None:
    if not isinstance(key, str):
        raise JsonLimitError(_render(trail), f"keys must be strings (got {key!r})")
    if len(key) > MAX_KEY_LENGTH:
        raise JsonLimitError(_render(trail), f"a key is longer than {MAX_KEY_LENGTH} characters")
    if "\x00" in key:
        raise JsonLimitError(_render(trail), "a key contains a NUL character")


def _check_scalar(node: object, trail: Trail, finite: bool) -> None:
    if isinstance(node, str):
        if len(node) > MAX_STRING_LENGTH:
            message = f"string longer than {MAX_STRING_LENGTH} characters"
            raise JsonLimitError(_render(trail), message)
        if "\x00" in node:
            raise JsonLimitError(_render(trail), "string contains a NUL character")
    elif isinstance(node, bool) or node is None:
        return
    elif isinstance(node, int):
        if abs(node) > MAX_JSON_INT:
            raise JsonLimitError(_render(trail), f"integer beyond ±2**53 (got {node})")
    elif isinstance(node, float):
        if finite and not math.isfinite(node):
            raise JsonLimitError(_render(trail), f"must be a finite number (got {node})")
    else:
        raise JsonLimitError(_render(trail), f"not a JSON value (got {type(node).__name__})")


def _child(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _checked_json(value: Any, info: ValidationInfo) -> Any:
    return _checked(value, info, finite=True)


def _checked_metrics(value: Any, info: ValidationInfo) -> Any:
    return _checked(value, info, finite=False)


def _checked(value: Any, info: ValidationInfo, *, finite: bool) -> Any:
    try:
        check_json(value, f"$.{info.field_name}" if info.field_name else "$", finite=finite)
    except JsonLimitError as exc:  # a custom error: the message without "Value error, "
        raise PydanticCustomError(
            "json_limit", "{path}: {message}", {"path": exc.path, "message": exc.message}
        ) from exc
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


# Free-form JSON fields of request bodies.
JsonObject = Annotated[dict[str, Any], AfterValidator(_checked_json)]
# Metrics (tell) and a step's values (report): NaN allowed, stored as null.
Metrics = Annotated[dict[str, Any], AfterValidator(_checked_metrics)]
StepValues = Annotated[dict[str, float | None], AfterValidator(_checked_metrics)]
# Every string of a request body: PostgreSQL refuses NUL in text and json.
SafeStr = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[SafeStr, Field(max_length=MAX_NAME_LENGTH)]
WorkerId = Annotated[SafeStr, Field(min_length=1, max_length=MAX_WORKER_ID_LENGTH)]
Text = Annotated[SafeStr, Field(max_length=MAX_TEXT_LENGTH)]
# Integers stored in INTEGER columns, or in JSON read by other clients.
DbInt = Annotated[int, Field(ge=-MAX_DB_INT - 1, le=MAX_DB_INT)]
Count = Annotated[int, Field(ge=0, le=MAX_DB_INT)]
Step = Annotated[int, Field(ge=0, le=MAX_DB_INT, description="Epoch (or other step), < 2**31.")]
JsonInt = Annotated[int, Field(ge=-MAX_JSON_INT, le=MAX_JSON_INT)]


def json_safe(data: Any) -> Any:
    """`data` with non-finite floats as strings: an error message may echo the input."""
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [json_safe(value) for value in data]
    return data

"""The checks of a new study that need more than a field's type (the space, the algorithm's
settings, the pruner), run as validators of StudyCreate (service/schemas.py), so that one
422 lists every problem of the body at once. Each error keeps its JSON path in `ctx`, which
the API's 422 answer (service/api/errors.py) shows as `path`."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from parzen.service.algorithms import AlgorithmSettingsError, validate_algorithm
from parzen.service.algorithms.pruners import validate_pruner
from parzen.service.space import SpaceValidationError
from parzen.service.space_limits import validate_space

# The error types whose ctx carries a JSON path (service.limits' json_limit as well).
PATH_ERRORS = frozenset({"json_limit", "space", "algorithm", "pruner"})


def _error(kind: str, path: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{message}", {"path": path, "message": message})


def checked_space(space: dict[str, Any]) -> dict[str, Any]:
    """The space as given, if a new study may have it; else every issue, each at its path."""
    try:
        validate_space(space)
    except SpaceValidationError as exc:
        raise ValidationError.from_exception_data(
            "space",
            [
                InitErrorDetails(
                    type=_error("space", "$.space" + issue.path[1:], issue.message),
                    loc=(),
                    input=space,
                )
                for issue in exc.issues
            ],
        ) from exc
    return space


def checked_algorithm(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The algorithm's settings with its defaults filled in."""
    try:
        return validate_algorithm(name, settings)
    except AlgorithmSettingsError as exc:
        raise _error("algorithm", "$.algorithm", str(exc)) from exc


def checked_pruner(pruner: dict[str, Any] | None, max_epochs: int) -> dict[str, Any]:
    """The pruner's settings with their defaults filled in ({"type": "none"} if none)."""
    try:
        return validate_pruner(pruner, max_epochs=max_epochs)
    except AlgorithmSettingsError as exc:
        raise _error("pruner", "$.pruner", str(exc)) from exc

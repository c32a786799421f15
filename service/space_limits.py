"""The limits of a new search space: what the samplers (random, tpe, tpe-mv) and JSON can
represent, checked when a study is created.

`parse_space` stays lenient so that a study stored before these limits can still be read;
`validate_space` is what a new study must pass. Each rule keeps every value a sampler can
draw finite: bounds and their width finite, integers exact in a double, a grid of at most
MAX_GRID_POINTS cells, and exp() of a lognormal's tails below the largest double.
"""

from __future__ import annotations

import math

from parzen.service.limits import MAX_JSON_INT, JsonLimitError, check_json
from parzen.service.space import (
    Bounded,
    Categorical,
    Dimension,
    Gaussian,
    IntRange,
    SearchSpace,
    SpaceIssue,
    SpaceValidationError,
    parse_space,
)

MAX_DIMENSIONS = 1_000
MAX_OPTIONS = 1_000
MAX_BOUND = 1e15  # |low|, |high|, |mu| and sigma of a real-valued parameter
MIN_LOG_BOUND = 1e-300  # loguniform's low: log() of it is finite, exp() gives it back
MAX_GRID_POINTS = 1e12  # range / q (or scale / q): beyond it q is noise, use the unquantized
# lognormal: mu + 30 sigma <= 700 < log(largest double) ~ 709.78, so exp() of any draw is finite.
MAX_LOG_MU = 100.0
MAX_LOG_SIGMA = 20.0
MAX_INT_BOUND = MAX_JSON_INT


def validate_space(raw: object) -> SearchSpace:
    """Parse a new study's space; SpaceValidationError lists every issue with its JSON path."""
    try:
        check_json(raw)  # first: the parser recurses, and a deep space would exhaust the stack
    except JsonLimitError as exc:
        raise SpaceValidationError([SpaceIssue(exc.path, exc.message)]) from exc
    space = parse_space(raw)
    issues = limit_issues(space)
    if issues:
        raise SpaceValidationError(issues)
    return space


def limit_issues(space: SearchSpace) -> list[SpaceIssue]:
    dims = list(space.dimensions.values())
    if len(dims) > MAX_DIMENSIONS:
        return [SpaceIssue("$", f"{len(dims)} parameters; at most {MAX_DIMENSIONS} are allowed")]
    issues: list[SpaceIssue] = []
    for dim in dims:
        issues.extend(SpaceIssue(path, message) for path, message in _dimension_issues(dim))
    return issues


def _dimension_issues(dim: Dimension) -> list[tuple[str, str]]:
    dist, path = dim.distribution, dim.path
    if isinstance(dist, Categorical):
        if len(dist.options) > MAX_OPTIONS:
            n = len(dist.options)
            return [(f"{path}.options", f"{n} options; at most {MAX_OPTIONS} are allowed")]
        return []
    if isinstance(dist, IntRange):
        return [
            (f"{path}.{key}", f"int bounds must lie within ±2**53 (got {value})")
            for key, value in (("low", dist.low), ("high", dist.high))
            if abs(value) > MAX_INT_BOUND
        ]
    if isinstance(dist, Bounded):
        return _bounded_issues(dist, path, dim.kind)
    return _gaussian_issues(dist, path, dim.kind)


def _bounded_issues(dist: Bounded, path: str, kind: str) -> list[tuple[str, str]]:
    issues = [
        (f"{path}.{key}", f"{kind} bounds must lie within ±{MAX_BOUND:g} (got {value:g})")
        for key, value in (("low", dist.low), ("high", dist.high))
        if abs(value) > MAX_BOUND
    ]
    if dist.log and dist.low < MIN_LOG_BOUND:
        issues.append((f"{path}.low", f"{kind} low must be >= {MIN_LOG_BOUND:g}"))
    if not issues and dist.q is not None:
        issues += _grid_issues(path, dist.high - dist.low, dist.q, "the range")
    return issues


def _gaussian_issues(dist: Gaussian, path: str, kind: str) -> list[tuple[str, str]]:
    if dist.log:
        mu_limit, sigma_limit, why = MAX_LOG_MU, MAX_LOG_SIGMA, " (so that exp() stays finite)"
    else:
        mu_limit, sigma_limit, why = MAX_BOUND, MAX_BOUND, ""
    issues = []
    if abs(dist.mu) > mu_limit:
        issues.append((f"{path}.mu", f"{kind} mu must lie within ±{mu_limit:g}{why}"))
    if dist.sigma > sigma_limit:
        issues.append((f"{path}.sigma", f"{kind} sigma must be <= {sigma_limit:g}{why}"))
    if not issues and dist.q is not None:
        scale = dist.sigma * math.exp(dist.mu) if dist.log else dist.sigma
        what = "sigma * exp(mu)" if dist.log else "sigma"
        issues += _grid_issues(path, scale, dist.q, what)
    return issues


def _grid_issues(path: str, scale: float, q: float, what: str) -> list[tuple[str, str]]:
    if scale / q <= MAX_GRID_POINTS:
        return []
    return [
        (
            f"{path}.q",
            f"q ({q:g}) is too small: {what} / q must be <= {MAX_GRID_POINTS:g} grid points; "
            "raise q, or drop it for an unquantized parameter",
        )
    ]

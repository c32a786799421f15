"""Parzen's `hp` object: the part of KerasTuner's `HyperParameters` API that builders use.

`build(hp)` functions written for KerasTuner run unchanged on it, without keras_tuner
installed. It plays two roles: while Parzen derives a study's space it records every
declaration (name, kind, range, step, sampling, default, and the conditions of the
`conditional_scope`s around it); on a worker it answers each declaration with the trial's
value (or the default for a name the trial lacks), and `None` inside a scope whose
condition does not hold, as KerasTuner does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["int", "float", "choice", "boolean", "fixed"]
Sampling = Literal["linear", "log"]


class HyperparameterError(ValueError):
    """A declaration Parzen cannot turn into a search space; the message says what to fix."""


@dataclass(frozen=True)
class Condition:
    """Active when the parent's value is one of `values` (KerasTuner's `Parent`)."""

    parent: str
    values: tuple[Any, ...]

    def holds(self, values: Mapping[str, Any]) -> bool:
        return self.parent in values and values[self.parent] in self.values


@dataclass(frozen=True)
class Declaration:
    """One `hp.Int/Float/Choice/Boolean/Fixed` call, as recorded (first one per scope wins)."""

    name: str
    kind: Kind
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    sampling: Sampling = "linear"
    values: tuple[Any, ...] = ()
    conditions: tuple[Condition, ...] = field(default=())

    def grid(self) -> list[Any]:
        """Every value of a discrete declaration (choices, or an int/float range's steps)."""
        if self.kind in ("choice", "boolean"):
            return list(self.values)
        if self.kind == "fixed":
            return [self.default]
        assert self.low is not None and self.high is not None
        return _range_grid(self)


def _range_grid(d: Declaration) -> list[Any]:
    assert d.low is not None and d.high is not None
    step = d.step if d.step is not None else (1 if d.kind == "int" else None)
    if step is None:
        raise HyperparameterError(f"{d.name!r}: a float without a step has no finite grid")
    out: list[Any] = []
    value: float = d.low
    while value <= d.high * (1 + 1e-12) and len(out) <= 10_000:
        out.append(round(value) if d.kind == "int" else float(f"{value:.12g}"))
        value = value * step if d.sampling == "log" else value + step
    return out


class HyperParameters:
    """KerasTuner's `hp`, for builders: `Int`, `Float`, `Choice`, `Boolean`, `Fixed`,
    `conditional_scope`, `parent_name`/`parent_values`, `values`, `get`, `is_active`."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.declarations: list[Declaration] = []
        self.active_scopes: list[tuple[Condition, ...]] = []
        self.inactive_scopes: list[tuple[Condition, ...]] = []
        self._conditions: list[Condition] = []
        self._names: set[str] = set()

    # -- declarations ---------------------------------------------------------------------

    def Int(
        self,
        name: str,
        min_value: int,
        max_value: int,
        step: int | None = None,
        sampling: str = "linear",
        default: int | None = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | Any = None,
    ) -> Any:
        """An integer in [min_value, max_value]; `step` apart (multiplied when log)."""
        low, high = int(min_value), int(max_value)
        if low > high:
            raise HyperparameterError(f"{name!r}: min_value {low} > max_value {high}")
        kind_sampling = _sampling(name, sampling)
        if kind_sampling == "log" and low <= 0:
            raise HyperparameterError(f"{name!r}: log sampling needs min_value > 0")
        fallback = low if default is None else int(default)
        decl = Declaration(name, "int", fallback, low, high, step, kind_sampling)
        return self._declare(decl, parent_name, parent_values)

    def Float(
        self,
        name: str,
        min_value: float,
        max_value: float,
        step: float | None = None,
        sampling: str = "linear",
        default: float | None = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | Any = None,
    ) -> Any:
        """A float in [min_value, max_value]; `sampling="log"` draws it uniform in log."""
        low, high = float(min_value), float(max_value)
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise HyperparameterError(f"{name!r}: need finite min_value <= max_value")
        kind_sampling = _sampling(name, sampling)
        if kind_sampling == "log" and low <= 0:
            raise HyperparameterError(f"{name!r}: log sampling needs min_value > 0")
        fallback = low if default is None else float(default)
        decl = Declaration(name, "float", fallback, low, high, step, kind_sampling)
        return self._declare(decl, parent_name, parent_values)

    def Choice(
        self,
        name: str,
        values: Sequence[Any],
        ordered: bool | None = None,
        default: Any = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | Any = None,
    ) -> Any:
        """One of `values` (str, int, float or bool, all of one type)."""
        options = tuple(values)
        if not options:
            raise HyperparameterError(f"{name!r}: a Choice needs at least one value")
        if default is not None and default not in options:
            raise HyperparameterError(f"{name!r}: default {default!r} is not among the values")
        fallback = options[0] if default is None else default
        decl = Declaration(name, "choice", fallback, values=options)
        return self._declare(decl, parent_name, parent_values)

    def Boolean(
        self,
        name: str,
        default: bool = False,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | Any = None,
    ) -> Any:
        """True or False."""
        decl = Declaration(name, "boolean", bool(default), values=(False, True))
        return self._declare(decl, parent_name, parent_values)

    def Fixed(
        self,
        name: str,
        value: Any,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | Any = None,
    ) -> Any:
        """A constant: in the space (and the trial's values) but never searched."""
        return self._declare(Declaration(name, "fixed", value), parent_name, parent_values)

    # -- scopes and values ----------------------------------------------------------------

    @contextmanager
    def conditional_scope(
        self, parent_name: str, parent_values: Sequence[Any] | Any
    ) -> Iterator[None]:
        """Declarations inside are active only while `parent_name` is one of `parent_values`."""
        if parent_name not in self._names:
            raise HyperparameterError(
                f"conditional_scope: no hyperparameter named {parent_name!r} is declared yet; "
                "declare the parent before the scope"
            )
        self._conditions.append(Condition(parent_name, _as_tuple(parent_values)))
        scope = tuple(self._conditions)
        (self.active_scopes if self._active(scope) else self.inactive_scopes).append(scope)
        try:
            yield
        finally:
            self._conditions.pop()

    @contextmanager
    def name_scope(self, name: str) -> Iterator[None]:
        """Accepted for compatibility; Parzen does not prefix names."""
        yield

    def get(self, name: str) -> Any:
        """The current value of `name`; KeyError if it was never declared."""
        if name in self.values:
            return self.values[name]
        if name in self._names:
            raise ValueError(f"{name} is currently inactive.")
        raise KeyError(f"{name} does not exist.")

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def is_active(self, name: str) -> bool:
        return any(d.name == name and self._active(d.conditions) for d in self.declarations)

    def _declare(
        self, decl: Declaration, parent_name: str | None, parent_values: Sequence[Any] | Any
    ) -> Any:
        if parent_name is not None:
            with self.conditional_scope(parent_name, parent_values):
                return self._declare(decl, None, None)
        conditions = tuple(self._conditions)
        decl = Declaration(**{**decl.__dict__, "conditions": conditions})
        if not any(d.name == decl.name and d.conditions == conditions for d in self.declarations):
            self.declarations.append(decl)
            self._names.add(decl.name)
        if not self._active(conditions):
            return None  # as KerasTuner: inactive values must not be relied on
        if decl.kind == "fixed":
            self.values[decl.name] = decl.default
        self.values.setdefault(decl.name, decl.default)
        return self.values[decl.name]

    def _active(self, conditions: Sequence[Condition]) -> bool:
        return all(c.holds(self.values) for c in conditions)


def _sampling(name: str, sampling: str | None) -> Sampling:
    if sampling in (None, "linear"):
        return "linear"
    if sampling == "log":
        return "log"
    raise HyperparameterError(
        f"{name!r}: sampling {sampling!r} is not supported; use 'linear' or 'log'"
    )


def _as_tuple(values: Sequence[Any] | Any) -> tuple[Any, ...]:
    if isinstance(values, list | tuple | set):
        return tuple(values)
    return (values,)

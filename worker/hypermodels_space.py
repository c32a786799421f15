"""KerasTuner-style declarations <-> Parzen's nested conditional search space.

A declaration inside `conditional_scope(parent, values)` becomes part of the sub-space of
each option of `parent` among `values` (the option is an object `{"name": value, ...}`),
so Parzen proposes it only when that option is chosen. Ranges, steps and log sampling map
onto Parzen's node types (see `node_of`); a grid Parzen has no node for (a float whose low
is not a multiple of its step, a log grid with a multiplicative step) becomes a choice over
exactly the values KerasTuner would try.

`record_space(build)` runs `build` with a recording `hp` as KerasTuner does: again with a
parent set to each value whose scope was never active, and once with every discrete
parameter at each of its values (up to a bound), so that declarations that depend on
earlier choices (`for i in range(hp.Int("layers", 1, 3))`) are found too. Those stay
unconditional, as in KerasTuner: a trial carries them even when `build` does not use them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parzen.worker.hypermodels_hp import (
    Condition,
    Declaration,
    HyperparameterError,
    HyperParameters,
)

BRANCH_KEY = "name"  # the option object's constant that carries the parent's value
MAX_GRID = 1000  # a choice over a grid: Parzen's limit on options
MAX_BUILDS = 64  # builds while recording a space
MAX_EXPLORED_VALUES = 16  # values of one discrete parameter tried while recording


@dataclass
class Node:
    """A declaration placed in the tree: its key in the space, its branches' children."""

    decl: Declaration
    key: str
    children: dict[int, list[Node]] = field(default_factory=dict)  # option index -> nodes

    def options(self) -> list[Any]:
        return _parent_grid(self.decl)


def space_key(name: str) -> str:
    """A KerasTuner name as a Parzen parameter name ("block/units" -> "block__units")."""
    key = "".join(c if c.isalnum() or c in "_-" else "_" for c in name.replace("/", "__"))
    return key if key and (key[0].isalpha() or key[0] == "_") else f"_{key}"


def build_tree(declarations: Sequence[Declaration]) -> list[Node]:
    """Place every declaration under the branches its conditions name (parents first)."""
    roots: list[Node] = []
    placed: dict[tuple[str, tuple[Condition, ...]], Node] = {}
    for decl in declarations:
        if (decl.name, decl.conditions) in placed:
            continue
        node = Node(decl, space_key(decl.name))
        placed[(decl.name, decl.conditions)] = node
        if not decl.conditions:
            _append(roots, node)
            continue
        *outer, last = decl.conditions
        parent = placed.get((last.parent, tuple(outer)))
        if parent is None:
            raise HyperparameterError(
                f"{decl.name!r} is conditional on {last.parent!r}, which is not declared in "
                "the same scopes as the condition's enclosing scopes; nest conditional_scope "
                "blocks the way their parents are declared"
            )
        grid = parent.options()
        matched = [i for i, v in enumerate(grid) if _member(v, last.values)]
        if not matched:
            raise HyperparameterError(
                f"{decl.name!r}: conditional_scope({last.parent!r}, {list(last.values)!r}) "
                f"names no value {last.parent!r} can take ({grid[:10]!r})"
            )
        for index in matched:
            _append(parent.children.setdefault(index, []), node)
    return roots


def render_space(nodes: Sequence[Node]) -> dict[str, Any]:
    """The Parzen search space (JSON) of a tree."""
    space: dict[str, Any] = {}
    for node in nodes:
        if not node.children:
            space[node.key] = node_of(node.decl)
            continue
        options: list[Any] = []
        for index, value in enumerate(node.options()):
            children = node.children.get(index)
            options.append({BRANCH_KEY: value, **render_space(children)} if children else value)
        space[node.key] = {"type": "choice", "options": options}
    return space


def node_of(d: Declaration) -> Any:
    """The Parzen node (or constant) of a declaration without conditional children."""
    if d.kind == "fixed":
        return d.default
    if d.kind in ("choice", "boolean"):
        return {"type": "choice", "options": list(d.values)} if len(d.values) > 1 else d.values[0]
    assert d.low is not None and d.high is not None
    if d.low == d.high:
        return int(d.low) if d.kind == "int" else d.low
    if d.kind == "int":
        low, high = int(d.low), int(d.high)
        if d.sampling == "log":
            if d.step is None or d.step == 1:
                return {"type": "int", "low": low, "high": high, "log": True}
            return _grid_choice(d)
        step = int(d.step or 1)
        high = low + (high - low) // step * step
        return {"type": "int", "low": low, "high": high, "step": step} if high > low else low
    if d.step is None:
        kind = "loguniform" if d.sampling == "log" else "uniform"
        return {"type": kind, "low": d.low, "high": d.high}
    if d.sampling == "linear" and _is_multiple(d.low, d.step):
        return {"type": "quniform", "low": d.low, "high": d.high, "q": d.step}
    return _grid_choice(d)


def values_from_params(nodes: Sequence[Node], params: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's nested Parzen parameters as KerasTuner's flat `hp.values` (active only)."""
    values: dict[str, Any] = {}
    for node in nodes:
        if node.key not in params:
            continue
        raw = params[node.key]
        value = raw.get(BRANCH_KEY) if isinstance(raw, Mapping) else raw
        values[node.decl.name] = value
        if isinstance(raw, Mapping):
            values.update(values_from_params(node.children.get(_index(node, value), []), raw))
    return values


def params_from_values(nodes: Sequence[Node], values: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse: flat values (a KerasTuner trial, an export) as nested Parzen parameters."""
    params: dict[str, Any] = {}
    for node in nodes:
        if node.decl.name not in values:
            continue
        value = values[node.decl.name]
        children = node.children.get(_index(node, value)) if node.children else None
        params[node.key] = (
            {BRANCH_KEY: value, **params_from_values(children, values)} if children else value
        )
    return params


def record_space(build: Callable[[HyperParameters], Any]) -> list[Declaration]:
    """Every declaration `build` makes, found by building with a recording `hp`."""
    declared: dict[tuple[str, tuple[Condition, ...]], Declaration] = {}
    pending: list[dict[str, Any]] = [{}]
    tried: list[dict[str, Any]] = []
    explored: set[str] = set()
    once_active: list[tuple[Condition, ...]] = []
    while pending and len(tried) < MAX_BUILDS:
        preset = pending.pop(0)
        if preset in tried:
            continue
        tried.append(preset)
        hp = HyperParameters(preset)
        build(hp)
        for decl in hp.declarations:
            declared.setdefault((decl.name, decl.conditions), decl)
        once_active.extend(s for s in hp.active_scopes if s not in once_active)
        for scope in hp.inactive_scopes:
            if scope not in once_active:
                pending.append({**hp.values, **{c.parent: c.values[0] for c in scope}})
        for decl in hp.declarations:
            if decl.name in explored or decl.kind == "float" or decl.name not in hp.values:
                continue
            explored.add(decl.name)
            for value in _explore_values(decl):
                if value != hp.values[decl.name]:
                    pending.append({**preset, decl.name: value})
    return list(declared.values())


def _explore_values(decl: Declaration) -> list[Any]:
    if decl.kind == "int":
        assert decl.high is not None
        return [int(decl.high)]
    return decl.grid()[:MAX_EXPLORED_VALUES]


def _parent_grid(d: Declaration) -> list[Any]:
    if d.kind == "float":
        raise HyperparameterError(f"{d.name!r}: a Float cannot be a conditional_scope's parent")
    grid = d.grid()
    if len(grid) > MAX_GRID:
        raise HyperparameterError(f"{d.name!r}: too many values ({len(grid)}) to branch on")
    return grid


def _grid_choice(d: Declaration) -> dict[str, Any]:
    grid = d.grid()
    if len(grid) > MAX_GRID:
        raise HyperparameterError(
            f"{d.name!r}: its grid has {len(grid)} values, over {MAX_GRID}; widen the step"
        )
    return {"type": "choice", "options": grid}


def _is_multiple(x: float, q: float) -> bool:
    ratio = x / q
    return math.isclose(ratio, round(ratio), abs_tol=1e-9)


def _member(value: Any, values: Sequence[Any]) -> bool:
    return any(value == v and type(value) is type(v) for v in values) or value in values


def _index(node: Node, value: Any) -> int:
    grid = node.options()
    for i, option in enumerate(grid):
        if option == value and type(option) is type(value):
            return i
    return grid.index(value) if value in grid else -1


def _append(nodes: list[Node], node: Node) -> None:
    if all(n.key != node.key for n in nodes):
        nodes.append(node)

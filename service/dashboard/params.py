"""The flat parameter view of a study's trials: one column per dotted label.

Categorical values are shown by option name (a choice among sub-spaces by the sub-space's
`name`, `kind` or `type` constant), numeric ones as numbers; inactive parameters are absent
from a trial's row and None in a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from parzen.service.space import Categorical, Constant, IntRange, SearchSpace, SubSpace, parse_space
from parzen.service.storage.dashboard import TrialVals

Cell = float | int | str | None
ColumnKind = Literal["float", "int", "categorical"]
_OPTION_NAME_KEYS = ("name", "kind", "type")


@dataclass(frozen=True, slots=True)
class ParamColumn:
    label: str
    kind: ColumnKind
    log: bool
    options: list[str] | None
    bounds: tuple[float, float] | None
    values: list[Cell]


@dataclass(frozen=True, slots=True)
class ParamTable:
    """Complete trials in rows, parameters in columns (ordered as the space defines them)."""

    numbers: list[int]
    values: list[float]
    columns: list[ParamColumn]


class ParamView:
    """Shows a study's `vals` (what the sampler stores) as labelled, readable values."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.options = {
            label: [_option_name(o, i) for i, o in enumerate(dim.distribution.options)]
            for label, dim in space.dimensions.items()
            if isinstance(dim.distribution, Categorical)
        }

    @classmethod
    def of(cls, raw_space: dict[str, Any]) -> ParamView:
        return cls(parse_space(raw_space))

    @property
    def labels(self) -> list[str]:
        return list(self.space.dimensions)

    def display(self, vals: dict[str, Any]) -> dict[str, Cell]:
        """Label -> shown value of the trial's active parameters."""
        shown: dict[str, Cell] = {}
        for label, flat in self.space.flat_params(vals).items():
            names = self.options.get(label)
            if names is not None and isinstance(vals.get(label), int | float):
                index = int(vals[label])
                shown[label] = names[index] if 0 <= index < len(names) else str(flat)
            elif isinstance(flat, bool) or not isinstance(flat, int | float):
                shown[label] = None if flat is None else str(flat)
            else:
                shown[label] = flat
        return shown

    def table(self, trials: Sequence[TrialVals]) -> ParamTable:
        rows = [self.display(trial.vals) for trial in trials]
        columns = []
        for label, dim in self.space.dimensions.items():
            if not any(label in row for row in rows):
                continue  # a branch no trial took
            kind: ColumnKind = "float"
            if label in self.options:
                kind = "categorical"
            elif isinstance(dim.distribution, IntRange):
                kind = "int"
            columns.append(
                ParamColumn(
                    label=label,
                    kind=kind,
                    log=dim.log,
                    options=self.options.get(label),
                    bounds=dim.bounds,
                    values=[row.get(label) for row in rows],
                )
            )
        return ParamTable([t.number for t in trials], [t.value for t in trials], columns)


def _option_name(option: Constant | SubSpace, index: int) -> str:
    if isinstance(option, Constant):
        return str(option.value)
    for key in _OPTION_NAME_KEYS:
        named = option.params.get(key)
        if isinstance(named, Constant) and named.value is not None:
            return str(named.value)
    return str(index)

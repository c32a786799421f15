"""A study's trials as a flat table: the rows of `parzen study export` and of
`ParzenClient.trials_dataframe`, and the way back (a file's rows as trials to import).

Nested parameters are flattened with dotted names under `params.`: a choice among
sub-spaces gives its option's `name` under its own column and the option's parameters
below it, so `{"layer": {"name": "conv", "filters": 32}}` is `params.layer = "conv"`,
`params.layer.filters = 32`; a branch not taken leaves its columns empty. Scalar metrics
go under `metrics.`. CSV and JSON Lines need nothing beyond the standard library; Parquet
and DataFrames need pyarrow and pandas (`pip install parzen[export]`).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Format = Literal["csv", "parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "parquet", "jsonl")
BRANCH_KEY = "name"
BASE_COLUMNS = (
    "number",
    "state",
    "value",
    "attempt",
    "epochs",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "error",
)
FINISHED = ("complete", "pruned", "failed")


def flatten_params(params: Mapping[str, Any], prefix: str = "params") -> dict[str, Any]:
    """Nested parameters as dotted columns (see the module docstring)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        column = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            if BRANCH_KEY in value:
                flat[column] = value[BRANCH_KEY]
            flat.update(flatten_params({k: v for k, v in value.items() if k != BRANCH_KEY}, column))
        else:
            flat[column] = value
    return flat


def unflatten_params(row: Mapping[str, Any], prefix: str = "params") -> dict[str, Any]:
    """The nested parameters of a row's `params.` columns (empty cells are branches not taken)."""
    columns = sorted(
        (k[len(prefix) + 1 :].split("."), v)
        for k, v in row.items()
        if k.startswith(prefix + ".") and not _empty(v)
    )
    params: dict[str, Any] = {}
    for parts, value in columns:
        node = params
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {} if child is None else {BRANCH_KEY: child}
            node = child
        leaf = parts[-1]
        if isinstance(node.get(leaf), dict):
            node[leaf][BRANCH_KEY] = value
        else:
            node[leaf] = value
    return params


def trial_row(trial: Mapping[str, Any]) -> dict[str, Any]:
    """One trial (as the API answers it) as a flat row."""
    started, finished = trial.get("started_at"), trial.get("finished_at")
    duration = None
    if started and finished:
        duration = (_time(finished) - _time(started)).total_seconds()
    row: dict[str, Any] = {
        "number": trial["number"],
        "state": trial["state"],
        "value": trial.get("value"),
        "attempt": trial.get("attempt"),
        "epochs": trial.get("last_step"),
        "created_at": trial.get("created_at"),
        "started_at": started,
        "finished_at": finished,
        "duration_seconds": duration,
        "error": trial.get("error"),
    }
    row.update(flatten_params(trial.get("params") or {}))
    for key, value in (trial.get("metrics") or {}).items():
        if isinstance(value, bool | int | float | str):
            row[f"metrics.{key}"] = value
    return row


def table(trials: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows): the base columns, then every parameter and metric column seen."""
    rows = [trial_row(t) for t in trials]
    extra: dict[str, None] = {}
    for row in rows:
        extra.update(dict.fromkeys(k for k in row if k not in BASE_COLUMNS))
    params = sorted(k for k in extra if k.startswith("params."))
    metrics = sorted(k for k in extra if k.startswith("metrics."))
    return [*BASE_COLUMNS, *params, *metrics], rows


def write_table(trials: Iterable[Mapping[str, Any]], path: Path, fmt: Format) -> int:
    """Write every trial to `path` in `fmt`; returns the number of rows."""
    columns, rows = table(trials)
    if fmt == "csv":
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
    elif fmt == "jsonl":
        with path.open("w") as out:
            for row in rows:
                out.write(json.dumps({k: row.get(k) for k in columns}) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = {k: [_parquet_cell(row.get(k)) for row in rows] for k in columns}
        pq.write_table(pa.table({k: _column(v) for k, v in data.items()}), path)
    return len(rows)


def read_table(path: Path, fmt: Format | None = None) -> list[dict[str, Any]]:
    """The rows of a file written by `write_table` (or any with the same columns)."""
    fmt = fmt or _format_of(path)
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if fmt == "csv":
        with path.open(newline="") as source:
            return [{k: _csv_value(v) for k, v in row.items()} for row in csv.DictReader(source)]
    import pyarrow.parquet as pq

    return [
        {k: (_csv_value(v) if isinstance(v, str) else v) for k, v in row.items()}
        for row in pq.read_table(path).to_pylist()
    ]


def rows_to_import(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The finished rows as trials for `POST /studies/{name}/trials/import`."""
    trials = []
    for row in rows:
        state = row.get("state")
        if state not in FINISHED:
            continue  # queued or running elsewhere: no result to import
        raw: Any = row.get("value")
        value = None if _empty(raw) else float(raw)
        metrics = {k[len("metrics.") :]: v for k, v in row.items() if k.startswith("metrics.")}
        trials.append(
            {
                "params": unflatten_params(row),
                "state": state,
                "value": value,
                "metrics": {k: v for k, v in metrics.items() if not _empty(v)},
            }
        )
    return trials


def _format_of(path: Path) -> Format:
    suffix = path.suffix.lstrip(".").lower()
    if suffix in ("json", "ndjson"):
        return "jsonl"
    for fmt in FORMATS:
        if suffix == fmt:
            return fmt
    raise ValueError(f"cannot tell the format of {path}: name it .csv, .parquet or .jsonl")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _csv_cell(value: Any) -> Any:
    # JSON for non-strings, so that 3, 3.0, true and "3" read back as what they were.
    if value is None:
        return ""
    return value if isinstance(value, str) and not _looks_like_json(value) else json.dumps(value)


def _csv_value(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _looks_like_json(text: str) -> bool:
    return _csv_value(text) != text or text == ""


def _parquet_cell(value: Any) -> Any:
    return _csv_cell(value) if isinstance(value, str) and _looks_like_json(value) else value


def _column(values: list[Any]) -> Any:
    """A Parquet column: typed when its values share one type, else JSON text."""
    import pyarrow as pa

    kinds = {type(v) for v in values if v is not None}
    if (kinds <= {int, float} and kinds != {int, float}) or kinds in ({str}, {bool}, set()):
        return pa.array(values)
    if kinds == {int, float}:
        return pa.array([None if v is None else float(v) for v in values])
    return pa.array([None if v is None else json.dumps(v) for v in values])


def optuna_rows(study: Any) -> list[dict[str, Any]]:
    """The finished trials of an `optuna.Study` as rows: its parameter names become
    `params.` columns (a dotted name nests, as in an export), pruned trials keep their last
    intermediate value."""
    states = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
    rows = []
    for trial in study.get_trials(deepcopy=False):
        state = states.get(trial.state.name)
        if state is None:
            continue  # running or waiting: no result
        value = trial.value
        if state == "pruned" and value is None and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        row: dict[str, Any] = {"number": trial.number, "state": state, "value": value}
        row.update({f"params.{k}": v for k, v in trial.params.items()})
        rows.append(row)
    return rows

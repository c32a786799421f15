"""Rows to records."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Row

from parzen.service.db import models
from parzen.service.storage.records import (
    AttemptRecord,
    IntermediateRecord,
    StudyRecord,
    TokenRecord,
    TrialRecord,
    WorkerRecord,
)

# StudyRecord stays a dataclass: it extends StudySpec, which callers build, `replace` and
# `asdict`. Pydantic validates a dataclass from a mapping only, not from attributes.
_STUDY = TypeAdapter(StudyRecord)
_STUDY_COLUMNS = tuple(
    f.name for f in fields(StudyRecord) if f.name not in ("counts", "best_value")
)


def study_record(
    row: models.Study | Row[Any],  # a Row of the studies table's columns reads the same
    counts: dict[str, int] | None = None,
    best: float | None = None,
) -> StudyRecord:
    columns = {name: getattr(row, name) for name in _STUDY_COLUMNS}
    return _STUDY.validate_python({**columns, "counts": counts or {}, "best_value": best})


def trial_record(
    row: models.Trial | Row[Any],  # a Row of the trials table's columns reads the same
    *,
    study_name: str,
    objective: dict[str, Any] | None = None,
    attempts: list[models.TrialAttempt] | None = None,
    intermediate: list[models.IntermediateValue] | None = None,
) -> TrialRecord:
    joined = Joined(
        row,
        study_name=study_name,
        objective=objective or {},
        pruned_reason=row.pruned_reason if row.state == "pruned" else None,
        attempts=[AttemptRecord.model_validate(a, from_attributes=True) for a in attempts or ()],
        intermediate=[
            IntermediateRecord.model_validate(v, from_attributes=True) for v in intermediate or ()
        ],
    )
    return TrialRecord.model_validate(joined, from_attributes=True)


def token_record(row: models.Token) -> TokenRecord:
    return TokenRecord.model_validate(row, from_attributes=True)


def worker_record(row: models.Worker) -> WorkerRecord:
    return WorkerRecord.model_validate(row, from_attributes=True)


class Joined:
    """A row's attributes, and what was looked up beside it (the study's name, the attempts)
    or differs from the column (a reason shown only while pruned): what a record is read
    from when it has fields that its row does not."""

    def __init__(self, row: object, **extra: object) -> None:
        self._row = row
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> object:
        return getattr(self._row, name)

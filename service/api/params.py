"""Path and query parameters, typed once: each is checked before any lookup, so a value no
row can have (an integer past a column's range, a NUL, an over-long name) is a 422 on every
database alike, never a driver's overflow error."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from parzen.service.limits import MAX_DB_INT, MAX_WORKER_ID_LENGTH
from parzen.service.schemas import NAME_PATTERN

StudyName = Annotated[str, Path(pattern=NAME_PATTERN, description="The study's name.")]
# Ids and trial numbers live in INTEGER columns (32-bit on PostgreSQL).
RowId = Annotated[int, Path(ge=0, le=MAX_DB_INT)]
TrialId = RowId
FinalizationId = RowId
TokenId = RowId
TrialNumber = Annotated[int, Path(ge=0, le=MAX_DB_INT, description="Trial number: 1, 2...")]
WorkerIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_WORKER_ID_LENGTH, pattern=r"^[^\x00]+$")
]
Offset = Annotated[int, Query(ge=0, le=MAX_DB_INT)]
Stamp = Annotated[int, Query(ge=0, le=MAX_DB_INT, description="A change stamp from before.")]
Page = Annotated[int, Query(ge=1, le=MAX_DB_INT)]

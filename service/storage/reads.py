"""Reads of trials: one by id or number, the best, a page (shared with the dashboard),
and the finite JSON every writer stores."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.orm import Session

from parzen.service.db.models import IntermediateValue, Study, Trial, TrialAttempt
from parzen.service.storage.base import StorageCore, best_first
from parzen.service.storage.convert import trial_record
from parzen.service.storage.errors import NotFoundError
from parzen.service.storage.lookups import study_by_name, study_id_by_name, trial_by_id
from parzen.service.storage.records import TrialRecord, TrialState

TrialOrder = Literal["number", "-number", "value", "-value"]


class TrialReads(StorageCore):
    def get_trial_by_id(self, *, trial_id: int, detail: bool = False) -> TrialRecord:
        with self.session() as session:
            return detailed(session, trial_by_id(session, trial_id), detail)

    def get_trial(self, *, study_name: str, number: int) -> TrialRecord:
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            row = session.scalar(
                select(Trial).where(Trial.study_id == study_id, Trial.number == number)
            )
            if row is None:
                raise NotFoundError(f"study {study_name!r} has no trial {number}")
            return detailed(session, row, True)

    def list_trials(
        self,
        *,
        study_name: str,
        states: Sequence[TrialState] = (),
        order: TrialOrder = "number",
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[TrialRecord], int]:
        column = Trial.value if order.lstrip("-") == "value" else Trial.number
        with self.session() as session:
            return page_of_trials(
                session,
                study_name,
                states,
                column.desc() if order.startswith("-") else column.asc(),
                offset=offset,
                limit=limit,
            )

    def best_trial(self, *, study_name: str) -> TrialRecord:
        with self.session() as session:
            study = study_by_name(session, study_name)
            row = session.scalar(
                select(Trial)
                .where(Trial.study_id == study.id, Trial.state == "complete")
                .order_by(best_first(study.direction), Trial.number)
                .limit(1)
            )
            if row is None:
                raise NotFoundError(f"study {study_name!r} has no complete trial yet")
            return detailed(session, row, True)


def finite_json(data: Any) -> Any:
    """NaN and infinities become null: JSON (and PostgreSQL's json type) has no place for them."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): finite_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite_json(v) for v in data]
    return data


def finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def detailed(session: Session, row: Trial, detail: bool) -> TrialRecord:
    study = session.get_one(Study, row.study_id)
    if not detail:
        return trial_record(row, study_name=study.name, objective=study.objective)
    attempts = session.scalars(
        select(TrialAttempt).where(TrialAttempt.trial_id == row.id).order_by(TrialAttempt.attempt)
    ).all()
    intermediate = session.scalars(
        select(IntermediateValue)
        .where(IntermediateValue.trial_id == row.id)
        .order_by(IntermediateValue.attempt, IntermediateValue.step)
    ).all()
    return trial_record(
        row,
        study_name=study.name,
        objective=study.objective,
        attempts=list(attempts),
        intermediate=list(intermediate),
    )


_TOLD = (
    select(Trial, Study.name, Study.objective)
    .join(Study, Study.id == Trial.study_id)
    .where(Trial.id == bindparam("w_trial_id"))
    .execution_options(populate_existing=True)
)


def told(session: Session, trial_id: int) -> TrialRecord:
    """A trial's record as this transaction left it (the ORM's copy may predate an UPDATE),
    read with its study's name and objective in one statement."""
    row, study_name, objective = session.execute(_TOLD, {"w_trial_id": trial_id}).one()
    return trial_record(row, study_name=study_name, objective=objective)


def page_of_trials(
    session: Session,
    study_name: str,
    states: Sequence[TrialState],
    ordering: ColumnElement[Any],
    *,
    offset: int,
    limit: int,
) -> tuple[list[TrialRecord], int]:
    """One page of a study's trials in `states` (all when empty), ordered by `ordering`
    (nulls last, then by number), and the number of trials the filter matches."""
    study_id = study_id_by_name(session, study_name)
    where: list[ColumnElement[bool]] = [Trial.study_id == study_id]
    if states:
        where.append(Trial.state.in_(states))
    total = session.scalar(select(func.count(Trial.id)).where(*where)) or 0
    # Sort and skip narrow rows (ids), then load the page's whole rows: sorting 100,000 whole
    # rows (vals, params, metrics) for a deep page took seconds on SQLite.
    ids = session.scalars(
        select(Trial.id)
        .where(*where)
        .order_by(ordering.nulls_last(), Trial.number)
        .offset(offset)
        .limit(limit)
    ).all()
    by_id = {r.id: r for r in session.scalars(select(Trial).where(Trial.id.in_(ids)))}
    return [trial_record(by_id[i], study_name=study_name) for i in ids], total

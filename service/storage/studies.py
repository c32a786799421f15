"""Studies: create, read with counts and best value, change state, delete."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from parzen.service.db.base import utcnow
from parzen.service.db.models import Study, Trial
from parzen.service.storage.base import StorageCore
from parzen.service.storage.convert import study_record
from parzen.service.storage.errors import ConflictError
from parzen.service.storage.lookups import study_by_name, study_id_by_name
from parzen.service.storage.records import StudyRecord, StudySpec, StudyState

# The states a study may come from, by the state it goes to.
_ALLOWED_FROM: dict[StudyState, set[str]] = {
    "running": {"paused", "stopped"},
    "paused": {"running"},
    "stopped": {"running", "paused"},
    "complete": {"running"},
}


class StudyStore(StorageCore):
    def create_study(self, *, spec: StudySpec) -> StudyRecord:
        with self.session() as session:
            if session.scalar(select(Study.id).where(Study.name == spec.name)) is not None:
                raise ConflictError(f"a study named {spec.name!r} already exists")
            row = Study(**asdict(spec), state="running", trial_counter=0, change_seq=0)
            session.add(row)
            session.flush()
            return study_record(row)

    def get_study(self, *, name: str) -> StudyRecord:
        with self.session() as session:
            row = study_by_name(session, name)
            counts, best = _summaries(session, [row])
            return study_record(row, counts[row.id], best.get(row.id))

    def list_studies(self, *, offset: int = 0, limit: int = 100) -> tuple[list[StudyRecord], int]:
        with self.session() as session:
            total = session.scalar(select(func.count(Study.id))) or 0
            rows = list(
                session.scalars(select(Study).order_by(Study.id).offset(offset).limit(limit))
            )
            counts, best = _summaries(session, rows)
            return [study_record(r, counts[r.id], best.get(r.id)) for r in rows], total

    def set_study_state(self, *, name: str, state: StudyState) -> StudyRecord:
        with self.session() as session:
            row = study_by_name(session, name)
            if row.state != state and row.state not in _ALLOWED_FROM[state]:
                raise ConflictError(f"study {name!r} is {row.state}; it cannot become {state}")
            finished = utcnow() if state in ("stopped", "complete") else None
            session.execute(
                update(Study)
                .where(Study.id == row.id)
                .values(state=state, updated_at=utcnow(), finished_at=finished)
            )
        return self.get_study(name=name)

    def delete_study(self, *, name: str) -> None:
        with self.session() as session:
            study_id = study_id_by_name(session, name)
            session.execute(delete(Study).where(Study.id == study_id))


def _summaries(
    session: Session, rows: list[Study]
) -> tuple[dict[int, dict[str, int]], dict[int, float | None]]:
    """Trial counts per state and best complete value, for many studies in one query."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    best: dict[int, float | None] = {}
    if not rows:
        return counts, best
    direction = {r.id: r.direction for r in rows}
    query = (
        select(
            Trial.study_id, Trial.state, func.count(), func.min(Trial.value), func.max(Trial.value)
        )
        .where(Trial.study_id.in_(direction))
        .group_by(Trial.study_id, Trial.state)
    )
    for study_id, state, count, low, high in session.execute(query):
        counts[study_id][state] = count
        if state == "complete" and low is not None:
            best[study_id] = low if direction[study_id] == "minimize" else high
    return counts, best

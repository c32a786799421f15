"""One lookup per thing: each finds its row or raises NotFoundError, with the one message
the API shows for it (routes answer 404 with it, and tests assert it). The ask's own lookup
of its study reads only the columns that change and keeps the rest per process
(`StudySpecs`)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from parzen.service.db.base import utcnow
from parzen.service.db.models import Finalization, Study, Trial, Worker
from parzen.service.storage.convert import study_record
from parzen.service.storage.errors import ForbiddenError, NotFoundError
from parzen.service.storage.records import StudyRecord, StudyState


def no_study(name: str | int) -> NotFoundError:
    """By name (quoted) or, where a write has only the id, by id."""
    shown = repr(name) if isinstance(name, str) else str(name)
    return NotFoundError(f"study {shown} does not exist")


def no_trial(trial_id: int) -> NotFoundError:
    return NotFoundError(f"trial {trial_id} does not exist")


def no_worker(worker_id: str) -> NotFoundError:
    return NotFoundError(f"worker {worker_id!r} is not registered")


def not_your_worker(worker_id: str) -> ForbiddenError:
    """A registered worker's id is its bearer token's alone."""
    return ForbiddenError(
        f"worker {worker_id!r} is not registered with this token: "
        "register this worker with your own token (POST /workers)"
    )


def no_token(token_id: int) -> NotFoundError:
    return NotFoundError(f"token {token_id} does not exist")


def study_by_name(session: Session, name: str) -> Study:
    """The study named `name`, as an ORM row."""
    study = session.scalar(select(Study).where(Study.name == name))
    if study is None:
        raise no_study(name)
    return study


# What changes in a study's row after it is created; the rest (its spec: space, objective,
# budget, pruner...) is fixed for the study's life, and read once per process (StudySpecs).
_CHANGING = (
    Study.id,
    Study.created_at,
    Study.state,
    Study.trial_counter,
    Study.change_seq,
    Study.updated_at,
    Study.finished_at,
)
CHANGING_STUDY_COLUMNS = frozenset(c.key for c in _CHANGING) - {"id", "created_at"}
_READ_BY_NAME = select(*_CHANGING).where(Study.name == bindparam("w_name"))
_LOCK_BY_NAME = (
    update(Study)
    .where(Study.name == bindparam("w_name"))
    .values(change_seq=Study.change_seq + 1, updated_at=bindparam("w_now"))
    .returning(*_CHANGING)
)
_READ_BY_ID = select(*Study.__table__.columns).where(Study.id == bindparam("w_id"))
STUDY_SPECS = 1024  # studies whose fixed part a process remembers


class _Changing(Protocol):
    """The columns of a study that change (see `_CHANGING`), as a Row of them reads."""

    @property
    def id(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def state(self) -> str: ...
    @property
    def trial_counter(self) -> int: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...


class StudySpecs:
    """The fixed part of studies' rows, as records, remembered by the process: an ask reads
    only the columns that change (`_CHANGING`), not the space's and objective's JSON, nor
    validates the whole record again. Keyed by id and creation time, so a study deleted and
    created again (SQLite may give it the same id) is read afresh. At most `size` studies,
    the first remembered out first."""

    def __init__(self, size: int = STUDY_SPECS) -> None:
        self._size = size
        self._records: dict[tuple[int, datetime], StudyRecord] = {}
        self._lock = threading.Lock()

    def record(self, conn: Connection, changing: _Changing) -> StudyRecord:
        """The study whose changing columns are `changing`, read whole on `conn` if unknown."""
        key = (changing.id, changing.created_at)
        spec = self._records.get(key)
        if spec is None:
            spec = study_record(conn.execute(_READ_BY_ID, {"w_id": changing.id}).one())
            with self._lock:
                self._records[key] = spec
                while len(self._records) > self._size:
                    del self._records[next(iter(self._records))]
        return replace(
            spec,
            state=cast(StudyState, str(changing.state)),
            trial_counter=changing.trial_counter,
            updated_at=changing.updated_at,
            finished_at=changing.finished_at,
        )


def study_state_by_name(
    session: Session, name: str, specs: StudySpecs, *, lock: bool = False
) -> tuple[StudyRecord, int]:
    """The study named `name` as a record, and its change stamp, read in Core (the ask's
    path: no ORM identity map, built once), its fixed part from `specs`. `lock`: take its
    row lock as `lock_study` does (an UPDATE that bumps the stamp, so the stamp returned is
    the new one): one round trip where a lookup and a lock would be two."""
    conn = session.connection()
    if lock:
        row = conn.execute(_LOCK_BY_NAME, {"w_name": name, "w_now": utcnow()}).one_or_none()
    else:
        row = conn.execute(_READ_BY_NAME, {"w_name": name}).one_or_none()
    if row is None:
        raise no_study(name)
    return specs.record(conn, row), row.change_seq


_STUDY_ID = select(Study.id).where(Study.name == bindparam("w_name"))


def study_id_by_name(session: Session, name: str) -> int:
    """The id of the study named `name` (reads one column, not the row)."""
    study_id = session.connection().scalar(_STUDY_ID, {"w_name": name})
    if study_id is None:
        raise no_study(name)
    return study_id


def trial_by_id(session: Session, trial_id: int) -> Trial:
    """The trial with this id. There is no `lock`: no path locks a trial row itself, every
    write locks the trial's study first (`lock_trials_study` in base.py)."""
    trial = session.get(Trial, trial_id)
    if trial is None:
        raise no_trial(trial_id)
    return trial


def worker_by_id(session: Session, worker_id: str) -> Worker:
    worker = session.get(Worker, worker_id)
    if worker is None:
        raise no_worker(worker_id)
    return worker


def finalization_by_id(session: Session, finalization_id: int) -> Finalization:
    row = session.get(Finalization, finalization_id)
    if row is None:
        raise NotFoundError(f"finalization {finalization_id} does not exist")
    return row

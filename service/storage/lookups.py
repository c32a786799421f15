"""One lookup per thing: each finds its row or raises NotFoundError, with the one message
the API shows for it (routes answer 404 with it, and tests assert it)."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from parzen.service.db.base import utcnow
from parzen.service.db.models import Finalization, Study, Trial, Worker
from parzen.service.storage.convert import study_record
from parzen.service.storage.errors import ForbiddenError, NotFoundError
from parzen.service.storage.records import StudyRecord


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


_STUDY_COLUMNS = tuple(Study.__table__.columns)
_READ_BY_NAME = select(*_STUDY_COLUMNS).where(Study.name == bindparam("w_name"))
_LOCK_BY_NAME = (
    update(Study)
    .where(Study.name == bindparam("w_name"))
    .values(change_seq=Study.change_seq + 1, updated_at=bindparam("w_now"))
    .returning(*_STUDY_COLUMNS)
)


def study_state_by_name(
    session: Session, name: str, *, lock: bool = False
) -> tuple[StudyRecord, int]:
    """The study named `name` as a record, and its change stamp, read in Core (the ask's
    path: no ORM identity map, built once). `lock`: take its row lock as `lock_study` does
    (an UPDATE that bumps the stamp, so the stamp returned is the new one): one round trip
    where a lookup and a lock would be two."""
    conn = session.connection()
    if lock:
        row = conn.execute(_LOCK_BY_NAME, {"w_name": name, "w_now": utcnow()}).one_or_none()
    else:
        row = conn.execute(_READ_BY_NAME, {"w_name": name}).one_or_none()
    if row is None:
        raise no_study(name)
    return study_record(row), row.change_seq


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

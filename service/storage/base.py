"""The storage core: one engine, one scoped session per call, driver errors mapped to ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import ColumnElement, Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.db.base import utcnow
from service.db.engine import make_engine, make_session_factory
from service.db.models import Study, Trial
from service.storage.errors import ConflictError, NotFoundError


class StorageCore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions: sessionmaker[Session] = make_session_factory(engine)

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(make_engine(url))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except IntegrityError as exc:
                session.rollback()
                raise ConflictError(f"conflicts with stored data: {exc.orig}") from exc
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()


def lock_study(session: Session, study_id: int) -> int:
    """Take the study's row lock and return a fresh change stamp.

    Every transaction that changes a study's trials starts here, so the lock order is always
    study before trial (no deadlocks on PostgreSQL) and stamps follow commit order: a process
    that has seen stamp N has seen every change up to N.
    """
    stamp = session.execute(
        update(Study)
        .where(Study.id == study_id)
        .values(change_seq=Study.change_seq + 1, updated_at=utcnow())
        .returning(Study.change_seq)
    ).scalar_one_or_none()
    if stamp is None:
        raise NotFoundError(f"study {study_id} does not exist")
    return stamp


def lock_study_named(session: Session, name: str) -> Study:
    """`lock_study` by name, returning the locked row: one round trip where ask needs three.
    The row's `change_seq` is the new stamp."""
    study = session.execute(
        update(Study)
        .where(Study.name == name)
        .values(change_seq=Study.change_seq + 1, updated_at=utcnow())
        .returning(Study),
        execution_options={"populate_existing": True},
    ).scalar_one_or_none()
    if study is None:
        raise NotFoundError(f"study {name!r} does not exist")
    return study


def study_id_by_name(session: Session, name: str) -> int:
    study_id = session.scalar(select(Study.id).where(Study.name == name))
    if study_id is None:
        raise NotFoundError(f"study {name!r} does not exist")
    return study_id


def best_first(direction: str) -> ColumnElement[Any]:
    """Ordering of trials by value, the best first, for a study's direction."""
    return Trial.value.asc() if direction == "minimize" else Trial.value.desc()


def lease_until(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)

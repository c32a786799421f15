"""The storage core: one engine, one scoped session per call, driver errors mapped to ours."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import ColumnElement, Engine, bindparam, select, update
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from parzen.service.db.base import utcnow
from parzen.service.db.engine import make_engine, make_session_factory
from parzen.service.db.models import Study, Trial
from parzen.service.storage.errors import ConflictError, StorageUnavailable
from parzen.service.storage.lookups import StudySpecs, no_study, no_trial
from parzen.service.storage.proposing import ProposalTimes

# What the driver raises when the database cannot answer (down, restarting, unreachable, a
# lock wait past its timeout, no connection free in the pool): nothing was applied, retrying
# is safe. IntegrityError and programming errors are not among them: retrying cannot help.
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


class Hearing:
    """Whether this process could hear its workers since the last grace it granted.

    A lease runs out only for lack of contact while the service could hear: after start-up,
    or once any transaction failed because the database was unavailable, the process is deaf
    until a lease sweep has granted every running trial a grace of one lease. Counters rather
    than a flag, so that an outage that begins while a grace is being granted is not cleared.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outages = 0  # start-ups and failed transactions seen
        self._healed = 0  # of those, the ones a committed grace covers

    @property
    def deaf(self) -> bool:
        return self._outages != self._healed

    def deafen(self) -> None:
        with self._lock:
            self._outages += 1

    def outages(self) -> int:
        return self._outages

    def healed(self, outages: int) -> None:
        """A grace was committed after `outages` had been seen (read before it began)."""
        with self._lock:
            self._healed = max(self._healed, outages)


class StorageCore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions: sessionmaker[Session] = make_session_factory(engine)
        self.hearing = Hearing()
        self.proposal_times = ProposalTimes()
        self.study_ids: dict[str, int] = {}  # by name, as ask remembers them (asking.py)
        self.study_specs = StudySpecs()  # what ask reads of a study once (lookups.py)

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(make_engine(url))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on any error.

        A database that cannot answer becomes StorageUnavailable (and makes this process deaf,
        see Hearing); a broken constraint becomes ConflictError."""
        try:
            with self._sessions() as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except IntegrityError as exc:
            raise ConflictError(f"conflicts with stored data: {exc.orig}") from exc
        except UNAVAILABLE as exc:
            if not _waited_for_a_lock(exc):
                self.hearing.deafen()
            raise StorageUnavailable(f"the database is unavailable: {_cause(exc)}") from exc

    def close(self) -> None:
        self.engine.dispose()


# PostgreSQL's lock_not_available, deadlock_detected, serialization_failure.
_LOCK_SQLSTATES = frozenset({"55P03", "40P01", "40001"})


def _waited_for_a_lock(exc: Exception) -> bool:
    """A lock wait that timed out, or no connection free in the pool: the database could
    hear, it was busy. The client's retry comes within seconds, far inside a lease, so this
    makes no process deaf; else sustained contention would keep any lease from expiring."""
    if isinstance(exc, PoolTimeoutError):
        return True
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _LOCK_SQLSTATES:
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def _cause(exc: Exception) -> str:
    """The driver's own first line ('database is locked', 'connection refused'...)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines() or [type(orig).__name__]
    return lines[0][:200]


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
        raise no_study(study_id)
    return stamp


_STUDY_OF_TRIAL = select(Trial.study_id).where(Trial.id == bindparam("w_trial_id"))
_LOCK_TRIALS_STUDY = (
    update(Study)
    .where(Study.id == _STUDY_OF_TRIAL.scalar_subquery())
    .values(change_seq=Study.change_seq + 1, updated_at=bindparam("w_now"))
    .returning(Study.id, Study.change_seq, (Study.trial_counter >= Study.max_trials).label("spent"))
)


@dataclass(frozen=True, slots=True)
class LockedStudy:
    id: int
    stamp: int  # the study's fresh change stamp
    spent: bool  # every trial of its budget is handed out (it may be complete once none runs)


def lock_trials_study(session: Session, trial_id: int) -> LockedStudy:
    """`lock_study` for the study of a trial, found in the same statement: the study's id, a
    fresh change stamp and whether its budget is handed out (404 for no such trial). What
    every write that ends an attempt does first (built once: see report_sql.py)."""
    row = (
        session.connection()
        .execute(_LOCK_TRIALS_STUDY, {"w_trial_id": trial_id, "w_now": utcnow()})
        .one_or_none()
    )
    if row is None:
        raise no_trial(trial_id)
    return LockedStudy(row.id, row.change_seq, bool(row.spent))


def best_first(direction: str) -> ColumnElement[Any]:
    """Ordering of trials by value, the best first, for a study's direction."""
    return Trial.value.asc() if direction == "minimize" else Trial.value.desc()


def lease_until(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)

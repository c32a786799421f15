"""Attempts: handing a trial back, lease expiry, ending an attempt, freeing its worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from parzen.service.db.base import utcnow
from parzen.service.db.models import Study, Trial, TrialAttempt, Worker
from parzen.service.storage.base import StorageCore, lock_study
from parzen.service.storage.leases import holding_locked, not_current
from parzen.service.storage.reads import told
from parzen.service.storage.records import LeaseExpiry, TrialRecord


class AttemptStore(StorageCore):
    def release(
        self,
        *,
        trial_id: int,
        lease_token: str,
        attempt: int | None = None,
        token_id: int | None = None,
    ) -> TrialRecord:
        """A worker hands its trial back (shutdown): it is queued again with the same params,
        and the attempt does not count against max_attempts."""
        now = utcnow()
        with self.session() as session:
            _, stamp, held = holding_locked(
                session,
                trial_id=trial_id,
                lease_token=lease_token,
                token_id=token_id,
                attempt=attempt,
            )
            if held.outcome not in ("running", "released"):
                trial = session.get_one(Trial, trial_id, populate_existing=True)
                raise not_current(held, trial.state, trial.attempt)
            release_attempt(session, trial_id, held.attempt, stamp, now)
            return told(session, trial_id)  # read before the commit, as in tell

    def expire_leases(self) -> LeaseExpiry:
        """Requeue (or fail, past max_attempts) running trials whose lease has run out;
        nothing while this process is deaf (see storage/sweeps.py)."""
        if self.hearing.deaf:
            return LeaseExpiry()
        now = utcnow()
        with self.session() as session:
            study_ids = session.scalars(
                select(Trial.study_id)
                .where(Trial.state == "running", Trial.lease_expires_at < now)
                .distinct()
            ).all()
        expired = LeaseExpiry()
        for study_id in study_ids:
            with self.session() as session:
                stamp = lock_study(session, study_id)
                study = session.get_one(Study, study_id, populate_existing=True)
                expired += expire_study_leases(session, study_id, study.max_attempts, stamp, now)
        return expired


_EXPIRED = select(Trial.id, Trial.attempt, Trial.expirations).where(
    Trial.study_id == bindparam("w_study_id"),
    Trial.state == "running",
    Trial.lease_expires_at < bindparam("w_now"),
)


def expire_study_leases(
    session: Session, study_id: int, max_attempts: int, stamp: int, now: datetime
) -> LeaseExpiry:
    """Requeue the study's running trials whose lease ran out (fail those out of attempts);
    the caller holds the study's lock, whose fresh stamp is `stamp`."""
    expired = session.connection().execute(_EXPIRED, {"w_study_id": study_id, "w_now": now}).all()
    failed = 0
    for trial_id, attempt, expirations in expired:
        exhausted = expirations + 1 >= max_attempts
        error = f"lease expired {expirations + 1} time(s): worker lost" if exhausted else None
        session.execute(
            update(Trial)
            .where(Trial.id == trial_id, Trial.state == "running", Trial.attempt == attempt)
            .values(
                state="failed" if exhausted else "queued",
                expirations=Trial.expirations + 1,
                error=error,
                worker_id=None,
                lease_expires_at=None,
                finished_at=now if exhausted else None,
                change_seq=stamp,
            )
        )
        end_attempt(session, trial_id, attempt, "expired", now, "lease expired")
        _free_worker(session, trial_id, "lost")
        failed += int(exhausted)
    return LeaseExpiry(requeued=len(expired) - failed, failed=failed)


def release_attempt(
    session: Session, trial_id: int, attempt: int, stamp: int, now: datetime
) -> bool:
    """Queue a running attempt's trial again, its attempt not counted against max_attempts
    (a release, or a worker's goodbye). The caller holds the study's lock; False when that
    attempt is no longer running (already released, told, expired): nothing changes."""
    released = session.execute(
        update(Trial)
        .where(Trial.id == trial_id, Trial.state == "running", Trial.attempt == attempt)
        .values(state="queued", worker_id=None, lease_expires_at=None, change_seq=stamp)
        .returning(Trial.id)
    ).one_or_none()
    if released is None:
        return False
    end_attempt(session, trial_id, attempt, "released", now, None)
    _free_worker(session, trial_id, "idle")
    return True


# The writes that end an attempt, built once and executed with parameters on the session's
# connection (no ORM synchronization: no caller reads the rows they change back from the
# session's objects).
_FREE_WORKER = (
    update(Worker)
    .where(Worker.current_trial_id == bindparam("w_trial_id"))
    .values(current_trial_id=None, state=bindparam("w_state"))
)
_END_ATTEMPT = (
    update(TrialAttempt)
    .where(
        TrialAttempt.trial_id == bindparam("w_trial_id"),
        TrialAttempt.attempt == bindparam("w_attempt"),
    )
    .values(outcome=bindparam("w_outcome"), ended_at=bindparam("w_now"), error=bindparam("w_error"))
)


def _worker_done(counter: Any) -> Any:
    """The trial's worker counts the trial and is seen, and whichever worker has the trial as
    its current one is idle again: one UPDATE for both. In SQL every SET expression reads the
    row as it was, so the CASEs test the old values."""
    own = Worker.id == bindparam("w_worker_id")
    current = Worker.current_trial_id == bindparam("w_trial_id")
    return (
        update(Worker)
        .where(or_(own, current))
        .values(
            {
                counter: counter + case((own, 1), else_=0),
                Worker.last_seen_at: case((own, bindparam("w_now")), else_=Worker.last_seen_at),
                Worker.current_trial_id: case((current, None), else_=Worker.current_trial_id),
                Worker.state: case((current, "idle"), else_=Worker.state),
            }
        )
    )


_WORKER_DONE = {
    failed: _worker_done(counter)
    for failed, counter in ((True, Worker.trials_failed), (False, Worker.trials_done))
}


def _free_worker(session: Session, trial_id: int, state: str) -> None:
    session.connection().execute(_FREE_WORKER, {"w_trial_id": trial_id, "w_state": state})


def end_attempt(
    session: Session, trial_id: int, attempt: int, outcome: str, now: datetime, error: str | None
) -> None:
    session.connection().execute(
        _END_ATTEMPT,
        {
            "w_trial_id": trial_id,
            "w_attempt": attempt,
            "w_outcome": outcome,
            "w_now": now,
            "w_error": error,
        },
    )


def count_for_worker(
    session: Session, worker_id: str, trial_id: int, now: datetime, *, failed: bool
) -> None:
    """The trial's worker is done with it (failed or not) and idle, unless it moved on."""
    session.connection().execute(
        _WORKER_DONE[failed], {"w_worker_id": worker_id, "w_trial_id": trial_id, "w_now": now}
    )

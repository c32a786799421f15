"""Lease tokens: every attempt gets a secret, every write to a trial must name it.

A lease token is handed out once, when an attempt starts (ask, or a worker's lease); only its
SHA-256 is stored on the attempt, with the id of the bearer token that asked for it. A write
finds its attempt by the token's hash, so a write can only ever touch the attempt it was
handed: another trial's token or another bearer token is refused (403), and an attempt that is
no longer current is answered 409 -- except a late `complete` from an expired attempt, which
is kept (the training did finish) and supersedes the attempt running meanwhile.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from parzen.service.db.models import (
    AttemptOutcome,
    IntermediateValue,
    Trial,
    TrialAttempt,
    Worker,
)
from parzen.service.storage.base import StorageCore, lock_trials_study
from parzen.service.storage.errors import ConflictError, ForbiddenError
from parzen.service.storage.lookups import trial_by_id

FINISHED = ("complete", "pruned", "failed")
LATE_NOTE = "its lease had expired; the result arrived late and was kept"


def hash_lease(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_INSERT_ATTEMPT = insert(TrialAttempt)  # the values come as parameters


def new_lease() -> tuple[str, str]:
    """A new attempt's lease token and the hash of it that is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_lease(token)


def start_attempt(
    session: Session, trial: Trial, worker_id: str | None, token_id: int | None
) -> str:
    """Record the trial's new attempt and return its lease token (the only time it is seen)."""
    token, token_hash = new_lease()
    insert_attempt(
        session.connection(),
        trial_id=trial.id,
        attempt=trial.attempt,
        worker_id=worker_id,
        lease_token_hash=token_hash,
        token_id=token_id,
    )
    return token


def insert_attempt(
    conn: Connection,
    *,
    trial_id: int,
    attempt: int,
    worker_id: str | None,
    lease_token_hash: str,
    token_id: int | None,
    started_at: datetime | None = None,
) -> None:
    """An attempt's row, running, started now unless `started_at` says when."""
    values: dict[str, Any] = {
        "trial_id": trial_id,
        "attempt": attempt,
        "worker_id": worker_id,
        "lease_token_hash": lease_token_hash,
        "token_id": token_id,
    }
    if started_at is not None:
        values["started_at"] = started_at
    conn.execute(_INSERT_ATTEMPT, values)


class AttemptView(Protocol):
    """What the holder checks read of an attempt: its ORM row, or a row read in Core."""

    @property
    def trial_id(self) -> int: ...
    @property
    def attempt(self) -> int: ...
    @property
    def token_id(self) -> int | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def error(self) -> str | None: ...


_A = TypeVar("_A", bound=AttemptView)


_HELD = select(TrialAttempt).where(
    TrialAttempt.trial_id == bindparam("w_trial_id"),
    TrialAttempt.lease_token_hash == bindparam("w_hash"),
)


def holding(
    session: Session,
    *,
    trial_id: int,
    lease_token: str,
    token_id: int | None,
    attempt: int | None,
) -> TrialAttempt:
    """The attempt this lease token was handed with, if the caller is its holder."""
    held = session.scalar(_HELD, {"w_trial_id": trial_id, "w_hash": hash_lease(lease_token)})
    return check_holder(held, trial_id=trial_id, token_id=token_id, attempt=attempt)


def check_holder(
    held: _A | None, *, trial_id: int, token_id: int | None, attempt: int | None
) -> _A:
    """`held` (the attempt found by the lease token's hash) if the caller may write with it:
    403 for no attempt or another bearer token, 409 for another attempt named."""
    if held is None:
        raise ForbiddenError(
            f"this lease token belongs to no attempt of trial {trial_id}: "
            "send the lease_token that ask or lease returned with this trial"
        )
    if held.token_id != token_id:
        raise ForbiddenError(
            f"attempt {held.attempt} of trial {trial_id} was leased with another bearer token"
        )
    if attempt is not None and attempt != held.attempt:
        raise ConflictError(
            f"attempt {attempt} was named, but this lease token is attempt {held.attempt}'s"
        )
    return held


def holding_locked(
    session: Session,
    *,
    trial_id: int,
    lease_token: str,
    token_id: int | None,
    attempt: int | None,
) -> tuple[int, int, TrialAttempt]:
    """The trial's study id, its change stamp once locked, and the attempt this lease token
    holds: how every write that ends or hands back an attempt begins."""
    locked = lock_trials_study(session, trial_id)
    held = holding(
        session, trial_id=trial_id, lease_token=lease_token, token_id=token_id, attempt=attempt
    )
    return locked.id, locked.stamp, held


def not_current(held: AttemptView, state: str, current: int) -> ConflictError:
    """Why an attempt that lost its lease (or gave it back) cannot write any more."""
    if held.outcome == "superseded":
        return ConflictError(held.error or f"attempt {held.attempt} was superseded")
    lost = {"expired": "its lease expired", "released": "it was released"}
    why = lost.get(held.outcome, f"it is {held.outcome}")
    return ConflictError(
        f"attempt {held.attempt} of trial {held.trial_id} is no longer current ({why}); "
        f"the trial is {state} (attempt {current}): stop and ask for another trial"
    )


@dataclass(frozen=True, slots=True)
class LateComplete:
    value: float
    metrics: Any  # already made JSON-safe (finite_json)
    stamp: int
    now: datetime


def may_complete_late(session: Session, trial: Trial, held: TrialAttempt) -> bool:
    """An expired attempt's complete is kept unless a result was told first: the trial is
    running another attempt, queued, or failed only because its leases ran out."""
    if held.outcome != "expired":
        return False
    if trial.state in ("running", "queued"):
        return True
    current = session.scalar(
        select(TrialAttempt.outcome).where(
            TrialAttempt.trial_id == trial.id, TrialAttempt.attempt == trial.attempt
        )
    )
    return trial.state == "failed" and current == "expired"


def complete_late(session: Session, trial: Trial, held: TrialAttempt, late: LateComplete) -> None:
    """Record an expired attempt's result as its own (its attempt, its worker, its curve and
    checkpoint), and tell the attempt running meanwhile, if any, to stop."""
    reason = (
        f"attempt {held.attempt} on worker {held.worker_id or '(unnamed)'} "
        "finished this trial late; stop"
    )
    if trial.state == "running":
        session.execute(
            update(TrialAttempt)
            .where(TrialAttempt.trial_id == trial.id, TrialAttempt.attempt == trial.attempt)
            .values(outcome="superseded", ended_at=late.now, error=reason)
        )
        session.execute(
            update(Worker)
            .where(Worker.current_trial_id == trial.id)
            .values(current_trial_id=None, state="idle")
        )
    last = session.execute(
        select(IntermediateValue.step, IntermediateValue.value)
        .where(IntermediateValue.trial_id == trial.id, IntermediateValue.attempt == held.attempt)
        .order_by(IntermediateValue.step.desc())
        .limit(1)
    ).one_or_none()
    session.execute(
        update(Trial)
        .where(Trial.id == trial.id, Trial.state == trial.state, Trial.attempt == trial.attempt)
        .values(
            state="complete",
            value=late.value,
            metrics=late.metrics,
            error=None,
            attempt=held.attempt,
            worker_id=held.worker_id,
            artifact=held.artifact,
            last_step=last.step if last else None,
            last_intermediate=last.value if last else None,
            finished_at=late.now,
            lease_expires_at=None,
            change_seq=late.stamp,
        )
    )
    held.outcome, held.ended_at, held.error = AttemptOutcome.COMPLETE, late.now, LATE_NOTE
    if held.worker_id is not None:
        session.execute(
            update(Worker)
            .where(Worker.id == held.worker_id)
            .values(trials_done=Worker.trials_done + 1, last_seen_at=late.now)
        )
        # Its lease was given up as lost; it is plainly alive, and free unless it moved on.
        session.execute(
            update(Worker)
            .where(Worker.id == held.worker_id, Worker.current_trial_id.is_(None))
            .values(state="idle")
        )


def may_upload(trial: Trial, held: TrialAttempt) -> bool:
    """A checkpoint is kept from the attempt running the trial, from an expired one that may
    still complete it late, and from the attempt whose complete result was recorded."""
    if held.outcome == "running":
        return True
    if held.outcome == "expired":
        return trial.state in ("running", "queued", "failed")
    return held.outcome == "complete" and trial.attempt == held.attempt


class AttemptArtifactStore(StorageCore):
    """Checkpoints per attempt: uploaded under the lease token, the trial's once its result."""

    def artifact_attempt(
        self, *, trial_id: int, lease_token: str, token_id: int | None = None
    ) -> int:
        """The attempt whose checkpoint this lease token may upload (checked before the body
        is read): 403 for another holder, 409 for an attempt whose result cannot be kept."""
        with self.session() as session:
            trial = trial_by_id(session, trial_id)
            held = holding(
                session, trial_id=trial_id, lease_token=lease_token, token_id=token_id, attempt=None
            )
            if not may_upload(trial, held):
                raise not_current(held, trial.state, trial.attempt)
            return held.attempt

    def set_attempt_artifact(self, *, trial_id: int, attempt: int, path: str) -> None:
        """Record an attempt's checkpoint; it is the trial's while that attempt holds the
        trial or produced its result (a late completer's is taken over by its tell)."""
        with self.session() as session:
            lock_trials_study(session, trial_id)
            session.execute(
                update(TrialAttempt)
                .where(TrialAttempt.trial_id == trial_id, TrialAttempt.attempt == attempt)
                .values(artifact=path)
            )
            session.execute(
                update(Trial)
                .where(
                    Trial.id == trial_id,
                    Trial.attempt == attempt,
                    Trial.state.in_(("running", "complete")),
                )
                .values(artifact=path)
            )

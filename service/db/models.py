"""SQLAlchemy 2 models. Alembic migrations (alembic/) are the only way this schema is made."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from parzen.service.db.base import Base, utcnow


class StudyState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETE = "complete"


class TrialState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"


class AttemptOutcome(enum.StrEnum):
    """What became of one attempt: its trial's end, or why it stopped holding the trial."""

    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"
    EXPIRED = "expired"  # its lease ran out
    RELEASED = "released"  # handed back (shutdown): not counted against the trial
    SUPERSEDED = "superseded"  # an expired attempt's late complete result was kept over it


class WorkerState(enum.StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    LOST = "lost"  # its trial's lease expired: not heard from within a lease
    EXITED = "exited"


class FinalizationState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


def state_column(states: type[enum.StrEnum]) -> Enum:
    """A state stored as its string, refused by a CHECK constraint unless it is one of
    `states`: the same VARCHAR(16) on SQLite and PostgreSQL (no native enum type to migrate),
    and a typo'd state fails at the database, not in a sampler much later."""
    return Enum(
        states,
        name=states.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        values_callable=lambda members: [m.value for m in members],
        length=16,
        validate_strings=True,
    )


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    direction: Mapped[str] = mapped_column(String(8))
    metric: Mapped[str] = mapped_column(String(200))
    space: Mapped[dict[str, Any]]
    algorithm: Mapped[str] = mapped_column(String(32))
    algorithm_settings: Mapped[dict[str, Any]]
    pruner: Mapped[dict[str, Any]] = mapped_column(default=lambda: {"type": "none"})
    objective: Mapped[dict[str, Any]]
    seed: Mapped[int] = mapped_column(Integer)
    max_trials: Mapped[int] = mapped_column(Integer)
    max_parallel: Mapped[int] = mapped_column(Integer)
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    target_value: Mapped[float | None] = mapped_column(Float)
    # The study's budget in epochs trained (every reported step of every attempt), if any.
    max_epochs_total: Mapped[int | None] = mapped_column(Integer)
    lease_seconds: Mapped[float] = mapped_column(Float)
    max_attempts: Mapped[int] = mapped_column(Integer)
    state: Mapped[StudyState] = mapped_column(state_column(StudyState), default=StudyState.RUNNING)
    # The last trial number handed out; bumped under the study's row lock.
    trial_counter: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every change to the study's trials, and stamped on the changed trial:
    # samplers cached in a process catch up by reading only trials with a newer stamp.
    change_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    trials: Mapped[list[Trial]] = relationship(
        back_populates="study", cascade="all, delete-orphan", passive_deletes=True
    )


class Trial(Base):
    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number"),
        Index("ix_trials_study_state", "study_id", "state"),
        Index("ix_trials_study_change_seq", "study_id", "change_seq"),
        Index("ix_trials_state_lease", "state", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[TrialState] = mapped_column(state_column(TrialState))
    vals: Mapped[dict[str, Any]]
    params: Mapped[dict[str, Any]]
    value: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts lost to an expired lease; a trial handed back on shutdown does not count.
    expirations: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(Integer)
    # Path of the best-epoch checkpoint in the server's artifact store, once uploaded.
    artifact: Mapped[str | None] = mapped_column(String(500))
    last_intermediate: Mapped[float | None] = mapped_column(Float)
    # Why the server's pruner said stop ("epoch 9: ... cut-off 0.931"), when it did.
    pruned_reason: Mapped[str | None] = mapped_column(Text)
    change_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    study: Mapped[Study] = relationship(back_populates="trials")


class TrialAttempt(Base):
    __tablename__ = "trial_attempts"
    __table_args__ = (UniqueConstraint("trial_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    outcome: Mapped[AttemptOutcome] = mapped_column(
        state_column(AttemptOutcome), default=AttemptOutcome.RUNNING
    )
    error: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the lease token handed out with this attempt (the token itself is never
    # stored), and the id of the bearer token that asked for it: every write must match both.
    lease_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    token_id: Mapped[int | None] = mapped_column(Integer)
    # This attempt's checkpoint: kept per attempt, so a late completer's upload neither
    # overwrites the running attempt's nor is lost.
    artifact: Mapped[str | None] = mapped_column(String(500))


class IntermediateValue(Base):
    __tablename__ = "intermediate_values"
    __table_args__ = (UniqueConstraint("trial_id", "attempt", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float)
    values: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RungEntry(Base):
    """A trial's value at one rung of an ASHA or Hyperband pruner (storage/rungs.py): one
    per trial and rung, whatever the attempt, so a retried attempt is not counted twice."""

    __tablename__ = "rung_entries"
    __table_args__ = (
        UniqueConstraint("trial_id", "epoch"),
        Index("ix_rung_entries_rung", "study_id", "bracket", "epoch"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    bracket: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    keep: Mapped[bool]
    # The trial's configuration (rungs.configuration_key of its vals): a rung counts each
    # configuration once, with the mean of its entries.
    configuration: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    gpu: Mapped[str | None] = mapped_column(String(64))
    builders: Mapped[list[str]]
    datasets: Mapped[list[str]]
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    current_trial_id: Mapped[int | None] = mapped_column(Integer)
    trials_done: Mapped[int] = mapped_column(Integer, default=0)
    trials_failed: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[WorkerState] = mapped_column(state_column(WorkerState), default=WorkerState.IDLE)
    # The bearer token that registered this worker: only it may lease or ask in its name.
    token_id: Mapped[int | None] = mapped_column(Integer)


class Finalization(Base):
    """A sealed test evaluation of a study's top trials: a job that workers lease."""

    __tablename__ = "finalizations"
    __table_args__ = (Index("ix_finalizations_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    state: Mapped[FinalizationState] = mapped_column(state_column(FinalizationState))
    top_k: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    rescore: Mapped[str] = mapped_column(String(16))
    candidates: Mapped[list[int]]  # trial ids, best validation value first
    requested_by: Mapped[str] = mapped_column(String(200))
    override: Mapped[bool] = mapped_column(default=False)
    worker_id: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None]
    report: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class TestAccess(Base):
    """Every use of a study's test split: who asked, who loaded it, for which trials."""

    __tablename__ = "test_accesses"
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    finalization_id: Mapped[int] = mapped_column(ForeignKey("finalizations.id", ondelete="CASCADE"))
    # requested (a user asked), loaded (a worker was handed the split)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    trial_numbers: Mapped[list[int]]
    override: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

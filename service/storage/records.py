"""Frozen records: what leaves the storage layer. Nothing outside storage sees a Session.

The copies of a row are pydantic models (`Row`): made by `model_validate(row,
from_attributes=True)` (storage/convert.py), which also turns a state column's enum member
into the plain string of the record's Literal. The others stay frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TrialState = Literal["queued", "running", "complete", "pruned", "failed"]
TRIAL_STATES: tuple[TrialState, ...] = ("queued", "running", "complete", "pruned", "failed")
PENDING_STATES: tuple[TrialState, ...] = ("queued", "running")
FINISHED_STATES: tuple[TrialState, ...] = ("complete", "pruned", "failed")
StudyState = Literal["running", "paused", "stopped", "complete"]
Role = Literal["viewer", "worker", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "worker": 1, "admin": 2}


@dataclass(frozen=True, slots=True)
class StudySpec:
    """Everything a user decides when creating a study (validated before it gets here)."""

    name: str
    direction: Literal["minimize", "maximize"]
    metric: str
    space: dict[str, Any]
    algorithm: str
    algorithm_settings: dict[str, Any]
    objective: dict[str, Any]
    seed: int
    max_trials: int
    max_parallel: int
    timeout_seconds: float | None
    target_value: float | None
    lease_seconds: float
    max_attempts: int
    pruner: dict[str, Any]
    max_epochs_total: int | None = None  # the budget in epochs trained, all trials together


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyRecord(StudySpec):
    """A stored study: its spec, and what became of it."""

    id: int
    state: StudyState
    trial_counter: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    best_value: float | None = None

    @property
    def sign(self) -> float:
        """Multiplies a value into a loss to minimize."""
        return 1.0 if self.direction == "minimize" else -1.0


class Row(BaseModel):
    """A frozen copy of a stored row (and what a lookup joined to it)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


class AttemptRecord(Row):
    attempt: int
    worker_id: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    error: str | None


class IntermediateRecord(Row):
    attempt: int
    step: int
    value: float | None
    values: dict[str, Any]
    created_at: datetime


class TrialRecord(Row):
    id: int
    study_id: int
    study_name: str
    number: int
    state: TrialState
    params: dict[str, Any]
    vals: dict[str, Any]
    value: float | None
    metrics: dict[str, Any]
    error: str | None
    attempt: int
    worker_id: str | None
    lease_expires_at: datetime | None
    last_step: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    artifact: str | None = None
    pruned_reason: str | None = None  # why the server's pruner stopped it, if it is pruned
    objective: dict[str, Any] = Field(default_factory=dict)
    attempts: tuple[AttemptRecord, ...] = ()
    intermediate: tuple[IntermediateRecord, ...] = ()
    # Only on a trial just handed out by ask/lease: the secret every write must carry.
    lease_token: str | None = Field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class FinishedTrial:
    """A result obtained elsewhere, imported into a study's history (warm start)."""

    vals: dict[str, Any]
    params: dict[str, Any]
    state: Literal["complete", "pruned", "failed"]
    value: float | None
    metrics: dict[str, Any] = field(default_factory=dict)


AskStatus = Literal["ok", "wait", "done", "paused", "stopped"]


@dataclass(frozen=True, slots=True)
class AskResult:
    status: AskStatus
    trial: TrialRecord | None = None
    reason: str = ""
    study: StudyRecord | None = None
    expired: LeaseExpiry = field(default_factory=lambda: LeaseExpiry())  # swept on this ask

    @property
    def lease_token(self) -> str | None:
        """The new attempt's lease token (shown once: only its hash is stored)."""
        return self.trial.lease_token if self.trial else None


@dataclass(frozen=True, slots=True)
class LeaseExpiry:
    """Running trials whose lease ran out: put back in the queue, or failed (out of attempts)."""

    requeued: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.requeued + self.failed

    def __add__(self, other: LeaseExpiry) -> LeaseExpiry:
        return LeaseExpiry(self.requeued + other.requeued, self.failed + other.failed)


@dataclass(frozen=True, slots=True)
class ReportResult:
    should_stop: bool
    reason: str = ""


class TokenRecord(Row):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class WorkerRecord(Row):
    id: str
    host: str
    pid: int | None
    gpu: str | None
    builders: list[str]
    datasets: list[str]
    registered_at: datetime
    last_seen_at: datetime
    current_trial_id: int | None
    trials_done: int
    trials_failed: int
    state: str
    token_id: int | None = None  # the bearer token that registered it


class TestAccessRecord(Row):
    __test__ = False  # not a pytest class

    kind: Literal["requested", "loaded"]
    actor: str
    finalization_id: int
    trial_numbers: list[int]
    override: bool
    created_at: datetime


class FinalizationRecord(Row):
    id: int
    study_name: str
    state: Literal["queued", "running", "complete", "failed"]
    top_k: int
    mode: str
    rescore: str
    requested_by: str
    override: bool
    worker_id: str | None
    report: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    candidates: tuple[TrialRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class StudyReport:
    """Everything known about a study's sealed test step."""

    latest: FinalizationRecord | None
    finalizations: list[FinalizationRecord]
    accesses: list[TestAccessRecord]
    test_uses: int

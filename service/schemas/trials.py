"""Trial bodies: reads, ask and lease, report, heartbeat, tell and release."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parzen.service.limits import (
    MAX_LIST_ITEMS,
    Count,
    Metrics,
    Name,
    Step,
    StepValues,
    Text,
    WorkerId,
)
from parzen.service.schemas.common import LeaseToken, Strict
from parzen.service.schemas.finalizations import EvaluationJob
from parzen.service.storage.records import AskStatus, TrialState


class AttemptPublic(BaseModel):
    attempt: int
    worker_id: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    error: str | None


class IntermediatePublic(BaseModel):
    attempt: int
    step: int
    value: float | None
    values: dict[str, Any]


class TrialPublic(BaseModel):
    id: int
    study: str
    number: int
    state: TrialState
    params: dict[str, Any]
    value: float | None
    metrics: dict[str, Any]
    error: str | None
    attempt: int
    worker_id: str | None
    lease_expires_at: datetime | None
    last_step: int | None
    artifact: str | None
    pruned_reason: str | None = Field(
        None, description="Why the server's pruner stopped the trial (pruned trials only)."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TrialDetail(TrialPublic):
    attempts: list[AttemptPublic]
    intermediate: list[IntermediatePublic]


class TrialsPublic(BaseModel):
    data: list[TrialPublic]
    count: int


class LeasedTrial(TrialPublic):
    """A trial handed to a worker: its parameters and what it needs to train them."""

    direction: str
    metric: str
    objective: dict[str, Any]
    lease_seconds: float
    lease_token: str = Field(
        description="Shown once: every report, heartbeat, tell, release and checkpoint upload "
        "of this attempt must carry it."
    )


class AskRequest(Strict):
    worker_id: WorkerId | None = None


class AskResponse(BaseModel):
    status: AskStatus = Field(
        description="ok: a trial; wait: ask again later; done: nothing left; paused/stopped."
    )
    reason: str = ""
    trial: LeasedTrial | None = None
    evaluation: EvaluationJob | None = None


class ReportRequest(Strict):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=True)  # NaN losses become null

    step: Step = Field(description="Epoch (or other step) the values belong to.")
    values: Annotated[StepValues, Field(description="Metrics of that step (Keras logs).")]
    lease_token: LeaseToken
    attempt: Count | None = Field(None, description="The attempt the reporter was handed.")


class HeartbeatRequest(Strict):
    lease_token: LeaseToken
    attempt: Count | None = None


class ReleaseRequest(Strict):
    lease_token: LeaseToken
    attempt: Count | None = Field(None, description="The attempt being handed back.")


class LeaseRequest(Strict):
    exclude: list[Name] = Field(
        default_factory=list,
        max_length=MAX_LIST_ITEMS,
        description="Studies this worker gave up on (repeated failures).",
    )


class ReportResponse(BaseModel):
    should_stop: bool
    reason: str = ""


class TellRequest(Strict):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=True)  # NaN: the trial failed

    state: Literal["complete", "pruned", "failed"]
    lease_token: LeaseToken
    attempt: Count | None = Field(None, description="The attempt the teller was handed.")
    value: float | None = None
    metrics: Metrics = Field(default_factory=dict)
    error: Text | None = None

"""Request and response bodies, named by role (StudyCreate, StudyPublic, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from parzen.service.limits import (
    MAX_GPU_LENGTH,
    MAX_HOST_LENGTH,
    MAX_LIST_ITEMS,
    Count,
    DbInt,
    JsonInt,
    JsonObject,
    Metrics,
    Name,
    SafeStr,
    Step,
    StepValues,
    Text,
    WorkerId,
)
from parzen.service.storage.records import AskStatus, Role, StudyState, TrialState
from parzen.service.study_checks import checked_algorithm, checked_pruner, checked_space

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"

# The secret an ask or lease hands out with a trial; every write to that trial carries it.
LeaseToken = Annotated[
    SafeStr,
    Field(min_length=1, max_length=100, description="The lease_token that ask or lease returned."),
]


class Strict(BaseModel):
    """A request body: unknown fields refused; no NaN or infinity (JSON cannot carry them,
    and the dashboard's plain JSON could not read them back)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Budget(Strict):
    max_trials: int = Field(100, ge=1, le=1_000_000, description="Trials to run in all.")
    max_parallel: int = Field(4, ge=1, le=10_000, description="Trials running at once.")
    timeout_seconds: float | None = Field(
        None, gt=0, description="Stop handing out trials this long after creation."
    )
    target_value: float | None = Field(
        None, description="Stop handing out trials once a complete trial reaches this value."
    )
    max_epochs_total: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="Stop handing out trials once this many epochs were trained in all.",
    )


class SplitSettings(Strict):
    seed: JsonInt = Field(0, description="Seed of the train / validation / test split.")
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    test_fraction: float = Field(0.2, gt=0, lt=1)


class ObjectiveSettings(Strict):
    """What a worker needs to train a trial. Optional for plain ask/tell users."""

    builder: Name | None = Field(None, description="Model builder installed on workers.")
    dataset: Name | None = Field(None, description="Dataset installed on workers.")
    max_epochs: int = Field(20, ge=1, le=100_000)
    batch_size: int = Field(32, ge=1, le=2**31 - 1)
    patience: int = Field(3, ge=0, le=100_000, description="EarlyStopping patience, in epochs.")
    min_delta: float = Field(0.0, ge=0, le=1e15)
    reduce_lr: bool = Field(False, description="ReduceLROnPlateau on the study's metric.")
    tensorboard: bool = Field(False, description="TensorBoard logs per trial.")
    split: SplitSettings = SplitSettings()


class StudyCreate(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    direction: Literal["minimize", "maximize"] = "minimize"
    metric: Name = Field("val_loss", min_length=1)
    space: JsonObject = Field(description="Search space; see the README for the format.")
    algorithm: Name = Field(
        "tpe-mv",
        description="tpe-mv (the default: multivariate TPE), tpe (hyperopt's) or random.",
    )
    algorithm_settings: JsonObject = Field(default_factory=dict, validate_default=True)
    objective: ObjectiveSettings = ObjectiveSettings()  # before the pruner: its max_epochs
    pruner: JsonObject | None = Field(
        None,
        validate_default=True,
        description='none, {"type": "median", "n_startup_trials": 5, "n_warmup_steps": 2}, '
        '{"type": "asha", "min_epochs": 1, "reduction_factor": 3, "max_epochs": ...} or '
        '{"type": "hyperband", ...} (max_epochs defaults to the objective\'s).',
    )
    seed: int | None = Field(None, ge=0, lt=2**31, description="Random if not given.")
    budget: Budget = Budget()
    lease_seconds: float | None = Field(None, gt=0, le=86_400)
    max_attempts: int | None = Field(None, ge=1, le=100)

    # Each check runs even when another field failed, so one 422 names every problem; a
    # check whose input failed its own validation is skipped (that failure is listed).
    @field_validator("space")
    @classmethod
    def _space(cls, space: dict[str, Any]) -> dict[str, Any]:
        return checked_space(space)

    @field_validator("algorithm_settings")
    @classmethod
    def _algorithm(cls, settings: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "algorithm" not in info.data:
            return settings
        return checked_algorithm(info.data["algorithm"], settings)

    @field_validator("pruner")
    @classmethod
    def _pruner(cls, pruner: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any]:
        if "objective" not in info.data:
            return pruner or {}
        return checked_pruner(pruner, info.data["objective"].max_epochs)


class StudyPublic(BaseModel):
    id: int
    name: str
    state: StudyState
    direction: str
    metric: str
    space: dict[str, Any]
    algorithm: str
    algorithm_settings: dict[str, Any]
    pruner: dict[str, Any]
    objective: dict[str, Any]
    seed: int
    budget: Budget
    lease_seconds: float
    max_attempts: int
    trials_created: int
    counts: dict[str, int]
    best_value: float | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class StudiesPublic(BaseModel):
    data: list[StudyPublic]
    count: int


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


class TokenCreate(Strict):
    role: Role
    name: Name = ""


class TokenPublic(BaseModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="Shown once: only its hash is stored.")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class WorkerRegister(Strict):
    host: SafeStr = Field(max_length=MAX_HOST_LENGTH)
    pid: DbInt | None = None
    gpu: SafeStr | None = Field(None, max_length=MAX_GPU_LENGTH)
    builders: list[Name] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    datasets: list[Name] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)


class WorkerPublic(BaseModel):
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


class WorkersPublic(BaseModel):
    data: list[WorkerPublic]
    count: int


class FinalizeRequest(Strict):
    top_k: int = Field(5, ge=1, le=50, description="Candidates: the best by validation.")
    mode: Literal["checkpoint", "retrain"] = Field(
        "checkpoint",
        description="Evaluate each candidate's best-epoch checkpoint, or retrain it on "
        "train+validation for its best epoch count.",
    )
    rescore: Literal["auto", "kfold", "none"] = Field(
        "auto",
        description="Re-score the candidates by k-fold before the pick (against the winner's "
        "curse); auto = when the validation split has fewer than 1,000 rows.",
    )
    override: bool = Field(False, description="Use the test split past its budget (audited).")


class FinalizationPublic(BaseModel):
    id: int
    study: str
    state: str
    top_k: int
    mode: str
    rescore: str
    requested_by: str
    override: bool
    worker_id: str | None
    candidates: list[int] = Field(description="Trial numbers, best validation value first.")
    report: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class TestAccessPublic(BaseModel):
    __test__ = False  # not a pytest class

    kind: str
    actor: str
    finalization_id: int
    trial_numbers: list[int]
    override: bool
    created_at: datetime


class StudyReportPublic(BaseModel):
    study: str
    report: dict[str, Any] | None = Field(description="Of the latest complete finalization.")
    test_uses: int
    test_budget: int
    finalizations: list[FinalizationPublic]
    accesses: list[TestAccessPublic]


class EvaluationJob(BaseModel):
    """A finalization handed to a worker: the candidates and how to evaluate them."""

    id: int
    study: str
    mode: str
    rescore: str
    metric: str
    direction: str
    objective: dict[str, Any]
    lease_seconds: float
    candidates: list[dict[str, Any]]


class FinishRequest(Strict):
    report: JsonObject | None = None
    error: Text | None = None


AskResponse.model_rebuild()

"""Study bodies: StudyCreate (its checks in service/study_checks.py), StudyPublic."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from parzen.service.limits import JsonInt, JsonObject, Name
from parzen.service.schemas.common import NAME_PATTERN, Strict
from parzen.service.storage.records import StudyState
from parzen.service.study_checks import checked_algorithm, checked_pruner, checked_space


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

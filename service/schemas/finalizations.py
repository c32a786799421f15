"""Finalization bodies: the request, its record, the test report, the job a worker evaluates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from parzen.service.limits import JsonObject, Text
from parzen.service.schemas.common import Strict


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

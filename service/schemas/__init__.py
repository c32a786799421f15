"""Request and response bodies, named by role (StudyCreate, StudyPublic, ...), one module per
resource; every name is re-exported here, so callers import from parzen.service.schemas."""

from __future__ import annotations

from parzen.service.schemas.access import (
    TokenCreate,
    TokenCreated,
    TokenPublic,
    TokensPublic,
    WorkerPublic,
    WorkerRegister,
    WorkersPublic,
)
from parzen.service.schemas.common import (
    NAME_PATTERN,
    LeaseToken,
    Strict,
)
from parzen.service.schemas.finalizations import (
    EvaluationJob,
    FinalizationPublic,
    FinalizeRequest,
    FinishRequest,
    StudyReportPublic,
    TestAccessPublic,
)
from parzen.service.schemas.studies import (
    Budget,
    ObjectiveSettings,
    SplitSettings,
    StudiesPublic,
    StudyCreate,
    StudyPublic,
)
from parzen.service.schemas.trials import (
    AskRequest,
    AskResponse,
    AttemptPublic,
    HeartbeatRequest,
    IntermediatePublic,
    LeasedTrial,
    LeaseRequest,
    ReleaseRequest,
    ReportRequest,
    ReportResponse,
    TellRequest,
    TrialDetail,
    TrialPublic,
    TrialsPublic,
)

__all__ = [
    "NAME_PATTERN",
    "AskRequest",
    "AskResponse",
    "AttemptPublic",
    "Budget",
    "EvaluationJob",
    "FinalizationPublic",
    "FinalizeRequest",
    "FinishRequest",
    "HeartbeatRequest",
    "IntermediatePublic",
    "LeaseRequest",
    "LeaseToken",
    "LeasedTrial",
    "ObjectiveSettings",
    "ReleaseRequest",
    "ReportRequest",
    "ReportResponse",
    "SplitSettings",
    "Strict",
    "StudiesPublic",
    "StudyCreate",
    "StudyPublic",
    "StudyReportPublic",
    "TellRequest",
    "TestAccessPublic",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "TokensPublic",
    "TrialDetail",
    "TrialPublic",
    "TrialsPublic",
    "WorkerPublic",
    "WorkerRegister",
    "WorkersPublic",
]

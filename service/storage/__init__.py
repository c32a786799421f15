"""The only code that writes queries. Everything outside gets frozen records."""

from parzen.service.storage.dashboard import DashboardStore
from parzen.service.storage.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StorageError,
    StorageUnavailable,
)
from parzen.service.storage.finalizations import FinalizationStore, TestBudgetError
from parzen.service.storage.health import DatabaseUnreachable, FleetCounts, HealthStore
from parzen.service.storage.leases import AttemptArtifactStore
from parzen.service.storage.proposing import Proposer
from parzen.service.storage.records import (
    AskResult,
    FinishedTrial,
    ReportResult,
    StudyRecord,
    StudySpec,
    TokenRecord,
    TrialRecord,
    WorkerRecord,
)
from parzen.service.storage.studies import StudyStore
from parzen.service.storage.sweeps import SweepStore
from parzen.service.storage.tokens import TokenStore, hash_token
from parzen.service.storage.trials import TrialStore
from parzen.service.storage.workers import WorkerStore


class Storage(
    SweepStore,
    StudyStore,
    TrialStore,
    TokenStore,
    WorkerStore,
    FinalizationStore,
    DashboardStore,
    HealthStore,
    AttemptArtifactStore,
):
    """Studies, trials, tokens and workers over one SQLAlchemy engine."""


__all__ = [
    "AskResult",
    "ConflictError",
    "DatabaseUnreachable",
    "FinishedTrial",
    "FleetCounts",
    "ForbiddenError",
    "NotFoundError",
    "Proposer",
    "ReportResult",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "StudyRecord",
    "StudySpec",
    "TestBudgetError",
    "TokenRecord",
    "TrialRecord",
    "WorkerRecord",
    "hash_token",
]

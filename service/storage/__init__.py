"""The only code that writes queries. Everything outside gets frozen records."""

from service.storage.dashboard import DashboardStore
from service.storage.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StorageError,
    StorageUnavailable,
)
from service.storage.finalizations import FinalizationStore, TestBudgetError
from service.storage.health import DatabaseUnreachable, FleetCounts, HealthStore
from service.storage.leases import AttemptArtifactStore
from service.storage.proposing import Proposer
from service.storage.records import (
    AskResult,
    FinishedTrial,
    ReportResult,
    StudyRecord,
    StudySpec,
    TokenRecord,
    TrialRecord,
    WorkerRecord,
)
from service.storage.studies import StudyStore
from service.storage.sweeps import SweepStore
from service.storage.tokens import TokenStore, hash_token
from service.storage.trials import TrialStore
from service.storage.workers import WorkerStore


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

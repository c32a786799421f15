"""The only code that writes queries. Everything outside gets frozen records."""

from service.storage.dashboard import DashboardStore
from service.storage.errors import ConflictError, NotFoundError, StorageError
from service.storage.finalizations import FinalizationStore, TestBudgetError
from service.storage.health import DatabaseUnreachable, FleetCounts, HealthStore
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
from service.storage.tokens import TokenStore, hash_token
from service.storage.trials import Proposer, TrialStore
from service.storage.workers import WorkerStore


class Storage(
    StudyStore,
    TrialStore,
    TokenStore,
    WorkerStore,
    FinalizationStore,
    DashboardStore,
    HealthStore,
):
    """Studies, trials, tokens and workers over one SQLAlchemy engine."""


__all__ = [
    "AskResult",
    "ConflictError",
    "DatabaseUnreachable",
    "FinishedTrial",
    "FleetCounts",
    "NotFoundError",
    "Proposer",
    "ReportResult",
    "Storage",
    "StorageError",
    "StudyRecord",
    "StudySpec",
    "TestBudgetError",
    "TokenRecord",
    "TrialRecord",
    "WorkerRecord",
    "hash_token",
]

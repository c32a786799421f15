"""The only code that writes queries. Everything outside gets frozen records."""

from service.storage.dashboard import DashboardStore
from service.storage.errors import (
    ConflictError,
    NotFoundError,
    StorageError,
    StorageUnavailable,
)
from service.storage.finalizations import FinalizationStore, TestBudgetError
from service.storage.leases import LeaseStore
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
from service.storage.tokens import TokenStore, hash_token
from service.storage.trials import TrialStore
from service.storage.workers import WorkerStore


class Storage(
    LeaseStore, StudyStore, TrialStore, TokenStore, WorkerStore, FinalizationStore, DashboardStore
):
    """Studies, trials, tokens and workers over one SQLAlchemy engine."""


__all__ = [
    "AskResult",
    "ConflictError",
    "FinishedTrial",
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

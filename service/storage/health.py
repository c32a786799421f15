"""What /readyz and /metrics read: the schema revision, and counts taken at scrape time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from parzen.service.db.base import utcnow
from parzen.service.db.models import Study, TestAccess, Trial, Worker
from parzen.service.storage.base import StorageCore
from parzen.service.storage.errors import StorageError


class DatabaseUnreachable(StorageError):
    """The database did not answer (down, refused, wrong URL)."""


@dataclass(frozen=True, slots=True)
class FleetCounts:
    """Counts every server process reads alike from the database."""

    trials: dict[tuple[str, str], int] = field(default_factory=dict)  # (study, state)
    workers_seen: dict[str, int] = field(default_factory=dict)  # worker state
    test_split_uses: dict[str, int] = field(default_factory=dict)  # study


class HealthStore(StorageCore):
    def schema_revision(self) -> str | None:
        """The database's Alembic revision (None: never migrated). Raises
        DatabaseUnreachable when the database does not answer."""
        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            raise DatabaseUnreachable(f"database unreachable: {_first_line(exc)}") from exc

    def fleet_counts(self, *, seen_within_seconds: float) -> FleetCounts:
        since = utcnow() - timedelta(seconds=seen_within_seconds)
        try:
            return _fleet_counts(self, since)
        except SQLAlchemyError as exc:
            raise DatabaseUnreachable(f"database unreachable: {_first_line(exc)}") from exc


def _fleet_counts(store: StorageCore, since: datetime) -> FleetCounts:
    with store.session() as session:
        trials = session.execute(
            select(Study.name, Trial.state, func.count(Trial.id))
            .join(Trial, Trial.study_id == Study.id)
            .group_by(Study.name, Trial.state)
        ).all()
        workers = session.execute(
            select(Worker.state, func.count(Worker.id))
            # A worker deep in a long epoch is silent, yet its lease vouches for it.
            .where((Worker.last_seen_at >= since) | Worker.current_trial_id.is_not(None))
            .group_by(Worker.state)
        ).all()
        # A use is one finalization that loaded the split (as the study report counts).
        uses = session.execute(
            select(Study.name, func.count(func.distinct(TestAccess.finalization_id)))
            .join(TestAccess, TestAccess.study_id == Study.id)
            .where(TestAccess.kind == "loaded")
            .group_by(Study.name)
        ).all()
    return FleetCounts(
        trials={(name, state): n for name, state, n in trials},
        workers_seen={state: n for state, n in workers},
        test_split_uses={name: n for name, n in uses},
    )


def _first_line(exc: SQLAlchemyError) -> str:
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]

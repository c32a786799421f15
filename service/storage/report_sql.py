"""The report path in Core statements: the write every busy worker sends once an epoch.

A report or heartbeat is the most frequent request a fleet sends, so it is kept to the
statements it needs and sent on the session's connection as Core (no ORM identity map, no
bulk-update synchronization): one read of the trial, its study and the attempt its lease
token names; the lease renewal; the epoch's metrics (a heartbeat has none). The worker's
`last_seen_at` is written at most once a second (`SEEN_EVERY`): a worker that reports every
few hundred milliseconds is no more alive for being told so each time.

The statements are built once, at import, with `bindparam` placeholders, and executed with
the request's values as parameters (SQLAlchemy's "compiled cache" idiom): building a
statement's Python objects and its cache key on every call was half a report's CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from parzen.service.db.models import IntermediateValue, Study, Trial, TrialAttempt, Worker

SEEN_EVERY = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class HeldAttempt:
    """The attempt a lease token names, as the holder checks read it (leases.AttemptView)."""

    trial_id: int
    attempt: int
    token_id: int | None
    outcome: str
    error: str | None
    worker_id: str | None
    worker_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """A trial as a report (or a tell) sees it: its state, its study's settings, the named
    attempt."""

    state: str
    current: int  # the attempt running the trial
    number: int
    worker_id: str | None  # the worker running the trial
    last_intermediate: float | None
    study_id: int
    study_name: str
    metric: str
    direction: str
    lease_seconds: float
    pruner: dict[str, Any]
    objective: dict[str, Any]
    held: HeldAttempt | None  # None: the lease token names no attempt of this trial


_TARGET = (
    select(
        Trial.state,
        Trial.attempt,
        Trial.number,
        Trial.worker_id.label("trial_worker_id"),
        Trial.last_intermediate,
        Study.id,
        Study.name,
        Study.metric,
        Study.direction,
        Study.lease_seconds,
        Study.pruner,
        Study.objective,
        TrialAttempt.attempt.label("held_attempt"),
        TrialAttempt.token_id,
        TrialAttempt.outcome,
        TrialAttempt.error,
        TrialAttempt.worker_id,
        Worker.last_seen_at,
    )
    .select_from(Trial)
    .join(Study, Study.id == Trial.study_id)
    .outerjoin(
        TrialAttempt,
        and_(
            TrialAttempt.trial_id == Trial.id,
            TrialAttempt.lease_token_hash == bindparam("lease_hash"),
        ),
    )
    .outerjoin(Worker, Worker.id == TrialAttempt.worker_id)
    .where(Trial.id == bindparam("trial_id"))
)


def read_target(conn: Connection, trial_id: int, lease_hash: str) -> ReportTarget | None:
    """The trial (None if there is none), its study and the attempt with this token's hash:
    one statement, the outer joins keeping the trial when the token names nothing."""
    row = conn.execute(_TARGET, {"trial_id": trial_id, "lease_hash": lease_hash}).one_or_none()
    if row is None:
        return None
    held = None
    if row.held_attempt is not None:
        held = HeldAttempt(
            trial_id=trial_id,
            attempt=row.held_attempt,
            token_id=row.token_id,
            outcome=row.outcome,
            error=row.error,
            worker_id=row.worker_id,
            worker_seen_at=row.last_seen_at,
        )
    return ReportTarget(
        state=row.state,
        current=row.attempt,
        number=row.number,
        worker_id=row.trial_worker_id,
        last_intermediate=row.last_intermediate,
        study_id=row.id,
        study_name=row.name,
        metric=row.metric,
        direction=row.direction,
        lease_seconds=row.lease_seconds,
        pruner=row.pruner,
        objective=row.objective,
        held=held,
    )


def see_worker(conn: Connection, held: HeldAttempt, now: datetime) -> datetime | None:
    """A busy worker counts as seen while it reports (at most one write per SEEN_EVERY):
    when it was last seen, now that this report has seen it (None: no worker named)."""
    if held.worker_id is None:
        return None
    if held.worker_seen_at is not None and now - held.worker_seen_at < SEEN_EVERY:
        return held.worker_seen_at
    conn.execute(update(Worker).where(Worker.id == held.worker_id).values(last_seen_at=now))
    return now


# The SET clause comes from the parameters' keys (a heartbeat sets the lease only, a report
# its step too); the WHERE clause's placeholders are named apart from the columns.
_RENEW = update(Trial).where(
    Trial.id == bindparam("w_trial_id"),
    Trial.state == "running",
    Trial.attempt == bindparam("w_attempt"),
)


def renew(conn: Connection, trial_id: int, attempt: int, changes: dict[str, Any]) -> bool:
    """Apply `changes` (the new lease end, the last step) if `attempt` still runs the trial."""
    updated = conn.execute(_RENEW, {"w_trial_id": trial_id, "w_attempt": attempt, **changes})
    return bool(updated.rowcount)


def current_state(conn: Connection, trial_id: int) -> tuple[str, int]:
    """The trial's state and current attempt, re-read after a renewal found it moved on."""
    state, attempt = conn.execute(
        select(Trial.state, Trial.attempt).where(Trial.id == trial_id)
    ).one()
    return state, attempt


def held_again(conn: Connection, held: HeldAttempt) -> HeldAttempt:
    """The same attempt re-read (its outcome may have changed since `read_target`)."""
    outcome, error = conn.execute(
        select(TrialAttempt.outcome, TrialAttempt.error).where(
            TrialAttempt.trial_id == held.trial_id, TrialAttempt.attempt == held.attempt
        )
    ).one()
    return replace(held, outcome=outcome, error=error)


def _upsert(dialect_insert: Any) -> Any:
    stmt = dialect_insert(IntermediateValue)
    return stmt.on_conflict_do_update(
        index_elements=["trial_id", "attempt", "step"],
        set_={"value": stmt.excluded.value, "values": stmt.excluded["values"]},
    )


_UPSERT = {True: _upsert(pg_insert), False: _upsert(sqlite_insert)}  # by "is PostgreSQL"


def upsert_intermediate(
    conn: Connection,
    *,
    postgres: bool,
    trial_id: int,
    attempt: int,
    step: int,
    value: float | None,
    values: dict[str, Any],
    now: datetime,
) -> None:
    """The epoch's metrics; a step reported again (a retried request) replaces its values."""
    conn.execute(
        _UPSERT[postgres],
        {
            "trial_id": trial_id,
            "attempt": attempt,
            "step": step,
            "value": value,
            "values": values,
            "created_at": now,
        },
    )

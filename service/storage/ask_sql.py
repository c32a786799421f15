"""What an ask reads under its study's lock, in one statement, and how it writes a new trial.

Before it leases or creates a trial, an ask needs the study's running and queued trials,
whether any running one's lease has run out, whether a finalization holds the study, and,
when it names a worker, whether that worker is registered and with which bearer token. These
were four round trips (the expired leases, the pending counts, the finalization, and the
worker in a transaction of its own before the ask's); they are one SELECT of scalar
subqueries now, each answered from an index (trials by study and state, finalizations by
state, workers by id). Built once with `bindparam` placeholders, as in report_sql.py.

A new trial is three writes, four when the ask names a worker: the trial, the study's
trial counter, the trial's first attempt, the worker now busy. On PostgreSQL they are one
statement (data-modifying CTEs: the attempt and the worker take the trial's id from its
RETURNING), two or three round trips fewer for every ask that creates a trial; on SQLite,
which has no such CTEs and no network between it and the server, they stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ScalarSelect, bindparam, func, insert, select, update

from parzen.service.db.models import (
    AttemptOutcome,
    Finalization,
    Study,
    Trial,
    TrialAttempt,
    Worker,
)
from parzen.service.storage.leases import insert_attempt


@dataclass(frozen=True, slots=True)
class AskState:
    running: int
    queued: int
    expired: int  # running trials whose lease ran out (the ask expires them first)
    finalizing: bool
    worker_registered: bool  # the worker the ask names is registered
    worker_token_id: int | None  # the bearer token that registered it

    @property
    def pending(self) -> int:
        return self.running + self.queued


def _trials(*where: Any) -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(Trial)
        .where(Trial.study_id == bindparam("w_study_id"), *where)
        .scalar_subquery()
    )


_WORKER = Worker.id == bindparam("w_worker_id")
_ASK_STATE = select(
    _trials(Trial.state == "running").label("running"),
    _trials(Trial.state == "queued").label("queued"),
    _trials(Trial.state == "running", Trial.lease_expires_at < bindparam("w_now")).label("expired"),
    select(Finalization.id)
    .where(
        Finalization.study_id == bindparam("w_study_id"),
        Finalization.state.in_(("queued", "running")),
    )
    .exists()
    .label("finalizing"),
    select(Worker.id).where(_WORKER).exists().label("worker_registered"),
    select(Worker.token_id).where(_WORKER).scalar_subquery().label("worker_token_id"),
)


def ask_state(conn: Connection, study_id: int, worker_id: str | None, now: datetime) -> AskState:
    row = conn.execute(
        _ASK_STATE, {"w_study_id": study_id, "w_worker_id": worker_id, "w_now": now}
    ).one()
    return AskState(
        running=row.running,
        queued=row.queued,
        expired=row.expired,
        finalizing=bool(row.finalizing),
        worker_registered=bool(row.worker_registered),
        worker_token_id=row.worker_token_id,
    )


# The new trial's columns: what `insert_new_trial` is given.
NEW_TRIAL_COLUMNS = (
    "study_id",
    "number",
    "state",
    "vals",
    "params",
    "metrics",
    "attempt",
    "expirations",
    "worker_id",
    "lease_expires_at",
    "change_seq",
    "created_at",
    "started_at",
)
# The placeholders are named apart from every column (t_, a_, w_): SQLAlchemy turns an
# execution's parameters named after a column into that column's value.
_INSERT_TRIAL = insert(Trial).returning(Trial.id)  # the values come as parameters
_COUNTER = (
    update(Study)
    .where(Study.id == bindparam("w_study_id"))
    .values(trial_counter=bindparam("w_number"))
)
_BUSY = (
    update(Worker)
    .where(Worker.id == bindparam("w_worker_id"))
    .values(current_trial_id=bindparam("w_trial_id"), state="busy", last_seen_at=bindparam("w_now"))
)


def mark_busy(conn: Connection, worker_id: str, trial_id: int, now: datetime) -> None:
    """The worker (a registered one; an unregistered id matches no row) now runs the trial."""
    conn.execute(_BUSY, {"w_worker_id": worker_id, "w_trial_id": trial_id, "w_now": now})


def _new_trial_in_one() -> Any:
    """WITH counter AS (UPDATE studies ...), new_trial AS (INSERT INTO trials ... RETURNING
    id), busy AS (UPDATE workers ... WHERE id = the trial's worker) INSERT INTO
    trial_attempts SELECT new_trial.id, ... RETURNING trial_id. With no worker named, the
    worker's UPDATE matches no row."""
    trial = (
        insert(Trial)
        .values({name: bindparam(f"t_{name}") for name in NEW_TRIAL_COLUMNS})
        .returning(Trial.id)
        .cte("new_trial")
    )
    attempt = select(
        trial.c.id,
        bindparam("t_attempt", type_=TrialAttempt.attempt.type),
        bindparam("t_worker_id", type_=TrialAttempt.worker_id.type),
        bindparam("t_started_at", type_=TrialAttempt.started_at.type),
        bindparam("a_outcome", AttemptOutcome.RUNNING, type_=TrialAttempt.outcome.type),
        bindparam("a_lease_token_hash", type_=TrialAttempt.lease_token_hash.type),
        bindparam("a_token_id", type_=TrialAttempt.token_id.type),
    )
    busy = (
        update(Worker)
        .where(Worker.id == bindparam("t_worker_id"))
        .values(
            current_trial_id=select(trial.c.id).scalar_subquery(),
            state="busy",
            last_seen_at=bindparam("t_started_at"),
        )
    )
    columns = ["trial_id", "attempt", "worker_id", "started_at", "outcome"]
    return (
        insert(TrialAttempt)
        .from_select([*columns, "lease_token_hash", "token_id"], attempt)
        .add_cte(_COUNTER.cte("counter"), busy.cte("busy"))
        .returning(TrialAttempt.trial_id)
    )


_NEW_TRIAL_IN_ONE = _new_trial_in_one()
_IN_ONE_NAMES = tuple((f"t_{name}", name) for name in NEW_TRIAL_COLUMNS)


def insert_new_trial(
    conn: Connection, row: dict[str, Any], *, lease_token_hash: str, token_id: int | None
) -> int:
    """Insert a study's next trial (`row`: NEW_TRIAL_COLUMNS, running), set the study's trial
    counter to its number, start its first attempt and mark its worker busy; the trial's id.
    The caller holds the study's lock."""
    counter = {"w_study_id": row["study_id"], "w_number": row["number"]}
    if conn.dialect.name == "postgresql":
        params = {placeholder: row[name] for placeholder, name in _IN_ONE_NAMES}
        attempt = {"a_lease_token_hash": lease_token_hash, "a_token_id": token_id}
        return int(conn.execute(_NEW_TRIAL_IN_ONE, {**params, **counter, **attempt}).scalar_one())
    trial_id = int(conn.execute(_INSERT_TRIAL, row).scalar_one())
    conn.execute(_COUNTER, counter)
    insert_attempt(
        conn,
        trial_id=trial_id,
        attempt=row["attempt"],
        worker_id=row["worker_id"],
        lease_token_hash=lease_token_hash,
        token_id=token_id,
        started_at=row["started_at"],
    )
    if row["worker_id"] is not None:
        mark_busy(conn, row["worker_id"], trial_id, row["started_at"])
    return trial_id

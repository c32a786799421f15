"""What an ask reads under its study's lock, in one statement.

Before it leases or creates a trial, an ask needs the study's running and queued trials,
whether any running one's lease has run out, whether a finalization holds the study, and,
when it names a worker, whether that worker is registered and with which bearer token. These
were four round trips (the expired leases, the pending counts, the finalization, and the
worker in a transaction of its own before the ask's); they are one SELECT of scalar
subqueries now, each answered from an index (trials by study and state, finalizations by
state, workers by id). Built once with `bindparam` placeholders, as in report_sql.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ScalarSelect, bindparam, func, select

from parzen.service.db.models import Finalization, Trial, Worker


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

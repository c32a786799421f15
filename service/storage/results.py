"""Results: the tell and imported trials (a step's report is in reporting.py).

A repeated tell is harmless: the first full result wins (see leases.py for late ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.orm import Session

from parzen.service.db.base import utcnow
from parzen.service.db.models import Study, Trial, TrialAttempt
from parzen.service.storage import report_sql
from parzen.service.storage.attempts import count_for_worker, end_attempt
from parzen.service.storage.base import (
    LockedStudy,
    lock_study,
    lock_trials_study,
)
from parzen.service.storage.convert import trial_record
from parzen.service.storage.errors import ConflictError
from parzen.service.storage.leases import (
    FINISHED,
    AttemptView,
    LateComplete,
    check_holder,
    complete_late,
    hash_lease,
    may_complete_late,
    not_current,
)
from parzen.service.storage.lookups import no_trial, study_id_by_name
from parzen.service.storage.reads import detailed, finite_json, told
from parzen.service.storage.records import FinishedTrial, TrialRecord
from parzen.service.storage.reporting import KnownAttempt, ReportStore

TellState = Literal["complete", "pruned", "failed"]
ANALYZE_AFTER_IMPORT = 1000  # imported trials past which PostgreSQL's statistics are refreshed


# The current attempt's result (its SET clause comes from the parameters' keys), returning
# the row the tell's answer is built from.
_FINISH = (
    update(Trial)
    .where(
        Trial.id == bindparam("w_trial_id"),
        Trial.state == "running",
        Trial.attempt == bindparam("w_attempt"),
    )
    .returning(*Trial.__table__.columns)
)


def _finish(
    conn: Connection,
    trial_id: int,
    attempt: int,
    locked: LockedStudy,
    result: dict[str, Any],
    now: datetime,
) -> Row[Any] | None:
    """The result of `attempt` if it still runs its trial (None if not), RETURNING the row."""
    return conn.execute(
        _FINISH,
        {
            "w_trial_id": trial_id,
            "w_attempt": attempt,
            **result,
            "finished_at": now,
            "lease_expires_at": None,
            "change_seq": locked.stamp,
        },
    ).one_or_none()


class ResultStore(ReportStore):
    def tell(
        self,
        *,
        trial_id: int,
        lease_token: str,
        state: TellState,
        value: float | None = None,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
        attempt: int | None = None,
        token_id: int | None = None,
    ) -> TrialRecord:
        """Finish the attempt this lease token names. The first full result wins; an expired
        attempt's complete is kept as its own (see leases.py), anything else from an attempt
        that is no longer current is refused.

        The tell of the attempt running its trial, nearly every tell, is Core statements on
        the session's connection: the study's lock (which also says whether its budget is
        handed out), the report's joined read of the trial and the attempt (skipped for an
        attempt this process knows from its reports: reporting.py), the result RETURNING the
        row the answer is built from, the attempt's end, the worker's count; and the study's
        completion only once its whole budget is handed out."""
        state, value, error = _sanitize_tell(state, value, error)
        now = utcnow()
        key = (trial_id, hash_lease(lease_token), token_id, attempt)
        result = {"state": state, "value": value, "metrics": finite_json(metrics or {})}
        with self.session() as session:
            conn = session.connection()
            locked = lock_trials_study(session, trial_id)
            # An attempt that reported is known: then the result's write finds out whether it
            # still runs the trial (a pruned trial without a value takes its last one below).
            known = self.known_attempts.forget(key)
            if known is not None and not (state == "pruned" and value is None):
                row = _finish(conn, trial_id, known.attempt, locked, result | {"error": error}, now)
                if row is not None:
                    return self._finished(session, row, known, locked, now)
            target = report_sql.read_target(conn, trial_id, key[1])
            if target is None:  # its study is locked: the trial cannot have gone since
                raise no_trial(trial_id)
            held = check_holder(target.held, trial_id=trial_id, token_id=token_id, attempt=attempt)
            if held.outcome != "running":  # a repeat, a late result, or a refusal
                return _tell_not_running(session, held, state, value, metrics, locked)
            if state == "pruned" and value is None:
                result["value"] = target.last_intermediate
            # The answer is this transaction's own write: once it commits, nothing is left to
            # fail, so an error answer always means nothing was applied.
            row = _finish(conn, trial_id, held.attempt, locked, result | {"error": error}, now)
            if row is None:  # cannot be: under the study's lock a running attempt stays so
                raise RuntimeError(f"attempt {held.attempt} of trial {trial_id} stopped running")
            return self._finished(session, row, KnownAttempt.of(target, held), locked, now)

    @staticmethod
    def _finished(
        session: Session, row: Row[Any], known: KnownAttempt, locked: LockedStudy, now: datetime
    ) -> TrialRecord:
        """After the result's write: the attempt's end, the worker's count, the study's
        completion once its budget is handed out; the answer, from the row written."""
        end_attempt(session, known.trial_id, known.attempt, row.state, now, row.error)
        if known.worker_id is not None:
            count_for_worker(
                session, known.worker_id, known.trial_id, now, failed=row.state == "failed"
            )
        if locked.spent:
            _complete_if_spent(session, locked.id, now)
        return trial_record(row, study_name=known.study_name, objective=known.objective)

    def add_trials(self, *, study_name: str, trials: Sequence[FinishedTrial]) -> list[int]:
        """Append finished trials to a study's history; they count toward max_trials.

        Values are checked like told ones (a non-finite value fails the trial)."""
        now = utcnow()
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            stamp = lock_study(session, study_id)
            study = session.get_one(Study, study_id, populate_existing=True)
            first = study.trial_counter + 1
            rows = []
            for number, finished in enumerate(trials, start=first):
                state, value, error = _sanitize_tell(finished.state, finished.value, None)
                rows.append(
                    {
                        "study_id": study_id,
                        "number": number,
                        "state": state,
                        "vals": finished.vals,
                        "params": finished.params,
                        "value": value,
                        "metrics": finite_json(finished.metrics),
                        "error": error,
                        "attempt": 0,
                        "expirations": 0,
                        "change_seq": stamp,
                        "created_at": now,
                        "finished_at": now,
                    }
                )
            if rows:
                session.execute(insert(Trial), rows)
            study.trial_counter = first + len(rows) - 1
            session.flush()
            # Imported trials spend the budget like asked ones: with nothing pending, a
            # spent study is complete (no worker's ask would ever say so).
            _complete_if_spent(session, study_id, now)
        if self.is_postgres and len(rows) >= ANALYZE_AFTER_IMPORT:
            self._analyze_trials()
        return list(range(first, first + len(rows)))

    def _analyze_trials(self) -> None:
        """PostgreSQL's planner statistics of the trials table, refreshed now rather than at
        autovacuum's next pass (up to a minute away): psycopg prepares a statement on its
        fifth use, and a plan made while the study was small (a sequential scan of the
        unseen history, 1.6 ms a read at 10,000 trials against 0.6 ms) stays until the
        statistics change. ANALYZE runs outside the import's transaction, on a sample."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE trials")
            conn.commit()


def _tell_not_running(
    session: Session,
    held: AttemptView,
    state: TellState,
    value: float | None,
    metrics: dict[str, Any] | None,
    locked: LockedStudy,
) -> TrialRecord:
    """A tell from an attempt that no longer runs its trial (the caller holds the study's
    lock): the same result again is answered as it was; an expired attempt's complete is
    kept as its own when no result came first (leases.py); anything else is refused."""
    if held.outcome in FINISHED:
        return _repeated_tell(session, held.trial_id, state, value)
    trial = session.get_one(Trial, held.trial_id, populate_existing=True)
    if state == "complete" and value is not None:
        attempt = session.scalars(
            select(TrialAttempt).where(
                TrialAttempt.trial_id == held.trial_id, TrialAttempt.attempt == held.attempt
            )
        ).one()
        if may_complete_late(session, trial, attempt):
            now = utcnow()
            late = LateComplete(value, finite_json(metrics or {}), locked.stamp, now)
            complete_late(session, trial, attempt, late)
            _complete_if_spent(session, locked.id, now)
            return told(session, held.trial_id)
    raise not_current(held, trial.state, trial.attempt)


_COMPLETE_IF_SPENT = (
    update(Study)
    .where(
        Study.id == bindparam("w_study_id"),
        Study.state == "running",
        Study.trial_counter >= Study.max_trials,
        ~select(Trial.id)
        .where(Trial.study_id == bindparam("w_study_id"), Trial.state.in_(("running", "queued")))
        .exists(),
    )
    .values(state="complete", finished_at=bindparam("w_now"))
)


def _complete_if_spent(session: Session, study_id: int, now: datetime) -> None:
    """Mark a running study complete once its trials are all handed out and none is pending:
    one guarded UPDATE (the caller holds the study's lock), no study row loaded."""
    session.connection().execute(_COMPLETE_IF_SPENT, {"w_study_id": study_id, "w_now": now})


def mark_complete(session: Session, study_id: int, now: datetime) -> None:
    session.execute(
        update(Study)
        .where(Study.id == study_id, Study.state == "running")
        .values(state="complete", finished_at=now)
    )


def _sanitize_tell(
    state: TellState, value: float | None, error: str | None
) -> tuple[TellState, float | None, str | None]:
    if value is not None and not math.isfinite(value):
        if state == "complete":
            return "failed", None, f"objective value is {value}: a trial needs a finite value"
        return state, None, error
    if state == "complete" and value is None:
        return "failed", None, "told complete without a value"
    return state, value, error


def _repeated_tell(
    session: Session, trial_id: int, state: TellState, value: float | None
) -> TrialRecord:
    row = session.get_one(Trial, trial_id)
    same_value = row.value == value or (state != "complete" and value is None)
    if row.state == state and same_value:
        return detailed(session, row, False)
    shown = f" with value {row.value:g}" if row.value is not None else ""
    raise ConflictError(
        f"trial {row.number} is already {row.state}{shown}; it cannot be told {state} again"
        + (f" with value {value:g}" if value is not None else "")
    )

"""Results: a step's report (and the pruning decision), the tell, imported trials.

A repeated tell is harmless: the first full result wins (see leases.py for late ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from parzen.service.algorithms.pruners import make_pruner
from parzen.service.db.base import utcnow
from parzen.service.db.models import Study, Trial, TrialAttempt
from parzen.service.storage import report_sql
from parzen.service.storage.attempts import count_for_worker, end_attempt
from parzen.service.storage.base import (
    LockedStudy,
    StorageCore,
    lease_until,
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
from parzen.service.storage.reads import detailed, finite, finite_json, told
from parzen.service.storage.records import FinishedTrial, ReportResult, TrialRecord
from parzen.service.storage.rungs import RungReport, pruning_reason

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


class ResultStore(StorageCore):
    def report(
        self,
        *,
        trial_id: int,
        lease_token: str,
        attempt: int | None = None,
        step: int | None,
        values: dict[str, float | None],
        token_id: int | None = None,
    ) -> ReportResult:
        """Store one step's metrics of the attempt this lease token names and renew its lease;
        `step=None` is a heartbeat. Core statements on the session's connection
        (report_sql.py): 2 for a heartbeat, 3 for a report, then the pruner's."""
        now = utcnow()
        with self.session() as session:
            conn = session.connection()
            target = report_sql.read_target(conn, trial_id, hash_lease(lease_token))
            if target is None:
                raise no_trial(trial_id)
            held = check_holder(target.held, trial_id=trial_id, token_id=token_id, attempt=attempt)
            report_sql.see_worker(conn, held, now)
            current = target.current
            if target.state != "running" or held.attempt != current:
                return _stale_report(held, target.state, current)
            values = finite_json(values)
            changes: dict[str, Any] = {"lease_expires_at": lease_until(now, target.lease_seconds)}
            value = finite(values.get(target.metric)) if values else None
            if step is not None:
                changes |= {"last_step": step, "last_intermediate": value}
            if not report_sql.renew(conn, trial_id, current, changes):
                # Expired or finished meanwhile: answer as for a stale attempt.
                now_state, now_current = report_sql.current_state(conn, trial_id)
                return _stale_report(report_sql.held_again(conn, held), now_state, now_current)
            if step is None:
                return ReportResult(False)
            report_sql.upsert_intermediate(
                conn,
                postgres=self.is_postgres,
                trial_id=trial_id,
                attempt=current,
                step=step,
                value=value,
                values=values,
                now=now,
            )
            if value is None:
                return ReportResult(False)
            report = RungReport(
                study_id=target.study_id,
                study_name=target.study_name,
                trial_id=trial_id,
                number=target.number,
                attempt=current,
                step=step,
                value=value,
                metric=target.metric,
                maximize=target.direction == "maximize",
            )
            pruner = make_pruner(target.pruner)
            reason = pruning_reason(session, pruner, report, postgres=self.is_postgres)
            if reason is None:
                return ReportResult(False)
            conn.execute(update(Trial).where(Trial.id == trial_id).values(pruned_reason=reason))
        return ReportResult(True, reason)

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
        handed out), the report's joined read of the trial and the attempt, the result
        RETURNING the row the answer is built from, the attempt's end, the worker's count;
        and the study's completion only once its whole budget is handed out."""
        state, value, error = _sanitize_tell(state, value, error)
        now = utcnow()
        with self.session() as session:
            conn = session.connection()
            locked = lock_trials_study(session, trial_id)
            target = report_sql.read_target(conn, trial_id, hash_lease(lease_token))
            if target is None:  # its study is locked: the trial cannot have gone since
                raise no_trial(trial_id)
            held = check_holder(target.held, trial_id=trial_id, token_id=token_id, attempt=attempt)
            if held.outcome != "running":  # a repeat, a late result, or a refusal
                return _tell_not_running(session, held, state, value, metrics, locked)
            if state == "pruned" and value is None:
                value = target.last_intermediate
            # The answer is this transaction's own write: once it commits, nothing is left to
            # fail, so an error answer always means nothing was applied.
            row = conn.execute(
                _FINISH,
                {
                    "w_trial_id": trial_id,
                    "w_attempt": held.attempt,
                    "state": state,
                    "value": value,
                    "metrics": finite_json(metrics or {}),
                    "error": error,
                    "finished_at": now,
                    "lease_expires_at": None,
                    "change_seq": locked.stamp,
                },
            ).one()
            end_attempt(session, trial_id, held.attempt, state, now, error)
            if target.worker_id is not None:
                count_for_worker(session, target.worker_id, trial_id, now, failed=state == "failed")
            if locked.spent:
                _complete_if_spent(session, locked.id, now)
            return trial_record(row, study_name=target.study_name, objective=target.objective)

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


def _stale_report(held: AttemptView, state: str, current: int) -> ReportResult:
    """A report from an attempt that does not run the trial: stop if it was superseded, handed
    back, or finished by its own tell; an attempt that lost its lease gets 409."""
    if held.outcome == "superseded":
        return ReportResult(True, held.error or "this attempt was superseded")
    if held.outcome == "released":
        return ReportResult(True, f"attempt {held.attempt} was handed back; stop")
    if held.attempt == current and held.outcome in FINISHED:
        return ReportResult(True, f"trial {held.trial_id} is {state} (attempt {current})")
    raise not_current(held, state, current)


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

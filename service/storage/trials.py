"""Trials: ask (lease or propose), report, heartbeat, tell, lease expiry, reads.

Every change to a study's trials starts with `lock_study`, and every trial transition is a
guarded UPDATE (`WHERE state = ...`), so no trial is leased twice and a repeated tell is
harmless whatever the interleaving of server processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from parzen.service.algorithms.pruners import make_pruner
from parzen.service.db.base import utcnow
from parzen.service.db.models import (
    Finalization,
    IntermediateValue,
    Study,
    Trial,
    TrialAttempt,
    Worker,
)
from parzen.service.storage.base import (
    StorageCore,
    best_first,
    lease_until,
    lock_study,
    lock_study_named,
    study_id_by_name,
)
from parzen.service.storage.convert import study_record, trial_record
from parzen.service.storage.errors import ConflictError, NotFoundError
from parzen.service.storage.leases import (
    FINISHED,
    LateComplete,
    complete_late,
    holding,
    may_complete_late,
    not_current,
    see_worker,
    start_attempt,
)
from parzen.service.storage.proposing import (
    ASK_ROUNDS,
    HistoryMoved,
    Proposal,
    Proposer,
    propose_at,
    propose_from_snapshot,
)
from parzen.service.storage.records import (
    AskResult,
    AskStatus,
    FinishedTrial,
    LeaseExpiry,
    ReportResult,
    TrialRecord,
    TrialState,
)
from parzen.service.storage.rungs import RungReport, epochs_trained, pruning_reason

TellState = Literal["complete", "pruned", "failed"]
TrialOrder = Literal["number", "-number", "value", "-value"]


class TrialStore(StorageCore):
    def ask(
        self,
        *,
        study_name: str,
        worker_id: str | None,
        proposer: Proposer,
        token_id: int | None = None,
    ) -> AskResult:
        """Lease a queued trial, or create one; its proposal is made from a snapshot, without
        the study's lock (see storage/proposing.py), and under the lock only as a last resort.

        The whole ask holds the study's sampler (`holding`), so that asks of one process
        take turns and each one's snapshot already has the trial the previous one inserted;
        the order is always sampler, then database lock."""
        with self.session() as session:
            study_id = session.scalar(select(Study.id).where(Study.name == study_name))
        if study_id is None:  # the locked round says what is missing
            return self._ask_once(study_name, worker_id, proposer, token_id, None, last=True)
        with proposer.holding(study_id):
            for round_ in range(1, ASK_ROUNDS + 1):
                last = round_ == ASK_ROUNDS or self.proposal_times.quick(study_id)
                proposal = None if last else self._snapshot_proposal(study_name, proposer)
                try:
                    return self._ask_once(
                        study_name, worker_id, proposer, token_id, proposal, last=last
                    )
                except HistoryMoved:
                    continue
        raise AssertionError("the last round proposes under the lock")  # pragma: no cover

    def _snapshot_proposal(self, study_name: str, proposer: Proposer) -> Proposal | None:
        """A proposal for the study's next trial if ask would create one now, else None."""
        with self.session() as session:
            study = session.scalar(select(Study).where(Study.name == study_name))
            if study is None:
                return None  # the locked round says what is missing
            counts = _pending_counts(session, study.id)
            if counts.get("queued") or _refusal(session, study, counts, utcnow()) is not None:
                return None
        with self.proposal_times.timing(study.id):
            return propose_from_snapshot(self.session, study, proposer)

    def _ask_once(
        self,
        study_name: str,
        worker_id: str | None,
        proposer: Proposer,
        token_id: int | None,
        proposal: Proposal | None,
        *,
        last: bool,
    ) -> AskResult:
        now = utcnow()
        study_id = None
        under_lock = False
        try:
            with self.session() as session:
                study = lock_study_named(session, study_name)
                study_id, stamp = study.id, study.change_seq
                # A deaf process expires nothing: see storage/sweeps.py.
                expired = (
                    LeaseExpiry()
                    if self.hearing.deaf
                    else _expire_leases(session, study, stamp, now)
                )
                current = proposal is not None and not expired.total and proposal.stamp == stamp - 1

                def propose() -> tuple[dict[str, Any], dict[str, Any]]:
                    nonlocal under_lock
                    if current and proposal is not None:
                        return proposal.vals, proposal.params
                    if not last:
                        raise HistoryMoved
                    under_lock = True
                    # The new trial carries this stamp, so the sampler must read it next time.
                    with self.proposal_times.timing(study.id):
                        return propose_at(session, study, stamp - 1, proposer)

                result = _ask_locked(session, study, stamp, now, worker_id, propose, token_id)
                return replace(result, expired=expired)
        except BaseException:
            # A sampler that proposed under the lock may have seen changes of a transaction
            # that did not commit; one fed from a snapshot saw only committed ones.
            if under_lock and study_id is not None:
                proposer.forget(study_id)
            raise

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
        `step=None` is a heartbeat."""
        now = utcnow()
        with self.session() as session:
            row = session.execute(
                select(
                    Trial.state,
                    Trial.attempt,
                    Study.metric,
                    Study.lease_seconds,
                    Study.id,
                    Study.pruner,
                    Study.direction,
                    Study.name,
                    Trial.number,
                )
                .join(Study)
                .where(Trial.id == trial_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"trial {trial_id} does not exist")
            state, current, metric, lease_seconds, study_id, pruner, direction, name, number = row
            held = holding(
                session,
                trial_id=trial_id,
                lease_token=lease_token,
                token_id=token_id,
                attempt=attempt,
            )
            see_worker(session, held.worker_id, now)
            if state != "running" or held.attempt != current:
                return _stale_report(held, state, current)
            values = finite_json(values)
            changes: dict[str, Any] = {"lease_expires_at": lease_until(now, lease_seconds)}
            value = _finite(values.get(metric)) if values else None
            if step is not None:
                changes |= {"last_step": step, "last_intermediate": value}
            updated = session.execute(
                update(Trial)
                .where(Trial.id == trial_id, Trial.state == "running", Trial.attempt == current)
                .values(**changes)
                .returning(Trial.id)
            ).scalar_one_or_none()
            if not updated:  # expired or finished meanwhile: answer as for a stale attempt
                session.refresh(held)
                now_state, now_current = session.execute(
                    select(Trial.state, Trial.attempt).where(Trial.id == trial_id)
                ).one()
                return _stale_report(held, now_state, now_current)
            if step is not None:
                self._upsert_intermediate(session, trial_id, current, step, value, values)
            if step is None or value is None:
                return ReportResult(False)
            report = RungReport(
                study_id=study_id,
                study_name=name,
                trial_id=trial_id,
                number=number,
                attempt=current,
                step=step,
                value=value,
                metric=metric,
                maximize=direction == "maximize",
            )
            reason = pruning_reason(session, make_pruner(pruner), report, postgres=self.is_postgres)
            if reason is None:
                return ReportResult(False)
            session.execute(update(Trial).where(Trial.id == trial_id).values(pruned_reason=reason))
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
        that is no longer current is refused."""
        state, value, error = _sanitize_tell(state, value, error)
        now = utcnow()
        with self.session() as session:
            study_id = session.scalar(select(Trial.study_id).where(Trial.id == trial_id))
            if study_id is None:
                raise NotFoundError(f"trial {trial_id} does not exist")
            stamp = lock_study(session, study_id)
            held = holding(
                session,
                trial_id=trial_id,
                lease_token=lease_token,
                token_id=token_id,
                attempt=attempt,
            )
            trial = session.get_one(Trial, trial_id, populate_existing=True)
            if held.outcome in FINISHED:
                return _repeated_tell(session, trial_id, state, value)
            if held.outcome == "running":
                self._finish(session, trial, state, value, metrics, error, stamp, now)
            elif (
                state == "complete"
                and value is not None
                and may_complete_late(session, trial, held)
            ):
                late = LateComplete(value, finite_json(metrics or {}), stamp, now)
                complete_late(session, trial, held, late)
            else:
                raise not_current(held, trial.state, trial.attempt)
            _complete_if_spent(session, study_id, now)
            # The answer is read in the transaction that applied the tell: once it commits,
            # nothing is left to fail, so an error answer always means nothing was applied.
            return _told(session, trial_id)

    def _finish(
        self,
        session: Session,
        trial: Trial,
        state: TellState,
        value: float | None,
        metrics: dict[str, Any] | None,
        error: str | None,
        stamp: int,
        now: datetime,
    ) -> None:
        """The current attempt's own result (the caller holds the study's lock)."""
        if state == "pruned" and value is None:
            value = trial.last_intermediate
        session.execute(
            update(Trial)
            .where(Trial.id == trial.id, Trial.state == "running", Trial.attempt == trial.attempt)
            .values(
                state=state,
                value=value,
                metrics=finite_json(metrics or {}),
                error=error,
                finished_at=now,
                lease_expires_at=None,
                change_seq=stamp,
            )
        )
        _end_attempt(session, trial.id, trial.attempt, state, now, error)
        if trial.worker_id is not None:
            _count_for_worker(session, trial.worker_id, trial.id, failed=state == "failed")

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
        return list(range(first, first + len(rows)))

    def release(
        self,
        *,
        trial_id: int,
        lease_token: str,
        attempt: int | None = None,
        token_id: int | None = None,
    ) -> TrialRecord:
        """A worker hands its trial back (shutdown): it is queued again with the same params,
        and the attempt does not count against max_attempts."""
        now = utcnow()
        with self.session() as session:
            study_id = session.scalar(select(Trial.study_id).where(Trial.id == trial_id))
            if study_id is None:
                raise NotFoundError(f"trial {trial_id} does not exist")
            stamp = lock_study(session, study_id)
            held = holding(
                session,
                trial_id=trial_id,
                lease_token=lease_token,
                token_id=token_id,
                attempt=attempt,
            )
            if held.outcome not in ("running", "released"):
                trial = session.get_one(Trial, trial_id, populate_existing=True)
                raise not_current(held, trial.state, trial.attempt)
            release_attempt(session, trial_id, held.attempt, stamp, now)
            return _told(session, trial_id)  # read before the commit, as in tell

    def expire_leases(self) -> LeaseExpiry:
        """Requeue (or fail, past max_attempts) running trials whose lease has run out;
        nothing while this process is deaf (see storage/sweeps.py)."""
        if self.hearing.deaf:
            return LeaseExpiry()
        now = utcnow()
        with self.session() as session:
            study_ids = session.scalars(
                select(Trial.study_id)
                .where(Trial.state == "running", Trial.lease_expires_at < now)
                .distinct()
            ).all()
        expired = LeaseExpiry()
        for study_id in study_ids:
            with self.session() as session:
                stamp = lock_study(session, study_id)
                study = session.get_one(Study, study_id, populate_existing=True)
                expired += _expire_leases(session, study, stamp, now)
        return expired

    def get_trial_by_id(self, *, trial_id: int, detail: bool = False) -> TrialRecord:
        with self.session() as session:
            row = session.get(Trial, trial_id)
            if row is None:
                raise NotFoundError(f"trial {trial_id} does not exist")
            return _detailed(session, row, detail)

    def get_trial(self, *, study_name: str, number: int) -> TrialRecord:
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            row = session.scalar(
                select(Trial).where(Trial.study_id == study_id, Trial.number == number)
            )
            if row is None:
                raise NotFoundError(f"study {study_name!r} has no trial {number}")
            return _detailed(session, row, True)

    def list_trials(
        self,
        *,
        study_name: str,
        states: Sequence[TrialState] = (),
        order: TrialOrder = "number",
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[TrialRecord], int]:
        column = Trial.value if order.lstrip("-") == "value" else Trial.number
        with self.session() as session:
            return page_of_trials(
                session,
                study_name,
                states,
                column.desc() if order.startswith("-") else column.asc(),
                offset=offset,
                limit=limit,
            )

    def best_trial(self, *, study_name: str) -> TrialRecord:
        with self.session() as session:
            study = session.scalar(select(Study).where(Study.name == study_name))
            if study is None:
                raise NotFoundError(f"study {study_name!r} does not exist")
            row = session.scalar(
                select(Trial)
                .where(Trial.study_id == study.id, Trial.state == "complete")
                .order_by(best_first(study.direction), Trial.number)
                .limit(1)
            )
            if row is None:
                raise NotFoundError(f"study {study_name!r} has no complete trial yet")
            return _detailed(session, row, True)

    def _upsert_intermediate(
        self,
        session: Session,
        trial_id: int,
        attempt: int,
        step: int,
        value: float | None,
        values: dict[str, Any],
    ) -> None:
        insert = pg_insert if self.is_postgres else sqlite_insert
        stmt = insert(IntermediateValue).values(
            trial_id=trial_id,
            attempt=attempt,
            step=step,
            value=value,
            values=values,
            created_at=utcnow(),
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["trial_id", "attempt", "step"],
                set_={"value": stmt.excluded.value, "values": stmt.excluded["values"]},
            )
        )


def _ask_locked(
    session: Session,
    study: Study,
    stamp: int,
    now: datetime,
    worker_id: str | None,
    propose: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
    token_id: int | None,
) -> AskResult:
    counts = _pending_counts(session, study.id)
    refusal = _refusal(session, study, counts, now)
    if refusal is not None:
        if refusal.status == "done":
            _mark_complete(session, study.id, now)
        return refusal
    queued = _lease_queued(session, study, now, worker_id) if counts.get("queued") else None
    trial = queued or _create_trial(session, study, stamp, now, worker_id, propose)
    lease_token = start_attempt(session, trial, worker_id, token_id)
    if worker_id is not None:
        session.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(current_trial_id=trial.id, state="busy", last_seen_at=now)
        )
    record = trial_record(trial, study_name=study.name, objective=study.objective)
    return AskResult("ok", replace(record, lease_token=lease_token), study=study_record(study))


def _pending_counts(session: Session, study_id: int) -> dict[str, int]:
    return dict(
        session.execute(
            select(Trial.state, func.count())
            .where(Trial.study_id == study_id, Trial.state.in_(("running", "queued")))
            .group_by(Trial.state)
        ).all()
    )


def _refusal(
    session: Session, study: Study, counts: dict[str, int], now: datetime
) -> AskResult | None:
    """Why ask hands out nothing now (None: it leases or creates a trial); "done" means the
    caller marks the study complete."""
    pending = counts.get("running", 0) + counts.get("queued", 0)
    if study.state == "paused" or study.state == "stopped":
        status: AskStatus = "paused" if study.state == "paused" else "stopped"
        return AskResult(status, reason=f"study {study.name!r} is {study.state}")
    finalizing = session.scalar(
        select(Finalization.id).where(
            Finalization.study_id == study.id, Finalization.state.in_(("queued", "running"))
        )
    )
    if finalizing is not None:
        return AskResult("wait", reason=f"study {study.name!r} is being finalized")
    finished_reason = _finished_reason(session, study, now)
    if finished_reason or (study.trial_counter >= study.max_trials and not counts.get("queued")):
        reason = finished_reason or f"all {study.max_trials} trials have been handed out"
        if pending:
            return AskResult("wait", reason=f"{reason}; {pending} trial(s) still pending")
        return AskResult("done", reason=reason)
    if counts.get("running", 0) >= study.max_parallel:
        return AskResult("wait", reason=f"max_parallel={study.max_parallel} trials are running")
    return None


def _stale_report(held: TrialAttempt, state: str, current: int) -> ReportResult:
    """A report from an attempt that does not run the trial: stop if it was superseded, handed
    back, or finished by its own tell; an attempt that lost its lease gets 409."""
    if held.outcome == "superseded":
        return ReportResult(True, held.error or "this attempt was superseded")
    if held.outcome == "released":
        return ReportResult(True, f"attempt {held.attempt} was handed back; stop")
    if held.attempt == current and held.outcome in FINISHED:
        return ReportResult(True, f"trial {held.trial_id} is {state} (attempt {current})")
    raise not_current(held, state, current)


def _finished_reason(session: Session, study: Study, now: datetime) -> str:
    if study.state == "complete":
        return f"study {study.name!r} is complete"
    elapsed = (now - study.created_at).total_seconds()
    if study.timeout_seconds is not None and elapsed >= study.timeout_seconds:
        return f"timeout of {study.timeout_seconds:g} s reached"
    if study.target_value is not None:
        best = session.scalar(
            select(
                func.min(Trial.value) if study.direction == "minimize" else func.max(Trial.value)
            ).where(Trial.study_id == study.id, Trial.state == "complete")
        )
        reached = best is not None and (
            best <= study.target_value
            if study.direction == "minimize"
            else best >= study.target_value
        )
        if reached:
            return f"target value {study.target_value:g} reached ({best:g})"
    if study.max_epochs_total is not None:
        spent = epochs_trained(session, study.id)
        if spent >= study.max_epochs_total:
            return f"epoch budget of {study.max_epochs_total} spent ({spent} epochs trained)"
    return ""


def _lease_queued(
    session: Session, study: Study, now: datetime, worker_id: str | None
) -> Trial | None:
    trial = session.scalar(
        select(Trial)
        .where(Trial.study_id == study.id, Trial.state == "queued")
        .order_by(Trial.number)
        .limit(1)
    )
    if trial is None:
        return None
    trial.state = "running"
    trial.attempt += 1
    trial.worker_id = worker_id
    trial.started_at = now
    trial.lease_expires_at = lease_until(now, study.lease_seconds)
    trial.last_step = None
    trial.last_intermediate = None
    session.flush()
    return trial


def _create_trial(
    session: Session,
    study: Study,
    stamp: int,
    now: datetime,
    worker_id: str | None,
    propose: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
) -> Trial:
    number = study.trial_counter + 1
    vals, params = propose()
    study.trial_counter = number
    trial = Trial(
        study_id=study.id,
        number=number,
        state="running",
        vals=vals,
        params=params,
        metrics={},
        attempt=1,
        worker_id=worker_id,
        lease_expires_at=lease_until(now, study.lease_seconds),
        change_seq=stamp,
        created_at=now,
        started_at=now,
    )
    session.add(trial)
    session.flush()
    return trial


def _expire_leases(session: Session, study: Study, stamp: int, now: datetime) -> LeaseExpiry:
    expired = session.execute(
        select(Trial.id, Trial.attempt, Trial.expirations).where(
            Trial.study_id == study.id, Trial.state == "running", Trial.lease_expires_at < now
        )
    ).all()
    failed = 0
    for trial_id, attempt, expirations in expired:
        exhausted = expirations + 1 >= study.max_attempts
        error = f"lease expired {expirations + 1} time(s): worker lost" if exhausted else None
        session.execute(
            update(Trial)
            .where(Trial.id == trial_id, Trial.state == "running", Trial.attempt == attempt)
            .values(
                state="failed" if exhausted else "queued",
                expirations=Trial.expirations + 1,
                error=error,
                worker_id=None,
                lease_expires_at=None,
                finished_at=now if exhausted else None,
                change_seq=stamp,
            )
        )
        _end_attempt(session, trial_id, attempt, "expired", now, "lease expired")
        _free_worker(session, trial_id, "lost")
        failed += int(exhausted)
    return LeaseExpiry(requeued=len(expired) - failed, failed=failed)


def release_attempt(
    session: Session, trial_id: int, attempt: int, stamp: int, now: datetime
) -> bool:
    """Queue a running attempt's trial again, its attempt not counted against max_attempts
    (a release, or a worker's goodbye). The caller holds the study's lock; False when that
    attempt is no longer running (already released, told, expired): nothing changes."""
    released = session.execute(
        update(Trial)
        .where(Trial.id == trial_id, Trial.state == "running", Trial.attempt == attempt)
        .values(state="queued", worker_id=None, lease_expires_at=None, change_seq=stamp)
        .returning(Trial.id)
    ).one_or_none()
    if released is None:
        return False
    _end_attempt(session, trial_id, attempt, "released", now, None)
    _free_worker(session, trial_id, "idle")
    return True


def _free_worker(session: Session, trial_id: int, state: str) -> None:
    session.execute(
        update(Worker)
        .where(Worker.current_trial_id == trial_id)
        .values(current_trial_id=None, state=state)
    )


def _end_attempt(
    session: Session, trial_id: int, attempt: int, outcome: str, now: datetime, error: str | None
) -> None:
    session.execute(
        update(TrialAttempt)
        .where(TrialAttempt.trial_id == trial_id, TrialAttempt.attempt == attempt)
        .values(outcome=outcome, ended_at=now, error=error)
    )


def _count_for_worker(session: Session, worker_id: str, trial_id: int, *, failed: bool) -> None:
    counter = Worker.trials_failed if failed else Worker.trials_done
    session.execute(
        update(Worker)
        .where(Worker.id == worker_id)
        .values({counter: counter + 1, Worker.last_seen_at: utcnow()})
    )
    _free_worker(session, trial_id, "idle")


def _complete_if_spent(session: Session, study_id: int, now: datetime) -> None:
    study = session.get_one(Study, study_id, populate_existing=True)
    if study.state != "running" or study.trial_counter < study.max_trials:
        return
    pending = session.scalar(
        select(func.count(Trial.id)).where(
            Trial.study_id == study_id, Trial.state.in_(("running", "queued"))
        )
    )
    if not pending:
        _mark_complete(session, study_id, now)


def _mark_complete(session: Session, study_id: int, now: datetime) -> None:
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
        return _detailed(session, row, False)
    shown = f" with value {row.value:g}" if row.value is not None else ""
    raise ConflictError(
        f"trial {row.number} is already {row.state}{shown}; it cannot be told {state} again"
        + (f" with value {value:g}" if value is not None else "")
    )


def finite_json(data: Any) -> Any:
    """NaN and infinities become null: JSON (and PostgreSQL's json type) has no place for them."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): finite_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite_json(v) for v in data]
    return data


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _told(session: Session, trial_id: int) -> TrialRecord:
    """A trial's record as this transaction left it (the ORM's copy may predate an UPDATE)."""
    return _detailed(session, session.get_one(Trial, trial_id, populate_existing=True), False)


def _detailed(session: Session, row: Trial, detail: bool) -> TrialRecord:
    study = session.get_one(Study, row.study_id)
    if not detail:
        return trial_record(row, study_name=study.name, objective=study.objective)
    attempts = session.scalars(
        select(TrialAttempt).where(TrialAttempt.trial_id == row.id).order_by(TrialAttempt.attempt)
    ).all()
    intermediate = session.scalars(
        select(IntermediateValue)
        .where(IntermediateValue.trial_id == row.id)
        .order_by(IntermediateValue.attempt, IntermediateValue.step)
    ).all()
    return trial_record(
        row,
        study_name=study.name,
        objective=study.objective,
        attempts=list(attempts),
        intermediate=list(intermediate),
    )


def page_of_trials(
    session: Session,
    study_name: str,
    states: Sequence[TrialState],
    ordering: ColumnElement[Any],
    *,
    offset: int,
    limit: int,
) -> tuple[list[TrialRecord], int]:
    """One page of a study's trials in `states` (all when empty), ordered by `ordering`
    (nulls last, then by number), and the number of trials the filter matches."""
    study_id = study_id_by_name(session, study_name)
    where: list[ColumnElement[bool]] = [Trial.study_id == study_id]
    if states:
        where.append(Trial.state.in_(states))
    total = session.scalar(select(func.count(Trial.id)).where(*where)) or 0
    # Sort and skip narrow rows (ids), then load the page's whole rows: sorting 100,000 whole
    # rows (vals, params, metrics) for a deep page took seconds on SQLite.
    ids = session.scalars(
        select(Trial.id)
        .where(*where)
        .order_by(ordering.nulls_last(), Trial.number)
        .offset(offset)
        .limit(limit)
    ).all()
    by_id = {r.id: r for r in session.scalars(select(Trial).where(Trial.id.in_(ids)))}
    return [trial_record(by_id[i], study_name=study_name) for i in ids], total

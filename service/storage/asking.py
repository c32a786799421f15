"""Ask: lease a queued trial or create one from a proposal (see proposing.py).

Every change to a study's trials starts with `lock_study`, and every trial transition is a
guarded UPDATE (`WHERE state = ...`), so no trial is leased twice whatever the
interleaving of server processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parzen.service.db.base import utcnow
from parzen.service.db.models import Trial, TrialState
from parzen.service.storage.ask_sql import AskState, ask_state, insert_new_trial, mark_busy
from parzen.service.storage.attempts import expire_study_leases
from parzen.service.storage.base import StorageCore, lease_until
from parzen.service.storage.convert import trial_record
from parzen.service.storage.errors import NotFoundError
from parzen.service.storage.leases import new_lease, start_attempt
from parzen.service.storage.lookups import not_your_worker, study_id_by_name, study_state_by_name
from parzen.service.storage.proposing import (
    ASK_ROUNDS,
    HistoryMoved,
    Proposal,
    Proposer,
    propose_at,
    propose_from_snapshot,
)
from parzen.service.storage.records import AskResult, AskStatus, LeaseExpiry, StudyRecord
from parzen.service.storage.results import mark_complete
from parzen.service.storage.rungs import epochs_trained


class StaleStudyId(Exception):
    """The study's id this process remembered for its name is another study's now (it was
    deleted and created again): look the name up again."""


@dataclass(frozen=True, slots=True)
class _Asker:
    """Who asks, of which study: the worker it names (if any), its bearer token, and the
    proposer that makes the study's new trials."""

    study_name: str
    worker_id: str | None
    token_id: int | None
    proposer: Proposer


class AskStore(StorageCore):
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
        A worker it names must be registered with `token_id`'s bearer token, or be no
        registered worker at all (then it is only a label); else ForbiddenError.

        The whole ask holds the study's sampler (`holding`), so that asks of one process
        take turns and each one's snapshot already has the trial the previous one inserted;
        the order is always sampler, then database lock."""
        asker = _Asker(study_name, worker_id, token_id, proposer)
        try:
            return self._ask_holding(self._study_id(study_name), asker)
        except StaleStudyId:
            self.study_ids.pop(study_name, None)
            return self._ask_holding(self._study_id(study_name), asker)
        except NotFoundError:
            self.study_ids.pop(study_name, None)
            raise

    def _study_id(self, study_name: str) -> int:
        """The id of the study with this name, remembered by the process: a name is one
        study's until that study is deleted, which the ask's lock finds out (StaleStudyId)."""
        study_id = self.study_ids.get(study_name)
        if study_id is None:
            with self.session() as session:
                study_id = self.study_ids[study_name] = study_id_by_name(session, study_name)
        return study_id

    def _ask_holding(self, study_id: int, asker: _Asker) -> AskResult:
        with asker.proposer.holding(study_id):
            for round_ in range(1, ASK_ROUNDS + 1):
                last = round_ == ASK_ROUNDS or self.proposal_times.quick(study_id)
                proposal = None if last else self._snapshot_proposal(asker)
                try:
                    return self._ask_once(study_id, asker, proposal, last=last)
                except HistoryMoved:
                    continue
        raise AssertionError("the last round proposes under the lock")  # pragma: no cover

    def _snapshot_proposal(self, asker: _Asker) -> Proposal | None:
        """A proposal for the study's next trial if ask would create one now, else None."""
        with self.session() as session:
            study, stamp = study_state_by_name(session, asker.study_name, self.study_specs)
            now = utcnow()
            state = ask_state(session.connection(), study.id, None, now)
            if state.queued or _refusal(session, study, state, now) is not None:
                return None
        with self.proposal_times.timing(study.id):
            return propose_from_snapshot(self.session, study, stamp, asker.proposer)

    def _ask_once(
        self, study_id: int, asker: _Asker, proposal: Proposal | None, *, last: bool
    ) -> AskResult:
        now = utcnow()
        under_lock = False
        try:
            with self.session() as session:
                study, stamp = study_state_by_name(
                    session, asker.study_name, self.study_specs, lock=True
                )
                if study.id != study_id:
                    raise StaleStudyId
                state = ask_state(session.connection(), study.id, asker.worker_id, now)
                _refuse_unless_owner(state, asker)
                expired = LeaseExpiry()
                # A deaf process expires nothing: see storage/sweeps.py.
                if state.expired and not self.hearing.deaf:
                    expired = expire_study_leases(session, study.id, study.max_attempts, stamp, now)
                    state = ask_state(session.connection(), study.id, asker.worker_id, now)
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
                        return propose_at(session, study, stamp - 1, asker.proposer)

                result = _ask_locked(session, study, stamp, state, now, asker, propose)
                return replace(result, expired=expired)
        except BaseException:
            # A sampler that proposed under the lock may have seen changes of a transaction
            # that did not commit; one fed from a snapshot saw only committed ones.
            if under_lock:
                asker.proposer.forget(study_id)
            raise


def _refuse_unless_owner(state: AskState, asker: _Asker) -> None:
    """A registered worker's id is its bearer token's alone (an unregistered one is a label)."""
    worker_id = asker.worker_id
    if (
        worker_id is not None
        and state.worker_registered
        and state.worker_token_id != asker.token_id
    ):
        raise not_your_worker(worker_id)


def _ask_locked(
    session: Session,
    study: StudyRecord,
    stamp: int,
    state: AskState,
    now: datetime,
    asker: _Asker,
    propose: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
) -> AskResult:
    worker_id = asker.worker_id
    refusal = _refusal(session, study, state, now)
    if refusal is not None:
        if refusal.status == "done":
            mark_complete(session, study.id, now)
        return refusal
    queued = _lease_queued(session, study, now, worker_id) if state.queued else None
    if queued is not None:
        trial, lease_token = queued, start_attempt(session, queued, worker_id, asker.token_id)
        if worker_id is not None:
            mark_busy(session.connection(), worker_id, trial.id, now)
    else:
        trial, lease_token = _create_trial(session, study, stamp, now, asker, propose)
        study = replace(study, trial_counter=trial.number)
    record = trial_record(trial, study_name=study.name, objective=study.objective)
    record = record.model_copy(update={"lease_token": lease_token})
    return AskResult("ok", record, study=study)


def _refusal(
    session: Session, study: StudyRecord, state: AskState, now: datetime
) -> AskResult | None:
    """Why ask hands out nothing now (None: it leases or creates a trial); "done" means the
    caller marks the study complete."""
    if study.state == "paused" or study.state == "stopped":
        status: AskStatus = "paused" if study.state == "paused" else "stopped"
        return AskResult(status, reason=f"study {study.name!r} is {study.state}")
    if state.finalizing:
        return AskResult("wait", reason=f"study {study.name!r} is being finalized")
    finished_reason = _finished_reason(session, study, now)
    if finished_reason or (study.trial_counter >= study.max_trials and not state.queued):
        reason = finished_reason or f"all {study.max_trials} trials have been handed out"
        if state.pending:
            return AskResult("wait", reason=f"{reason}; {state.pending} trial(s) still pending")
        return AskResult("done", reason=reason)
    if state.running >= study.max_parallel:
        return AskResult("wait", reason=f"max_parallel={study.max_parallel} trials are running")
    return None


def _finished_reason(session: Session, study: StudyRecord, now: datetime) -> str:
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
    session: Session, study: StudyRecord, now: datetime, worker_id: str | None
) -> Trial | None:
    trial = session.scalar(
        select(Trial)
        .where(Trial.study_id == study.id, Trial.state == "queued")
        .order_by(Trial.number)
        .limit(1)
    )
    if trial is None:
        return None
    trial.state = TrialState.RUNNING
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
    study: StudyRecord,
    stamp: int,
    now: datetime,
    asker: _Asker,
    propose: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
) -> tuple[Trial, str]:
    """Insert the study's next trial, running, and its first attempt (Core on the session's
    connection, one statement on PostgreSQL: see ask_sql.py; the ORM's unit of work was over
    a third of an ask's CPU). Returns a transient Trial, never added to the session, that
    carries what the ask answers with, and the attempt's lease token."""
    vals, params = propose()
    row: dict[str, Any] = {
        "study_id": study.id,
        "number": study.trial_counter + 1,
        "state": TrialState.RUNNING,
        "vals": vals,
        "params": params,
        "metrics": {},
        "attempt": 1,
        "expirations": 0,
        "worker_id": asker.worker_id,
        "lease_expires_at": lease_until(now, study.lease_seconds),
        "change_seq": stamp,
        "created_at": now,
        "started_at": now,
    }
    lease_token, lease_hash = new_lease()
    trial_id = insert_new_trial(
        session.connection(), row, lease_token_hash=lease_hash, token_id=asker.token_id
    )
    return Trial(id=trial_id, **row), lease_token

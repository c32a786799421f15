"""A step's report (and the pruning decision) and the heartbeat: the write every busy worker
sends once an epoch, in Core statements on the session's connection (report_sql.py).

A running attempt's first accepted report reads the trial, its study and the attempt (one
joined read), checks the holder, and renews the lease. What that read found and the next
reports need is fixed for the attempt's life: the study's metric, direction, lease length,
pruner and objective, the trial's number, the worker running it. This process remembers it
(`KnownAttempts`), keyed by the lease token's hash, a secret of that one attempt, with the
caller's bearer token and the attempt it named (the holder check passed for exactly those).
A known attempt's report is then the renewal alone (its WHERE clause is the whole check: the
trial still runs this attempt) and the epoch's upsert; a heartbeat is the renewal; a tell
(results.py) skips the read alike. A renewal that matches no row (the attempt expired, was
superseded, or finished) forgets the attempt and goes the long way in the same transaction,
whose read gives the answer a stale attempt gets. So what is remembered decides nothing a
statement does not check again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, update
from sqlalchemy.orm import Session

from parzen.service.algorithms.pruners import make_pruner
from parzen.service.db.base import utcnow
from parzen.service.db.models import Trial, Worker
from parzen.service.storage import report_sql
from parzen.service.storage.base import StorageCore, lease_until
from parzen.service.storage.leases import (
    FINISHED,
    AttemptView,
    check_holder,
    hash_lease,
    not_current,
)
from parzen.service.storage.lookups import no_trial
from parzen.service.storage.reads import finite, finite_json
from parzen.service.storage.records import ReportResult
from parzen.service.storage.rungs import RungReport, pruning_reason

KNOWN_ATTEMPTS = 4096  # remembered at most, the least recently reporting forgotten first


@dataclass(frozen=True, slots=True)
class KnownAttempt:
    """A running attempt as its accepted reports found it: nothing here changes while it
    runs (a study's settings are fixed at its creation)."""

    trial_id: int
    attempt: int
    number: int
    worker_id: str | None  # the worker running the trial
    study_id: int
    study_name: str
    metric: str
    direction: str
    lease_seconds: float
    pruner: dict[str, Any]
    objective: dict[str, Any]

    @classmethod
    def of(cls, target: report_sql.ReportTarget, held: report_sql.HeldAttempt) -> KnownAttempt:
        """The attempt `held` of the trial `target` as the joined read found them."""
        return cls(
            trial_id=held.trial_id,
            attempt=held.attempt,
            number=target.number,
            worker_id=target.worker_id,
            study_id=target.study_id,
            study_name=target.study_name,
            metric=target.metric,
            direction=target.direction,
            lease_seconds=target.lease_seconds,
            pruner=target.pruner,
            objective=target.objective,
        )


# The lease token's hash, the caller's bearer token id, the attempt the caller named.
_Key = tuple[int, str, int | None, int | None]


class KnownAttempts:
    """A bounded, thread-safe memo of running attempts (least recently used out first), and
    when this process last wrote each worker's `last_seen_at`."""

    def __init__(self, size: int = KNOWN_ATTEMPTS) -> None:
        self._size = size
        self._attempts: OrderedDict[_Key, KnownAttempt] = OrderedDict()
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def get(self, key: _Key) -> KnownAttempt | None:
        with self._lock:
            known = self._attempts.get(key)
            if known is not None:
                self._attempts.move_to_end(key)
            return known

    def put(self, key: _Key, known: KnownAttempt, *, worker_seen_at: datetime | None) -> None:
        """Remember `known`, and when its worker's `last_seen_at` was last written."""
        with self._lock:
            if known.worker_id is not None and worker_seen_at is not None:
                self._seen[known.worker_id] = worker_seen_at
            self._attempts[key] = known
            self._attempts.move_to_end(key)
            while len(self._attempts) > self._size:
                _, gone = self._attempts.popitem(last=False)
                if gone.worker_id is not None:
                    self._seen.pop(gone.worker_id, None)

    def forget(self, key: _Key) -> KnownAttempt | None:
        """Forget the attempt (it finished, or no longer runs); what was known of it."""
        with self._lock:
            return self._attempts.pop(key, None)

    def seen_due(self, worker_id: str, now: datetime) -> bool:
        """Whether the worker's `last_seen_at` is to be written now (then it counts as
        written): at most once per `report_sql.SEEN_EVERY` from this process."""
        with self._lock:
            last = self._seen.get(worker_id)
            if last is not None and now - last < report_sql.SEEN_EVERY:
                return False
            self._seen[worker_id] = now
            return True


class ReportStore(StorageCore):
    known_attempts: KnownAttempts

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.known_attempts = KnownAttempts()

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
        `step=None` is a heartbeat. A known attempt's heartbeat is 1 statement and its report
        2, then the pruner's; the first report of an attempt reads it first (3 and 2)."""
        now = utcnow()
        key = (trial_id, hash_lease(lease_token), token_id, attempt)
        values = finite_json(values)
        with self.session() as session:
            conn = session.connection()
            known = self.known_attempts.get(key)
            if known is not None:
                if self._see_and_renew(conn, known, step, values, now):
                    return self._store_step(session, known, step, values, now)
                self.known_attempts.forget(key)
            target = report_sql.read_target(conn, trial_id, key[1])
            if target is None:
                raise no_trial(trial_id)
            held = check_holder(target.held, trial_id=trial_id, token_id=token_id, attempt=attempt)
            seen = report_sql.see_worker(conn, held, now)
            if target.state != "running" or held.attempt != target.current:
                return _stale_report(held, target.state, target.current)
            known = KnownAttempt.of(target, held)
            if not self._renew(conn, known, step, values, now):
                # Expired or finished meanwhile: answer as for a stale attempt.
                now_state, now_current = report_sql.current_state(conn, trial_id)
                return _stale_report(report_sql.held_again(conn, held), now_state, now_current)
            self.known_attempts.put(key, known, worker_seen_at=seen)
            return self._store_step(session, known, step, values, now)

    def _see_and_renew(
        self,
        conn: Connection,
        known: KnownAttempt,
        step: int | None,
        values: dict[str, Any],
        now: datetime,
    ) -> bool:
        """A known attempt's renewal, and its worker seen (at most once a second)."""
        if not self._renew(conn, known, step, values, now):
            return False
        if known.worker_id is not None and self.known_attempts.seen_due(known.worker_id, now):
            conn.execute(
                update(Worker).where(Worker.id == known.worker_id).values(last_seen_at=now)
            )
        return True

    @staticmethod
    def _renew(
        conn: Connection,
        known: KnownAttempt,
        step: int | None,
        values: dict[str, Any],
        now: datetime,
    ) -> bool:
        """The lease's new end (and a report's step) if the attempt still runs the trial."""
        changes: dict[str, Any] = {"lease_expires_at": lease_until(now, known.lease_seconds)}
        if step is not None:
            changes |= {"last_step": step, "last_intermediate": _value(known, values)}
        return report_sql.renew(conn, known.trial_id, known.attempt, changes)

    def _store_step(
        self,
        session: Session,
        known: KnownAttempt,
        step: int | None,
        values: dict[str, Any],
        now: datetime,
    ) -> ReportResult:
        """After the renewal: the epoch's metrics and the pruner's decision (none for a
        heartbeat, or for a report without the study's metric)."""
        if step is None:
            return ReportResult(False)
        value = _value(known, values)
        report_sql.upsert_intermediate(
            session.connection(),
            postgres=self.is_postgres,
            trial_id=known.trial_id,
            attempt=known.attempt,
            step=step,
            value=value,
            values=values,
            now=now,
        )
        if value is None:
            return ReportResult(False)
        report = RungReport(
            study_id=known.study_id,
            study_name=known.study_name,
            trial_id=known.trial_id,
            number=known.number,
            attempt=known.attempt,
            step=step,
            value=value,
            metric=known.metric,
            maximize=known.direction == "maximize",
        )
        reason = pruning_reason(
            session, make_pruner(known.pruner), report, postgres=self.is_postgres
        )
        if reason is None:
            return ReportResult(False)
        session.connection().execute(
            update(Trial).where(Trial.id == known.trial_id).values(pruned_reason=reason)
        )
        return ReportResult(True, reason)


def _value(known: KnownAttempt, values: dict[str, Any]) -> float | None:
    return finite(values.get(known.metric)) if values else None


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

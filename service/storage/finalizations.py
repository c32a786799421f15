"""Sealed test evaluation: finalization jobs, artifacts, and the audit of the test split.

The test split is used only by finalization jobs. Each request and each hand-over of the
split to a worker is recorded; past a budget of uses the request needs an explicit
override, which is recorded too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from parzen.service.db.base import utcnow
from parzen.service.db.models import Finalization, Study, TestAccess, Trial
from parzen.service.storage.base import (
    StorageCore,
    best_first,
    lease_until,
    lock_study,
)
from parzen.service.storage.convert import Joined, trial_record
from parzen.service.storage.errors import ConflictError
from parzen.service.storage.lookups import finalization_by_id, no_trial, study_id_by_name
from parzen.service.storage.records import (
    FinalizationRecord,
    StudyReport,
    TestAccessRecord,
    WorkerRecord,
)

ACTIVE = ("queued", "running")


class TestBudgetError(ConflictError):
    """The study's test split has been used as often as allowed."""

    __test__ = False  # not a pytest class


class FinalizationStore(StorageCore):
    def set_artifact(self, *, trial_id: int, path: str) -> None:
        with self.session() as session:
            done = session.execute(
                update(Trial).where(Trial.id == trial_id).values(artifact=path).returning(Trial.id)
            ).scalar_one_or_none()
            if done is None:
                raise no_trial(trial_id)

    def request_finalization(
        self,
        *,
        study_name: str,
        top_k: int,
        mode: str,
        rescore: str,
        requested_by: str,
        override: bool,
        test_budget: int,
    ) -> FinalizationRecord:
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            lock_study(session, study_id)
            study = session.get_one(Study, study_id)
            _refuse_if_active(session, study_id, study_name)
            uses = _test_uses(session, study_id)
            if uses >= test_budget and not override:
                raise TestBudgetError(
                    f"the test split of {study_name!r} has been used {uses} time(s), its "
                    f"budget is {test_budget}: every look at it makes it less honest. Pass "
                    "override=true to use it anyway (recorded in the audit)."
                )
            candidates = _top_trials(session, study, top_k)
            row = Finalization(
                study_id=study_id,
                state="queued",
                top_k=top_k,
                mode=mode,
                rescore=rescore,
                candidates=[t.id for t in candidates],
                requested_by=requested_by,
                override=override,
                attempt=0,
            )
            session.add(row)
            session.flush()
            _audit(session, row, "requested", requested_by, [t.number for t in candidates])
            return _record(session, row, study_name)

    def lease_finalization(
        self, *, worker: WorkerRecord, lease_seconds: float
    ) -> FinalizationRecord | None:
        """Hand a queued finalization of a study this worker can serve to the worker."""
        now = utcnow()
        with self.session() as session:
            queued = session.execute(
                select(Finalization.id, Study.id, Study.name, Study.objective)
                .join(Study)
                .where(Finalization.state == "queued")
                .order_by(Finalization.id)
            ).all()
            for finalization_id, study_id, name, objective in queued:
                if objective.get("builder") not in worker.builders:
                    continue
                if objective.get("dataset") not in worker.datasets:
                    continue
                lock_study(session, study_id)
                row = session.execute(
                    update(Finalization)
                    .where(Finalization.id == finalization_id, Finalization.state == "queued")
                    .values(
                        state="running",
                        worker_id=worker.id,
                        attempt=Finalization.attempt + 1,
                        lease_expires_at=lease_until(now, lease_seconds),
                    )
                    .returning(Finalization)
                ).scalar_one_or_none()
                if row is None:
                    continue
                record = _record(session, row, name)
                numbers = [t.number for t in record.candidates]
                _audit(session, row, "loaded", f"worker {worker.id} ({worker.host})", numbers)
                return record
        return None

    def renew_finalization(self, *, finalization_id: int, lease_seconds: float) -> bool:
        with self.session() as session:
            done = session.execute(
                update(Finalization)
                .where(Finalization.id == finalization_id, Finalization.state == "running")
                .values(lease_expires_at=lease_until(utcnow(), lease_seconds))
                .returning(Finalization.id)
            ).scalar_one_or_none()
            return done is not None

    def finish_finalization(
        self,
        *,
        finalization_id: int,
        report: dict[str, Any] | None,
        error: str | None = None,
    ) -> FinalizationRecord:
        state = "failed" if error is not None else "complete"
        with self.session() as session:
            row = finalization_by_id(session, finalization_id)
            if row.state in ("complete", "failed"):
                if row.state == state and row.report == report:
                    return _record(session, row, _study_name(session, row.study_id))
                raise ConflictError(f"finalization {finalization_id} is already {row.state}")
            session.execute(
                update(Finalization)
                .where(Finalization.id == finalization_id)
                .values(
                    state=state,
                    report=report,
                    error=error,
                    finished_at=utcnow(),
                    lease_expires_at=None,
                )
            )
            session.refresh(row)
            return _record(session, row, _study_name(session, row.study_id))

    def expire_finalizations(self) -> int:
        """Put back in the queue the finalizations of workers that were lost."""
        with self.session() as session:
            rows = session.execute(
                update(Finalization)
                .where(Finalization.state == "running", Finalization.lease_expires_at < utcnow())
                .values(state="queued", worker_id=None, lease_expires_at=None)
                .returning(Finalization.id)
            ).all()
            return len(rows)

    def study_report(self, *, study_name: str) -> StudyReport:
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            rows = session.scalars(
                select(Finalization)
                .where(Finalization.study_id == study_id)
                .order_by(Finalization.id)
            ).all()
            records = [_record(session, row, study_name) for row in rows]
            accesses = session.scalars(
                select(TestAccess).where(TestAccess.study_id == study_id).order_by(TestAccess.id)
            ).all()
            latest = next((r for r in reversed(records) if r.state == "complete"), None)
            return StudyReport(
                latest=latest,
                finalizations=records,
                accesses=[_access_record(a) for a in accesses],
                test_uses=_test_uses(session, study_id),
            )


def _refuse_if_active(session: Session, study_id: int, name: str) -> None:
    active = session.scalar(
        select(Finalization.id).where(
            Finalization.study_id == study_id, Finalization.state.in_(ACTIVE)
        )
    )
    if active is not None:
        raise ConflictError(f"study {name!r} is already being finalized (finalization {active})")


def _test_uses(session: Session, study_id: int) -> int:
    """Times the test split was handed to a worker: each is one look at it."""
    return (
        session.scalar(
            select(func.count(func.distinct(TestAccess.finalization_id))).where(
                TestAccess.study_id == study_id, TestAccess.kind == "loaded"
            )
        )
        or 0
    )


def _top_trials(session: Session, study: Study, top_k: int) -> list[Trial]:
    trials = session.scalars(
        select(Trial)
        .where(Trial.study_id == study.id, Trial.state == "complete", Trial.artifact.is_not(None))
        .order_by(best_first(study.direction), Trial.number)
        .limit(top_k)
    ).all()
    if not trials:
        raise ConflictError(
            f"study {study.name!r} has no complete trial with an uploaded checkpoint to "
            "evaluate: run workers first"
        )
    return list(trials)


def _audit(session: Session, row: Finalization, kind: str, actor: str, numbers: list[int]) -> None:
    session.add(
        TestAccess(
            study_id=row.study_id,
            finalization_id=row.id,
            kind=kind,
            actor=actor,
            trial_numbers=numbers,
            override=row.override,
            created_at=utcnow(),
        )
    )


def _study_name(session: Session, study_id: int) -> str:
    return session.scalar(select(Study.name).where(Study.id == study_id)) or ""


def _record(session: Session, row: Finalization, study_name: str) -> FinalizationRecord:
    trials = {t.id: t for t in session.scalars(select(Trial).where(Trial.id.in_(row.candidates)))}
    candidates = tuple(
        trial_record(trials[tid], study_name=study_name) for tid in row.candidates if tid in trials
    )
    joined = Joined(row, study_name=study_name, candidates=candidates)
    return FinalizationRecord.model_validate(joined, from_attributes=True)


def _access_record(row: TestAccess) -> TestAccessRecord:
    return TestAccessRecord.model_validate(row, from_attributes=True)

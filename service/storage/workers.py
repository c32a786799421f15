"""Worker daemons: registration, liveness, and what each can run."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from parzen.service.db.base import utcnow
from parzen.service.db.models import Study, Trial, Worker
from parzen.service.storage.attempts import release_attempt
from parzen.service.storage.base import StorageCore, lock_study
from parzen.service.storage.convert import worker_record
from parzen.service.storage.lookups import no_worker, worker_by_id
from parzen.service.storage.records import WorkerRecord


class WorkerStore(StorageCore):
    def register_worker(
        self,
        *,
        host: str,
        pid: int | None,
        gpu: str | None,
        builders: list[str],
        datasets: list[str],
        token_id: int | None = None,
    ) -> WorkerRecord:
        """`token_id`: the bearer token registering it, the only one that may lease for it."""
        with self.session() as session:
            row = Worker(
                id=uuid.uuid4().hex,
                host=host,
                pid=pid,
                gpu=gpu,
                builders=sorted(builders),
                datasets=sorted(datasets),
                trials_done=0,
                trials_failed=0,
                state="idle",
                token_id=token_id,
            )
            session.add(row)
            session.flush()
            return worker_record(row)

    def get_worker(self, *, worker_id: str) -> WorkerRecord:
        with self.session() as session:
            return worker_record(worker_by_id(session, worker_id))

    def touch_worker(self, *, worker_id: str, state: str | None = None) -> None:
        values: dict[str, object] = {"last_seen_at": utcnow()}
        if state is not None:
            values["state"] = state
        with self.session() as session:
            done = session.execute(
                update(Worker).where(Worker.id == worker_id).values(values).returning(Worker.id)
            ).scalar_one_or_none()
            if done is None:
                raise no_worker(worker_id)

    def say_goodbye(self, *, worker_id: str) -> WorkerRecord:
        """The worker exits: its running trial is queued again as a release leaves it (the
        attempt not counted), and it shows as `exited`. Saying it twice changes nothing."""
        with self.session() as session:
            worker_by_id(session, worker_id)
            held = session.execute(
                select(Trial.id, Trial.study_id, Trial.attempt).where(
                    Trial.worker_id == worker_id, Trial.state == "running"
                )
            ).all()
        for trial_id, study_id, attempt in held:
            # One study lock per transaction, as every trial write takes it (no lock order
            # to keep between studies).
            with self.session() as session:
                release_attempt(session, trial_id, attempt, lock_study(session, study_id), utcnow())
        with self.session() as session:
            session.execute(
                update(Worker)
                .where(Worker.id == worker_id)
                .values(state="exited", current_trial_id=None, last_seen_at=utcnow())
            )
        return self.get_worker(worker_id=worker_id)

    def list_workers(self) -> list[WorkerRecord]:
        with self.session() as session:
            rows = session.scalars(select(Worker).order_by(Worker.registered_at))
            return [worker_record(r) for r in rows]

    def servable_studies(self, *, worker: WorkerRecord) -> list[str]:
        """Running studies this worker can serve, least recently served first."""
        with self.session() as session:
            rows = session.execute(
                select(Study.name, Study.objective)
                .where(Study.state == "running")
                .order_by(Study.updated_at, Study.id)
            ).all()
        return [
            name
            for name, objective in rows
            if objective.get("builder") in worker.builders
            and objective.get("dataset") in worker.datasets
        ]

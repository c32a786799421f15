"""Finalization jobs and the audit of the test split, over SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import ConflictError, Storage, TestBudgetError
from tests.service.factories import quadratic, study_spec
from tests.service.writes import store_tell


def _study_with_results(storage: Storage, trials: int = 4) -> None:
    pool = SamplerPool()
    storage.create_study(spec=study_spec(max_parallel=10))
    for _ in range(trials):
        trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
        assert trial
        store_tell(storage, trial, state="complete", value=quadratic(trial.params))
        storage.set_artifact(trial_id=trial.id, path=f"study/trial-{trial.number}.keras")


def _request(storage: Storage, *, override: bool = False, budget: int = 2):  # type: ignore[no-untyped-def]
    return storage.request_finalization(
        study_name="study",
        top_k=3,
        mode="checkpoint",
        rescore="auto",
        requested_by="admin token ci",
        override=override,
        test_budget=budget,
    )


def _worker(storage: Storage):  # type: ignore[no-untyped-def]
    return storage.register_worker(
        host="node", pid=1, gpu=None, builders=["mlp"], datasets=["digits"]
    )


def test_candidates_are_the_best_by_validation_with_checkpoints(storage: Storage) -> None:
    _study_with_results(storage)
    values = sorted(t.value for t in storage.list_trials(study_name="study")[0])  # type: ignore[type-var]
    job = _request(storage)
    assert job.state == "queued"
    assert [t.value for t in job.candidates] == values[:3]


def test_no_checkpoint_no_finalization(storage: Storage) -> None:
    storage.create_study(spec=study_spec())
    with pytest.raises(ConflictError, match="no complete trial with an uploaded checkpoint"):
        _request(storage)


def test_finalizing_study_hands_out_no_search_trials(storage: Storage) -> None:
    _study_with_results(storage)
    job = _request(storage)
    result = storage.ask(study_name="study", worker_id=None, proposer=SamplerPool())
    assert result.status == "wait" and "finalized" in result.reason
    with pytest.raises(ConflictError, match="already being finalized"):
        _request(storage)
    storage.finish_finalization(finalization_id=job.id, report={"pick": 1})
    assert storage.ask(study_name="study", worker_id=None, proposer=SamplerPool()).trial


def test_lease_only_to_a_worker_that_can_serve_and_audit_it(storage: Storage) -> None:
    _study_with_results(storage)
    job = _request(storage)
    unable = storage.register_worker(
        host="x", pid=1, gpu=None, builders=["convnet"], datasets=["digits"]
    )
    assert storage.lease_finalization(worker=unable, lease_seconds=30) is None
    worker = _worker(storage)
    leased = storage.lease_finalization(worker=worker, lease_seconds=30)
    assert leased and leased.id == job.id and leased.worker_id == worker.id
    assert storage.lease_finalization(worker=worker, lease_seconds=30) is None
    report = storage.study_report(study_name="study")
    kinds = [(a.kind, a.actor.split()[0]) for a in report.accesses]
    assert kinds == [("requested", "admin"), ("loaded", "worker")]
    assert report.accesses[1].trial_numbers == [t.number for t in job.candidates]
    assert report.test_uses == 1


def test_budget_refuses_then_override_is_recorded(storage: Storage) -> None:
    _study_with_results(storage)
    worker = _worker(storage)
    for _ in range(2):
        job = _request(storage)
        assert storage.lease_finalization(worker=worker, lease_seconds=30)
        storage.finish_finalization(finalization_id=job.id, report={"n": job.id})
    with pytest.raises(TestBudgetError, match="used 2 time"):
        _request(storage)
    forced = _request(storage, override=True)
    assert forced.override
    report = storage.study_report(study_name="study")
    assert report.test_uses == 2  # requested, not yet handed to a worker
    assert report.accesses[-1].override and report.accesses[-1].kind == "requested"
    assert report.latest and report.latest.report == {"n": 2}


def test_finish_is_idempotent_and_conflicts_are_refused(storage: Storage) -> None:
    _study_with_results(storage)
    job = _request(storage)
    storage.finish_finalization(finalization_id=job.id, report={"a": 1})
    storage.finish_finalization(finalization_id=job.id, report={"a": 1})
    with pytest.raises(ConflictError):
        storage.finish_finalization(finalization_id=job.id, report=None, error="boom")


def test_lost_evaluation_worker_puts_the_job_back(storage: Storage) -> None:
    import time

    _study_with_results(storage)
    job = _request(storage)
    assert storage.lease_finalization(worker=_worker(storage), lease_seconds=0.1)
    time.sleep(0.2)
    assert storage.expire_finalizations() == 1
    again = storage.lease_finalization(worker=_worker(storage), lease_seconds=30)
    assert again and again.id == job.id

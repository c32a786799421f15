"""service/leasing.py: what a worker's lease hands out, straight over the storage."""

from __future__ import annotations

from parzen.service.leasing import lease_trial, lease_work
from parzen.service.proposals import SamplerPool
from parzen.service.storage import AskResult, Storage, WorkerRecord
from tests.service.factories import study_spec


def _worker(storage: Storage) -> WorkerRecord:
    """Registered with token 0, the token the tests lease with (the ask refuses another)."""
    made = storage.register_worker(
        host="h", pid=1, gpu=None, builders=["mlp"], datasets=["digits"], token_id=0
    )
    return storage.get_worker(worker_id=made.id)


def test_an_excluded_study_is_skipped_for_the_next_one(storage: Storage) -> None:
    """Breaks if `exclude` stops keeping a worker off the studies it gave up on."""
    storage.create_study(spec=study_spec("first"))
    storage.create_study(spec=study_spec("second"))
    worker = _worker(storage)
    result = lease_work(
        storage=storage,
        worker=worker,
        proposer=SamplerPool(),
        token_id=0,
        lease_seconds=30,
        exclude={"first"},
    )
    assert isinstance(result, AskResult) and result.status == "ok"
    assert result.study is not None and result.study.name == "second"


def test_full_studies_answer_wait_naming_each_study(storage: Storage) -> None:
    """Breaks if a study at its parallel limit stops saying why the worker must wait."""
    storage.create_study(spec=study_spec("busy", max_parallel=1))
    worker = _worker(storage)
    pool = SamplerPool()
    assert lease_trial(storage=storage, worker=worker, proposer=pool, token_id=0).status == "ok"
    waiting = lease_trial(storage=storage, worker=worker, proposer=pool, token_id=0)
    assert waiting.status == "wait" and waiting.reason.startswith("busy: ")


def test_nothing_to_serve_is_done_and_the_worker_idle(storage: Storage) -> None:
    """Breaks if a worker with no servable study is not told `done` or not listed idle."""
    storage.create_study(spec=study_spec("other", objective={"builder": "cnn"}))
    worker = _worker(storage)
    done = lease_trial(storage=storage, worker=worker, proposer=SamplerPool(), token_id=0)
    assert done.status == "done" and done.trial is None
    assert storage.get_worker(worker_id=worker.id).state == "idle"

"""A proposal is made from a snapshot, outside the study's lock: on SQLite that lock is the
database's one write lock, so a slow proposal must not stall writers of other studies."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from parzen.service.algorithms.base import Observation
from parzen.service.proposals import SamplerPool
from parzen.service.storage import AskResult, Storage, StudyRecord
from tests.service.factories import study_spec
from tests.service.writes import store_report


class SlowPool(SamplerPool):
    """Proposes like the real pool, three seconds later."""

    def __init__(self) -> None:
        super().__init__()
        self.proposing = threading.Event()

    def propose(
        self, study: StudyRecord, changes: Sequence[Observation], seen_seq: int, number: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        self.proposing.set()
        time.sleep(3)
        return super().propose(study, changes, seen_seq, number)


@pytest.fixture
def sqlite_storage(sqlite_template: Path, tmp_path: Path) -> Iterator[Storage]:
    path = tmp_path / "parzen.db"
    shutil.copy(sqlite_template, path)
    store = Storage.from_url(f"sqlite:///{path}")
    yield store
    store.close()


def _timed(call: Any, **kwargs: Any) -> float:
    start = time.monotonic()
    call(**kwargs)
    return time.monotonic() - start


def test_a_slow_proposal_blocks_no_writer_of_another_study(sqlite_storage: Storage) -> None:
    """Fails if ask proposes while holding SQLite's write lock: a heartbeat on another study
    then waits for the whole proposal (it got 500 'database is locked' after 30 s)."""
    storage = sqlite_storage
    storage.create_study(spec=study_spec("slow"))
    storage.create_study(spec=study_spec("other", lease_seconds=0.01))
    other = storage.ask(study_name="other", worker_id=None, proposer=SamplerPool()).trial
    assert other is not None
    slow, results = SlowPool(), list[AskResult]()
    asking = threading.Thread(
        target=lambda: results.append(storage.ask(study_name="slow", worker_id=None, proposer=slow))
    )
    asking.start()
    assert slow.proposing.wait(10)
    assert _timed(store_report, storage=storage, trial=other, step=1, values={}) < 1
    assert _timed(store_report, storage=storage, trial=other, step=None, values={}) < 1
    time.sleep(0.05)  # the other study's lease runs out: the sweep has work to do
    assert _timed(storage.expire_leases) < 1
    asking.join(10)
    assert results and results[0].status == "ok" and results[0].trial is not None
    assert results[0].trial.number == 1


def test_a_snapshot_proposal_that_history_overtook_is_made_again(
    sqlite_storage: Storage,
) -> None:
    """Fails if a proposal made from a snapshot is kept after another ask inserted a trial
    meanwhile: trial 2 would get the point proposed for trial 1, blind to it (the constant
    liar needs every proposal to see the pending ones)."""
    storage = sqlite_storage
    storage.create_study(spec=study_spec())
    slow, results = SlowPool(), list[AskResult]()
    asking = threading.Thread(
        target=lambda: results.append(
            storage.ask(study_name="study", worker_id=None, proposer=slow)
        )
    )
    asking.start()
    assert slow.proposing.wait(10)
    first = storage.ask(study_name="study", worker_id=None, proposer=SamplerPool()).trial
    asking.join(30)
    second = results[0].trial if results else None
    assert first is not None and second is not None
    assert (first.number, second.number) == (1, 2)
    assert second.params != first.params
    # What a process that saw trial 1 pending proposes for trial 2, from the same seed.
    study = storage.get_study(name="study")
    pending = Observation(number=1, state="running", vals=first.vals, loss=None)
    assert SamplerPool().propose(study, [pending], 0, 2)[1] == second.params

"""Many askers at once: no number repeated or skipped, no trial leased twice, nothing lost."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from parzen.service.proposals import SamplerPool
from parzen.service.storage import Storage, StorageUnavailable
from tests.service.factories import quadratic, study_spec
from tests.service.writes import store_tell

THREADS = 16
TRIALS = 200


class Retrying:
    """The store as a client sees it through the API: a lock wait past SQLite's busy timeout
    applies nothing and answers 503, and the client sends the same request again."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._storage, name)

        def retried(**kwargs: Any) -> Any:
            while True:
                try:
                    return method(**kwargs)
                except StorageUnavailable:
                    time.sleep(0.05)

        return retried


def test_sixteen_threads_ask_and_tell_until_the_budget_is_spent(storage: Storage) -> None:
    storage = Retrying(storage)  # type: ignore[assignment]
    storage.create_study(spec=study_spec(max_trials=TRIALS, max_parallel=THREADS))
    leased: list[tuple[int, int, int]] = []  # (trial id, number, attempt)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        # Half the threads share a sampler pool (one process), half have their own (others).
        pool = shared if index % 2 == 0 else SamplerPool()
        try:
            while True:
                result = storage.ask(study_name="study", worker_id=None, proposer=pool)
                if result.status == "done":
                    return
                if result.trial is None:
                    time.sleep(0.01)
                    continue
                with lock:
                    leased.append((result.trial.id, result.trial.number, result.trial.attempt))
                value = quadratic(result.trial.params)
                store_tell(storage, result.trial, state="complete", value=value)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    shared = SamplerPool()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    numbers = sorted(number for _, number, _ in leased)
    assert numbers == list(range(1, TRIALS + 1))
    assert not [k for k, n in Counter((i, a) for i, _, a in leased).items() if n > 1]
    study = storage.get_study(name="study")
    assert study.counts == {"complete": TRIALS}
    assert study.state == "complete"
    params = [
        str(sorted(t.params.items()))
        for t in storage.list_trials(study_name="study", limit=1000)[0]
    ]
    assert len(set(params)) == TRIALS

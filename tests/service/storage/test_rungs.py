"""ASHA and Hyperband rungs in SQL, on SQLite and PostgreSQL: who continues, under
concurrent reports, a retried attempt counted once, and each configuration counted once."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import select, update

from parzen.service.algorithms.pruners import HalvingPruner
from parzen.service.db.models import RungEntry, Trial
from parzen.service.proposals import SamplerPool
from parzen.service.storage import Storage, StorageUnavailable, TrialRecord
from tests.service.factories import study_spec
from tests.service.writes import run_out_lease, store_report, store_tell

ASHA = {"type": "asha", "min_epochs": 1, "reduction_factor": 3, "max_epochs": 9}


def _study(storage: Storage, pruner: dict[str, Any] = ASHA, **changes: Any) -> SamplerPool:
    spec = study_spec(
        algorithm="random",
        algorithm_settings={},
        pruner=pruner,
        **({"max_parallel": 20, "max_trials": 40} | changes),
    )
    storage.create_study(spec=spec)
    return SamplerPool()


def _ask(storage: Storage, pool: SamplerPool) -> TrialRecord:
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial is not None
    return trial


def _entries(storage: Storage) -> list[RungEntry]:
    with storage.session() as session:
        rows = session.scalars(select(RungEntry).order_by(RungEntry.id)).all()
        session.expunge_all()
        return list(rows)


def _configured(
    storage: Storage, pool: SamplerPool, configurations: list[int]
) -> list[TrialRecord]:
    """One trial per item, the item its configuration: trials given the same item share
    their `vals`, as TPE's repeats of a grid point do."""
    trials = [_ask(storage, pool) for _ in configurations]
    with storage.session() as session:
        for trial, configuration in zip(trials, configurations, strict=True):
            vals = {"units": configuration, "layer": {"index": 0}}
            session.execute(update(Trial).where(Trial.id == trial.id).values(vals=vals))
    return trials


def _rung_one(storage: Storage, trials: list[TrialRecord], losses: list[float]) -> list[bool]:
    """Each trial reports its loss at epoch 1, in order: whether it was told to stop."""
    return [
        store_report(storage, trial, step=1, values={"val_loss": loss}).should_stop
        for trial, loss in zip(trials, losses, strict=True)
    ]


def test_repeats_of_a_configuration_count_once_at_a_rung(storage: Storage) -> None:
    """Three runs of one configuration, then a new one: counted per trial the rung would
    hold 4 entries and stop the newcomer (cut-off 0.1). If this fails, TPE's repeats of a
    good configuration fill the rungs again and raise the cut-offs until new good
    configurations are stopped every time (the convnet replay's miss, README "Pruning")."""
    pool = _study(storage)
    trials = _configured(storage, pool, [1, 1, 1, 2, 3])
    # The fourth sees one other configuration: too few to judge. The fifth sees two:
    # 3 entries, 1 kept, cut-off 0.1.
    assert _rung_one(storage, trials[:4], [0.1, 0.1, 0.1, 0.2]) == [False] * 4
    result = store_report(storage, trials[4], step=1, values={"val_loss": 0.3})
    assert result.should_stop
    assert result.reason == (
        "epoch 1: val_loss 0.3 is above the rung's top third (3 configurations), cut-off 0.1"
    )
    entries = _entries(storage)
    assert len(entries) == 5  # every trial keeps its own entry
    assert len({entry.configuration for entry in entries}) == 3  # keyed by configuration


def test_a_repeated_configuration_counts_with_the_mean_of_its_runs(storage: Storage) -> None:
    """Real training is noisy: two runs of one configuration at 0.1 and 0.5 count as 0.3,
    so 0.15 is the best of three and continues. If this fails, the rung takes a repeated
    configuration's best run (0.1: 0.15 would stop) or every run (4 entries: it would stop
    too), and one lucky run of a configuration sets the bar for all the others."""
    pool = _study(storage)
    trials = _configured(storage, pool, [1, 1, 2, 3])
    assert _rung_one(storage, trials, [0.1, 0.5, 0.2, 0.15]) == [False] * 4


def test_a_repeat_is_judged_against_its_own_configurations_earlier_runs(
    storage: Storage,
) -> None:
    """A configuration back at the rung meets its own earlier runs as one value among the
    others: 0.3 against 0.1 (itself before) and 0.2 is 3 entries, cut-off 0.1, and stops.
    If this fails, a repeat is judged without its own configuration (2 entries: too few to
    judge, it continues), the variant that measured worse on the convnet replay."""
    pool = _study(storage)
    trials = _configured(storage, pool, [1, 2, 1])
    assert _rung_one(storage, trials, [0.1, 0.2, 0.3]) == [False, False, True]


def test_asha_keeps_the_top_third_of_a_rung_and_stores_why(storage: Storage) -> None:
    pool = _study(storage)
    trials = [_ask(storage, pool) for _ in range(4)]
    # val_loss, minimized: the first two enter a rung too small to judge and go on.
    answers = [
        store_report(storage, trial, step=1, values={"val_loss": loss})
        for trial, loss in zip(trials, (0.5, 0.4, 0.3, 0.6), strict=True)
    ]
    assert [a.should_stop for a in answers] == [False, False, False, True]
    # Third: the best of three. Fourth: 4 // 3 = 1 kept, cut-off 0.3.
    assert answers[3].reason == (
        "epoch 1: val_loss 0.6 is above the rung's top third (4 configurations), cut-off 0.3"
    )
    # Between rungs nothing is judged; the kept ones meet again at epoch 3.
    assert not store_report(storage, trials[0], step=2, values={"val_loss": 9.0}).should_stop
    # A trial told to stop stays stopped, even at the next rung.
    assert store_report(storage, trials[3], step=3, values={"val_loss": 0.01}).should_stop
    told = store_tell(storage, trials[3], state="pruned")
    assert told.state == "pruned" and told.pruned_reason == answers[3].reason
    assert storage.get_trial(study_name="study", number=4).pruned_reason == answers[3].reason
    assert storage.get_trial(study_name="study", number=1).pruned_reason is None
    assert [(e.epoch, e.keep) for e in _entries(storage)] == [(1, True)] * 3 + [(1, False)]


def test_no_rung_at_or_past_max_epochs(storage: Storage) -> None:
    """Rungs are 1 and 3 for max_epochs 9: epoch 9 is the end of training, never a rung."""
    pool = _study(storage)
    trials = [_ask(storage, pool) for _ in range(6)]
    for index, trial in enumerate(trials):
        store_report(storage, trial, step=9, values={"val_loss": float(index)})
    assert {e.epoch for e in _entries(storage)} == {3}


def test_concurrent_reports_are_judged_one_after_another(storage: Storage) -> None:
    """Twelve trials reach the rung at once: each decision must be the one a serial order
    of the entries gives (the order they were stored), with no entry missed by a decision
    made at the same time; else two concurrent trials could both see a rung too small."""
    pool = _study(storage)
    trials = [_ask(storage, pool) for _ in range(12)]
    losses = [0.9, 0.1, 0.5, 0.7, 0.2, 0.8, 0.3, 0.6, 0.4, 0.05, 0.95, 0.45]
    answers: dict[int, bool] = {}
    barrier = threading.Barrier(len(trials))

    def report(trial: TrialRecord, loss: float) -> None:
        barrier.wait()
        while True:
            try:
                result = store_report(storage, trial, step=1, values={"val_loss": loss})
                answers[trial.id] = result.should_stop
                return
            except StorageUnavailable:  # a lock wait past SQLite's busy timeout: retry
                time.sleep(0.02)

    threads = [
        threading.Thread(target=report, args=(t, loss))
        for t, loss in zip(trials, losses, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = _entries(storage)
    assert len(entries) == 12
    pruner = HalvingPruner(min_epochs=1, reduction_factor=3, max_epochs=9)
    seen: list[float] = []
    for entry in entries:
        expected = pruner.judge(entry.value, seen, maximize=False).keep
        assert entry.keep == expected
        assert answers[entry.trial_id] == (not expected)
        seen.append(entry.value)


def test_a_requeued_attempt_replaces_its_rung_entry(storage: Storage) -> None:
    pool = _study(storage, max_parallel=4)
    first, second, third = (_ask(storage, pool) for _ in range(3))
    store_report(storage, first, step=1, values={"val_loss": 0.2})
    store_report(storage, second, step=1, values={"val_loss": 0.3})
    assert not store_report(storage, third, step=1, values={"val_loss": 0.1}).should_stop
    # The first attempt's lease runs out (set in the past: a short lease and a sleep made
    # the test fail whenever the three asks took longer than the lease on a busy machine).
    run_out_lease(storage, first.id)
    assert storage.expire_leases().requeued == 1
    again = _ask(storage, pool)
    assert again.id == first.id and again.attempt == 2
    # Attempt 2 reaches epoch 1 again: judged against the two others only (3 entries, not
    # 4: with 4 the best one would be kept and 0.25 would stop at 2nd place of 4).
    result = store_report(storage, again, step=1, values={"val_loss": 0.25})
    assert result.should_stop and "(3 configurations)" in result.reason
    entries = _entries(storage)
    assert len(entries) == 3
    mine = [e for e in entries if e.trial_id == first.id]
    assert [(e.attempt, e.value, e.keep) for e in mine] == [(2, 0.25, False)]


def test_hyperband_brackets_have_their_own_rungs(storage: Storage) -> None:
    pruner = {"type": "hyperband", "min_epochs": 1, "reduction_factor": 3, "max_epochs": 27}
    pool = _study(storage, pruner=pruner, max_parallel=30, max_trials=30)
    halving = HalvingPruner(1, 3, 27, hyperband=True)
    trials = [_ask(storage, pool) for _ in range(30)]
    for trial in trials:
        for step in range(1, 10):
            if store_report(
                storage, trial, step=step, values={"val_loss": 1.0 / trial.number}
            ).should_stop:
                break
    for entry in _entries(storage):
        trial = next(t for t in trials if t.id == entry.trial_id)
        bracket = halving.bracket("study", trial.number)
        assert entry.bracket == bracket
        assert entry.epoch in halving.rungs(bracket)
    brackets = {e.bracket for e in _entries(storage)}
    assert len(brackets) >= 2  # 30 trials over 4 brackets (3 with rungs before epoch 27)

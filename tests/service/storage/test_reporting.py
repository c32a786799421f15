"""Reports of attempts this process already knows (reporting.KnownAttempts), on SQLite and
PostgreSQL: what is remembered shortens the statements, never the checks. An attempt that
lost its lease, finished, or is named with another bearer token gets the answer it would
get from a process that never saw it."""

from __future__ import annotations

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import ConflictError, ForbiddenError, Storage, TrialRecord
from parzen.service.storage.reporting import KnownAttempt, KnownAttempts
from tests.service.factories import study_spec
from tests.service.writes import run_out_lease, store_report, store_tell


def _known(storage: Storage, token_id: int | None = None) -> TrialRecord:
    """A leased trial that has reported once, so that this storage knows its attempt."""
    storage.create_study(spec=study_spec())
    trial = storage.ask(
        study_name="study", worker_id=None, proposer=SamplerPool(), token_id=token_id
    ).trial
    assert trial is not None and trial.lease_token
    assert not storage.report(
        trial_id=trial.id,
        lease_token=trial.lease_token,
        step=1,
        values={"val_loss": 0.5},
        token_id=token_id,
    ).should_stop
    return trial


def test_a_known_attempt_whose_lease_expired_is_refused_and_forgotten(storage: Storage) -> None:
    """If this fails, a worker whose trial was requeued (and may be running elsewhere) is
    told to go on training, because this process remembered its attempt as running."""
    trial = _known(storage)
    run_out_lease(storage, trial.id)
    assert storage.expire_leases().requeued == 1
    for step in (2, 3):  # the second time, from a process that has forgotten it
        with pytest.raises(ConflictError, match=r"no longer current \(its lease expired\)"):
            store_report(storage, trial, step, {"val_loss": 0.4})
    again = storage.ask(study_name="study", worker_id=None, proposer=SamplerPool()).trial
    assert again is not None and (again.id, again.attempt) == (trial.id, 2)
    assert not store_report(storage, again, 1, {"val_loss": 0.3}).should_stop
    assert storage.get_trial_by_id(trial_id=trial.id).last_step == 1


def test_a_known_attempt_told_complete_is_told_to_stop(storage: Storage) -> None:
    """If this fails, a report that races its own trial's tell (a callback's last epoch
    after the result) renews a lease on a finished trial or gets an error instead of stop."""
    trial = _known(storage)
    store_tell(storage, trial, "complete", 0.3)
    answer = store_report(storage, trial, 2, {"val_loss": 0.3})
    assert answer.should_stop and "is complete" in answer.reason
    finished = storage.get_trial_by_id(trial_id=trial.id)
    assert (finished.state, finished.last_step, finished.lease_expires_at) == ("complete", 1, None)


def test_a_known_lease_token_under_another_bearer_token_is_forbidden(storage: Storage) -> None:
    """If this fails, a lease token copied to another bearer token writes to the trial
    once its own holder has reported, which the holder check exists to refuse."""
    trial = _known(storage, token_id=7)
    assert trial.lease_token
    with pytest.raises(ForbiddenError, match="leased with another bearer token"):
        storage.report(
            trial_id=trial.id,
            lease_token=trial.lease_token,
            step=2,
            values={"val_loss": 0.4},
            token_id=8,
        )
    with pytest.raises(ConflictError, match="attempt 2 was named"):
        storage.report(
            trial_id=trial.id,
            lease_token=trial.lease_token,
            attempt=2,
            step=2,
            values={"val_loss": 0.4},
            token_id=7,
        )


def test_a_known_attempts_tell_after_its_lease_expired_is_kept_as_late(storage: Storage) -> None:
    """If this fails, the tell of an attempt this process knows skips the checks a late
    result gets: its complete is lost, or written over the requeued trial as if on time."""
    trial = _known(storage)
    run_out_lease(storage, trial.id)
    assert storage.expire_leases().requeued == 1
    told = store_tell(storage, trial, "complete", 0.2)
    assert (told.state, told.value, told.attempt) == ("complete", 0.2, 1)
    again = storage.ask(study_name="study", worker_id=None, proposer=SamplerPool()).trial
    assert again is not None and again.id != trial.id  # not handed out again


def test_a_known_attempt_pruned_without_a_value_keeps_its_last_report(storage: Storage) -> None:
    """If this fails, a trial the worker stopped (told pruned with no value) enters TPE's
    history without the value it had reached, or with none."""
    trial = _known(storage)
    assert not store_report(storage, trial, 2, {"val_loss": 0.375}).should_stop
    told = store_tell(storage, trial, "pruned")
    assert (told.state, told.value) == ("pruned", 0.375)


def _attempt(trial_id: int, worker_id: str | None = None) -> KnownAttempt:
    return KnownAttempt(
        trial_id=trial_id,
        attempt=1,
        number=trial_id,
        worker_id=worker_id,
        study_id=1,
        study_name="study",
        metric="val_loss",
        direction="minimize",
        lease_seconds=60.0,
        pruner={"type": "none"},
        objective={},
    )


def test_the_memo_keeps_the_most_recently_reporting_attempts() -> None:
    """If this fails, the memo grows with every attempt a long-lived server ever saw, or
    forgets an attempt that reports every epoch before one that went quiet."""
    memo = KnownAttempts(size=2)
    keys = [(n, f"hash{n}", None, None) for n in (1, 2, 3)]
    memo.put(keys[0], _attempt(1), worker_seen_at=None)
    memo.put(keys[1], _attempt(2), worker_seen_at=None)
    assert memo.get(keys[0]) is not None  # 1 reported again: 2 is now the quietest
    memo.put(keys[2], _attempt(3), worker_seen_at=None)
    assert [memo.get(k) is not None for k in keys] == [True, False, True]
    memo.forget(keys[0])
    assert memo.get(keys[0]) is None

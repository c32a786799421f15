"""Lease tokens in the storage contract, on SQLite and PostgreSQL: the cases the API tests
do not reach (a late complete on a queued or lease-exhausted trial, a handed-back attempt)."""

from __future__ import annotations

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import ConflictError, ForbiddenError, Storage, TrialRecord
from tests.service.factories import study_spec
from tests.service.writes import run_out_lease, store_release, store_report, store_tell


@pytest.fixture
def pool() -> SamplerPool:
    return SamplerPool()


def _ask(storage: Storage, pool: SamplerPool, token_id: int | None = None) -> TrialRecord:
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool, token_id=token_id).trial
    assert trial is not None and trial.lease_token
    return trial


def _expire(storage: Storage, trial: TrialRecord) -> None:
    run_out_lease(storage, trial.id)
    assert storage.expire_leases().total == 1


def test_late_complete_of_a_queued_trial_is_kept_and_not_handed_out_again(
    storage: Storage, pool: SamplerPool
) -> None:
    """If this fails, a finished training is thrown away and run a second time."""
    storage.create_study(spec=study_spec(max_trials=1))
    trial = _ask(storage, pool)
    _expire(storage, trial)
    assert storage.get_trial_by_id(trial_id=trial.id).state == "queued"
    told = store_tell(storage, trial, state="complete", value=0.4)
    assert (told.state, told.value, told.attempt) == ("complete", 0.4, 1)
    assert storage.ask(study_name="study", worker_id=None, proposer=pool).status == "done"


def test_late_complete_of_a_trial_failed_as_worker_lost_is_kept(
    storage: Storage, pool: SamplerPool
) -> None:
    """If this fails, a trial whose worker was only slow stays failed although it finished."""
    storage.create_study(spec=study_spec(max_trials=1, max_attempts=1))
    trial = _ask(storage, pool)
    _expire(storage, trial)
    assert storage.get_trial_by_id(trial_id=trial.id).state == "failed"
    told = store_tell(storage, trial, state="complete", value=0.4)
    assert (told.state, told.value, told.error) == ("complete", 0.4, None)
    detail = storage.get_trial(study_name="study", number=1)
    assert [a.outcome for a in detail.attempts] == ["complete"]


def test_a_handed_back_attempt_is_told_to_stop_and_cannot_tell(
    storage: Storage, pool: SamplerPool
) -> None:
    """If this fails, a worker that released its trial can still finish it over the next."""
    storage.create_study(spec=study_spec())
    trial = _ask(storage, pool)
    store_release(storage, trial)
    assert store_release(storage, trial).state == "queued"  # repeating it is harmless
    answer = store_report(storage, trial, step=1, values={"val_loss": 1.0})
    assert answer.should_stop and "handed back" in answer.reason
    with pytest.raises(ConflictError, match="it was released"):
        store_tell(storage, trial, state="complete", value=0.4)
    assert storage.get_trial(study_name="study", number=1).intermediate == ()


def test_the_bearer_token_must_be_the_one_that_leased(storage: Storage, pool: SamplerPool) -> None:
    """If this fails, a lease token alone (leaked in a log, say) lets anyone write."""
    storage.create_study(spec=study_spec())
    trial = _ask(storage, pool, token_id=7)
    assert trial.lease_token
    with pytest.raises(ForbiddenError, match="another bearer token"):
        storage.tell(trial_id=trial.id, lease_token=trial.lease_token, state="failed", token_id=8)
    told = storage.tell(
        trial_id=trial.id, lease_token=trial.lease_token, state="complete", value=1.0, token_id=7
    )
    assert told.state == "complete"

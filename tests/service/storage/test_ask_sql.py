"""An ask's statements, on SQLite and PostgreSQL: one transaction for a new trial (the
study's lock, the one read of its state, the history the sampler has not seen, then the
trial, the counter, the attempt and the worker: 7 statements on SQLite, 4 on PostgreSQL,
where the last four are one), the worker's ownership checked inside it, and the study's id
remembered by name without going stale. An ask is what every idle GPU sends:
each round trip more is latency before a GPU trains again."""

from __future__ import annotations

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import ForbiddenError, NotFoundError, Storage
from tests.service.factories import study_spec
from tests.service.statements import statements, transactions
from tests.service.writes import run_out_lease


def test_an_ask_for_a_new_trial_is_one_transaction_of_few_statements(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, an ask got a round trip longer: the study looked up by name apart from
    its lock, the pending counts, expired leases or finalization read apart, or the worker
    read in a transaction of its own before the ask's, or PostgreSQL's new trial, counter,
    attempt and busy worker are no longer one statement."""
    storage.create_study(spec=study_spec())
    pool = SamplerPool()
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    # A quick sampler proposes under the lock (proposing.py); a slow one from a snapshot first.
    monkeypatch.setattr(storage.proposal_times, "quick", lambda _study_id: True)
    for _ in range(2):
        storage.ask(study_name="study", worker_id=worker.id, proposer=pool)
    with transactions(storage.engine) as begun, statements(storage.engine) as sent:
        result = storage.ask(study_name="study", worker_id=worker.id, proposer=pool)
    assert result.status == "ok" and result.trial is not None and result.trial.number == 3
    assert len(sent) == (4 if storage.is_postgres else 7), sent
    assert len(begun) == 1
    (after,) = storage.list_workers()
    assert (after.state, after.current_trial_id) == ("busy", result.trial.id)
    (attempt,) = storage.get_trial(study_name="study", number=3).attempts
    assert (attempt.attempt, attempt.worker_id, attempt.outcome) == (1, worker.id, "running")
    assert storage.get_study(name="study").trial_counter == 3


def test_another_tokens_worker_is_refused_and_nothing_is_applied(storage: Storage) -> None:
    """If this fails, a bearer token can lease trials in another token's registered worker's
    name (its trials and counts), or the refused ask left a trial or an attempt behind; an
    unregistered id must still work as a plain label."""
    storage.create_study(spec=study_spec())
    mine = storage.create_token(name="mine", role="worker")[1].id
    theirs = storage.create_token(name="theirs", role="worker")[1].id
    worker = storage.register_worker(
        host="h", pid=1, gpu=None, builders=[], datasets=[], token_id=theirs
    )
    with pytest.raises(ForbiddenError, match="not registered with this token"):
        storage.ask(study_name="study", worker_id=worker.id, proposer=SamplerPool(), token_id=mine)
    assert storage.get_study(name="study").trial_counter == 0
    assert storage.list_trials(study_name="study", offset=0, limit=10)[1] == 0
    assert storage.list_workers()[0].state == "idle"
    labelled = storage.ask(
        study_name="study", worker_id="not-registered", proposer=SamplerPool(), token_id=mine
    )
    assert labelled.trial is not None and labelled.trial.worker_id == "not-registered"
    owned = storage.ask(
        study_name="study", worker_id=worker.id, proposer=SamplerPool(), token_id=theirs
    )
    assert owned.trial is not None and owned.trial.worker_id == worker.id


def test_a_study_made_again_under_its_name_is_the_one_asked(storage: Storage) -> None:
    """If this fails, the study id an ask remembers by name outlives its study: asks of a
    study deleted and created again under the same name (by this process or another) fail
    or lease from the old one."""
    pool = SamplerPool()
    storage.create_study(spec=study_spec())
    storage.ask(study_name="study", worker_id=None, proposer=pool)
    old = storage.study_ids["study"]
    storage.delete_study(name="study")  # as another process would: nothing here is told
    storage.create_study(spec=study_spec(name="other"))  # takes the old id where SQLite reuses
    storage.create_study(spec=study_spec())
    result = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert result.trial is not None and result.trial.number == 1
    assert storage.study_ids["study"] == storage.get_study(name="study").id != old
    storage.delete_study(name="study")
    with pytest.raises(NotFoundError, match="does not exist"):
        storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert "study" not in storage.study_ids


def test_an_ask_expires_the_leases_its_state_read_finds_run_out(storage: Storage) -> None:
    """If this fails, the one read of the ask's state no longer sees run-out leases, so a
    lost worker's trial stays running until the sweep instead of going to the next ask."""
    storage.create_study(spec=study_spec(max_parallel=1))
    pool = SamplerPool()
    first = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert first is not None
    run_out_lease(storage, first.id)
    again = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert again.expired.requeued == 1
    assert again.trial is not None and (again.trial.id, again.trial.attempt) == (first.id, 2)


def test_an_ask_that_names_no_worker_leaves_every_worker_alone(storage: Storage) -> None:
    """If this fails, the new trial's write marks some registered worker busy (on PostgreSQL
    the worker's UPDATE rides along in the trial's statement) though the ask named none."""
    storage.create_study(spec=study_spec())
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    trial = storage.ask(study_name="study", worker_id=None, proposer=SamplerPool()).trial
    assert trial is not None and trial.worker_id is None
    (after,) = storage.list_workers()
    assert (after.id, after.state, after.current_trial_id) == (worker.id, "idle", None)

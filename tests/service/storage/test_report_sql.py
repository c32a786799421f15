"""The hot writes' statements, on SQLite and PostgreSQL: a heartbeat is 2, a report 3 (the
pruner's own reads come on top), a tell 5 (6 once its study's budget is handed out), and a
worker's `last_seen_at` is written at most once per report_sql.SEEN_EVERY by reports. A fleet
sends one report per GPU per epoch: each statement more is a database round trip more on the
write a server answers most."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, update

from parzen.service.db.models import Worker
from parzen.service.proposals import SamplerPool
from parzen.service.storage import ConflictError, Storage, TrialRecord, report_sql
from tests.service.factories import study_spec
from tests.service.statements import statements
from tests.service.writes import run_out_lease, store_report, store_tell


def _leased(storage: Storage) -> TrialRecord:
    storage.create_study(spec=study_spec())
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    trial = storage.ask(study_name="study", worker_id=worker.id, proposer=SamplerPool()).trial
    assert trial is not None
    return trial


def _worker_writes(sent: list[str]) -> list[str]:
    return [s for s in sent if s.lstrip().upper().startswith("UPDATE WORKERS")]


def test_a_heartbeat_is_two_statements_and_a_report_three(storage: Storage) -> None:
    """If this fails, the hottest write a fleet sends got a round trip longer (a lookup that
    the one joined read already answers, or the ORM loading rows a report never uses)."""
    trial = _leased(storage)  # the lease has just written the worker's last_seen_at
    with statements(storage.engine) as heartbeat:
        assert not store_report(storage, trial, None, {}).should_stop
    with statements(storage.engine) as report:
        assert not store_report(storage, trial, 1, {"val_loss": 0.5}).should_stop
    assert len(heartbeat) == 2, heartbeat
    assert len(report) == 3, report
    assert storage.get_trial_by_id(trial_id=trial.id).last_step == 1


def test_the_worker_is_marked_seen_once_its_last_sighting_is_a_second_old(
    storage: Storage,
) -> None:
    """If this fails, either every report writes the worker row (a write per epoch per GPU
    that says nothing new), or a busy worker's last_seen_at stops moving and it looks dead."""
    trial = _leased(storage)
    with statements(storage.engine) as fresh:
        store_report(storage, trial, 1, {"val_loss": 0.5})
    assert _worker_writes(fresh) == []
    before = storage.list_workers()[0].last_seen_at - report_sql.SEEN_EVERY
    with storage.session() as session:
        session.execute(update(Worker).values(last_seen_at=before))
    with statements(storage.engine) as stale:
        store_report(storage, trial, 2, {"val_loss": 0.4})
    assert len(_worker_writes(stale)) == 1
    assert storage.list_workers()[0].last_seen_at > before + timedelta(milliseconds=500)


@pytest.mark.parametrize(("max_trials", "expected"), [(1, 6), (5, 5)])
def test_a_tell_is_five_statements_and_six_when_it_may_complete_the_study(
    storage: Storage, max_trials: int, expected: int
) -> None:
    """If this fails, a tell got a round trip longer (the study found apart from its lock,
    the trial read apart from its attempt, the answer read back after the write, the worker
    counted and freed in two writes, the study's completion tried while trials remain), or
    its one UPDATE of the workers no longer counts the trial and frees the worker, or a spent
    study is no longer marked complete by its last tell."""
    storage.create_study(spec=study_spec(max_trials=max_trials))
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    trial = storage.ask(study_name="study", worker_id=worker.id, proposer=SamplerPool()).trial
    assert trial is not None
    with statements(storage.engine) as sent:
        told = store_tell(storage, trial, "complete", 0.25)
    assert (told.state, told.value, told.study_name) == ("complete", 0.25, "study")
    assert (told.attempt, told.worker_id, told.finished_at is not None) == (1, worker.id, True)
    assert len(sent) == expected, sent
    assert len(_worker_writes(sent)) == 1
    (after,) = storage.list_workers()
    assert (after.state, after.current_trial_id, after.trials_done) == ("idle", None, 1)
    spent = "complete" if max_trials == 1 else "running"
    assert storage.get_study(name="study").state == spent
    assert storage.get_trial_by_id(trial_id=trial.id) == told


def test_a_lease_taken_back_between_the_read_and_the_renewal_is_answered_as_lost(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a report whose lease another server process expired after the report
    read the trial (PostgreSQL runs both at once) is told to go on, or gets a 500, instead of
    the 409 that sends its worker to ask for another trial."""
    if not storage.is_postgres:
        pytest.skip("SQLite runs one writer at a time: the sweep cannot come in between")
    trial = _leased(storage)
    renew = report_sql.renew

    def swept_first(conn: Connection, trial_id: int, attempt: int, changes: dict[str, Any]) -> bool:
        run_out_lease(storage, trial_id)  # other transactions, as another process's sweep
        assert storage.expire_leases().requeued == 1
        return renew(conn, trial_id, attempt, changes)

    monkeypatch.setattr(report_sql, "renew", swept_first)
    with pytest.raises(ConflictError, match=r"no longer current \(its lease expired\)"):
        store_report(storage, trial, 1, {"val_loss": 0.5})
    assert storage.get_trial_by_id(trial_id=trial.id).state == "queued"

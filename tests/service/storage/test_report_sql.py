"""The hot writes' statements, on SQLite and PostgreSQL: an attempt's heartbeat is 1 and its
report 2 once this process knows the attempt, 2 and 3 before (the pruner's own reads come on
top), a tell 5 (6 once its study's budget is handed out), and a worker's `last_seen_at` is
written at most once per report_sql.SEEN_EVERY by reports. A fleet sends one report per GPU
per epoch: each statement more is a database round trip more on the write a server answers
most."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection

from parzen.service.db.base import utcnow
from parzen.service.proposals import SamplerPool
from parzen.service.storage import ConflictError, Storage, TrialRecord, report_sql, reporting
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


def test_an_attempts_first_heartbeat_is_two_statements_then_a_report_two_and_a_heartbeat_one(
    storage: Storage,
) -> None:
    """If this fails, the hottest write a fleet sends got a round trip longer: the first
    write of an attempt reads it (one joined read) and renews, and once this process knows
    the attempt (reporting.KnownAttempts) a heartbeat is the renewal alone and a report the
    renewal and the epoch's upsert; or a process that does not know it yet skips the read."""
    trial = _leased(storage)  # the lease has just written the worker's last_seen_at
    with statements(storage.engine) as first:
        assert not store_report(storage, trial, None, {}).should_stop
    with statements(storage.engine) as report:
        assert not store_report(storage, trial, 1, {"val_loss": 0.5}).should_stop
    with statements(storage.engine) as heartbeat:
        assert not store_report(storage, trial, None, {}).should_stop
    other_process = Storage.from_url(storage.engine.url.render_as_string(hide_password=False))
    try:
        with statements(other_process.engine) as elsewhere:
            assert not store_report(other_process, trial, 2, {"val_loss": 0.4}).should_stop
    finally:
        other_process.close()
    assert (len(first), len(report), len(heartbeat), len(elsewhere)) == (2, 2, 1, 3), (
        first,
        report,
        heartbeat,
        elsewhere,
    )
    assert storage.get_trial_by_id(trial_id=trial.id).last_step == 2


def test_the_worker_is_marked_seen_once_its_last_sighting_is_a_second_old(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, either every report writes the worker row (a write per epoch per GPU
    that says nothing new), or a busy worker's last_seen_at stops moving and it looks dead:
    on an attempt's first report (the sighting read from the database) and on a known
    attempt's (the last write this process made)."""
    trial = _leased(storage)
    with statements(storage.engine) as fresh:
        store_report(storage, trial, 1, {"val_loss": 0.5})
    with statements(storage.engine) as known:
        store_report(storage, trial, 2, {"val_loss": 0.45})
    assert _worker_writes(fresh) == _worker_writes(known) == []
    later = utcnow() + report_sql.SEEN_EVERY + timedelta(milliseconds=100)
    monkeypatch.setattr(reporting, "utcnow", lambda: later)
    with statements(storage.engine) as stale:
        store_report(storage, trial, 3, {"val_loss": 0.4})
    with statements(storage.engine) as again:
        store_report(storage, trial, 4, {"val_loss": 0.35})
    assert (len(_worker_writes(stale)), len(_worker_writes(again))) == (1, 0)
    assert storage.list_workers()[0].last_seen_at == later


@pytest.mark.parametrize(
    ("max_trials", "reported", "expected"),
    [(1, False, 6), (5, False, 5), (1, True, 5), (5, True, 4)],
)
def test_a_tell_is_five_statements_and_six_when_it_may_complete_the_study(
    storage: Storage, max_trials: int, reported: bool, expected: int
) -> None:
    """If this fails, a tell got a round trip longer (the study found apart from its lock,
    the trial read apart from its attempt, the answer read back after the write, the worker
    counted and freed in two writes, the study's completion tried while trials remain, or
    the joined read made for an attempt this process knows from its reports), or its one
    UPDATE of the workers no longer counts the trial and frees the worker, or a spent study
    is no longer marked complete by its last tell."""
    storage.create_study(spec=study_spec(max_trials=max_trials))
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    trial = storage.ask(study_name="study", worker_id=worker.id, proposer=SamplerPool()).trial
    assert trial is not None
    if reported:
        store_report(storage, trial, 1, {"val_loss": 0.5})
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

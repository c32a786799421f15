"""The one lookup per thing (storage/lookups.py), over SQLite and PostgreSQL: each raises
NotFoundError with the message the API answers 404 with, and `lock` bumps the study's stamp;
what an ask reads of its study each time is its changing columns, the rest once."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import FinishedTrial, NotFoundError, Storage
from parzen.service.storage.base import lock_study, lock_trials_study
from parzen.service.storage.lookups import (
    CHANGING_STUDY_COLUMNS,
    StudySpecs,
    finalization_by_id,
    study_by_name,
    study_id_by_name,
    study_state_by_name,
    trial_by_id,
    worker_by_id,
)
from tests.service.factories import study_spec
from tests.service.statements import statements


def test_each_lookup_names_what_is_missing(storage: Storage) -> None:
    """A lookup that returned None or raised another message would turn a 404 that says what
    is missing into a 500 or a vague answer."""
    specs = StudySpecs()
    missing = [
        (lambda s: study_by_name(s, "nope"), "study 'nope' does not exist"),
        (lambda s: study_state_by_name(s, "nope", specs), "study 'nope' does not exist"),
        (
            lambda s: study_state_by_name(s, "nope", specs, lock=True),
            "study 'nope' does not exist",
        ),
        (lambda s: study_id_by_name(s, "nope"), "study 'nope' does not exist"),
        (lambda s: lock_study(s, 999), "study 999 does not exist"),
        (lambda s: trial_by_id(s, 999), "trial 999 does not exist"),
        (lambda s: lock_trials_study(s, 999), "trial 999 does not exist"),
        (lambda s: worker_by_id(s, "w0"), "worker 'w0' is not registered"),
        (lambda s: finalization_by_id(s, 999), "finalization 999 does not exist"),
    ]
    for lookup, message in missing:
        with pytest.raises(NotFoundError) as caught, storage.session() as session:
            lookup(session)
        assert str(caught.value) == message


def test_lookups_find_what_exists_and_lock_bumps_the_stamp(storage: Storage) -> None:
    """If `lock=True` stopped bumping the change stamp, samplers cached in a process would
    miss the trials created under that lock (see lock_study)."""
    study = storage.create_study(spec=study_spec())
    trial = storage.ask(study_name="study", worker_id=None, proposer=SamplerPool()).trial
    assert trial is not None
    with storage.session() as session:
        before = study_by_name(session, "study").change_seq
        assert study_id_by_name(session, "study") == study.id
        assert trial_by_id(session, trial.id).number == trial.number
    with storage.session() as session:
        record, stamp = study_state_by_name(session, "study", storage.study_specs, lock=True)
        assert (record.id, record.name, stamp) == (study.id, "study", before + 1)
    with storage.session() as session:
        assert study_by_name(session, "study").change_seq == before + 1
        assert study_state_by_name(session, "study", storage.study_specs)[1] == before + 1
    with storage.session() as session:  # a trial's write locks its study the same way
        locked = lock_trials_study(session, trial.id)
        assert (locked.id, locked.stamp) == (study.id, before + 2)


def test_the_ask_reads_a_study_whole_once_and_its_changes_every_time(storage: Storage) -> None:
    """If this fails, an ask of a paused, resumed or filled-up study answers from a stale
    state or trial counter (the memo kept what changes), or every ask reads and validates
    the whole study row again (space and objective JSON included)."""
    storage.create_study(spec=study_spec(max_trials=3))
    specs = StudySpecs()
    before = storage.get_study(name="study")
    with storage.session() as session, statements(storage.engine) as sent:
        first, _ = study_state_by_name(session, "study", specs)
        again, _ = study_state_by_name(session, "study", specs, lock=True)
    assert len(sent) == 3  # the changing columns twice, the whole row once
    assert first == before
    assert again == storage.get_study(name="study") != before  # the lock's updated_at
    storage.set_study_state(name="study", state="paused")
    pool = SamplerPool()
    assert storage.ask(study_name="study", worker_id=None, proposer=pool).status == "paused"
    storage.set_study_state(name="study", state="running")
    for number in (1, 2, 3):
        trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
        assert trial is not None and trial.number == number
    assert storage.ask(study_name="study", worker_id=None, proposer=pool).status == "wait"
    with storage.session() as session:
        record, _ = study_state_by_name(session, "study", storage.study_specs)
    fresh = storage.get_study(name="study")
    assert record == replace(fresh, counts={}, best_value=None)
    assert (record.trial_counter, record.state) == (3, "running")


def test_a_study_made_again_is_read_whole_again(storage: Storage) -> None:
    """If this fails, a study deleted and created again under its name (SQLite may even give
    it the old id) is asked with the old one's space, objective and budget."""
    specs = StudySpecs()
    storage.create_study(spec=study_spec(max_trials=3))
    with storage.session() as session:
        old, _ = study_state_by_name(session, "study", specs)
    storage.delete_study(name="study")
    storage.create_study(spec=study_spec(max_trials=7, metric="val_accuracy", direction="maximize"))
    with storage.session() as session:
        new, _ = study_state_by_name(session, "study", specs)
    assert (old.max_trials, new.max_trials) == (3, 7)
    assert (new.metric, new.direction) == ("val_accuracy", "maximize")
    assert new == storage.get_study(name="study")


def test_a_full_memo_lets_the_first_remembered_go(storage: Storage) -> None:
    """If this fails, the memo of study specs grows without bound in a long-lived server
    that sees many studies come and go, or an evicted study can no longer be read."""
    specs = StudySpecs(size=2)
    for name in ("a", "b", "c"):
        storage.create_study(spec=study_spec(name=name))
    with storage.session() as session, statements(storage.engine) as sent:
        for name in ("a", "b", "c", "c", "a"):
            assert study_state_by_name(session, name, specs)[0].name == name
    assert len(sent) == 5 + 4  # "c" again is remembered; "a" went when "c" came


def test_no_write_changes_what_the_memo_keeps_of_a_study(storage: Storage) -> None:
    """If this fails, some write now changes a study column that StudySpecs remembers per
    process (its space, budget, pruner...): asks in a process that read the study before
    would go on with the old value. Make the column one of lookups._CHANGING, or don't write
    it after creation."""
    pool = SamplerPool()
    with statements(storage.engine) as sent:
        storage.create_study(spec=study_spec(max_trials=4, max_parallel=2))
        storage.add_trials(
            study_name="study",
            trials=[FinishedTrial({"x": 0.5}, {"x": 0.5}, "complete", 1.0)],
        )
        for state in ("paused", "running"):
            storage.set_study_state(name="study", state=state)
        while (asked := storage.ask(study_name="study", worker_id=None, proposer=pool)).trial:
            trial = asked.trial
            lease = {"trial_id": trial.id, "lease_token": trial.lease_token}
            storage.report(**lease, step=1, values={"val_loss": 0.5})
            storage.tell(**lease, state="complete", value=0.5)
        assert storage.get_study(name="study").state == "complete"
        storage.create_study(spec=study_spec(name="other"))
        storage.set_study_state(name="other", state="stopped")
    written = {
        column
        for sql in sent
        for clause in re.findall(r"UPDATE studies SET (.+?) WHERE", " ".join(sql.split()))
        for column in re.findall(r"(?:^|, )(\w+)=", clause)
    }
    assert written and written <= CHANGING_STUDY_COLUMNS, written - CHANGING_STUDY_COLUMNS
    assert {"state", "trial_counter", "change_seq"} <= written  # the scenario wrote them all

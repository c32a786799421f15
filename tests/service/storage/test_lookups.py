"""The one lookup per thing (storage/lookups.py), over SQLite and PostgreSQL: each raises
NotFoundError with the message the API answers 404 with, and `lock` bumps the study's stamp."""

from __future__ import annotations

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import NotFoundError, Storage
from parzen.service.storage.base import lock_study, lock_trials_study
from parzen.service.storage.lookups import (
    finalization_by_id,
    study_by_name,
    study_id_by_name,
    study_state_by_name,
    trial_by_id,
    worker_by_id,
)
from tests.service.factories import study_spec


def test_each_lookup_names_what_is_missing(storage: Storage) -> None:
    """A lookup that returned None or raised another message would turn a 404 that says what
    is missing into a 500 or a vague answer."""
    missing = [
        (lambda s: study_by_name(s, "nope"), "study 'nope' does not exist"),
        (lambda s: study_state_by_name(s, "nope"), "study 'nope' does not exist"),
        (lambda s: study_state_by_name(s, "nope", lock=True), "study 'nope' does not exist"),
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
        record, stamp = study_state_by_name(session, "study", lock=True)
        assert (record.id, record.name, stamp) == (study.id, "study", before + 1)
    with storage.session() as session:
        assert study_by_name(session, "study").change_seq == before + 1
        assert study_state_by_name(session, "study")[1] == before + 1
    with storage.session() as session:  # a trial's write locks its study the same way
        locked = lock_trials_study(session, trial.id)
        assert (locked.id, locked.stamp) == (study.id, before + 2)

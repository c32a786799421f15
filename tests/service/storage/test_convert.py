"""Rows to records (storage/convert.py), over SQLite and PostgreSQL: the records carry the
plain strings of their Literal states, not the columns' enum members, and stay frozen."""

from __future__ import annotations

import pydantic
import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import Storage
from tests.service.factories import study_spec


def test_records_carry_plain_state_strings(storage: Storage) -> None:
    """An enum member leaking out of storage would print as 'TrialState.RUNNING' in a repr
    and compare unequal after a round trip through pickle or a cache keyed by type."""
    storage.create_study(spec=study_spec())
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    asked = storage.ask(study_name="study", worker_id=worker.id, proposer=SamplerPool())
    assert asked.trial is not None and asked.lease_token is not None
    trial = storage.get_trial_by_id(trial_id=asked.trial.id, detail=True)
    study = storage.get_study(name="study")
    states = [
        trial.state,
        trial.attempts[0].outcome,
        study.state,
        storage.get_worker(worker_id=worker.id).state,
    ]
    assert [type(s) for s in states] == [str] * 4
    assert states == ["running", "running", "running", "busy"]
    assert trial.study_name == "study" and trial.objective == study.objective
    assert trial.lease_token is None and trial.pruned_reason is None


def test_trial_records_are_frozen(storage: Storage) -> None:
    """A record changed in place by a caller would differ from the row it claims to be."""
    storage.create_study(spec=study_spec())
    trial = storage.ask(study_name="study", worker_id=None, proposer=SamplerPool()).trial
    assert trial is not None
    with pytest.raises(pydantic.ValidationError):
        trial.state = "failed"  # type: ignore[misc]

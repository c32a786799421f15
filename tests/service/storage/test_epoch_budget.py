"""`budget.max_epochs_total`: the study ends once its trials trained that many epochs."""

from __future__ import annotations

from parzen.service.proposals import SamplerPool
from parzen.service.storage import Storage
from tests.service.factories import study_spec
from tests.service.writes import store_report, store_tell


def test_the_study_completes_when_its_epochs_are_spent(storage: Storage) -> None:
    spec = study_spec(algorithm="random", algorithm_settings={}, max_parallel=2, max_epochs_total=5)
    storage.create_study(spec=spec)
    pool = SamplerPool()
    first = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    second = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert first and second
    for step in (1, 2, 3):
        store_report(storage, first, step=step, values={"val_loss": 0.5})
    store_report(storage, second, step=1, values={"val_loss": 0.6})
    store_tell(storage, first, state="complete", value=0.5)
    # 4 epochs of 5: a new trial is still handed out.
    third = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert third
    store_report(storage, third, step=1, values={"val_loss": 0.7})
    waiting = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert waiting.status == "wait"
    assert "epoch budget of 5 spent (5 epochs trained)" in waiting.reason
    store_tell(storage, second, state="pruned")
    store_tell(storage, third, state="complete", value=0.7)
    done = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert done.status == "done"
    assert storage.get_study(name="study").state == "complete"
    assert storage.get_study(name="study").max_epochs_total == 5

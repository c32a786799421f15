"""The dashboard's read queries, over SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import NotFoundError, Storage, TrialRecord
from tests.service.dashboard.fill import import_trials
from tests.service.factories import study_spec
from tests.service.writes import store_report, store_tell


@pytest.fixture
def pool() -> SamplerPool:
    return SamplerPool()


def _run(
    storage: Storage, pool: SamplerPool, *, value: float | None, steps: int = 0
) -> TrialRecord:
    """Ask one trial, report `steps` epochs; tell it complete with `value` unless None."""
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial is not None
    for step in range(1, steps + 1):
        store_report(storage, trial, step=step, values={"val_loss": step})
    if value is not None:
        store_tell(storage, trial, state="complete", value=value)
    return trial


def test_stamp_moves_with_trials_and_epochs(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    empty = storage.study_stamp(study_name="study")
    assert (empty.change_seq, empty.last_intermediate_id, empty.finished) == (0, 0, 0)
    _run(storage, pool, value=None, steps=2)
    running = storage.study_stamp(study_name="study")
    assert running.change_seq > 0 and running.last_intermediate_id > 0 and running.finished == 0
    _run(storage, pool, value=1.0)
    done = storage.study_stamp(study_name="study")
    assert done.change_seq > running.change_seq and done.finished == 1
    with pytest.raises(NotFoundError):
        storage.study_stamp(study_name="nope")


def test_changes_after_a_stamp_are_the_new_and_changed_trials(
    storage: Storage, pool: SamplerPool
) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    first = _run(storage, pool, value=None)
    seen = storage.study_stamp(study_name="study").change_seq
    assert storage.trials_changed_after(study_name="study", seq=seen) == []
    _run(storage, pool, value=None)
    store_tell(storage, first, state="complete", value=0.5)
    changed = storage.trials_changed_after(study_name="study", seq=seen)
    assert [(c.number, c.state) for c in changed] == [(2, "running"), (1, "complete")]
    assert changed[1].value == 0.5
    assert len(storage.trials_changed_after(study_name="study", seq=0, limit=1)) == 1


def test_epochs_after_an_id_follow_the_current_attempt(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    _run(storage, pool, value=None, steps=3)
    _run(storage, pool, value=2.0, steps=2)
    epochs = storage.epochs_after(study_name="study")
    assert [(e.number, e.step) for e in epochs] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    assert [e.state for e in epochs] == ["running"] * 3 + ["complete"] * 2
    later = storage.epochs_after(study_name="study", after_id=epochs[2].id)
    assert [(e.number, e.step) for e in later] == [(2, 1), (2, 2)]
    only_first = storage.epochs_after(study_name="study", numbers=[1], limit=2)
    assert [(e.number, e.step) for e in only_first] == [(1, 1), (1, 2)]


def test_curve_trials_are_running_best_and_recent(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    for value in (5.0, 1.0, 3.0, 4.0):
        _run(storage, pool, value=value, steps=1)
    _run(storage, pool, value=9.0)  # no epoch reported: no curve
    _run(storage, pool, value=None, steps=1)  # running
    assert storage.curve_trials(study_name="study", best=1, recent=1) == [2, 4, 6]
    assert storage.curve_trials(study_name="study", best=0, recent=0) == [6]


def test_table_trials_sorts_filters_and_pages(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    for value in (3.0, 1.0, 2.0):
        _run(storage, pool, value=value, steps=1)
    _run(storage, pool, value=None, steps=4)
    rows, total = storage.table_trials(study_name="study", order="value")
    assert total == 4 and [r.number for r in rows] == [2, 3, 1, 4]  # no value: last
    rows, _ = storage.table_trials(study_name="study", order="value", descending=True)
    assert [r.number for r in rows] == [1, 3, 2, 4]
    rows, _ = storage.table_trials(study_name="study", order="last_step", descending=True)
    assert rows[0].number == 4
    rows, total = storage.table_trials(study_name="study", states=("running",))
    assert total == 1 and rows[0].state == "running"
    rows, total = storage.table_trials(study_name="study", offset=1, limit=2)
    assert total == 4 and [r.number for r in rows] == [2, 3]


def test_points_and_vals_of_imported_trials(storage: Storage) -> None:
    import_trials(storage, "study", 30)
    points = storage.trial_points(study_name="study")
    assert [p.number for p in points] == list(range(1, 31))
    assert all(p.state == "complete" and p.value is not None for p in points)
    vals = storage.complete_vals(study_name="study")
    assert len(vals) == 30 and "learning_rate" in vals[0].vals
    assert storage.attempt_spans(study_name="study") == []  # imported: no attempts


def test_attempt_spans_and_trial_numbers(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    worker = storage.register_worker(host="h", pid=1, gpu=None, builders=[], datasets=[])
    trial = storage.ask(study_name="study", worker_id=worker.id, proposer=pool).trial
    assert trial is not None
    store_tell(storage, trial, state="failed", error="boom")
    second = _run(storage, pool, value=None)
    spans = storage.attempt_spans(study_name="study")
    assert [(s.number, s.worker_id, s.outcome) for s in spans] == [
        (1, worker.id, "failed"),
        (2, None, "running"),
    ]
    assert spans[0].ended_at is not None and spans[1].ended_at is None
    assert len(storage.attempt_spans(study_name="study", limit=1)) == 1
    numbers = storage.trial_numbers(study_name="study", trial_ids=[second.id, 10_000])
    assert numbers == {second.id: 2}


def test_last_activity_moves_with_trials_not_with_polls(
    storage: Storage, pool: SamplerPool
) -> None:
    """ "Last activity" is the last change to a trial: an ask that hands out nothing (a
    worker polling a study at max_parallel) moves `updated_at`, not the last activity."""
    from dataclasses import replace

    from parzen.service.dashboard.views import last_activity

    storage.create_study(spec=replace(study_spec(max_parallel=1), name="study"))
    trial = _run(storage, pool, value=None)
    first = storage.get_study(name="study")
    before = last_activity(storage, first)
    assert before >= trial.created_at
    polled = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert polled.trial is None  # max_parallel reached: a poll, nothing changed
    study = storage.get_study(name="study")
    assert study.updated_at > first.updated_at and last_activity(storage, study) == before
    store_report(storage, trial, step=1, values={"val_loss": 1.0})
    stamp = storage.study_stamp(study_name="study")
    assert last_activity(storage, study, stamp.last_intermediate_id) > before
    assert storage.last_activity(study_names=["study", "nope"]).keys() == {"study"}


def test_study_workers_are_those_that_ran_its_trials(storage: Storage, pool: SamplerPool) -> None:
    """The workers card of a study lists its own workers, not every worker of the server."""
    from dataclasses import replace

    storage.create_study(spec=study_spec(max_parallel=10))
    storage.create_study(spec=replace(study_spec(max_parallel=10), name="other"))
    mine, theirs = (
        storage.register_worker(host=h, pid=1, gpu=None, builders=[], datasets=[])
        for h in ("mine", "theirs")
    )
    assert storage.ask(study_name="study", worker_id=mine.id, proposer=pool).trial
    assert storage.ask(study_name="other", worker_id=theirs.id, proposer=pool).trial
    assert storage.study_worker_ids(study_name="study") == {mine.id}
    assert storage.study_worker_ids(study_name="other") == {theirs.id}


def test_table_trials_sort_by_a_parameter_with_inactive_ones_last(storage: Storage) -> None:
    """Sorting by a dotted branch parameter works on both databases; trials whose branch
    did not define it come last, whichever the direction."""
    import_trials(storage, "study", 40)
    rows, total = storage.table_trials(study_name="study", param="layer.dense.width", limit=40)
    widths = [r.vals.get("layer.dense.width") for r in rows]
    present = [w for w in widths if w is not None]
    assert total == 40 and present == sorted(present) and 0 < len(present) < 40
    assert all(w is None for w in widths[len(present) :])
    rows, _ = storage.table_trials(
        study_name="study", param="layer.dense.width", descending=True, limit=40
    )
    down = [r.vals.get("layer.dense.width") for r in rows]
    assert [w for w in down if w is not None] == sorted(present, reverse=True)
    assert down[-1] is None
    rates, _ = storage.table_trials(study_name="study", param="learning_rate", limit=5)
    assert [r.vals["learning_rate"] for r in rates] == sorted(
        r.vals["learning_rate"] for r in rates
    )


def test_epoch_account_counts_every_epoch_and_what_the_stopped_trials_saved(
    storage: Storage, pool: SamplerPool
) -> None:
    """Fails if the study page's "epochs spent / saved" drifts from the epoch budget's count
    (every reported epoch) or credits running trials with savings they have not made yet."""
    storage.create_study(spec=study_spec(max_parallel=10))
    _run(storage, pool, value=1.0, steps=5)  # trained to the end: saves nothing
    stopped = _run(storage, pool, value=None, steps=2)
    store_tell(storage, stopped, state="pruned")  # 3 epochs saved
    _run(storage, pool, value=0.5, steps=4)  # early-stopped: 1 saved
    _run(storage, pool, value=None, steps=1)  # running: counted as spent, not as saved
    account = storage.epoch_account(study_name="study", max_epochs=5)
    assert (account.spent, account.saved, account.max_epochs) == (12, 4, 5)
    unknown = storage.epoch_account(study_name="study", max_epochs=None)
    assert (unknown.spent, unknown.saved) == (12, None)
    with pytest.raises(NotFoundError):
        storage.epoch_account(study_name="nope", max_epochs=5)

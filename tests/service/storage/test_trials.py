"""The storage contract, run over SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time

import pytest

from parzen.service.proposals import SamplerPool
from parzen.service.storage import ConflictError, NotFoundError, Storage
from parzen.service.storage.records import LeaseExpiry
from tests.service.factories import quadratic, study_spec
from tests.service.writes import store_release, store_report, store_tell


@pytest.fixture
def pool() -> SamplerPool:
    return SamplerPool()


def test_ask_numbers_trials_and_returns_real_params(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    trials = [
        storage.ask(study_name="study", worker_id=None, proposer=pool).trial for _ in range(3)
    ]
    assert [t.number for t in trials if t] == [1, 2, 3]
    params = trials[0].params if trials[0] else {}
    assert params["activation"] in ("relu", "elu", "selu")
    assert isinstance(params["units"], int) and 16 <= params["units"] <= 256
    layer = params["layer"]
    assert layer["kind"] in ("conv", "dense")
    inactive = "width" if layer["kind"] == "conv" else "filters"
    assert inactive not in layer


def test_budget_wait_then_done_and_study_complete(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_trials=2))
    first = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    second = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert first and second
    waiting = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert waiting.status == "wait" and waiting.trial is None
    store_tell(storage, first, state="complete", value=1.0)
    store_tell(storage, second, state="complete", value=0.5)
    done = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert done.status == "done"
    study = storage.get_study(name="study")
    assert study.state == "complete"
    assert study.counts == {"complete": 2}
    assert study.best_value == 0.5


def test_max_parallel_makes_asks_wait(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=2))
    for _ in range(2):
        assert storage.ask(study_name="study", worker_id=None, proposer=pool).status == "ok"
    result = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert result.status == "wait" and "max_parallel" in result.reason


def test_tell_is_idempotent_and_conflicts_are_refused(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec())
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial
    told = store_tell(storage, trial, state="complete", value=0.25, metrics={"acc": 0.9})
    again = store_tell(storage, trial, state="complete", value=0.25, metrics={"acc": 0.9})
    assert told.value == again.value == 0.25 and again.state == "complete"
    with pytest.raises(ConflictError, match="already complete"):
        store_tell(storage, trial, state="complete", value=0.5)
    with pytest.raises(ConflictError):
        store_tell(storage, trial, state="failed", error="boom")
    with pytest.raises(NotFoundError):
        storage.tell(trial_id=10_000, lease_token="t", state="complete", value=1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_value_fails_the_trial(storage: Storage, pool: SamplerPool, bad: float) -> None:
    storage.create_study(spec=study_spec())
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial
    told = store_tell(storage, trial, state="complete", value=bad)
    assert told.state == "failed" and told.value is None
    assert "finite" in (told.error or "")


def test_nan_never_reaches_the_sampler(storage: Storage) -> None:
    seen: list[object] = []

    class Recording(SamplerPool):
        def propose(self, study, changes, seen_seq, number):  # type: ignore[no-untyped-def]
            seen.extend(c.loss for c in changes)
            return super().propose(study, changes, seen_seq, number)

    pool = Recording()
    storage.create_study(spec=study_spec())
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial
    store_tell(storage, trial, state="complete", value=math.nan)
    storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert all(loss is None or math.isfinite(loss) for loss in seen)  # type: ignore[arg-type]


def test_reports_are_stored_idempotently_and_extend_the_lease(
    storage: Storage, pool: SamplerPool
) -> None:
    storage.create_study(spec=study_spec(metric="val_loss"))
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial and trial.lease_expires_at
    time.sleep(0.05)
    for step in (1, 2, 2):
        result = store_report(
            storage, trial, step=step, values={"val_loss": 1.0 / step, "x": math.nan}
        )
        assert not result.should_stop
    detail = storage.get_trial(study_name="study", number=1)
    assert [(v.step, v.value) for v in detail.intermediate] == [(1, 1.0), (2, 0.5)]
    assert detail.intermediate[0].values == {"val_loss": 1.0, "x": None}
    assert detail.lease_expires_at and detail.lease_expires_at > trial.lease_expires_at
    # Naming another attempt than the token's is a conflict now (it used to say stop).
    with pytest.raises(ConflictError, match="attempt 2 was named"):
        storage.report(
            trial_id=trial.id, lease_token=trial.lease_token or "", attempt=2, step=3, values={}
        )
    store_tell(storage, trial, state="complete", value=0.5)
    assert store_report(storage, trial, step=3, values={}).should_stop


def test_expired_lease_requeues_same_params_then_fails(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(lease_seconds=0.2, max_attempts=2, max_trials=1))
    first = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert first
    time.sleep(0.3)
    # The numbers feed parzen_leases_expired_total{outcome}: requeued now, failed at the last.
    assert storage.expire_leases() == LeaseExpiry(requeued=1)
    assert storage.get_trial(study_name="study", number=1).state == "queued"
    again = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert again and again.number == 1 and again.attempt == 2 and again.params == first.params
    time.sleep(0.3)
    result = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert result.status == "done" and result.expired == LeaseExpiry(failed=1)
    lost = storage.get_trial(study_name="study", number=1)
    assert lost.state == "failed" and "lease expired" in (lost.error or "")
    assert [(a.attempt, a.outcome) for a in lost.attempts] == [(1, "expired"), (2, "expired")]


def test_late_tell_of_a_requeued_trial_is_kept(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(lease_seconds=0.1))
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial
    time.sleep(0.2)
    storage.expire_leases()
    told = store_tell(storage, trial, state="complete", value=0.1)
    assert told.state == "complete"


def test_paused_and_stopped_studies_hand_out_nothing(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec())
    storage.set_study_state(name="study", state="paused")
    assert storage.ask(study_name="study", worker_id=None, proposer=pool).status == "paused"
    storage.set_study_state(name="study", state="running")
    assert storage.ask(study_name="study", worker_id=None, proposer=pool).status == "ok"
    storage.set_study_state(name="study", state="stopped")
    assert storage.ask(study_name="study", worker_id=None, proposer=pool).status == "stopped"


def test_target_value_ends_the_study(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(target_value=0.1))
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial
    store_tell(storage, trial, state="complete", value=0.05)
    result = storage.ask(study_name="study", worker_id=None, proposer=pool)
    assert result.status == "done" and "target" in result.reason


def test_list_filter_order_paginate_and_best(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_parallel=10))
    values = [0.5, 0.1, 0.9, None]
    for value in values:
        trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
        assert trial
        if value is not None:
            store_tell(storage, trial, state="complete", value=value)
    page, total = storage.list_trials(study_name="study", states=["complete"], order="value")
    assert total == 3 and [t.value for t in page] == [0.1, 0.5, 0.9]
    page, total = storage.list_trials(study_name="study", order="-number", offset=1, limit=2)
    assert total == 4 and [t.number for t in page] == [3, 2]
    assert storage.best_trial(study_name="study").number == 2


def test_tpe_history_drives_proposals_towards_good_region(storage: Storage) -> None:
    pool = SamplerPool()
    storage.create_study(spec=study_spec(max_trials=40, max_parallel=1))
    for _ in range(40):
        trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
        assert trial
        store_tell(storage, trial, state="complete", value=quadratic(trial.params))
    values = [t.value for t in storage.list_trials(study_name="study", limit=100)[0]]
    assert min(values[20:]) < min(values[:5])  # type: ignore[type-var]


def test_a_second_process_catches_up_from_the_database(storage: Storage) -> None:
    """Two pools (two server processes) over one database give the proposals one pool would."""
    one, other = SamplerPool(), SamplerPool()
    storage.create_study(spec=study_spec(name="a", max_parallel=1))
    storage.create_study(spec=study_spec(name="b", max_parallel=1))
    for i in range(12):
        for name, pool in (("a", one), ("b", one if i % 2 == 0 else other)):
            trial = storage.ask(study_name=name, worker_id=None, proposer=pool).trial
            assert trial
            store_tell(storage, trial, state="complete", value=quadratic(trial.params))
    a = [t.params for t in storage.list_trials(study_name="a")[0]]
    b = [t.params for t in storage.list_trials(study_name="b")[0]]
    assert a == b


def test_release_requeues_without_using_an_attempt(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(max_attempts=1))
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial
    released = store_release(storage, trial)
    assert released.state == "queued"
    again = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert again and again.id == trial.id and again.attempt == 2
    detail = storage.get_trial(study_name="study", number=1)
    assert [a.outcome for a in detail.attempts] == ["released", "running"]


def test_stale_attempt_cannot_prune_a_re_leased_trial(storage: Storage, pool: SamplerPool) -> None:
    storage.create_study(spec=study_spec(lease_seconds=0.1))
    trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert trial
    time.sleep(0.2)
    again = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert again and again.id == trial.id and again.attempt == 2
    with pytest.raises(ConflictError):
        store_tell(storage, trial, state="pruned", value=1.0)
    # A full result from the old attempt is still kept: the first complete result wins.
    told = store_tell(storage, trial, state="complete", value=0.3)
    assert told.state == "complete"


def test_added_trials_join_the_history(storage: Storage, pool: SamplerPool) -> None:
    from parzen.service.algorithms import RandomSampler
    from parzen.service.space import parse_space
    from parzen.service.storage import FinishedTrial

    spec = study_spec(max_trials=30, max_parallel=1)
    storage.create_study(spec=spec)
    space = parse_space(spec.space)
    sampler = RandomSampler(space, seed=1)
    imported = []
    for number in range(1, 11):
        vals = sampler.propose(number)
        params = space.params_from_vals(vals)
        value = math.nan if number == 10 else quadratic(params)
        imported.append(FinishedTrial(vals, params, "complete", value))
    assert storage.add_trials(study_name="study", trials=imported) == list(range(1, 11))
    study = storage.get_study(name="study")
    assert study.counts == {"complete": 9, "failed": 1} and study.trial_counter == 10
    asked = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert asked and asked.number == 11


def test_median_pruner_stops_a_trial_behind_the_finished_ones(
    storage: Storage, pool: SamplerPool
) -> None:
    from dataclasses import replace

    spec = replace(
        study_spec(max_parallel=10),
        pruner={"type": "median", "n_startup_trials": 3, "n_warmup_steps": 1},
    )
    storage.create_study(spec=spec)
    for final in (0.3, 0.4, 0.5):
        trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
        assert trial
        for step in (1, 2, 3):
            store_report(storage, trial, step=step, values={"val_loss": final})
        store_tell(storage, trial, state="complete", value=final)
    slow = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
    assert slow
    # Warm-up: step 1 is never pruned, however bad.
    assert not store_report(storage, slow, step=1, values={"val_loss": 9.0}).should_stop
    good = store_report(storage, slow, step=2, values={"val_loss": 0.35})
    assert not good.should_stop
    bad = store_report(storage, slow, step=3, values={"val_loss": 0.45})
    assert bad.should_stop and "median of 3 finished trials" in bad.reason
    told = store_tell(storage, slow, state="pruned")
    assert told.state == "pruned" and told.value == 0.45


def test_a_budget_spent_by_imported_trials_completes_the_study(storage: Storage) -> None:
    """An imported study at max_trials/max_trials with nothing pending must not stay
    "running": no worker's ask would ever mark it complete."""
    from parzen.service.algorithms import RandomSampler
    from parzen.service.space import parse_space
    from parzen.service.storage import FinishedTrial

    spec = study_spec(max_trials=4, max_parallel=1)
    storage.create_study(spec=spec)
    space = parse_space(spec.space)
    sampler = RandomSampler(space, seed=2)

    def finished(number: int) -> FinishedTrial:
        vals = sampler.propose(number)
        params = space.params_from_vals(vals)
        return FinishedTrial(vals, params, "complete", quadratic(params))

    storage.add_trials(study_name="study", trials=[finished(n) for n in (1, 2, 3)])
    assert storage.get_study(name="study").state == "running"  # one trial left to ask
    storage.add_trials(study_name="study", trials=[finished(4)])
    study = storage.get_study(name="study")
    assert study.state == "complete" and study.finished_at is not None


def test_a_large_import_refreshes_postgresqls_statistics(storage: Storage) -> None:
    """If this fails, a study imported by the thousand is asked with the query plans its
    server's connections prepared while it was small (a sequential scan of the history on
    every ask, 1 ms more at 10,000 trials) until autovacuum's next pass."""
    if not storage.is_postgres:
        pytest.skip("SQLite's planner keeps no statistics unless told to")
    from sqlalchemy import text

    from parzen.service.storage import FinishedTrial
    from parzen.service.storage.results import ANALYZE_AFTER_IMPORT

    storage.create_study(spec=study_spec(max_trials=10 * ANALYZE_AFTER_IMPORT))
    finished = [FinishedTrial({"units": 1}, {"units": 1}, "complete", 1.0)]

    def estimated_rows() -> float:
        with storage.session() as session:
            return float(
                session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'trials'"))
            )

    storage.add_trials(study_name="study", trials=finished)
    with storage.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE trials")
        conn.commit()
    before = estimated_rows()
    storage.add_trials(study_name="study", trials=finished * ANALYZE_AFTER_IMPORT)
    assert estimated_rows() >= before + ANALYZE_AFTER_IMPORT

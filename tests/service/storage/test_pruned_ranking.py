"""Pruned trials feed TPE honestly (SQLite and PostgreSQL): below every trial that got
further, and among themselves by their value at the last epoch they reached."""

from __future__ import annotations

from parzen.service.algorithms.pruners.ranking import ranked_loss
from parzen.service.proposals import SamplerPool
from parzen.service.storage import Storage
from parzen.service.storage.convert import study_record
from parzen.service.storage.proposing import unseen_changes
from tests.service.factories import study_spec
from tests.service.writes import store_report, store_tell


def test_pruned_trials_rank_by_epoch_reached_then_value(storage: Storage) -> None:
    storage.create_study(
        spec=study_spec(
            direction="maximize",
            metric="val_accuracy",
            max_parallel=8,
            algorithm="random",
            algorithm_settings={},
        )
    )
    pool = SamplerPool()
    # (number: how it ends): accuracies at the epoch it stopped; pruned early ones look great.
    plan = {
        1: ("complete", 9, 0.80),
        2: ("complete", 9, 0.70),
        3: ("pruned", 1, 0.99),
        4: ("pruned", 3, 0.60),
        5: ("pruned", 3, 0.65),
        6: ("pruned", 1, 0.95),
    }
    for number, (state, epochs, accuracy) in plan.items():
        trial = storage.ask(study_name="study", worker_id=None, proposer=pool).trial
        assert trial and trial.number == number
        for step in range(1, epochs + 1):
            store_report(storage, trial, step=step, values={"val_accuracy": accuracy})
        # The worker tells a pruned trial its best value so far: here a higher one, which the
        # ranking must not use (it is not the value at the epoch reached).
        told = accuracy if state == "complete" else min(accuracy + 0.3, 1.0)
        store_tell(storage, trial, state=state, value=told)
    with storage.session() as session:
        from parzen.service.db.models import Study

        study = study_record(session.get_one(Study, 1))
        observations = unseen_changes(session, study, 0)
    by_loss = sorted(observations, key=lambda o: o.loss if o.loss is not None else 9e9)
    assert [o.number for o in by_loss] == [1, 2, 5, 4, 3, 6]
    assert all(o.state in ("complete", "pruned") for o in observations)


def test_ranked_loss_keeps_the_order_of_values_within_a_tier() -> None:
    values = [-1e6, -3.0, -0.95, -0.9499, 0.0, 1e-9, 2.5, 1e6]
    for pruned_at in (None, 1, 27, 100_000):
        ranked = [ranked_loss(v, pruned_at=pruned_at) for v in values]
        assert ranked == sorted(ranked) and len(set(ranked)) == len(ranked)
    worst_complete = ranked_loss(1e300, pruned_at=None)
    best_pruned_late = ranked_loss(-1e300, pruned_at=100_000)
    assert worst_complete < best_pruned_late
    assert ranked_loss(1e300, pruned_at=27) < ranked_loss(-1e300, pruned_at=26)

"""`with client.start_trial(...)`: a user's own training script run against a real server,
trained with real Keras on tiny data."""

from __future__ import annotations

import time
from typing import Any

import keras
import pytest

from parzen import Client, NoTrialAvailable, TrialPruned
from parzen.service.server import ServerThread
from tests.conftest import ADMIN_TOKEN
from tests.worker.kt_models import digits

SPACE = {"units": {"type": "int", "low": 4, "high": 16}, "lr": 0.01}


def make_study(api: Client, name: str, **extra: Any) -> None:
    api.create_study(
        {
            "name": name,
            "direction": "maximize",
            "metric": "val_accuracy",
            "space": SPACE,
            "seed": 1,
            "budget": {"max_trials": 3, "max_parallel": 1},
            **extra,
        }
    )


def model_of(params: dict[str, Any]) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(params["units"], activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.SGD(params["lr"]), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


@pytest.fixture
def client(live_server: ServerThread) -> Any:
    with Client(live_server.url, ADMIN_TOKEN, retry_seconds=5) as api:
        yield api


@pytest.mark.slow
def test_a_script_trained_through_start_trial_is_pruned_by_the_median_pruner(client) -> None:
    """The callback reports every epoch; the server's stop ends fit early, and leaving the
    block tells `pruned` with the best value reported."""
    make_study(
        client, "pruned", pruner={"type": "median", "n_startup_trials": 1, "n_warmup_steps": 0}
    )
    with client.start_trial("pruned") as leader:  # a finished trial far ahead at every epoch
        for step in range(1, 11):
            leader.report(step, {"val_accuracy": 0.999})
        leader.tell(0.999)
    assert leader.state == "complete"

    x, y, xv, yv = digits()
    with client.start_trial("pruned") as trial:
        history = model_of(trial.params).fit(
            x,
            y,
            validation_data=(xv, yv),
            epochs=10,
            batch_size=32,
            verbose=0,
            callbacks=[trial.keras_callback()],
        )
    assert trial.should_prune and trial.state == "pruned"
    epochs = len(history.history["val_accuracy"])
    assert epochs < 10
    told = client.trial("pruned", trial.number)
    assert told["state"] == "pruned"
    assert told["value"] == pytest.approx(max(history.history["val_accuracy"]))
    # Reports stop once the server said stop (the epoch in flight then is not sent).
    assert 1 <= told["last_step"] <= epochs


@pytest.mark.slow
def test_a_script_that_raises_fails_its_trial_with_the_traceback(client) -> None:
    make_study(client, "raises")
    x, y, xv, yv = digits(64)
    with (
        pytest.raises(RuntimeError, match="data loader broke"),
        client.start_trial("raises") as trial,
    ):
        model_of(trial.params).fit(
            x, y, validation_data=(xv, yv), epochs=1, verbose=0, callbacks=[trial.keras_callback()]
        )
        raise RuntimeError("data loader broke")
    told = client.trial("raises", trial.number)
    assert told["state"] == "failed"
    assert "Traceback" in told["error"] and "data loader broke" in told["error"]
    assert told["last_step"] == 1


def test_the_lease_is_renewed_from_a_background_thread_while_the_block_runs(client) -> None:
    """A block longer than three leases keeps its trial: the tell is accepted."""
    make_study(client, "renewed", lease_seconds=1)
    with client.start_trial("renewed") as trial:
        time.sleep(3.5)
        trial.report(1, {"val_accuracy": 0.5})
    told = client.trial("renewed", trial.number)
    assert told["state"] == "complete" and told["value"] == 0.5 and told["attempt"] == 1


def test_trial_pruned_raised_by_the_script_ends_the_trial_as_pruned(client) -> None:
    make_study(client, "optuna-style")
    with client.start_trial("optuna-style") as trial:
        trial.report(1, {"val_accuracy": 0.25})
        raise TrialPruned()
    assert client.trial("optuna-style", trial.number)["state"] == "pruned"


def test_a_study_with_no_trials_left_raises_no_trial_available(client) -> None:
    make_study(client, "spent", budget={"max_trials": 1, "max_parallel": 1})
    with client.start_trial("spent") as trial:
        trial.tell(0.1)
    with pytest.raises(NoTrialAvailable, match="done"), client.start_trial("spent"):
        pass

"""Studies with a bit of everything, for the dashboard's tests and screenshots."""

from __future__ import annotations

import math
from typing import Any, Literal

from parzen.service.algorithms import RandomSampler
from parzen.service.space import parse_space
from parzen.service.storage import FinishedTrial, Storage
from parzen.worker.client import ParzenClient
from tests.service.factories import MIXED_SPACE, quadratic, study_spec

STUDY = "demo"
EPOCHS = 5
OOM_TRACEBACK = """Traceback (most recent call last):
  File "worker/trainer.py", line 88, in fit
    history = model.fit(data.train, validation_data=data.validation, callbacks=callbacks)
ResourceExhaustedError: OOM when allocating tensor with shape[512,4096]"""


def study_body(name: str = STUDY, max_trials: int = 60) -> dict[str, Any]:
    return {
        "name": name,
        "direction": "minimize",
        "metric": "val_loss",
        "space": MIXED_SPACE,
        "algorithm": "tpe",
        "algorithm_settings": {"n_startup_trials": 8},
        "seed": 3,
        "objective": {"builder": "mlp", "dataset": "digits", "max_epochs": EPOCHS},
        "budget": {"max_trials": max_trials, "max_parallel": 4},
    }


def run_trial(
    api: ParzenClient,
    *,
    study: str = STUDY,
    worker_id: str | None = None,
    outcome: str = "complete",
    epochs: int = EPOCHS,
) -> dict[str, Any]:
    """Ask, report `epochs` epochs, then tell `outcome` ('running' leaves it running)."""
    trial = api.ask(study, worker_id=worker_id).trial
    assert trial is not None
    final = quadratic(trial.params)
    for step in range(1, epochs + 1):
        val_loss = final + 1.5 / step
        api.report(
            trial.id,
            step,
            {"val_loss": val_loss, "loss": val_loss * 0.8},
            lease_token=trial.lease_token,
        )
    if outcome == "complete":
        artifact = f"/scratch/parzen/{study}/trial-{trial.number}-attempt-1/best.keras"
        api.tell(
            trial.id,
            "complete",
            final + 1.5 / epochs,
            metrics={"artifact": artifact},
            lease_token=trial.lease_token,
        )
    elif outcome == "failed":
        api.tell(
            trial.id,
            "failed",
            error=OOM_TRACEBACK,
            lease_token=trial.lease_token,
        )
    elif outcome == "pruned":
        api.tell(trial.id, "pruned", lease_token=trial.lease_token)
    return {"id": trial.id, "number": trial.number, "params": trial.params}


def fill_demo(api: ParzenClient, trials: int = 16, epochs: int = EPOCHS) -> list[str]:
    """A running study: complete trials from two workers, one failed, one pruned, and one
    still running. Returns the worker ids."""
    api.create_study(study_body())
    workers = [
        api.register_worker(
            host=f"gpu-node-{i}",
            pid=4000 + i,
            gpu="NVIDIA A100",
            builders=["mlp"],
            datasets=["digits"],
        )["id"]
        for i in (1, 2)
    ]
    for i in range(trials):
        outcome = "failed" if i == 5 else "pruned" if i == 9 else "complete"
        run_trial(
            api,
            worker_id=workers[i % 2],
            outcome=outcome,
            epochs=min(epochs, 2 if i == 9 else EPOCHS),
        )
    run_trial(api, worker_id=workers[0], outcome="running", epochs=2)
    return workers


def import_trials(storage: Storage, name: str, count: int, *, every_failed: int = 0) -> None:
    """A study of `count` finished trials written in one go (no attempts, no epochs); with
    `every_failed`, every such trial failed and the one after it pruned."""
    storage.create_study(spec=study_spec(name, max_trials=max(count, 1)))
    space = parse_space(MIXED_SPACE)
    sampler = RandomSampler(space, seed=1)
    finished = []
    for number in range(1, count + 1):
        vals = sampler.propose(number)
        params = space.params_from_vals(vals)
        value = quadratic(params) + 0.05 * math.sin(number)
        state: Literal["complete", "pruned", "failed"] = "complete"
        if every_failed and number % every_failed in (0, 1) and number > 1:
            state = "failed" if number % every_failed == 0 else "pruned"
        finished.append(FinishedTrial(vals, params, state, None if state == "failed" else value))
    storage.add_trials(study_name=name, trials=finished)

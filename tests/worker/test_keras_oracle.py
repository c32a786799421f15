"""ParzenOracle in a real `keras_tuner.Tuner` against a real server: a search on tiny data,
the best hyperparameters and models, and two processes sharing one study while one of
them is killed mid-trial."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from tests.conftest import ADMIN_TOKEN
from tests.worker.kt_models import build_conditional, digits

keras_tuner = pytest.importorskip("keras_tuner")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_oracle_drives_a_real_tuner_search_and_the_best_round_trips(
    live_server: ServerThread, tmp_path: Path
) -> None:
    from parzen.worker.hypermodels_oracle import ParzenOracle

    oracle = ParzenOracle(
        study="kt",
        objective="val_accuracy",
        max_trials=3,
        url=live_server.url,
        token=ADMIN_TOKEN,
        max_parallel=1,
        poll_seconds=0.2,
    )
    tuner = keras_tuner.Tuner(hypermodel=build_conditional, oracle=oracle, directory=tmp_path)
    x, y, xv, yv = digits(120)
    tuner.search(
        x,
        y,
        validation_data=(xv, yv),
        epochs=2,
        batch_size=32,
        verbose=0,
        callbacks=[oracle.callback()],
    )
    with ParzenClient(live_server.url, ADMIN_TOKEN) as api:
        study = api.get_study("kt")
        trials = api.all_trials("kt")
        best = api.best_trial("kt")
    assert study["counts"] == {"complete": 3} and study["space"] == oracle.parzen_space()
    assert all(t["last_step"] == 2 for t in trials)  # every epoch reported by the callback
    best_hp = tuner.get_best_hyperparameters()[0]
    assert best_hp.values == oracle._trial_of(best).hyperparameters.values
    assert best_hp.values["model_type"] == best["params"]["model_type"]["name"]
    model = tuner.get_best_models()[0]
    accuracy = model.evaluate(xv, yv, verbose=0)[1]
    assert accuracy == pytest.approx(best["value"], abs=1e-4)  # the best epoch's weights
    assert best["artifact"]  # uploaded: another machine can load it


@pytest.mark.slow
def test_the_oracle_callback_lets_the_studys_pruner_stop_a_trial(
    live_server: ServerThread, tmp_path: Path
) -> None:
    """Every epoch is reported; behind a finished trial at every epoch, the median pruner
    stops the tuner's fit and the trial is told pruned."""
    from parzen.worker.hypermodels_oracle import ParzenOracle

    oracle = ParzenOracle(
        study="kt-pruned", objective="val_accuracy", max_trials=2, url=live_server.url,
        token=ADMIN_TOKEN, poll_seconds=0.2,
    )  # fmt: skip
    tuner = keras_tuner.Tuner(hypermodel=build_conditional, oracle=oracle, directory=tmp_path)
    with ParzenClient(live_server.url, ADMIN_TOKEN) as api:
        api.create_study(
            {
                "name": "kt-pruned",
                "direction": "maximize",
                "metric": "val_accuracy",
                "space": oracle.parzen_space(),
                "pruner": {"type": "median", "n_startup_trials": 1, "n_warmup_steps": 0},
                "budget": {"max_trials": 2, "max_parallel": 1},
            }
        )
        with api.start_trial("kt-pruned") as leader:
            for step in range(1, 11):
                leader.report(step, {"val_accuracy": 0.999})
        x, y, xv, yv = digits(120)
        tuner.search(
            x, y, validation_data=(xv, yv), epochs=8, batch_size=32, verbose=0,
            callbacks=[oracle.callback()],
        )  # fmt: skip
        pruned = api.trial("kt-pruned", 2)
    assert pruned["state"] == "pruned"
    assert pruned["last_step"] < 8


@pytest.mark.slow
def test_two_processes_share_a_study_and_a_killed_ones_trial_comes_back(
    live_server: ServerThread, tmp_path: Path
) -> None:
    """Process A hangs in its first trial and is killed; its lease runs out, and process B
    runs that trial again (attempt 2) besides the rest of the budget."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    marker = tmp_path / "a-is-training"

    def start(name: str, *extra: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "tests.worker.kt_search", live_server.url, ADMIN_TOKEN]
        command += ["shared", str(tmp_path / name), *extra]
        return subprocess.Popen(
            command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    a = start("a", "--hang-at-epoch-1", str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert a.poll() is None, a.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "process A never started training"
        time.sleep(0.2)
    b = start("b")
    with ParzenClient(live_server.url, ADMIN_TOKEN) as api:
        held = api.all_trials("shared", state=["running"])
        assert len(held) == 1
        a.kill()
        a.wait()
        out, _ = b.communicate(timeout=240)
        assert b.returncode == 0, out[-3000:]
        trials = api.all_trials("shared")
        again = api.trial("shared", held[0]["number"])
    assert [t["state"] for t in trials] == ["complete"] * 3, (trials, out[-3000:])
    assert again["attempt"] == 2
    assert [a_["outcome"] for a_ in again["attempts"]] == ["expired", "complete"]
    assert "best {" in out


def test_a_keras_tuner_trial_value_converts_back_to_the_parzen_params(tmp_path: Path) -> None:
    """The oracle's space and value mapping agree with KerasTuner's recorded space."""
    from parzen.worker.hypermodels_oracle import ParzenOracle
    from parzen.worker.hypermodels_space import params_from_values

    oracle = ParzenOracle(study="none", objective="val_accuracy", client=_Unused())
    keras_tuner.Tuner(hypermodel=build_conditional, oracle=oracle, directory=tmp_path)
    space = oracle.parzen_space()
    values = {"model_type": "mlp", "units": 24, "dropout": 0.1, "learning_rate": 0.01}
    params = params_from_values(oracle._nodes(), values)
    assert params == {
        "model_type": {"name": "mlp", "units": 24},
        "dropout": 0.1,
        "learning_rate": 0.01,
    }
    assert set(space) == {"model_type", "dropout", "learning_rate"}
    _ = np


class _Unused:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no server call expected ({name})")

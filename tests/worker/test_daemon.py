"""The daemon in burst mode against a real server, training real tiny models."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import keras
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from service.server import ServerThread, free_port
from tests.conftest import ADMIN_TOKEN
from tests.worker.conftest import study
from worker.client import ParzenClient
from worker.daemon import Daemon
from worker.launcher import child_command

MLP_SPACE = {
    "layers": {"type": "int", "low": 1, "high": 2},
    "units": {"type": "int", "low": 16, "high": 64, "log": True},
    "activation": {"type": "choice", "options": ["relu", "elu", "selu"]},
    "residual": {"type": "choice", "options": [True, False]},
    "batch_norm": {"type": "choice", "options": [True, False]},
    "dropout": {"type": "uniform", "low": 0.0, "high": 0.3},
    "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-2},
}
CONV_SPACE = {
    "conv": {"type": "choice", "options": ["conv", "separable"]},
    "blocks": {"type": "int", "low": 1, "high": 2},
    "filters": {"type": "int", "low": 8, "high": 16},
    "kernel_size": {"type": "choice", "options": [3]},
    "residual": {"type": "choice", "options": [True, False]},
    "batch_norm": True,
    "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-2},
}


def _assert_study_trained(api: ParzenClient, name: str, trials: int, metric: str) -> None:
    summary = api.get_study(name)
    assert summary["state"] == "complete"
    assert summary["counts"] == {"complete": trials}
    for number in range(1, trials + 1):
        trial = api.trial(name, number)
        steps = [v["step"] for v in trial["intermediate"]]
        assert steps == list(range(1, len(steps) + 1)) and steps
        assert metric in trial["intermediate"][0]["values"]
        best = trial["metrics"]["best_epoch"]
        assert trial["value"] == pytest.approx(trial["intermediate"][best - 1]["values"][metric])
        assert Path(trial["metrics"]["artifact"]).exists()


def test_mlp_study_on_flat_digits(api: ParzenClient, run_daemon: Callable[..., Daemon]) -> None:
    api.create_study(study("mlp", "mlp", "digits_flat", MLP_SPACE))
    daemon = run_daemon()
    assert daemon.counts == {"complete": 2}
    _assert_study_trained(api, "mlp", 2, "val_accuracy")
    worker = api.workers()[0]
    assert worker["trials_done"] == 2 and "mlp" in worker["builders"]


def test_convnet_study_on_digit_images(
    api: ParzenClient, run_daemon: Callable[..., Daemon]
) -> None:
    api.create_study(study("conv", "convnet", "digits", CONV_SPACE))
    run_daemon()
    _assert_study_trained(api, "conv", 2, "val_accuracy")
    best = api.best_trial("conv")
    model = keras.models.load_model(best["metrics"]["artifact"])
    assert model.output_shape == (None, 10)


def test_example_plugin_multi_output_model_on_one_head(
    api: ParzenClient, run_daemon: Callable[..., Daemon]
) -> None:
    space = {
        "units": {"type": "int", "low": 16, "high": 32},
        "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-2},
    }
    api.create_study(
        study("two", "two_tower", "digits_two_view", space, metric="val_digit_accuracy")
    )
    run_daemon()
    _assert_study_trained(api, "two", 2, "val_digit_accuracy")
    assert "val_parity_accuracy" in api.trial("two", 1)["metrics"]


def test_failing_builder_is_told_and_the_study_given_up(
    api: ParzenClient, run_daemon: Callable[..., Daemon]
) -> None:
    body = study("broken", "broken", "digits_flat", {"x": {"type": "uniform", "low": 0, "high": 1}})
    body["budget"] = {"max_trials": 10, "max_parallel": 1}
    api.create_study(body)
    daemon = run_daemon(modules=("tests.worker.plugins",), max_failures=3)
    assert daemon.counts == {"failed": 3}
    failed = api.trials("broken", state=["failed"])
    assert failed["count"] == 3
    error = api.trial("broken", 1)["error"]
    assert "deliberately broken" in error and "Traceback" in error
    assert api.get_study("broken")["state"] == "running"  # the study itself goes on


def test_nan_loss_fails_the_trial(api: ParzenClient, run_daemon: Callable[..., Daemon]) -> None:
    space = {"learning_rate": 1e12, "optimizer": "sgd", "units": 32}
    body = study("nan", "mlp", "regression", space, metric="val_loss", direction="minimize")
    body["budget"] = {"max_trials": 1, "max_parallel": 1}
    api.create_study(body)
    run_daemon()
    trial = api.trial("nan", 1)
    assert trial["state"] == "failed"
    assert re.match(r"loss became (nan|inf) at epoch \d", trial["error"])


def test_unknown_builder_is_never_handed_out(
    api: ParzenClient, run_daemon: Callable[..., Daemon]
) -> None:
    api.create_study(study("ghost", "no_such_builder", "digits", MLP_SPACE))
    daemon = run_daemon()
    assert not daemon.counts
    assert api.get_study("ghost")["trials_created"] == 0


def test_reports_are_sent_in_the_background_in_order_and_a_stop_comes_back(
    api: ParzenClient,
) -> None:
    import threading

    from worker.daemon import _Reporter

    api.create_study(study("bg", "mlp", "digits_flat", MLP_SPACE))
    worker = api.register_worker(
        host="h", pid=1, gpu=None, builders=["mlp"], datasets=["digits_flat"]
    )
    trial = api.lease(str(worker["id"])).trial
    assert trial is not None
    reporter = _Reporter(api, trial, threading.Event())
    for step in range(1, 21):
        assert reporter.report(step, {"val_accuracy": step / 20}) is False
    reporter.close()  # returns once all 20 are on the server
    steps = [v["step"] for v in api.trial("bg", trial.number)["intermediate"]]
    assert steps == list(range(1, 21))

    # Taken away (handed back): the server says stop, and the reporter says so at the
    # next epoch, without waiting for it.
    api.release(trial.id, attempt=trial.attempt)
    reporter = _Reporter(api, trial, threading.Event())
    reporter.report(21, {"val_accuracy": 1.0})
    reporter.close()
    assert reporter.stopped_by == "server" and reporter.report(22, {}) is True


def test_daemon_asks_to_be_recycled_after_its_quota_of_trials(
    api: ParzenClient, live_server: ServerThread, tmp_path: Path
) -> None:
    from worker.daemon import RECYCLE, DaemonConfig

    api.create_study(study("recycled", "mlp", "digits_flat", MLP_SPACE))
    config = DaemonConfig(
        url=live_server.url,
        token=ADMIN_TOKEN,
        burst=True,
        poll_seconds=0.2,
        artifact_dir=tmp_path,
        max_trials_per_process=1,
    )
    first = Daemon(config)
    assert first.run() == RECYCLE and first.counts == {"complete": 1}
    second = Daemon(config)  # what the supervisor starts next
    assert second.run() == RECYCLE and second.counts == {"complete": 1}
    assert Daemon(config).run() == 0  # nothing left
    assert api.get_study("recycled")["counts"] == {"complete": 2}


def test_metrics_port_counts_trials_epochs_and_seconds(
    api: ParzenClient, run_daemon: Callable[..., Daemon]
) -> None:
    """`parzen worker --metrics-port`: a scrape of the daemon says what it trained."""
    series = {
        "complete": ("parzen_worker_trials_total", {"outcome": "complete"}),
        "epochs": ("parzen_worker_epochs_total", {}),
        "training": ("parzen_worker_training_seconds_total", {}),
        "overhead": ("parzen_worker_overhead_seconds_total", {}),
    }
    # Counters live as long as the process: earlier tests' daemons ran in this one too.
    before = {k: REGISTRY.get_sample_value(*s) or 0.0 for k, s in series.items()}
    api.create_study(study("mlp", "mlp", "digits_flat", MLP_SPACE))
    port = free_port()
    run_daemon(metrics_port=port)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    scraped = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    moved = {
        k: scraped[(name, frozenset(labels.items()))] - before[k]
        for k, (name, labels) in series.items()
    }
    epochs = sum(len(api.trial("mlp", n)["intermediate"]) for n in (1, 2))
    assert moved["complete"] == 2 and moved["epochs"] == epochs
    assert moved["training"] > 0 and moved["overhead"] > 0


def test_each_gpu_daemon_gets_its_own_metrics_port() -> None:
    argv = ["worker", "--server", "http://x"]
    assert child_command(argv, "2", 1, 9100)[-4:] == ["2", "--child", "--metrics-port", "9101"]
    assert "--metrics-port" not in child_command(argv, "0", 0)

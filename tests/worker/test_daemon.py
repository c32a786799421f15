"""The daemon in burst mode against a real server, training real tiny models."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import keras
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from parzen.service.server import ServerThread, free_port
from parzen.worker.client import Ask, ParzenClient, ParzenError, Trial
from parzen.worker.daemon import Daemon
from parzen.worker.launcher import child_command
from parzen.worker.reporting import EX_NOPERM
from tests.conftest import ADMIN_TOKEN
from tests.worker import plugins
from tests.worker.conftest import study

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


def test_each_trial_timing_has_its_build_inside_the_overhead(
    api: ParzenClient, run_daemon: Callable[..., Daemon]
) -> None:
    """Fails when the build time is lost between trainer and daemon (build_seconds 0), or
    counted where it does not belong: bench/worker_overhead.py's "build s" goes wrong."""
    api.create_study(study("timed", "mlp", "digits_flat", MLP_SPACE))
    daemon = run_daemon()
    assert [t.outcome for t in daemon.timings] == ["complete", "complete"]
    for timing in daemon.timings:
        assert 0 < timing.build_seconds < timing.overhead_seconds
        assert timing.build_seconds + timing.fit_seconds < timing.total_seconds
        assert timing.build_seconds < timing.fit_seconds  # a tiny MLP builds in milliseconds


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
    _assert_said_goodbye(api, daemon)


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

    from parzen.worker.reporting import TrialReporter

    api.create_study(study("bg", "mlp", "digits_flat", MLP_SPACE))
    worker = api.register_worker(
        host="h", pid=1, gpu=None, builders=["mlp"], datasets=["digits_flat"]
    )
    trial = api.lease(str(worker["id"])).trial
    assert trial is not None
    reporter = TrialReporter(api, trial, threading.Event())
    for step in range(1, 21):
        assert reporter.report(step, {"val_accuracy": step / 20}) is False
    reporter.close()  # returns once all 20 are on the server
    steps = [v["step"] for v in api.trial("bg", trial.number)["intermediate"]]
    assert steps == list(range(1, 21))

    # Taken away (handed back): the server says stop, and the reporter says so at the
    # next epoch, without waiting for it.
    api.release(trial.id, lease_token=trial.lease_token, attempt=trial.attempt)
    reporter = TrialReporter(api, trial, threading.Event())
    reporter.report(21, {"val_accuracy": 1.0})
    reporter.close()
    assert reporter.stopped_by == "server" and reporter.report(22, {}) is True


def test_daemon_asks_to_be_recycled_after_its_quota_of_trials(
    api: ParzenClient, live_server: ServerThread, tmp_path: Path
) -> None:
    from parzen.worker.daemon import RECYCLE, DaemonConfig, create

    api.create_study(study("recycled", "mlp", "digits_flat", MLP_SPACE))
    config = DaemonConfig(
        url=live_server.url,
        token=ADMIN_TOKEN,
        burst=True,
        poll_seconds=0.2,
        artifact_dir=tmp_path,
        max_trials_per_process=1,
    )
    first = create(config)
    assert first.run() == RECYCLE and first.counts == {"complete": 1}
    second = create(config)  # what the supervisor starts next
    assert second.run() == RECYCLE and second.counts == {"complete": 1}
    assert create(config).run() == 0  # nothing left
    assert api.get_study("recycled")["counts"] == {"complete": 2}


def test_metrics_port_counts_trials_epochs_and_seconds(
    api: ParzenClient, run_daemon: Callable[..., Daemon]
) -> None:
    """`parzen worker --metrics-port`: a scrape of the daemon says what it trained and how
    long its models took to build."""
    series = {
        "complete": ("parzen_worker_trials_total", {"outcome": "complete"}),
        "epochs": ("parzen_worker_epochs_total", {}),
        "training": ("parzen_worker_training_seconds_total", {}),
        "overhead": ("parzen_worker_overhead_seconds_total", {}),
        "build": ("parzen_worker_build_seconds_total", {}),
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
    assert 0 < moved["build"] < moved["overhead"]  # the build is part of the overhead


def test_each_gpu_daemon_gets_its_own_metrics_port() -> None:
    argv = ["worker", "--server", "http://x"]
    assert child_command(argv, "2", 1, 9100)[-4:] == ["2", "--child", "--metrics-port", "9101"]
    assert "--metrics-port" not in child_command(argv, "0", 0)


def _assert_said_goodbye(api: ParzenClient, daemon: Daemon) -> None:
    worker = next(w for w in api.workers() if w["id"] == daemon.worker_id)
    assert worker["state"] == "exited" and worker["current_trial_id"] is None
    assert daemon.client is not None and daemon.client.is_closed


@pytest.fixture
def interference() -> Iterator[list[Callable[[], None]]]:
    """What happens to a trial on the server between its lease and its first epoch."""
    yield plugins.INTERFERENCE
    plugins.INTERFERENCE.clear()


def _interfered(name: str, epochs: int = 3) -> dict[str, object]:
    body = study(name, "interfered", "digits_flat", MLP_SPACE)
    body["objective"]["max_epochs"] = body["objective"]["patience"] = epochs
    body["budget"] = {"max_trials": 1, "max_parallel": 1}
    return body


def test_study_deleted_while_its_trial_trains_is_not_a_failure_and_the_daemon_goes_on(
    api: ParzenClient,
    run_daemon: Callable[..., Daemon],
    interference: list[Callable[[], None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fails if a 404 from reporting is told as a failed trial (or counts toward
    max_failures), or if it kills the daemon instead of it leasing the next trial."""
    caplog.set_level(logging.WARNING, "parzen.worker")
    api.create_study(_interfered("gone"))
    api.create_study(study("next", "mlp", "digits_flat", MLP_SPACE) | {"budget": {"max_trials": 1}})
    interference.append(lambda: api.delete_study("gone"))
    daemon = run_daemon(modules=("tests.worker.plugins",), max_failures=1)
    assert daemon.exit_code == 0
    assert daemon.counts == {"lost": 1, "complete": 1}
    assert api.get_study("next")["counts"] == {"complete": 1}
    assert "trial gone #1 stopped, not failed: the study or trial is gone" in caplog.text
    assert "leasing the next trial" in caplog.text
    assert next(w for w in api.workers() if w["id"] == daemon.worker_id)["trials_failed"] == 0
    _assert_said_goodbye(api, daemon)


class _LostLeaseServer(ParzenClient):
    """The server answers a report from an attempt whose lease expired with 409, and one
    from an attempt handed back with `should_stop`. This client keeps the trial it leased,
    so the test can hand it back with its lease token, and answers that report as the
    server answers an expired attempt's: 409."""

    leased: Trial | None = None

    def lease(self, worker_id: str, *, exclude: list[str] | None = None) -> Ask:
        ask = super().lease(worker_id, exclude=exclude)
        self.leased = ask.trial or self.leased
        return ask

    def report(
        self,
        trial_id: int,
        step: int,
        values: dict[str, float],
        *,
        lease_token: str,
        attempt: int | None = None,
    ) -> bool:
        if super().report(trial_id, step, values, lease_token=lease_token, attempt=attempt):
            raise ParzenError(409, f"attempt {attempt} of trial {trial_id} is no longer current")
        return False


def test_trial_taken_away_409_is_not_a_failure(
    api: ParzenClient,
    live_server: ServerThread,
    run_daemon: Callable[..., Daemon],
    interference: list[Callable[[], None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fails if a 409 (the trial taken away from this attempt) is told as a failure: that
    tell would fail the trial its next holder runs."""
    caplog.set_level(logging.WARNING, "parzen.worker")
    api.create_study(_interfered("taken"))

    client = _LostLeaseServer(live_server.url, ADMIN_TOKEN, retry_seconds=5)

    def take_away() -> None:
        assert client.leased is not None
        client.release(client.leased.id, lease_token=client.leased.lease_token)

    interference.append(take_away)
    with client:
        daemon = run_daemon(modules=("tests.worker.plugins",), client=client)
    assert daemon.counts == {"lost": 1, "complete": 1} and daemon.exit_code == 0
    trial = api.trial("taken", 1)
    assert trial["state"] == "complete"
    assert [a["outcome"] for a in trial["attempts"]] == ["released", "complete"]
    assert "stopped, not failed: the trial was taken away" in caplog.text


def test_revoked_token_stops_the_daemon_non_zero_after_trying_goodbye(
    api: ParzenClient,
    live_server: ServerThread,
    run_daemon: Callable[..., Daemon],
    interference: list[Callable[[], None]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fails if a refused token is told as a failed trial, if the daemon dies with an
    exception or exits 0 (a supervisor would not see it), or leaves without trying goodbye."""
    caplog.set_level(logging.INFO, "parzen.worker")
    api.create_study(_interfered("revoked", epochs=5))
    token = api.create_token("worker", "revoked in the test")

    def revoke() -> None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        url = f"{live_server.url}/api/v1/tokens/{token['id']}"
        assert httpx.delete(url, headers=headers).status_code == 204

    interference.append(revoke)
    daemon = run_daemon(modules=("tests.worker.plugins",), token=token["token"])
    assert daemon.exit_code == EX_NOPERM and not daemon.counts
    assert "stops with exit code 77" in caplog.text
    assert "refuses this worker's token" in caplog.text and "trial revoked #1" in caplog.text
    assert "goodbye failed" in caplog.text  # tried, and refused as well
    trial = api.trial("revoked", 1)
    assert trial["state"] == "running"  # not failed; its lease runs out and it is queued again
    assert len(trial["intermediate"]) <= 1  # training stopped at the next epoch
    assert daemon.client is not None and daemon.client.is_closed


def test_unreachable_server_exits_non_zero_instead_of_raising(tmp_path: Path) -> None:
    """Fails if the daemon dies with a connection error's traceback (or exits 0) when the
    server stays unreachable past retry_seconds, instead of exiting EX_UNAVAILABLE."""
    import socket

    from parzen.worker.daemon import DaemonConfig, create
    from parzen.worker.reporting import EX_UNAVAILABLE

    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}"
    daemon = create(DaemonConfig(url=url, burst=True, retry_seconds=0.5, artifact_dir=tmp_path))
    assert daemon.run() == EX_UNAVAILABLE
    assert daemon.client is not None and daemon.client.is_closed


def test_a_refused_heartbeat_stops_the_trial_at_its_next_epoch(api: ParzenClient) -> None:
    """Fails if a heartbeat's 404 is only logged: the trial would train on to its last
    epoch for a study that no longer exists."""
    import threading
    import time

    from parzen.worker.reporting import Heartbeat, ServiceError, TrialReporter

    api.create_study(study("beat", "mlp", "digits_flat", MLP_SPACE))
    worker = api.register_worker(
        host="h", pid=1, gpu=None, builders=["mlp"], datasets=["digits_flat"]
    )
    trial = api.lease(str(worker["id"])).trial
    assert trial is not None
    api.delete_study("beat")
    reporter = TrialReporter(api, trial, threading.Event())
    beat = Heartbeat(
        lambda: api.heartbeat(trial.id, lease_token=trial.lease_token), 0.3, reporter.fail
    )
    with beat:
        time.sleep(1.5)  # the first beat goes at 0.5 s
    with pytest.raises(ServiceError) as stopped:
        reporter.report(1, {"val_accuracy": 0.5})
    assert stopped.value.status_code == 404 and not stopped.value.fatal
    reporter.close(raise_error=False)

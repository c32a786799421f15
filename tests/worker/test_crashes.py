"""Workers as real processes: killed ones lose nothing, stopped ones hand their trial back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from parzen.worker.daemon import Daemon
from tests.conftest import ADMIN_TOKEN
from tests.worker.conftest import study
from tests.worker.test_daemon import MLP_SPACE


def _start_worker(server: ServerThread, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"PARZEN_TOKEN": ADMIN_TOKEN, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parzen.cli.main",
            "worker",
            "--server",
            server.url,
            "--gpus",
            "none",
            "--burst",
            "--poll",
            "0.2",
            "--artifact-dir",
            str(tmp_path / "killed"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker.log", "wb"),
    )


def _wait_for_report(api: ParzenClient, name: str, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "worker exited early"
        running = api.trials(name, state=["running"])["data"]
        if running and running[0]["last_step"]:
            return int(running[0]["number"])
        time.sleep(0.1)
    raise AssertionError("no epoch was reported in time")


def test_killed_worker_loses_nothing(
    api: ParzenClient,
    live_server: ServerThread,
    run_daemon: Callable[..., Daemon],
    tmp_path: Path,
) -> None:
    body = study("crash", "mlp", "digits_flat", MLP_SPACE, lease_seconds=2)
    body["objective"]["max_epochs"] = 30
    body["objective"]["patience"] = 30
    body["budget"] = {"max_trials": 3, "max_parallel": 2}
    api.create_study(body)
    proc = _start_worker(live_server, tmp_path)
    number = _wait_for_report(api, "crash", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    run_daemon()  # picks the lost trial up once its lease has run out
    summary = api.get_study("crash")
    assert summary["counts"] == {"complete": 3} and summary["trials_created"] == 3
    lost = api.trial("crash", number)
    assert [a["outcome"] for a in lost["attempts"]] == ["expired", "complete"]
    assert lost["attempts"][0]["worker_id"] != lost["attempts"][1]["worker_id"]


def test_sigterm_finishes_the_epoch_and_hands_the_trial_back(
    api: ParzenClient, live_server: ServerThread, tmp_path: Path
) -> None:
    body = study("term", "mlp", "digits_flat", MLP_SPACE)
    body["objective"]["max_epochs"] = 50
    body["objective"]["patience"] = 50
    api.create_study(body)
    proc = _start_worker(live_server, tmp_path)
    number = _wait_for_report(api, "term", proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    trial = api.trial("term", number)
    assert trial["state"] == "queued"
    assert [a["outcome"] for a in trial["attempts"]] == ["released"]
    assert len(trial["intermediate"]) < 50
    (worker,) = api.workers()  # said goodbye: not idle forever
    assert worker["state"] == "exited" and worker["current_trial_id"] is None

"""The daemon's error paths against an in-memory service (tests/worker/fake_service.py):
a lost lease, a 5xx past the client's retries, a fatal 4xx, a failing trial. Each scripts
what the service answers and checks what the daemon did about it: what it told, what it
handed back, whether it went on, and its exit code. test_daemon.py runs the same kinds of
error against the real server."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from parzen.worker.client import ParzenError
from parzen.worker.daemon import Daemon, DaemonConfig, create
from parzen.worker.reporting import EX_NOPERM, EX_UNAVAILABLE
from tests.worker.fake_service import FakeService, trial, unavailable


def serve(service: FakeService, tmp_path: Path, **config: Any) -> Daemon:
    """Run a burst-mode daemon on the fake until its trials run out or it stops (in a
    thread: the main thread's signal handlers stay pytest's)."""
    daemon = create(
        DaemonConfig(
            url="http://fake", burst=True, poll_seconds=0.05, artifact_dir=tmp_path, **config
        ),
        client=service,
    )
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    thread.join(240)
    assert not thread.is_alive(), "the daemon is still running after 240 s"
    return daemon


def told(service: FakeService) -> list[tuple[int, str]]:
    return [(call["trial_id"], call["state"]) for call in service.called("tell")]


def test_lost_lease_409_is_not_a_failure_and_the_next_trial_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Fails if a report refused with 409 (the lease lost: the trial belongs to another
    attempt now) is told as a failure, handed back, or stops the daemon."""
    caplog.set_level(logging.WARNING, "parzen.worker")
    service = FakeService([trial("lost", 1), trial("next", 2)])
    service.fail["report"] = [ParzenError(409, "attempt 1 of trial 1 is no longer current")]
    daemon = serve(service, tmp_path)
    assert daemon.exit_code == 0
    assert daemon.counts == {"lost": 1, "complete": 1}
    assert told(service) == [(2, "complete")]
    assert service.called("release") == []  # the trial is not this attempt's to hand back
    assert "trial lost #1 stopped, not failed: the trial was taken away" in caplog.text
    assert len(service.called("goodbye")) == 1
    assert not service.closed  # a client the daemon was given is its caller's to close


@pytest.mark.parametrize("method", ["lease", "report", "tell"])
def test_server_unavailable_past_the_retries_exits_unavailable_after_goodbye(
    method: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Fails if a 5xx that outlasted the client's retries is told as a failed trial, if the
    daemon goes on leasing, or exits with anything but EX_UNAVAILABLE without a goodbye."""
    caplog.set_level(logging.INFO, "parzen.worker")
    service = FakeService([trial("s", 1), trial("s", 2)])
    service.fail[method] = [unavailable(503)]
    daemon = serve(service, tmp_path)
    assert daemon.exit_code == EX_UNAVAILABLE
    assert "failed" not in [state for _, state in told(service)]
    assert service.called("release") == []  # nobody is there to hear it
    assert len(service.called("lease")) == 1  # and never again
    assert len(service.queue) == (2 if method == "lease" else 1)
    assert len(service.called("goodbye")) == 1
    assert "stops with exit code 69: " in caplog.text and "the server is unreachable" in caplog.text


def test_refused_token_403_exits_noperm_and_a_failed_goodbye_does_not_hang(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Fails if a 403 on the tell (the worker's token revoked) fails the trial, or if the
    daemon exits 0, or raises when its goodbye is refused too."""
    caplog.set_level(logging.WARNING, "parzen.worker")
    service = FakeService([trial("s", 1)])
    service.fail["tell"] = [ParzenError(403, "token revoked")]
    service.fail["goodbye"] = [ParzenError(403, "token revoked")]
    daemon = serve(service, tmp_path)
    assert daemon.exit_code == EX_NOPERM and not daemon.counts
    assert told(service) == [(1, "complete")]  # the one attempt, refused; nothing after it
    assert "refuses this worker's token" in caplog.text and "trial s #1" in caplog.text
    assert "goodbye failed" in caplog.text


def test_a_refused_tell_404_hands_nothing_back_and_the_daemon_goes_on(tmp_path: Path) -> None:
    """Fails if a 404 on the tell (the study deleted meanwhile) stops the daemon or counts as
    a failure of the study's trials."""
    service = FakeService([trial("gone", 1), trial("next", 2)])
    service.fail["tell"] = [ParzenError(404, "no study 'gone'")]
    daemon = serve(service, tmp_path, max_failures=1)
    assert daemon.exit_code == 0 and daemon.counts == {"lost": 1, "complete": 1}
    assert service.called("release") == []
    assert service.called("lease")[-1]["exclude"] == []  # "gone" was not given up


def test_failing_trials_are_told_with_their_traceback_and_the_study_given_up(
    tmp_path: Path,
) -> None:
    """Fails if a trial whose builder raises is not told `failed` with its traceback, or if
    the worker keeps leasing a study after max_failures failures in a row."""
    broken = [trial("broken", n, builder="broken") for n in (1, 2, 3)]
    service = FakeService([*broken, trial("fine", 4)])
    daemon = serve(service, tmp_path, modules=("tests.worker.plugins",), max_failures=2)
    assert daemon.exit_code == 0
    assert daemon.counts == {"failed": 2, "complete": 1}
    assert told(service) == [(1, "failed"), (2, "failed"), (4, "complete")]
    errors = [call["error"] for call in service.called("tell")[:2]]
    assert all("deliberately broken builder" in e and "Traceback" in e for e in errors)
    assert service.called("lease")[-1]["exclude"] == ["broken"]
    assert [t.number for t in service.queue] == [3]  # never leased


def test_a_failing_trial_whose_failure_cannot_be_told_is_handed_back(tmp_path: Path) -> None:
    """Fails if a 400 on telling a failure is lost silently: the trial must be handed back
    (it can still be), and the daemon go on."""
    service = FakeService([trial("broken", 1, builder="broken")])
    service.fail["tell"] = [ParzenError(400, "error: too long")]
    daemon = serve(service, tmp_path, modules=("tests.worker.plugins",))
    assert daemon.exit_code == 0 and daemon.counts == {"lost": 1}
    assert [call["trial_id"] for call in service.called("release")] == [1]

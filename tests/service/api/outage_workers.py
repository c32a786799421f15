"""Simulated workers for outage tests: threads that train by sleeping and talk to a live
server through the SDK, which retries connection errors and 5xx."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

import parzen.worker.client
from parzen.worker.client import ParzenClient
from tests.service.writes import sdk_report, sdk_tell

EPOCHS = 8
EPOCH_SECONDS = 0.25


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK backs off up to 10 s between retries, which needs leases of more than 10 s
    (the default is 60); retrying every 0.1 s lets the tests use leases of about a second."""
    monkeypatch.setattr(parzen.worker.client.ParzenClient, "BACKOFF_MAX_SECONDS", 0.1)


class Fleet:
    """`size` workers, each asking for one trial of `study`, reporting EPOCHS epochs and
    telling it complete; every status the server answered is counted."""

    def __init__(self, url: str, token: str, study: str, size: int) -> None:
        self.statuses: Counter[int] = Counter()
        self.errors: list[BaseException] = []
        self.stopped: list[int] = []  # trials told to stop: their lease was taken away
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=(url, token, study), daemon=True)
            for _ in range(size)
        ]

    def _count(self, response: httpx.Response) -> None:
        with self._lock:
            self.statuses[response.status_code] += 1

    def _work(self, url: str, token: str, study: str) -> None:
        try:
            with ParzenClient(url, token, retry_seconds=60) as client:
                client._http.event_hooks["response"].append(self._count)
                ask = client.ask(study)
                assert ask.trial is not None, ask.reason
                for epoch in range(1, EPOCHS + 1):
                    time.sleep(EPOCH_SECONDS)
                    if sdk_report(client, ask.trial, epoch, {"val_loss": 1.0 / epoch}):
                        self.stopped.append(ask.trial.number)
                        return
                sdk_tell(client, ask.trial, "complete", 1.0 / EPOCHS)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    @contextmanager
    def running(self, timeout: float = 60) -> Iterator[Fleet]:
        for thread in self._threads:
            thread.start()
        yield self
        for thread in self._threads:
            thread.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "a worker is still training"

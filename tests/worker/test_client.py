"""worker/client.py's retries, against a real tiny HTTP server on a free port that answers
what each test scripts: 5xx and 429 are retried, never sooner than Retry-After asks and never
longer apart than BACKOFF_MAX_SECONDS; a 4xx is not retried; retries stop at retry_seconds."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from parzen.worker.client import ParzenClient, ParzenError, ServerUnavailable

Answer = tuple[int, dict[str, str]]  # status, headers
OK: Answer = (200, {})


@dataclass
class Script:
    """The answers to give, in order (the last one again once they run out), and when each
    request came."""

    answers: list[Answer] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.times.append(time.monotonic())
            i = len(script.times) - 1
            status, headers = script.answers[min(i, len(script.answers) - 1)]
            body = json.dumps({"name": "s"} if status < 400 else {"detail": f"said {status}"})
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def client(url: str, *, retry_seconds: float = 10, ceiling: float = 10) -> ParzenClient:
    parzen = ParzenClient(url, "t", retry_seconds=retry_seconds)
    parzen.BACKOFF_MAX_SECONDS = ceiling
    return parzen


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_answers_are_retried_until_one_succeeds(
    server: tuple[str, Script], status: int
) -> None:
    """Fails if a 5xx or 429 (nothing was applied) reaches the caller instead of a retry."""
    url, script = server
    script.answers = [(status, {}), (status, {}), OK]
    with client(url) as parzen:
        assert parzen.get_study("s") == {"name": "s"}
    assert len(script.times) == 3


def test_retry_after_is_waited_for(server: tuple[str, Script]) -> None:
    """Fails if the client retries a 429 sooner than its Retry-After asks (it would be
    refused again, and add to the load it was asked to take away)."""
    url, script = server
    script.answers = [(429, {"Retry-After": "1"}), OK]
    with client(url) as parzen:
        parzen.get_study("s")
    assert script.gaps()[0] >= 0.95


def test_retry_after_is_capped_by_the_backoff_ceiling(server: tuple[str, Script]) -> None:
    """Fails if a Retry-After longer than BACKOFF_MAX_SECONDS is waited for in full: a worker
    waiting out a minute would lose the lease of the trial it trains."""
    url, script = server
    script.answers = [(503, {"Retry-After": "30"}), (503, {"Retry-After": "30"}), OK]
    started = time.monotonic()
    with client(url, ceiling=0.3) as parzen:
        parzen.get_study("s")
    assert len(script.times) == 3
    assert all(0.25 <= gap < 1.5 for gap in script.gaps()), script.gaps()
    assert time.monotonic() - started < 5


def test_retries_stop_at_retry_seconds_with_server_unavailable(
    server: tuple[str, Script],
) -> None:
    """Fails if a server that keeps answering 503 is retried past retry_seconds, or if what
    is raised then does not say the server is unavailable (the daemon exits on it)."""
    url, script = server
    script.answers = [(503, {})]
    started = time.monotonic()
    with client(url, retry_seconds=1, ceiling=0.2) as parzen, pytest.raises(ServerUnavailable):
        parzen.get_study("s")
    assert 1 <= time.monotonic() - started < 3
    assert len(script.times) >= 3


def test_a_4xx_is_not_retried_and_says_what_the_server_said(server: tuple[str, Script]) -> None:
    """Fails if a refusal (the request itself is wrong) is retried, or its detail lost."""
    url, script = server
    script.answers = [(404, {}), OK]
    with client(url) as parzen, pytest.raises(ParzenError, match="404: said 404") as refused:
        parzen.get_study("s")
    assert refused.value.status_code == 404 and len(script.times) == 1

"""The client's transport: the errors it raises and the retries of transient failures
(connection errors, 5xx and 429) with exponential backoff that honours Retry-After."""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)


class ParzenError(Exception):
    """The server refused a request (4xx); `detail` says what to fix."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"{status_code}: {detail_text(detail)}")
        self.status_code = status_code
        self.detail = detail


class ServerUnavailable(Exception):
    """A 5xx or 429 answer; retried, and raised once the client's retry_seconds are spent."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} from {response.request.url}")
        self.retry_after = retry_after_seconds(response)


def retry_after_seconds(response: httpx.Response) -> float:
    """The seconds a 503 or 429 asks the client to wait (0 when it says none, or a date)."""
    try:
        return min(max(float(response.headers.get("Retry-After", 0)), 0.0), 60.0)
    except ValueError:
        return 0.0


def should_retry(response: httpx.Response) -> bool:
    """Nothing was applied: the server failed, or asked this client to slow down."""
    return response.status_code >= 500 or response.status_code == 429


class Backoff:
    """tenacity's exponential backoff with jitter, never sooner than the server's Retry-After,
    never longer than `ceiling` seconds."""

    def __init__(self, ceiling: float) -> None:
        self.ceiling = ceiling
        self._exponential = wait_exponential_jitter(multiplier=0.2, max=ceiling)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, ServerUnavailable) else 0.0
        return min(max(self._exponential(state), asked), self.ceiling)


def transient(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | ServerUnavailable)


def json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.text)
    except ValueError:
        return response.text


def detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(
            f"{d.get('path') or '.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}"
            if isinstance(d, dict)
            else str(d)
            for d in detail
        )
    return str(detail)


def retrying(*, seconds: float, ceiling: float) -> Retrying:
    """Retries of transient failures: connection errors, 5xx and 429, each waiting at least
    what the server's Retry-After asks (at most `ceiling`), for up to `seconds` in all."""
    return Retrying(
        retry=retry_if_exception(transient),
        wait=Backoff(ceiling),
        stop=stop_after_delay(seconds),
        reraise=True,
    )

"""worker/client_transport.py: the client's errors and how long a retry waits."""

from __future__ import annotations

import httpx
import pytest

from parzen.worker.client_transport import ParzenError, retry_after_seconds, should_retry


def _answer(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 0.0), ("3", 3.0), ("-5", 0.0), ("3600", 60.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_is_read_as_bounded_seconds(header: str | None, seconds: float) -> None:
    """Breaks if a server's Retry-After (missing, negative, huge or a date) can stall the
    client past a minute or crash it."""
    assert retry_after_seconds(_answer(503, header)) == seconds


def test_only_server_failures_and_throttling_are_retried() -> None:
    """Breaks if a 4xx (which says what to fix) would be sent again and again."""
    assert should_retry(_answer(503)) and should_retry(_answer(500)) and should_retry(_answer(429))
    assert not should_retry(_answer(404)) and not should_retry(_answer(422))


def test_a_422_error_names_each_problem_by_its_path() -> None:
    """Breaks if the message of a refused body stops naming where each problem is."""
    detail = [
        {"loc": ["body", "space"], "path": "$.space.lr.low", "msg": "must be > 0"},
        {"loc": ["body", "seed"], "msg": "Input should be greater than or equal to 0"},
    ]
    assert str(ParzenError(422, detail)) == (
        "422: $.space.lr.low: must be > 0; body.seed: Input should be greater than or equal to 0"
    )

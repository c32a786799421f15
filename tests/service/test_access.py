"""The failure limiter's window, its Retry-After and its bounded memory (a fake clock)."""

from __future__ import annotations

from parzen.service.access import FailureLimiter, is_loopback


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_blocked_until_its_oldest_failure_in_the_window_ages_out() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=3, window=60, clock=clock)
    for step in (0, 10, 20):
        clock.now = 1000 + step
        assert limiter.retry_after("a") is None
        limiter.failed("a")
    assert limiter.retry_after("a") == 40  # the failure at +0 frees the window at +60
    assert limiter.retry_after("b") is None
    clock.now = 1059.5
    assert limiter.retry_after("a") == 1  # never 0: Retry-After 0 would invite a retry now
    clock.now = 1060
    assert limiter.retry_after("a") is None
    limiter.failed("a")  # the window slides: +10, +20, +60 are three again
    assert limiter.retry_after("a") == 10


def test_failures_while_blocked_do_not_extend_memory_past_the_limit() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=2, window=60, clock=clock)
    for _ in range(1000):
        limiter.failed("a")
    assert len(limiter._failures["a"]) == 2


def test_only_the_most_recently_failing_addresses_are_remembered() -> None:
    limiter = FailureLimiter(limit=1, window=60, max_clients=2, clock=Clock())
    for host in ("a", "b", "a", "c"):
        limiter.failed(host)
    assert limiter.retry_after("a") is not None and limiter.retry_after("c") is not None
    assert limiter.retry_after("b") is None  # the least recent, forgotten


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]))
    assert not any(map(is_loopback, ["10.0.0.1", "::ffff:10.0.0.1", "testclient", "", "0.0.0.0"]))

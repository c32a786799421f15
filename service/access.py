"""Who may knock: loopback-only local mode, and a limit on failed tokens per client address.

Both key on the client address the ASGI server reports (`scope["client"]`). Behind a reverse
proxy that is the proxy's address unless uvicorn trusts its X-Forwarded-For (`--proxy-headers`
with `--forwarded-allow-ips`; by default uvicorn trusts a proxy on 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOCAL_ONLY = (
    "local mode serves only this machine: turn PARZEN_AUTH on (and give workers tokens) "
    "to serve other hosts"
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 from a dual-stack socket
    return address.is_loopback


def client_host(connection: HTTPConnection) -> str:
    return connection.client.host if connection.client else ""


class LoopbackOnly:
    """Local mode (auth off) answers only clients on this machine, whatever started the app:
    `parzen server`, `uvicorn --factory --host 0.0.0.0 service.main:create_app` or a test.
    A pure ASGI middleware (Starlette's idiom), so no route can be left out. A connection with
    no client address is a Unix socket, which is this machine too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and not is_loopback(client[0]):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": LOCAL_ONLY})
                return
            await JSONResponse({"detail": LOCAL_ONLY}, 403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class FailureLimiter:
    """Failed authentications per client address over a sliding window.

    Past `limit` failures in `window` seconds an address is refused until its oldest failure
    in the window ages out. Only the `max_clients` addresses that failed most recently are
    remembered, so a flood of addresses cannot grow memory without bound. Thread-safe: sync
    routes authenticate on the thread pool. Per process: with N replicas an address gets N
    times the limit. A check and the failure it leads to are two steps, so a burst of
    concurrent guesses can pass the limit by at most the server's concurrency, once.
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.max_clients, self._clock = limit, window, max_clients, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until `client` may try again, or None while it is under the limit."""
        now = self._clock()
        with self._lock:
            failures = self._failures.get(client)
            if failures is None:
                return None
            self._forget_old(failures, now)
            if len(failures) < self.limit:
                return None
            # at most `limit` are kept: the window frees when the oldest of them ages out
            frees_at = failures[0] + self.window
            return max(1, math.ceil(frees_at - now))

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            failures = self._failures.setdefault(client, deque())
            self._failures.move_to_end(client)
            failures.append(now)
            self._forget_old(failures, now)
            while len(failures) > self.limit:  # older ones no longer decide anything
                failures.popleft()
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def _forget_old(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self.window:
            failures.popleft()

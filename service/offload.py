"""The thread pools the hot routes hand their database calls to.

FastAPI runs a plain `def` route in AnyIO's worker threads (`run_in_threadpool`), and AnyIO's
hand-off does work of its own on every call (finding the async backend, a cancel scope, a
capacity limiter's token) on the event loop's thread, which is also where the next request
waits to be parsed. The routes a fleet sends all the time (ask, lease, report, heartbeat,
tell, release) are `async def` instead and await their storage call in a pool of their own,
through asyncio's `loop.run_in_executor` on a `ThreadPoolExecutor` (the standard library's
idiom for blocking calls from a coroutine): bench/load.py's CPU per request is the measure.

Two pools, because an ask waits its turn for its study's sampler (asks of one study take
turns, storage/asking.py): in one shared pool, a crowd of asks would hold every thread while
the reports and tells behind them, each a few milliseconds of work, waited in the queue
(the loop phase of bench/load.py: a report's median went from 18 ms to 120 ms). Each pool
has a thread per connection the database pool can lend (`db_pool_size` + `db_max_overflow`):
a call beyond that many would only wait for a connection, in a thread. Each call runs in a
copy of the caller's context (contextvars), as AnyIO's would. Idle threads end with their
executor (the app's), as `ThreadPoolExecutor` arranges.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Pool:
    """One executor, awaited: `await pool(fn, *args, **kwargs)`."""

    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=f"parzen-{name}")

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in this pool, awaited."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


class Offload:
    """The asks' pool (asks and leases, which may wait for a sampler) and the writes' pool
    (reports, heartbeats, tells, releases), each of `threads`."""

    def __init__(self, threads: int) -> None:
        self.asks = Pool(threads, "asks")
        self.writes = Pool(threads, "writes")

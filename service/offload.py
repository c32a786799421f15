"""The thread pool the hot routes hand their database calls to.

FastAPI runs a plain `def` route in AnyIO's worker threads (`run_in_threadpool`), and AnyIO's
hand-off does work of its own on every call (finding the async backend, a cancel scope, a
capacity limiter's token) on the event loop's thread, which is also where the next request
waits to be parsed. The routes a fleet sends all the time (ask, lease, report, heartbeat,
tell, release) are `async def` instead and await their storage call here, through asyncio's
own `loop.run_in_executor` on a `ThreadPoolExecutor` (the standard library's idiom for
blocking calls from a coroutine): bench/load.py's CPU per request is the measure.

The pool has a thread per connection the database pool can lend (`db_pool_size` +
`db_max_overflow`): a call beyond that many would only wait for a connection, in a thread.
Each call runs in a copy of the caller's context (contextvars), as AnyIO's would. Idle
threads end with their executor (the app's), as `ThreadPoolExecutor` arranges.
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


class Offload:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="parzen-db")

    async def __call__(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in the pool, awaited."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

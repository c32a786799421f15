"""Counting the SQL statements (and transactions) a piece of code sends, for tests that keep
hot paths short."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Engine, event


def statements(engine: Engine) -> AbstractContextManager[list[Any]]:
    """The statements sent through `engine` inside the block, in order (COMMIT and BEGIN
    are not among them: the driver sends those without a cursor)."""
    return _recorded(engine, "before_cursor_execute", lambda _conn, _cursor, sql, *_: sql)


def transactions(engine: Engine) -> AbstractContextManager[list[Any]]:
    """The transactions begun through `engine` inside the block (one connection each)."""
    return _recorded(engine, "begin", lambda conn: conn)


@contextmanager
def _recorded(engine: Engine, name: str, pick: Callable[..., Any]) -> Iterator[list[Any]]:
    """What `pick` takes of each `name` event of `engine` inside the block, in order."""
    seen: list[Any] = []

    def record(*args: Any) -> None:
        seen.append(pick(*args))

    event.listen(engine, name, record)
    try:
        yield seen
    finally:
        event.remove(engine, name, record)

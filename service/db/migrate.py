"""Apply Alembic migrations from code: `parzen server`, `parzen migrate` and the tests call this.

Replicas that start at once must not migrate at once: `upgrade` holds a lock for the whole
upgrade, so the first process migrates and the later ones, once they get the lock, find the
schema at head and do nothing. On PostgreSQL the lock is a session-level advisory lock
(`pg_advisory_lock` on a fixed key) held by the migration's own connection: the server frees
it if the process dies, and it needs no table. SQLite lives on one machine, so an exclusive
`fcntl.flock` on a file beside the database serializes every process that can open it (an
`BEGIN EXCLUSIVE` would not: Alembic's DDL must run in its own transactions).
"""

from __future__ import annotations

import fcntl
import logging
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from parzen.service.db.engine import make_engine

# A source tree (pip install -e ., the tests) keeps alembic.ini beside service/; a wheel
# (the server image) installs it as data files under <prefix>/share/parzen (pyproject.toml),
# and `pip install --target DIR` puts those in DIR/share/parzen, beside the packages.
_PACKAGES = Path(__file__).resolve().parents[2]
ALEMBIC_INI = _PACKAGES / "alembic.ini"
INSTALLED_INIS = (
    Path(sysconfig.get_path("data")) / "share" / "parzen" / "alembic.ini",
    _PACKAGES.parent / "share" / "parzen" / "alembic.ini",
)


def find_alembic_ini() -> Path:
    candidates = (ALEMBIC_INI, *INSTALLED_INIS)
    for path in candidates:
        if path.exists():
            return path
    raise RuntimeError(
        f"alembic.ini not found in {', '.join(map(str, candidates))}: "
        "install Parzen from its source tree or from its wheel."
    )


# Any fixed 64-bit number, the same in every process: "parzen" in ASCII.
MIGRATION_LOCK_KEY = 0x70617A7A656E
log = logging.getLogger("parzen.migrate")


def alembic_config(url: str) -> Config:
    config = Config(str(find_alembic_ini()))
    config.attributes["url"] = url
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision of the script directory (read once per process)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("alembic/versions has no revision")
    return head


def upgrade(url: str, revision: str = "head") -> bool:
    """Migrate the database at `url` to `revision` under the migration lock. Returns whether
    this call changed the schema (False: another process had done it, or nothing to do)."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn, _migration_lock(conn, url):
            before = _current(conn)
            config = alembic_config(url)
            config.attributes["connection"] = conn  # alembic/env.py migrates on this connection
            command.upgrade(config, revision)
            conn.commit()
            after = _current(conn)
    finally:
        engine.dispose()
    if before == after:
        log.info("database schema already at %s: nothing to migrate", after)
        return False
    log.info("migrated the database schema from %s to %s", before or "empty", after)
    return True


def _current(conn: Connection) -> str | None:
    revision = MigrationContext.configure(conn).get_current_revision()
    conn.commit()  # end the read's transaction: Alembic begins its own
    return revision


@contextmanager
def _migration_lock(conn: Connection, url: str) -> Iterator[None]:
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
        conn.commit()  # the lock belongs to the session and outlives this transaction
        try:
            yield
        finally:
            conn.rollback()
            conn.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
            conn.commit()
        return
    database = make_url(url).database if conn.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield  # an in-memory database belongs to this process alone
        return
    with open(f"{database}.migrate-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file is closed
        yield


def schema_problem(current: str | None) -> str | None:
    """Why a database at revision `current` cannot be served (None: it can)."""
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return f"database has no schema, server needs {head}: run `parzen migrate`"
    return f"schema at {current}, server needs {head}: run `parzen migrate`"

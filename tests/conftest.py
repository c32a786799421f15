"""Shared fixtures: every storage and API test runs on SQLite and on PostgreSQL, each test in
a database of its own, copied from one migrated at the start of the session."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from parzen.service.config import Settings
from parzen.service.db.migrate import upgrade
from parzen.service.main import create_app
from parzen.service.server import ServerThread
from parzen.service.storage import Storage

POSTGRES_URL = os.environ.get(
    "PARZEN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ADMIN_TOKEN = "pz_test_admin_token"
_counter = itertools.count()


def _pg_admin():  # type: ignore[no-untyped-def]
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "parzen.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"parzen_template_{os.getpid()}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "parzen.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    with own_postgres_database("test", template=template) as url:
        yield url


@contextmanager
def own_postgres_database(purpose: str, *, template: str | None = None) -> Iterator[str]:
    """The URL of a new database in the shared PostgreSQL cluster (empty, or copied from
    `template`), dropped afterwards: a test's own, whatever runs beside it."""
    name = f"parzen_{purpose}_{os.getpid()}_{next(_counter)}"
    admin = _pg_admin()
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    store = Storage.from_url(database_url)
    yield store
    store.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        lease_seconds=30,
        reaper_interval=0.5,
        artifact_dir=tmp_path / "artifacts",
    )


@pytest.fixture
def client(settings: Settings, storage: Storage) -> Iterator[TestClient]:
    """The real app in-process; authenticated as admin unless a test says otherwise."""
    with TestClient(create_app(settings, storage)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield test_client


@pytest.fixture
def live_server(settings: Settings, storage: Storage) -> Iterator[ServerThread]:
    """The real app behind uvicorn on a free loopback port."""
    with ServerThread(create_app(settings, storage)) as server:
        yield server

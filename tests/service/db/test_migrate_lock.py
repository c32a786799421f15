"""Replicas that start at once migrate once (the migration lock), and a server told not to
migrate refuses an old schema. A rollout of several `parzen server` pods on a fresh database
fails these when the replicas race each other through Alembic."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from parzen.cli.main import app
from parzen.service.config import Settings
from parzen.service.db.migrate import head_revision, upgrade
from parzen.service.server import SchemaNotReady, ensure_schema, free_port
from tests.conftest import own_postgres_database

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A PostgreSQL database of this test's own, with no schema at all."""
    with own_postgres_database("migrate") as url:
        yield url


def _start(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "parzen.cli.main", *args],
            cwd=ROOT,
            env=os.environ | {"PARZEN_AUTH": "false", "PARZEN_HOST": "127.0.0.1", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
        except httpx.TransportError:
            time.sleep(0.2)
    return -1


def test_servers_started_at_once_on_an_empty_postgres_migrate_once(
    empty_postgres: str, tmp_path: Path
) -> None:
    ports = [free_port() for _ in range(3)]
    logs = [tmp_path / f"server-{port}.log" for port in ports]
    servers = [
        _start(["server", "--port", str(port), "--database-url", empty_postgres], log)
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        ready = [_ready(port, server) for port, server in zip(ports, servers, strict=True)]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    output = "".join(log.read_text() for log in logs)
    assert ready == [200, 200, 200], output
    assert output.count("Running upgrade  -> 0001") == 1, output  # one migrator, one run
    assert output.count("migrated the database schema from empty") == 1, output
    assert output.count(f"database schema already at {head_revision()}") == 2, output


def test_migrate_commands_at_once_on_sqlite_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'parzen.db'}"
    logs = [tmp_path / f"migrate-{n}.log" for n in range(4)]
    runs = [_start(["migrate", "--database-url", url], log) for log in logs]
    codes = [run.wait(timeout=120) for run in runs]
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0, 0, 0], outputs
    said = sorted(output.strip().splitlines()[-1] for output in outputs)
    assert said == ["database already at the latest revision"] * 3 + [
        "migrated the database to the latest revision"
    ], outputs


@pytest.fixture
def old_schema(database_url: str) -> str:
    """The test's database (SQLite or PostgreSQL), put back at revision 0002."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        for table in reversed(_tables(conn)):
            conn.execute(text(f'DROP TABLE "{table}"'))
    engine.dispose()
    upgrade(database_url, "0002")
    return database_url


def _tables(conn) -> list[str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import MetaData

    metadata = MetaData()
    metadata.reflect(conn)
    return [table.name for table in metadata.sorted_tables]


def test_no_migrate_refuses_an_old_schema_naming_parzen_migrate(old_schema: str) -> None:
    with pytest.raises(SchemaNotReady) as refused:
        ensure_schema(Settings(database_url=old_schema, migrate=False))
    message = str(refused.value)
    assert f"schema at 0002, server needs {head_revision()}" in message
    assert "run `parzen migrate`" in message and "PARZEN_MIGRATE is false" in message
    upgrade(old_schema)  # what `parzen migrate` does; then the server may start
    ensure_schema(Settings(database_url=old_schema, migrate=False))


def test_server_no_migrate_flag_exits_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    for key in ("PARZEN_MIGRATE", "PARZEN_DATABASE_URL"):  # the command sets them; undo after
        monkeypatch.setenv(key, "")
    result = CliRunner().invoke(app, ["server", "--no-migrate", "--database-url", url])
    assert result.exit_code == 1
    assert "schema at 0002" in result.output and "run `parzen migrate`" in result.output
    assert os.environ["PARZEN_MIGRATE"] == "false"  # what the server processes read

"""Running the app: `parzen server` in the foreground, or a thread for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from parzen.service.config import Settings
from parzen.service.db.migrate import schema_problem, upgrade


class SchemaNotReady(RuntimeError):
    """PARZEN_MIGRATE=false and the database is not at the server's revision."""


def serve(settings: Settings, *, workers: int = 1, log_level: str = "info") -> None:
    """Migrate (under the migration lock) or check the schema, then serve until interrupted."""
    ensure_schema(settings)
    with _metrics_dir(workers):
        uvicorn.run(
            "parzen.service.main:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=log_level,
        )


def ensure_schema(settings: Settings) -> None:
    """PARZEN_MIGRATE=true: migrate to head (replicas starting together migrate once);
    false: raise SchemaNotReady, naming `parzen migrate`, unless the schema is at head."""
    if settings.migrate:
        upgrade(settings.database_url)
        return
    from parzen.service.storage import Storage

    storage = Storage.from_url(settings.database_url)
    try:
        problem = schema_problem(storage.schema_revision())
    finally:
        storage.close()
    if problem:
        raise SchemaNotReady(
            f"refusing to start: {problem} (PARZEN_MIGRATE is false: this server does not migrate)"
        )


@contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """Several processes share /metrics through prometheus-client's multiprocess mode: give
    them a directory (a fresh one, removed at exit, unless PROMETHEUS_MULTIPROC_DIR names
    one) and clear the files of an earlier run there, as the library asks. Set before the
    server processes import prometheus-client, which reads the variable at import."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield
    elif workers > 1:
        with tempfile.TemporaryDirectory(prefix="parzen-metrics-") as fresh:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = fresh
            try:
                yield
            finally:
                del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    else:
        yield  # one process: its own registry is the whole truth


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """A real uvicorn server on a free loopback port, in a background thread."""

    def __init__(self, app: FastAPI, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port or free_port(host)
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

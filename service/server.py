"""Running the app: `parzen server` in the foreground, or a thread for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from service.config import Settings
from service.db.migrate import upgrade


def serve(settings: Settings, *, workers: int = 1, log_level: str = "info") -> None:
    """Apply migrations, then serve until interrupted."""
    upgrade(settings.database_url)
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=log_level,
    )


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

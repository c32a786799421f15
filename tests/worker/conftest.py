"""Worker tests talk to a real server on a free port, on SQLite (the storage suite covers
PostgreSQL); they train real, tiny Keras models."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from parzen.worker.daemon import Daemon, DaemonConfig, create
from tests.conftest import ADMIN_TOKEN


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    import shutil

    path = tmp_path / "parzen.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def api(live_server: ServerThread) -> Iterator[ParzenClient]:
    with ParzenClient(live_server.url, ADMIN_TOKEN, retry_seconds=5) as client:
        yield client


@pytest.fixture
def run_daemon(live_server: ServerThread, tmp_path: Path) -> Callable[..., Daemon]:
    """Run a burst-mode daemon in a thread until the work runs out."""

    def run(timeout: float = 240, client: ParzenClient | None = None, **config: Any) -> Daemon:
        config.setdefault("artifact_dir", tmp_path / "artifacts")
        config.setdefault("token", ADMIN_TOKEN)
        daemon = create(
            DaemonConfig(url=live_server.url, burst=True, poll_seconds=0.2, **config),
            client=client,
        )
        errors: list[BaseException] = []

        def target() -> None:
            try:
                daemon.run()
            except BaseException as exc:  # re-raised in the test below
                errors.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            daemon.stop()
            thread.join(30)
            raise AssertionError(f"daemon still running after {timeout} s")
        if errors:
            raise errors[0]
        return daemon

    return run


def study(
    name: str, builder: str, dataset: str, space: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "direction": "maximize",
        "metric": "val_accuracy",
        "space": space,
        "algorithm": "tpe",
        "seed": 1,
        "objective": {
            "builder": builder,
            "dataset": dataset,
            "max_epochs": 3,
            "patience": 1,
            "batch_size": 64,
        },
        "budget": {"max_trials": 2, "max_parallel": 1},
    }
    return body | extra

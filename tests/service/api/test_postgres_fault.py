"""The fault test: PostgreSQL stopped for longer than the lease while workers train, on a
cluster of the test's own (the shared one on 5432 is never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from parzen.service.config import Settings
from parzen.service.db.migrate import upgrade
from parzen.service.main import create_app
from parzen.service.server import ServerThread, free_port
from parzen.service.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.service.api.outage_workers import Fleet, quick_retries
from tests.service.api.test_outages import LEASE, check_every_trial_finished_first_time
from tests.service.factories import study_spec

__all__ = ["quick_retries"]  # a fixture, used by name
pytestmark = pytest.mark.skipif(
    shutil.which("pg_createcluster") is None, reason="needs postgresql-common's pg_createcluster"
)


def _pg(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@pytest.fixture
def own_cluster() -> Iterator[tuple[str, str, str]]:
    """(version, name, url) of a fresh cluster on a free port, dropped afterwards."""
    version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
    name, port = f"parzen_fault_{os.getpid()}", free_port()
    _pg("pg_createcluster", "--port", str(port), version, name, "--", "--auth=trust")
    try:
        _pg("pg_ctlcluster", version, name, "start")
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE fault"))
        admin.dispose()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/fault"
        upgrade(url)
        yield version, name, url
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, name], timeout=60, check=False)


@pytest.mark.usefixtures("quick_retries")
def test_postgres_stopped_longer_than_a_lease_costs_no_trial(
    own_cluster: tuple[str, str, str], tmp_path: Path
) -> None:
    """Fails if a database outage answers 500s, loses or repeats a write, or costs a trial
    its first attempt (the first sweep after the outage requeued every trial in flight)."""
    version, name, url = own_cluster
    storage = Storage.from_url(url)
    storage.create_study(spec=study_spec(lease_seconds=LEASE, max_trials=3, max_parallel=3))
    settings = Settings(
        database_url=url,
        admin_token=ADMIN_TOKEN,
        reaper_interval=0.2,
        artifact_dir=tmp_path / "artifacts",
    )
    try:
        with ServerThread(create_app(settings, storage)) as server:
            fleet = Fleet(server.url, ADMIN_TOKEN, "study", size=3)
            with fleet.running():
                time.sleep(0.8)  # every worker holds its trial and has reported
                _pg("pg_ctlcluster", version, name, "stop", "-m", "immediate")
                time.sleep(2 * LEASE)
                _pg("pg_ctlcluster", version, name, "start")
        assert fleet.statuses[503] > 0, fleet.statuses  # the outage was seen, as 503s
        check_every_trial_finished_first_time(storage, fleet, trials=3)
    finally:
        storage.close()

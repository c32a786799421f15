"""Outages cost no trial: a lease runs out only for lack of contact while the service could
hear. Live servers, workers that keep retrying through the outage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.server import ServerThread, free_port
from parzen.service.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.service.api.outage_workers import EPOCHS, Fleet, quick_retries
from tests.service.factories import study_spec

__all__ = ["quick_retries"]  # a fixture, used by name
LEASE = 1.5


def check_every_trial_finished_first_time(storage: Storage, fleet: Fleet, trials: int) -> None:
    assert not fleet.errors, fleet.errors
    assert not fleet.stopped, f"trials {fleet.stopped} lost their lease during the outage"
    assert 500 not in fleet.statuses, fleet.statuses
    listed, total = storage.list_trials(study_name="study")
    assert total == trials  # nothing asked twice
    for trial in listed:
        detail = storage.get_trial(study_name="study", number=trial.number)
        assert (detail.state, detail.attempt) == ("complete", 1), detail
        assert [v.step for v in detail.intermediate] == list(range(1, EPOCHS + 1))
        assert [a.attempt for a in detail.attempts] == [1]


@pytest.mark.usefixtures("quick_retries")
def test_a_server_down_for_two_leases_costs_no_trial(
    database_url: str, tmp_path: Path, storage: Storage
) -> None:
    """Fails if the first sweep after a restart requeues trials whose workers kept retrying
    (their reports are then refused and the curve of the first attempt is cut short)."""
    storage.create_study(spec=study_spec(lease_seconds=LEASE, max_trials=3, max_parallel=3))
    settings = Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        reaper_interval=0.2,
        artifact_dir=tmp_path / "artifacts",
    )
    port = free_port()
    fleet = Fleet(f"http://127.0.0.1:{port}", ADMIN_TOKEN, "study", size=3)
    first = ServerThread(create_app(settings, storage), port=port).start()
    restarted = Storage.from_url(database_url)  # the new process's own storage
    second = None
    try:
        with fleet.running():
            time.sleep(0.8)  # every worker holds its trial and has reported
            first.stop()
            time.sleep(2 * LEASE)
            second = ServerThread(create_app(settings, restarted), port=port).start()
    finally:
        if second is not None:
            second.stop()
        restarted.close()
    check_every_trial_finished_first_time(storage, fleet, trials=3)

"""Writes to a trial, as its holder makes them, for tests that are not about the credentials.

A test that leases a trial and then reports, tells or releases it goes through these, so that
what a write must carry to prove it comes from the trial's holder is said in one place. Tests
of that proof itself (a write from the wrong holder) call the routes and the store directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update

from parzen.service.db.base import utcnow
from parzen.service.db.models import Trial as TrialRow
from parzen.service.storage import Storage, TrialRecord
from parzen.worker.client import ParzenClient, Trial

Held = dict[str, Any]  # a leased trial as the API hands it out (`ask`'s "trial")


def holder(trial: Held) -> dict[str, Any]:
    """What a write must name about the attempt it comes from: the lease token it was handed
    (and the attempt, which is optional but checked when given)."""
    return {"lease_token": trial["lease_token"], "attempt": trial["attempt"]}


def api_report(
    client: TestClient | httpx.Client, trial: Held, step: int, values: dict[str, Any]
) -> httpx.Response:
    return client.post(
        f"/api/v1/trials/{trial['id']}/report",
        json={"step": step, "values": values, **holder(trial)},
    )


def api_heartbeat(client: TestClient | httpx.Client, trial: Held) -> httpx.Response:
    return client.post(f"/api/v1/trials/{trial['id']}/heartbeat", json=holder(trial))


def api_tell(
    client: TestClient | httpx.Client,
    trial: Held,
    state: str,
    value: float | None = None,
    **body: Any,
) -> httpx.Response:
    payload = {"state": state, "value": value, **body, **holder(trial)}
    return client.post(f"/api/v1/trials/{trial['id']}/tell", json=payload)


def api_release(client: TestClient | httpx.Client, trial: Held) -> httpx.Response:
    return client.post(f"/api/v1/trials/{trial['id']}/release", json=holder(trial))


def run_out_lease(storage: Storage, trial_id: int) -> None:
    """The trial's lease ends now, as if its worker had gone quiet; nothing is swept yet (the
    caller runs `expire_leases`, or lets an ask do it). Tests set the time rather than sleep
    through a short lease, which fails whenever the machine is slower than the lease."""
    with storage.session() as session:
        session.execute(
            update(TrialRow)
            .where(TrialRow.id == trial_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def store_holder(trial: TrialRecord) -> dict[str, Any]:
    assert trial.lease_token, "use the trial that ask returned: only it carries the lease token"
    return {"lease_token": trial.lease_token, "attempt": trial.attempt}


def store_report(
    storage: Storage, trial: TrialRecord, step: int | None, values: dict[str, Any]
) -> Any:
    return storage.report(trial_id=trial.id, step=step, values=values, **store_holder(trial))


def store_tell(
    storage: Storage, trial: TrialRecord, state: Any, value: float | None = None, **kw: Any
) -> TrialRecord:
    return storage.tell(trial_id=trial.id, state=state, value=value, **kw, **store_holder(trial))


def store_release(storage: Storage, trial: TrialRecord) -> TrialRecord:
    return storage.release(trial_id=trial.id, **store_holder(trial))


def sdk_report(client: ParzenClient, trial: Trial, step: int, values: dict[str, float]) -> bool:
    """A report through the SDK (which retries connection errors and 5xx), as a worker sends it."""
    return client.report(trial.id, step, values, lease_token=trial.lease_token)


def sdk_tell(client: ParzenClient, trial: Trial, state: Any, value: float | None = None) -> Any:
    return client.tell(trial.id, state, value, lease_token=trial.lease_token)


def upload_headers(trial: Held) -> dict[str, str]:
    """What a checkpoint upload must carry about its attempt (a header: the body is the file)."""
    return {"X-Parzen-Lease-Token": trial["lease_token"]}


def api_upload(
    client: TestClient | httpx.Client, trial: Held, content: Any, **headers: str
) -> httpx.Response:
    return client.put(
        f"/api/v1/trials/{trial['id']}/artifact",
        content=content,
        headers={**upload_headers(trial), **headers},
    )

"""Every write to a trial is tied to the lease it was handed (a lease token per attempt).

Run through the real app on SQLite and PostgreSQL. A write without the token is 422, from
another holder (another trial's token, another bearer token) 403, from an attempt that lost
its lease 409; in each case the stored trial, its attempts and its curve stay as they were.
An expired attempt's late `complete` is kept as its own result and stops the attempt that
runs meanwhile.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from parzen.service.storage import Storage, report_sql
from tests.service.api.test_studies import study_body
from tests.service.writes import (
    api_heartbeat,
    api_release,
    api_report,
    api_tell,
    run_out_lease,
)


def _bearer(client: TestClient) -> dict[str, str]:
    created = client.post("/api/v1/tokens", json={"role": "worker", "name": "w"})
    assert created.status_code == 201
    return {"Authorization": f"Bearer {created.json()['token']}"}


def _worker(client: TestClient) -> str:
    body = {"host": "node", "pid": 1, "gpu": None, "builders": ["mlp"], "datasets": ["digits"]}
    return str(client.post("/api/v1/workers", json=body).json()["id"])


def _lease(client: TestClient, worker_id: str) -> dict[str, Any]:
    answer = client.post(f"/api/v1/workers/{worker_id}/lease")
    assert answer.status_code == 200 and answer.json()["status"] == "ok", answer.text
    trial: dict[str, Any] = answer.json()["trial"]
    return trial


def _detail(client: TestClient, number: int = 1) -> dict[str, Any]:
    detail: dict[str, Any] = client.get(f"/api/v1/studies/s1/trials/{number}").json()
    return detail


def _expire(storage: Storage, trial_id: int) -> None:
    """The lease runs out now (as if its worker had gone quiet), and a sweep sees it (this
    one, or the app's own reaper if it came first)."""
    run_out_lease(storage, trial_id)
    storage.expire_leases()
    assert storage.get_trial_by_id(trial_id=trial_id).state == "queued"


def _taken_over(client: TestClient, storage: Storage) -> tuple[dict[str, Any], ...]:
    """Worker A's attempt 1 reported an epoch, lost its lease; worker B runs attempt 2."""
    client.post("/api/v1/studies", json=study_body(budget={"max_trials": 1, "max_parallel": 1}))
    a, b = _worker(client), _worker(client)
    first = _lease(client, a)
    assert api_report(client, first, 1, {"val_accuracy": 0.5}).status_code == 200
    _expire(storage, first["id"])
    second = _lease(client, b)
    assert second["id"] == first["id"] and second["attempt"] == 2
    assert api_report(client, second, 1, {"val_accuracy": 0.1}).status_code == 200
    return first, second, {"a": a, "b": b}


def test_late_complete_is_kept_as_its_attempts_result_and_stops_the_running_one(
    client: TestClient, storage: Storage
) -> None:
    """If this fails, a late result is recorded as the wrong attempt's (or lost), or the
    attempt running meanwhile trains on unaware and then overwrites the result."""
    first, second, workers = _taken_over(client, storage)
    told = api_tell(client, first, "complete", 0.9)
    assert told.status_code == 200, told.text
    detail = _detail(client)
    assert (detail["state"], detail["value"]) == ("complete", 0.9)
    assert (detail["attempt"], detail["worker_id"]) == (1, workers["a"])
    assert detail["last_step"] == 1
    attempts = [(a["attempt"], a["worker_id"], a["outcome"]) for a in detail["attempts"]]
    assert attempts == [(1, workers["a"], "complete"), (2, workers["b"], "superseded")]
    reason = f"attempt 1 on worker {workers['a']} finished this trial late; stop"
    assert detail["attempts"][1]["error"] == reason
    for answer in (
        api_report(client, second, 2, {"val_accuracy": 0.2}),
        api_heartbeat(client, second),
    ):
        assert answer.status_code == 200
        assert answer.json() == {"should_stop": True, "reason": reason}
    refused = api_tell(client, second, "complete", 0.2)
    assert refused.status_code == 409 and refused.json()["detail"] == reason
    assert _detail(client) == detail
    assert [(v["attempt"], v["step"]) for v in detail["intermediate"]] == [(1, 1), (2, 1)]
    by_id = {w["id"]: w for w in client.get("/api/v1/workers").json()["data"]}
    assert by_id[workers["a"]]["trials_done"] == 1 and by_id[workers["a"]]["state"] == "idle"
    assert by_id[workers["b"]]["current_trial_id"] is None
    assert client.get("/api/v1/studies/s1").json()["state"] == "complete"


def test_late_complete_after_the_current_attempt_completed_is_409(
    client: TestClient, storage: Storage
) -> None:
    """If this fails, a late result overwrites the first full result."""
    first, second, _ = _taken_over(client, storage)
    assert api_tell(client, second, "complete", 0.2).status_code == 200
    before = _detail(client)
    late = api_tell(client, first, "complete", 0.9)
    assert late.status_code == 409
    assert _detail(client) == before and before["value"] == 0.2 and before["attempt"] == 2


def test_expired_attempt_cannot_report_prune_fail_or_release(
    client: TestClient, storage: Storage
) -> None:
    """If this fails, a worker that lost its lease writes into (or fails, or hands back) the
    trial another worker now runs."""
    first, _, _ = _taken_over(client, storage)
    before = _detail(client)
    for answer in (
        api_report(client, first, 2, {"val_accuracy": 0.6}),
        api_heartbeat(client, first),
        api_tell(client, first, "pruned", 0.5),
        api_tell(client, first, "failed", error="boom"),
        api_release(client, first),
    ):
        assert answer.status_code == 409, answer.text
        assert "no longer current (its lease expired)" in answer.json()["detail"]
    after = _detail(client)
    assert after == before
    assert [a["outcome"] for a in after["attempts"]] == ["expired", "running"]


def test_writes_without_a_lease_token_are_422_and_change_nothing(client: TestClient) -> None:
    """If this fails, a write that names no lease is applied to whichever attempt runs."""
    client.post("/api/v1/studies", json=study_body())
    trial = client.post("/api/v1/studies/s1/ask").json()["trial"]
    before = _detail(client)
    base = f"/api/v1/trials/{trial['id']}"
    for path, body in (
        ("report", {"step": 1, "values": {"val_accuracy": 0.5}}),
        ("heartbeat", {}),
        ("tell", {"state": "failed", "error": "boom"}),
        ("release", {}),
    ):
        answer = client.post(f"{base}/{path}", json=body)
        assert answer.status_code == 422, (path, answer.text)
        assert "lease_token" in answer.text
    assert client.post(f"{base}/heartbeat").status_code == 422  # no body at all
    assert _detail(client) == before and before["intermediate"] == []


def test_another_trials_lease_token_is_403_and_changes_nothing(client: TestClient) -> None:
    """If this fails, a worker can write to a trial it was never handed."""
    client.post("/api/v1/studies", json=study_body())
    mine = client.post("/api/v1/studies/s1/ask").json()["trial"]
    other = client.post("/api/v1/studies/s1/ask").json()["trial"]
    forged = other | {"id": mine["id"]}  # the right trial, another trial's token
    before = _detail(client, mine["number"])
    for answer in (
        api_report(client, forged, 1, {"val_accuracy": 0.5}),
        api_heartbeat(client, forged),
        api_tell(client, forged, "failed", error="boom"),
        api_tell(client, forged, "complete", 0.5),
        api_release(client, forged),
        api_tell(client, mine | {"lease_token": "guessed"}, "complete", 0.5),
    ):
        assert answer.status_code == 403, answer.text
        assert "belongs to no attempt" in answer.json()["detail"]
    assert _detail(client, mine["number"]) == before and before["state"] == "running"


def test_another_bearer_token_is_403_and_changes_nothing(client: TestClient) -> None:
    """If this fails, anyone with a worker token who learns a lease token can write to it."""
    client.post("/api/v1/studies", json=study_body())
    holder, stranger = _bearer(client), _bearer(client)
    trial = client.post("/api/v1/studies/s1/ask", headers=holder).json()["trial"]
    before = _detail(client)
    client.headers.update(stranger)
    for answer in (
        api_report(client, trial, 1, {"val_accuracy": 0.5}),
        api_heartbeat(client, trial),
        api_tell(client, trial, "complete", 0.5),
        api_release(client, trial),
    ):
        assert answer.status_code == 403, answer.text
        assert "another bearer token" in answer.json()["detail"]
    assert _detail(client) == before
    client.headers.update(holder)
    assert api_tell(client, trial, "complete", 0.5).status_code == 200


def test_naming_another_attempt_than_the_tokens_is_409(client: TestClient) -> None:
    """If this fails, the optional `attempt` can disagree with the lease silently."""
    client.post("/api/v1/studies", json=study_body())
    trial = client.post("/api/v1/studies/s1/ask").json()["trial"]
    answer = api_tell(client, trial | {"attempt": 2}, "complete", 0.5)
    assert answer.status_code == 409 and "attempt 2 was named" in answer.json()["detail"]
    assert _detail(client)["state"] == "running"


def test_worker_ids_belong_to_the_token_that_registered_them(client: TestClient) -> None:
    """If this fails, any worker token can lease (or ask) in another worker's name."""
    client.post("/api/v1/studies", json=study_body())
    owner, stranger = _bearer(client), _bearer(client)
    body = {"host": "n", "pid": 1, "gpu": None, "builders": ["mlp"], "datasets": ["digits"]}
    worker = client.post("/api/v1/workers", json=body, headers=owner).json()["id"]
    lease = client.post(f"/api/v1/workers/{worker}/lease", headers=stranger)
    assert lease.status_code == 403 and "not registered with this token" in lease.text
    ask = client.post("/api/v1/studies/s1/ask", json={"worker_id": worker}, headers=stranger)
    assert ask.status_code == 403
    assert client.get("/api/v1/studies/s1").json()["trials_created"] == 0
    assert client.post(f"/api/v1/workers/{worker}/lease", headers=owner).json()["status"] == "ok"


def test_the_lease_token_is_shown_once_and_stored_hashed(
    client: TestClient, storage: Storage
) -> None:
    """If this fails, a read endpoint (or the database) hands out what proves a holder."""
    client.post("/api/v1/studies", json=study_body())
    worker = _worker(client)
    trial = _lease(client, worker)
    token = trial["lease_token"]
    assert len(token) >= 40
    for path in (
        "/api/v1/studies/s1/trials",
        "/api/v1/studies/s1/trials/1",
        f"/api/v1/trials/{trial['id']}",
        "/api/v1/workers",
        "/api/v1/studies/s1",
    ):
        answer = client.get(path)
        assert answer.status_code == 200 and token not in answer.text
        assert "lease_token" not in answer.text
    with storage.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM trial_attempts").all()
    assert rows and all(token not in str(row) for row in rows)


def test_a_report_counts_as_the_worker_being_seen(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a worker busy on a long trial looks dead on the dashboard."""
    # Seen at most once per SEEN_EVERY (a second): shortened so that the test stays quick.
    monkeypatch.setattr(report_sql, "SEEN_EVERY", timedelta(milliseconds=10))
    client.post("/api/v1/studies", json=study_body())
    worker = _worker(client)
    trial = _lease(client, worker)

    def seen() -> str:
        return str(
            next(w for w in client.get("/api/v1/workers").json()["data"] if w["id"] == worker)[
                "last_seen_at"
            ]
        )

    leased_at = seen()
    time.sleep(0.02)
    assert api_report(client, trial, 1, {"val_accuracy": 0.5}).status_code == 200
    reported_at = seen()
    assert reported_at > leased_at
    time.sleep(0.02)
    assert api_heartbeat(client, trial).status_code == 200
    assert seen() > reported_at


def _upload(client: TestClient, trial: dict[str, Any], data: bytes, token: str | None) -> int:
    headers = {"X-Parzen-Lease-Token": token} if token is not None else {}
    return client.put(
        f"/api/v1/trials/{trial['id']}/artifact", content=data, headers=headers
    ).status_code


def test_checkpoint_uploads_need_the_lease_token(client: TestClient) -> None:
    """If this fails, any worker token can replace any trial's checkpoint."""
    client.post("/api/v1/studies", json=study_body())
    mine = client.post("/api/v1/studies/s1/ask").json()["trial"]
    other = client.post("/api/v1/studies/s1/ask").json()["trial"]
    assert _upload(client, mine, b"forged", None) == 403
    assert _upload(client, mine, b"forged", other["lease_token"]) == 403
    assert _upload(client, mine, b"forged", "guessed") == 403
    assert _detail(client, mine["number"])["artifact"] is None
    assert _upload(client, mine, b"mine", mine["lease_token"]) == 204
    assert client.get(f"/api/v1/trials/{mine['id']}/artifact").content == b"mine"


def test_a_late_completers_checkpoint_is_kept_and_overwrites_nobodys(
    client: TestClient, storage: Storage
) -> None:
    """If this fails, the trial's checkpoint is not the one of the attempt whose result it
    records: a late completer's upload is lost, or it overwrites the running attempt's."""
    first, second, _ = _taken_over(client, storage)
    assert _upload(client, first, b"late", first["lease_token"]) == 204
    assert _detail(client)["artifact"] is None  # attempt 2 runs: not its checkpoint
    assert _upload(client, second, b"current", second["lease_token"]) == 204
    assert client.get(f"/api/v1/trials/{first['id']}/artifact").content == b"current"
    assert api_tell(client, first, "complete", 0.9).status_code == 200
    assert client.get(f"/api/v1/trials/{first['id']}/artifact").content == b"late"
    assert _upload(client, second, b"after", second["lease_token"]) == 409
    assert client.get(f"/api/v1/trials/{first['id']}/artifact").content == b"late"

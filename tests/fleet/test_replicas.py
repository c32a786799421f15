"""REPLICA TEST (issue 12, "How it is checked"): two real `parzen server` processes on two
ports sharing one PostgreSQL database and one S3 bucket (moto), simulated workers spread
over both, and one replica SIGKILLed mid-study and started again. Real processes, real
database, real object store; about 30-60 s, bounded by a 110 s timeout.

Finalizing through the other replica needs a real Keras worker and is not done here.
Before lease tokens (issue 11) it fails: the stranded workers' late writes are accepted.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

from parzen.service.db.migrate import upgrade
from parzen.service.server import free_port
from parzen.worker.client import ParzenClient, ParzenError, Trial
from tests.conftest import ADMIN_TOKEN, own_postgres_database
from tests.s3server import AWS_ENV, moto_s3, new_bucket, object_keys
from tests.service.api.test_studies import study_body

ROOT = Path(__file__).resolve().parents[2]
TRIALS, WORKERS, STEPS, LEASE_SECONDS = 30, 6, 3, 5
pytestmark = pytest.mark.timeout(110)


# The holder's writes, in one place: each names the lease its attempt was handed.
def report(client: ParzenClient, trial: Trial, step: int, value: float) -> bool:
    return client.report(trial.id, step, {"val_accuracy": value}, lease_token=trial.lease_token)


def upload(client: ParzenClient, trial: Trial, path: Path) -> None:
    client.upload_artifact(trial.id, path, lease_token=trial.lease_token)


def tell(client: ParzenClient, trial: Trial, value: float) -> None:
    client.tell(trial.id, "complete", value, lease_token=trial.lease_token)


class Replica:
    """One `parzen server` process; `kill` is SIGKILL, `start` again reuses the port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.log_path = env, log
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def launch(self) -> Replica:
        self.launched = time.monotonic()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "parzen.cli.main", "server", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from launch until /healthz answers."""
        assert self.process is not None
        started = self.launched
        while time.monotonic() - started < timeout:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"replica on {self.url} did not start")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log is not None:
            self._log.close()


@dataclass
class Ledger:
    """What the simulated workers saw, appended from their threads."""

    leases: list[tuple[int, int, str]] = field(default_factory=list)  # trial, attempt, worker
    completed: dict[int, tuple[int, str, str]] = field(default_factory=dict)  # -> att, wkr, sha
    through: dict[str, int] = field(default_factory=dict)  # completions per replica URL
    in_hand: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # URL -> attempts
    doubly_completed: list[int] = field(default_factory=list)
    lost: list[tuple[int, int, int]] = field(default_factory=list)  # trial, attempt, status
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def simulated_worker(url: str, ledger: Ledger, folder: Path, deadline: float) -> None:
    try:
        with ParzenClient(url, ADMIN_TOKEN, retry_seconds=60) as client:
            me = client.register_worker(
                host="sim", pid=None, gpu=None, builders=["mlp"], datasets=["digits"]
            )["id"]
            while time.monotonic() < deadline:
                ask = client.lease(me)
                if ask.status == "done":
                    return
                if ask.trial is None:
                    time.sleep(0.1)
                    continue
                run_trial(client, ask.trial, me, ledger, folder)
            ledger.errors.append(f"{me}: out of time")
    except Exception as exc:  # the test fails with it, not the thread silently
        ledger.errors.append(repr(exc))


def run_trial(client: ParzenClient, trial: Trial, me: str, ledger: Ledger, folder: Path) -> None:
    with ledger.lock:
        ledger.leases.append((trial.id, trial.attempt, me))
        ledger.in_hand.setdefault(client.url, set()).add((trial.id, trial.attempt))
    try:
        train(client, trial, me, ledger, folder)
    finally:
        with ledger.lock:
            ledger.in_hand[client.url].discard((trial.id, trial.attempt))


def train(client: ParzenClient, trial: Trial, me: str, ledger: Ledger, folder: Path) -> None:
    value = (trial.id % 7) / 10
    try:
        for step in range(STEPS):
            if report(client, trial, step, value):
                return
            time.sleep(0.05)
        blob = f"trial {trial.id} attempt {trial.attempt} by {me}\n".encode() + os.urandom(4096)
        path = folder / f"{me}-{trial.id}-{trial.attempt}.keras"
        path.write_bytes(blob)
        upload(client, trial, path)
        tell(client, trial, value)
    except ParzenError as exc:  # the lease was lost meanwhile: drop the trial, as a worker does
        with ledger.lock:
            ledger.lost.append((trial.id, trial.attempt, exc.status_code))
        return
    with ledger.lock:
        if trial.id in ledger.completed:
            ledger.doubly_completed.append(trial.id)
        ledger.completed[trial.id] = (trial.attempt, me, hashlib.sha256(blob).hexdigest())
        ledger.through[client.url] = ledger.through.get(client.url, 0) + 1


@pytest.fixture
def replica_database() -> Iterator[str]:
    with own_postgres_database("replicas") as url:
        upgrade(url)  # once, before the replicas start (the migration lock is another test's)
        yield url


def test_two_replicas_one_killed_mid_study_lose_nothing(
    replica_database: str, tmp_path: Path
) -> None:
    with moto_s3() as endpoint:
        bucket = new_bucket(endpoint)
        env = os.environ | AWS_ENV | {
            "PARZEN_DATABASE_URL": replica_database,
            "PARZEN_ADMIN_TOKEN": ADMIN_TOKEN,
            "PARZEN_ARTIFACT_URL": f"s3://{bucket}/fleet",
            "PARZEN_S3_ENDPOINT_URL": endpoint,
            "PARZEN_REAPER_INTERVAL": "0.5",
        }  # fmt: skip
        replicas = [Replica(env, tmp_path / f"replica-{i}.log") for i in range(2)]
        try:
            for replica in replicas:  # both at once: start-up is most of the test's time
                replica.launch()
            for replica in replicas:
                replica.wait_ready()
            run_study_through(replicas, endpoint, bucket, tmp_path)
        finally:
            for replica in replicas:
                replica.stop()


def run_study_through(replicas: list[Replica], endpoint: str, bucket: str, tmp: Path) -> None:
    first, second = replicas
    admin = ParzenClient(second.url, ADMIN_TOKEN)
    admin.create_study(
        study_body(
            "fleet",
            algorithm="random",
            algorithm_settings={},
            lease_seconds=LEASE_SECONDS,  # short: the stranded trials are requeued soon
            max_attempts=5,
            budget={"max_trials": TRIALS, "max_parallel": WORKERS},
        )
    )
    ledger, began = Ledger(), time.monotonic()
    threads = [
        threading.Thread(
            target=simulated_worker,
            args=(replicas[i % 2].url, ledger, tmp, began + 90),
            daemon=True,
        )
        for i in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    # Kill the first replica a third into the study, while its workers hold trials, and
    # keep it down until the other one's reaper has requeued them: their workers come back
    # with writes from expired attempts, which must change nothing (counted once).
    while time.monotonic() - began < 60 and (
        len(ledger.completed) < TRIALS // 3 or not ledger.in_hand.get(first.url)
    ):
        time.sleep(0.01)
    first.kill()
    with ledger.lock:
        stranded = set(ledger.in_hand[first.url])
    killed_at = (time.monotonic() - began, len(ledger.completed), len(stranded))
    wait_until_requeued(admin, stranded, deadline=time.monotonic() + 30)
    down_for = time.monotonic() - began - killed_at[0]
    restart_seconds = first.launch().wait_ready()
    for thread in threads:
        thread.join(timeout=max(1.0, began + 95 - time.monotonic()))
    print(
        f"\nreplica test: killed at {killed_at[0]:.1f}s with {killed_at[1]} trials complete "
        f"and {killed_at[2]} in the hands of its workers, down {down_for:.1f}s until those were "
        f"requeued, back {restart_seconds:.1f}s later; study done in "
        f"{time.monotonic() - began:.1f}s; "
        f"{len(ledger.leases)} leases seen by workers, {len(ledger.lost)} lost {ledger.lost}, "
        f"completed through the killed replica {ledger.through.get(first.url, 0)}, "
        f"through the other {ledger.through.get(second.url, 0)}"
    )
    assert not ledger.errors, ledger.errors
    check_every_trial_once(admin, ledger, replicas, tmp / "downloaded.keras")
    # One object per attempt that uploaded: every trial's, and the stranded attempts' too
    # (their checkpoints are kept, as a late complete would have needed them).
    keys = object_keys(endpoint, bucket)
    assert TRIALS <= len(keys) <= TRIALS + len(stranded)
    assert len({key.rsplit("-attempt-", 1)[0] for key in keys}) == TRIALS
    admin.close()
    finalize_through(first.url, second.url, ledger, tmp / "candidate.keras")


def finalize_through(requester_url: str, evaluator_url: str, ledger: Ledger, target: Path) -> None:
    """Finalize through the replica that was killed, evaluate through the other: the job and
    every candidate's checkpoint are there whichever replica a node talks to. The evaluator
    is simulated like the workers (no Keras): it checks what it is handed, then finishes."""
    with (
        ParzenClient(requester_url, ADMIN_TOKEN) as requester,
        ParzenClient(evaluator_url, ADMIN_TOKEN) as evaluator,
    ):
        queued = requester.finalize("fleet", top_k=3, rescore="none")
        me = evaluator.register_worker(
            host="evaluator", pid=None, gpu=None, builders=["mlp"], datasets=["digits"]
        )["id"]
        job = evaluator.lease(me).evaluation
        assert job is not None and job["id"] == queued["id"] and len(job["candidates"]) == 3
        for candidate in job["candidates"]:
            evaluator.download_artifact(candidate["trial_id"], target)
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            assert digest == ledger.completed[candidate["trial_id"]][2]
        evaluator.finish_evaluation(job["id"], report={"simulated": True})
        finalizations = requester.test_report("fleet")["finalizations"]
        assert [f["state"] for f in finalizations] == ["complete"]


def wait_until_requeued(
    admin: ParzenClient, stranded: set[tuple[int, int]], deadline: float
) -> None:
    """Until none of the stranded attempts is the running one any more."""
    while True:
        by_id = {t["id"]: t for t in admin.trials("fleet", limit=1000)["data"]}
        now = [(by_id[trial], attempt) for trial, attempt in stranded]
        held = [t for t, attempt in now if (t["state"], t["attempt"]) == ("running", attempt)]
        if not held:
            return
        assert time.monotonic() < deadline, f"the surviving replica never requeued {held}"
        time.sleep(0.2)


def check_every_trial_once(
    admin: ParzenClient, ledger: Ledger, replicas: list[Replica], target: Path
) -> None:
    trials = admin.trials("fleet", limit=1000)["data"]
    assert sorted(t["number"] for t in trials) == list(range(1, TRIALS + 1))
    assert {t["state"] for t in trials} == {"complete"}
    assert ledger.doubly_completed == []
    assert sorted(ledger.completed) == sorted(t["id"] for t in trials)
    handed = [(trial, attempt) for trial, attempt, _ in ledger.leases]
    assert len(handed) == len(set(handed)), "an attempt was handed to two workers"
    holders = {(trial, attempt): worker for trial, attempt, worker in ledger.leases}
    attempts = 0
    for t in trials:
        detail = admin.trial("fleet", t["number"])
        attempts += len(detail["attempts"])
        attempt, worker, digest = ledger.completed[t["id"]]
        completes = [(a["attempt"], a["worker_id"]) for a in detail["attempts"]
                     if a["outcome"] == "complete"]  # fmt: skip
        assert completes == [(attempt, worker)], (t["id"], detail["attempts"])
        for row in detail["attempts"]:  # the record names the worker that held each attempt
            assert holders.get((t["id"], row["attempt"]), row["worker_id"]) == row["worker_id"]
        for replica in replicas:  # every checkpoint through either replica, byte for byte
            with ParzenClient(replica.url, ADMIN_TOKEN) as client:
                got = client.download_artifact(t["id"], target)
                assert hashlib.sha256(got.read_bytes()).hexdigest() == digest
    print(f"replica test: {len(trials)} trials, {attempts} attempts recorded, all checkpoints")

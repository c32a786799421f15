"""/metrics: a Prometheus scrape of a study as it runs. Fails when a counter stops moving,
moves by the wrong amount, or the text no longer parses with prometheus-client's parser."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from parzen.service.server import free_port
from parzen.service.storage import Storage
from tests.service.api.test_studies import study_body
from tests.service.writes import api_report, api_tell

ROOT = Path(__file__).resolve().parents[3]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics", headers={"Authorization": ""})  # scrapers carry no token
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_a_study_moves_the_counters_by_what_happened(client: TestClient) -> None:
    client.post("/api/v1/studies", json=study_body(budget={"max_trials": 2, "max_parallel": 1}))
    before = scrape(client)
    first = client.post("/api/v1/studies/s1/ask").json()["trial"]
    assert client.post("/api/v1/studies/s1/ask").json()["status"] == "wait"  # max_parallel 1
    assert api_report(client, first, 1, {"val_accuracy": 0.5}).json()["should_stop"] is False
    assert api_report(client, first, 2, {"val_accuracy": 0.6}).status_code == 200
    assert api_tell(client, first, "complete", 0.6).status_code == 200
    second = client.post("/api/v1/studies/s1/ask").json()["trial"]
    assert api_tell(client, second, "failed", error="out of memory").status_code == 200
    assert client.post("/api/v1/studies/s1/ask").json()["status"] == "done"
    after = scrape(client)

    assert moved(before, after, "parzen_asks_total", status="ok") == 2
    assert moved(before, after, "parzen_asks_total", status="wait") == 1
    assert moved(before, after, "parzen_asks_total", status="done") == 1
    assert moved(before, after, "parzen_ask_duration_seconds_count") == 4
    assert moved(before, after, "parzen_ask_duration_seconds_bucket", le="+Inf") == 4
    assert moved(before, after, "parzen_ask_duration_seconds_sum") > 0
    assert moved(before, after, "parzen_reports_total", should_stop="false") == 2
    assert moved(before, after, "parzen_tells_total", state="complete") == 1
    assert moved(before, after, "parzen_tells_total", state="failed") == 1
    # Read from the database at scrape time: absolute, the same from every replica.
    assert value(after, "parzen_database_up") == 1
    assert value(after, "parzen_trials", study="s1", state="complete") == 1
    assert value(after, "parzen_trials", study="s1", state="failed") == 1
    assert value(after, "parzen_trials", study="s1", state="running") == 0
    assert not any("trial" in dict(labels) for _, labels in after)  # no per-trial series


def test_expired_leases_are_counted_whoever_sweeps_them(client: TestClient) -> None:
    """The reaper (every 0.5 s here) or the next ask expires the lease: counted once either way."""
    body = study_body(budget={"max_trials": 1, "max_parallel": 1}, max_attempts=2)
    assert client.post("/api/v1/studies", json=body | {"lease_seconds": 0.2}).status_code == 201
    before = scrape(client)
    assert client.post("/api/v1/studies/s1/ask").json()["trial"]["attempt"] == 1
    time.sleep(0.8)
    assert client.post("/api/v1/studies/s1/ask").json()["trial"]["attempt"] == 2
    time.sleep(0.8)
    assert client.post("/api/v1/studies/s1/ask").json()["status"] == "done"
    after = scrape(client)
    assert moved(before, after, "parzen_leases_expired_total", outcome="requeued") == 1
    assert moved(before, after, "parzen_leases_expired_total", outcome="failed") == 1
    assert value(after, "parzen_trials", study="s1", state="failed") == 1


def test_workers_seen_and_test_split_uses_come_from_the_database(
    client: TestClient, storage: Storage
) -> None:
    client.post("/api/v1/studies", json=study_body(budget={"max_trials": 1, "max_parallel": 1}))
    worker = client.post(
        "/api/v1/workers", json={"host": "gpu-1", "builders": ["mlp"], "datasets": ["digits"]}
    ).json()
    leased = client.post(f"/api/v1/workers/{worker['id']}/lease").json()
    assert value(scrape(client), "parzen_workers_seen_recently", state="busy") == 1
    assert api_tell(client, leased["trial"], "complete", 0.9).status_code == 200
    storage.set_artifact(trial_id=leased["trial"]["id"], path="s1/trial-1.keras")
    finalize = client.post("/api/v1/studies/s1/finalize", json={"top_k": 1})
    assert finalize.status_code == 202, finalize.text
    job = client.post(f"/api/v1/workers/{worker['id']}/lease").json()
    assert job["evaluation"] is not None  # the worker now holds the test split
    after = scrape(client)
    assert value(after, "parzen_test_split_uses_total", study="s1") == 1
    assert value(after, "parzen_workers_seen_recently", state="idle") == 1


def test_several_server_processes_answer_a_scrape_with_the_sum(tmp_path: Path) -> None:
    """`parzen server --workers 2`: whichever process answers a scrape counts every process's
    asks (multiprocess mode). The kernel spreads the connections over both processes, so a
    scrape that counted only its own process would see fewer than were made."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'parzen.db'}"
    env = os.environ | {"PARZEN_AUTH": "false", "PARZEN_HOST": "127.0.0.1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = ["server", "--workers", "2", "--port", str(port), "--database-url", url]
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "parzen.cli.main", *argv],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        for _ in range(40):  # a new connection each: no keep-alive pins them to one process
            assert httpx.post(f"{base}/api/v1/studies/absent/ask").status_code == 404
        counted = []
        for _ in range(6):
            text = httpx.get(f"{base}/metrics").text
            asks = {
                sample.labels.get("status"): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "parzen_asks_total"
            }
            counted.append(asks.get("error"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert counted == [40.0] * 6, (tmp_path / "server.log").read_text()

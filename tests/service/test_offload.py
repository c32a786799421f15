"""The hot routes' thread pools (service/offload.py), through the real app on SQLite and
PostgreSQL: asks that wait their turn for a study's sampler do not hold the threads that
reports run in."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.service.factories import study_spec


def test_a_report_is_answered_while_an_ask_waits_for_its_sampler(
    settings: Settings, storage: Storage
) -> None:
    """If this fails, reports and tells wait in the queue behind asks that wait for a
    sampler (one pool for both): under a crowd of asks a report's median went from 18 ms to
    120 ms, and a worker's lease renewal can arrive after its lease ran out."""
    one_thread = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    app = create_app(one_thread, storage)
    storage.create_study(spec=study_spec(max_parallel=10))
    study = storage.get_study(name="study")
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        trial = client.post("/api/v1/studies/study/ask").json()["trial"]
        asked, reported = threading.Event(), threading.Event()

        def report() -> None:
            body = {"step": 1, "values": {"val_loss": 0.5}, "lease_token": trial["lease_token"]}
            answer = client.post(f"/api/v1/trials/{trial['id']}/report", json=body)
            if answer.status_code == 200:
                reported.set()

        waiting = threading.Thread(
            target=lambda: (client.post("/api/v1/studies/study/ask"), asked.set())
        )
        reporting = threading.Thread(target=report)
        with app.state.samplers.holding(study.id):  # the next ask waits for this
            waiting.start()
            ask_waited = not asked.wait(0.5)
            reporting.start()
            report_answered = reported.wait(10)
            ask_still_waiting = not asked.is_set()
        reporting.join(timeout=30)
        waiting.join(timeout=30)
    assert ask_waited and ask_still_waiting, "the ask did not wait for the study's sampler"
    assert report_answered, "the report waited behind the ask"
    assert asked.is_set() and reported.is_set()

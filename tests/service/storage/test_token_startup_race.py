"""Replicas started at the same moment all register PARZEN_ADMIN_TOKEN at start-up."""

from __future__ import annotations

import threading
from typing import Any

from parzen.service.storage import Storage


def _start_replicas_at_once(storage: Storage, token: str, count: int) -> list[Any]:
    """ensure_token from `count` threads released together; their results or errors."""
    barrier, outcomes = threading.Barrier(count), []

    def start_replica() -> None:
        barrier.wait()
        try:
            outcomes.append(
                storage.ensure_token(role="admin", name="PARZEN_ADMIN_TOKEN", token=token)
            )
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start_replica) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_replicas_registering_the_admin_token_at_once_all_come_up(storage: Storage) -> None:
    """Eight 'replicas' call ensure_token with one token at the same instant, for several
    tokens: every call returns the one record. Fails if the loser of the race gets the
    unique-constraint conflict (a replica of the fleet then refused to start)."""
    for round_ in range(5):
        outcomes = _start_replicas_at_once(storage, f"pz_race_{round_}_" + "x" * 32, 8)
        assert [o for o in outcomes if isinstance(o, Exception)] == []
        assert len({record.id for record in outcomes}) == 1

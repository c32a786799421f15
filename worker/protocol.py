"""What the daemon needs of the service, as a `typing.Protocol`, and the jobs it is handed.

`worker.client.ParzenClient` is the real one (HTTP, with retries). Anything with these
methods will do: the daemon's error paths are tested against an in-memory fake
(tests/worker/fake_service.py) as well as against the real server. The errors it may raise
are the client's: `ParzenError` (4xx), `ServerUnavailable` (5xx or 429 past the retries)
and `httpx.TransportError` (worker.reporting.SERVICE_ERRORS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from parzen.worker.client import Ask

TrialEnd = Literal["complete", "pruned", "failed"]


class WorkerService(Protocol):
    def register_worker(
        self,
        *,
        host: str,
        pid: int | None,
        gpu: str | None,
        builders: list[str],
        datasets: list[str],
    ) -> dict[str, Any]: ...

    def lease(self, worker_id: str, *, exclude: list[str] | None = None) -> Ask: ...

    def report(
        self,
        trial_id: int,
        step: int,
        values: dict[str, float],
        *,
        lease_token: str,
        attempt: int | None = None,
    ) -> bool:
        """True: stop training (pruned, or taken away)."""
        ...

    def heartbeat(self, trial_id: int, *, lease_token: str, attempt: int | None = None) -> bool: ...

    def tell(
        self,
        trial_id: int,
        state: TrialEnd,
        value: float | None = None,
        *,
        lease_token: str,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
        attempt: int | None = None,
    ) -> dict[str, Any]: ...

    def release(
        self, trial_id: int, *, lease_token: str, attempt: int | None = None
    ) -> dict[str, Any]: ...

    def upload_artifact(self, trial_id: int, path: Path, *, lease_token: str) -> None: ...

    def goodbye(self, worker_id: str, *, retry_seconds: float | None = None) -> dict[str, Any]: ...

    # A finalization job's: worker/evaluation.py
    def evaluation_heartbeat(self, finalization_id: int) -> bool: ...

    def download_artifact(self, trial_id: int, target: Path) -> Path: ...

    def finish_evaluation(
        self,
        finalization_id: int,
        *,
        report: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FinalizationJob:
    """A finalization job (the sealed test evaluation of a study's best trials), as the
    lease hands it out beside trials. `spec` is the whole job, what worker/evaluation.py
    reads."""

    id: int
    study: str
    lease_seconds: float
    candidates: int
    spec: dict[str, Any] = field(repr=False)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> FinalizationJob:
        return cls(
            id=int(body["id"]),
            study=str(body["study"]),
            lease_seconds=float(body["lease_seconds"]),
            candidates=len(body["candidates"]),
            spec=dict(body),
        )

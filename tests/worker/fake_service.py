"""An in-memory `worker.protocol.WorkerService`: the daemon's error paths without a server.

It hands out the trials it was given, records every call, and raises what a test scripts for
a method (`fail["report"] = [ParzenError(409, ...)]`: the next report raises it), the errors
the real client raises: `ParzenError` for a 4xx, `ServerUnavailable` once its retries of a
5xx are spent.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from parzen.worker.client import Ask, ParzenError, ServerUnavailable, Trial
from parzen.worker.protocol import TrialEnd

OBJECTIVE = {"builder": "mlp", "dataset": "digits_flat", "max_epochs": 3, "patience": 3}


def trial(study: str, number: int, **objective: Any) -> Trial:
    """A trial of a tiny mlp on digits_flat, as the lease hands it out."""
    return Trial(
        id=number,
        study=study,
        number=number,
        attempt=1,
        params={"units": 16, "layers": 1},
        metric="val_accuracy",
        direction="maximize",
        objective=OBJECTIVE | {"batch_size": 64} | objective,
        lease_seconds=60.0,
        lease_token=f"token-{study}-{number}",
    )


def unavailable(status: int = 503) -> ServerUnavailable:
    """What the client raises once its retries of a 5xx are spent."""
    request = httpx.Request("POST", "http://fake/api/v1")
    return ServerUnavailable(httpx.Response(status, request=request))


class FakeService:
    def __init__(self, trials: list[Trial]) -> None:
        self.queue = list(trials)
        self.fail: dict[str, list[BaseException]] = defaultdict(list)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.closed = False
        self._ids = itertools.count(1)

    def called(self, method: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == method]

    def _call(self, method: str, **kwargs: Any) -> None:
        self.calls.append((method, kwargs))
        if self.fail[method]:
            raise self.fail[method].pop(0)

    def register_worker(
        self,
        *,
        host: str,
        pid: int | None,
        gpu: str | None,
        builders: list[str],
        datasets: list[str],
    ) -> dict[str, Any]:
        self._call("register_worker", host=host, builders=builders, datasets=datasets)
        return {"id": f"fake-{next(self._ids)}"}

    def lease(self, worker_id: str, *, exclude: list[str] | None = None) -> Ask:
        self._call("lease", worker_id=worker_id, exclude=exclude)
        for i, queued in enumerate(self.queue):
            if queued.study not in (exclude or []):
                return Ask(status="ok", reason="", trial=self.queue.pop(i))
        return Ask(status="done", reason="no trials left", trial=None)

    def report(
        self,
        trial_id: int,
        step: int,
        values: dict[str, float],
        *,
        lease_token: str,
        attempt: int | None = None,
    ) -> bool:
        self._call("report", trial_id=trial_id, step=step, values=values)
        return False

    def heartbeat(self, trial_id: int, *, lease_token: str, attempt: int | None = None) -> bool:
        self._call("heartbeat", trial_id=trial_id)
        return False

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
    ) -> dict[str, Any]:
        self._call("tell", trial_id=trial_id, state=state, value=value, error=error)
        return {"id": trial_id, "state": state}

    def release(
        self, trial_id: int, *, lease_token: str, attempt: int | None = None
    ) -> dict[str, Any]:
        self._call("release", trial_id=trial_id)
        return {"id": trial_id, "state": "queued"}

    def upload_artifact(self, trial_id: int, path: Path, *, lease_token: str) -> None:
        self._call("upload_artifact", trial_id=trial_id, path=path)

    def goodbye(self, worker_id: str, *, retry_seconds: float | None = None) -> dict[str, Any]:
        self._call("goodbye", worker_id=worker_id)
        return {"id": worker_id, "state": "exited"}

    def evaluation_heartbeat(self, finalization_id: int) -> bool:
        self._call("evaluation_heartbeat", finalization_id=finalization_id)
        return False

    def download_artifact(self, trial_id: int, target: Path) -> Path:
        self._call("download_artifact", trial_id=trial_id)
        raise ParzenError(404, f"trial {trial_id} has no artifact in the fake")

    def finish_evaluation(
        self,
        finalization_id: int,
        *,
        report: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        self._call("finish_evaluation", finalization_id=finalization_id, error=error)
        return {"id": finalization_id}

    def close(self) -> None:
        self.closed = True

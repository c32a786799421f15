"""HTTP client of the Parzen service: the user's Python SDK and the worker's transport.

Connection errors and 5xx answers are retried with exponential backoff (tenacity), so a
worker rides out a server restart. Every write to a trial carries the `lease_token` that ask
or lease handed out with it (`Trial.lease_token`). Reports and tells are idempotent on the
server, so a retry after a lost answer is harmless; a retried ask may lease a second trial,
whose lease then runs out and puts it back in the queue, so nothing is lost either.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx
from tenacity import Retrying

from parzen.worker.client_records import Ask, AskStatus, Trial, ask_from_json, finite_values
from parzen.worker.client_transport import (
    ParzenError,
    ServerUnavailable,
    json_or_text,
    retrying,
    should_retry,
)

if TYPE_CHECKING:
    from parzen.worker.trial_session import TrialSession

__all__ = ["Ask", "AskStatus", "ParzenClient", "ParzenError", "ServerUnavailable", "Trial"]

DOWNLOAD_CHUNK_BYTES = 2**20


class ParzenClient:
    """The Parzen service from Python (public as `parzen.Client`).

    `ParzenClient(url, token)` (else `PARZEN_URL` and `PARZEN_TOKEN`); use it as a context
    manager, or `close()` it. Studies: `create_study`, `get_study`, `list_studies`, `trials`,
    `best_trial`, `trials_dataframe`, `import_trials`. Running trials: `start_trial` (a
    `with` block and a Keras callback), or `ask` / `report` / `tell` for any other code.
    A refusal raises `ParzenError` (its `detail` says what to fix).
    """

    # The longest wait between two retries: a lease must be well over it (the default lease
    # is 60 s), or a worker retrying through an outage loses its trial anyway.
    BACKOFF_MAX_SECONDS = 10.0

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retry_seconds: float = 120.0,
    ) -> None:
        url = url or os.environ.get("PARZEN_URL", "http://127.0.0.1:8000")
        token = token or os.environ.get("PARZEN_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=timeout)
        self._retry_seconds = retry_seconds

    def close(self) -> None:
        self._http.close()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> ParzenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Studies
    def create_study(self, spec: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/studies", json=spec)

    def list_studies(self, *, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        return self._json("GET", "/studies", params={"offset": offset, "limit": limit})

    def get_study(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/studies/{name}")

    def delete_study(self, name: str) -> None:
        self._call("DELETE", f"/studies/{name}")

    def pause_study(self, name: str) -> dict[str, Any]:
        return self._json("POST", f"/studies/{name}/pause")

    def resume_study(self, name: str) -> dict[str, Any]:
        return self._json("POST", f"/studies/{name}/resume")

    def stop_study(self, name: str) -> dict[str, Any]:
        return self._json("POST", f"/studies/{name}/stop")

    # Trials
    def ask(self, study: str, *, worker_id: str | None = None) -> Ask:
        return ask_from_json(
            self._call("POST", f"/studies/{study}/ask", json={"worker_id": worker_id})
        )

    def report(
        self,
        trial_id: int,
        step: int,
        values: dict[str, float],
        *,
        lease_token: str,
        attempt: int | None = None,
    ) -> bool:
        """Send one step's metrics; True means stop training (pruned or taken away)."""
        body = {
            "step": step,
            "values": finite_values(values),
            "lease_token": lease_token,
            "attempt": attempt,
        }
        return bool(self._call("POST", f"/trials/{trial_id}/report", json=body)["should_stop"])

    def heartbeat(self, trial_id: int, *, lease_token: str, attempt: int | None = None) -> bool:
        body = {"lease_token": lease_token, "attempt": attempt}
        return bool(self._call("POST", f"/trials/{trial_id}/heartbeat", json=body)["should_stop"])

    def tell(
        self,
        trial_id: int,
        state: Literal["complete", "pruned", "failed"],
        value: float | None = None,
        *,
        lease_token: str,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
        attempt: int | None = None,
    ) -> dict[str, Any]:
        if value is not None and not math.isfinite(value):
            # JSON has no NaN: say so in words, and the server fails the trial.
            state, error, value = "failed", f"objective value is {value}", None
        body = {
            "state": state,
            "value": value,
            "metrics": finite_values(metrics or {}),
            "error": error,
            "lease_token": lease_token,
            "attempt": attempt,
        }
        return self._json("POST", f"/trials/{trial_id}/tell", json=body)

    def release(
        self, trial_id: int, *, lease_token: str, attempt: int | None = None
    ) -> dict[str, Any]:
        """Hand a trial back to the queue without using up an attempt."""
        body = {"lease_token": lease_token, "attempt": attempt}
        return self._json("POST", f"/trials/{trial_id}/release", json=body)

    def trials(
        self,
        study: str,
        *,
        state: list[str] | None = None,
        order: str = "number",
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"order": order, "offset": offset, "limit": limit}
        if state:
            params["state"] = state
        return self._json("GET", f"/studies/{study}/trials", params=params)

    def trial(self, study: str, number: int) -> dict[str, Any]:
        return self._json("GET", f"/studies/{study}/trials/{number}")

    def best_trial(self, study: str) -> dict[str, Any]:
        return self._json("GET", f"/studies/{study}/best")

    # The front door for training scripts, pandas and warm starts (issue 14)
    def start_trial(
        self,
        study: str,
        *,
        worker_id: str | None = None,
        poll_seconds: float = 1.0,
        wait_seconds: float | None = None,
    ) -> TrialSession:
        """`with client.start_trial("study") as trial:` one trial of the study, for a script
        of your own: `trial.params`, `trial.keras_callback()` (reports every epoch, stops
        `fit` when the server prunes), `trial.tell(value)`. Leaving the block tells the
        result (else the best reported value), `pruned`, or `failed` with the traceback.
        Waits while the budget is in flight (up to `wait_seconds`); raises
        `NoTrialAvailable` when the study gives no more trials."""
        from parzen.worker.trial_session import TrialSession

        return TrialSession(
            self, study, worker_id=worker_id, poll_seconds=poll_seconds, wait_seconds=wait_seconds
        )

    def all_trials(self, study: str, *, state: list[str] | None = None) -> list[dict[str, Any]]:
        """Every trial of a study, by number (read a page of 1000 at a time)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.trials(study, state=state, offset=len(out), limit=1000)
            out.extend(page["data"])
            if not page["data"] or len(out) >= page["count"]:
                return out

    def trials_dataframe(self, study: str) -> Any:
        """Every trial as a pandas DataFrame, one row a trial (as Optuna's
        `trials_dataframe`): number, state, value, attempt, epochs, timings, then the
        flattened parameters (`params.layer`, `params.layer.filters`) and `metrics.*`.
        Needs pandas (`pip install parzen[export]`)."""
        import pandas as pd

        from parzen.worker.trials_table import table

        columns, rows = table(self.all_trials(study))
        return pd.DataFrame(rows, columns=columns)

    def import_trials(self, study: str, trials: list[dict[str, Any]]) -> list[int]:
        """Append finished trials (`{"params", "state", "value", "metrics"}`) to a study's
        history (a warm start); returns their numbers. Nothing is stored if one is invalid."""
        numbers: list[int] = []
        for start in range(0, len(trials), 1000):
            body = {"trials": trials[start : start + 1000]}
            numbers += self._json("POST", f"/studies/{study}/trials/import", json=body)["numbers"]
        return numbers

    # Artifacts and the sealed test step
    def upload_artifact(self, trial_id: int, path: Path, *, lease_token: str) -> None:
        """Store a trial's checkpoint on the server, so that any node can evaluate it."""
        headers = {"X-Parzen-Lease-Token": lease_token}
        self._call(
            "PUT", f"/trials/{trial_id}/artifact", content=path.read_bytes(), headers=headers
        )

    def download_artifact(self, trial_id: int, target: Path) -> Path:
        """Stream a trial's checkpoint into `target` (never all of it in memory).

        It is written beside the target and renamed into place, so a download cut off
        (and retried) never leaves half a file under the target's name.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        try:
            for attempt in self._retrying():
                with attempt, self._http.stream("GET", f"/trials/{trial_id}/artifact") as response:
                    if should_retry(response):
                        raise ServerUnavailable(response)
                    if response.status_code >= 400:
                        response.read()
                        raise ParzenError(response.status_code, json_or_text(response))
                    with partial.open("wb") as out:
                        for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
                            out.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target

    def finalize(
        self,
        study: str,
        *,
        top_k: int = 5,
        mode: str = "checkpoint",
        rescore: str = "auto",
        override: bool = False,
    ) -> dict[str, Any]:
        body = {"top_k": top_k, "mode": mode, "rescore": rescore, "override": override}
        return self._json("POST", f"/studies/{study}/finalize", json=body)

    def test_report(self, study: str) -> dict[str, Any]:
        """The sealed test report, every finalization and every access to the test split."""
        return self._json("GET", f"/studies/{study}/report")

    def evaluation_heartbeat(self, finalization_id: int) -> bool:
        return bool(
            self._json("POST", f"/finalizations/{finalization_id}/heartbeat")["should_stop"]
        )

    def finish_evaluation(
        self,
        finalization_id: int,
        *,
        report: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> dict[str, Any]:
        body = {"report": report, "error": error}
        return self._json("POST", f"/finalizations/{finalization_id}/finish", json=body)

    # Tokens and workers
    def create_token(self, role: str, name: str = "") -> dict[str, Any]:
        return self._json("POST", "/tokens", json={"role": role, "name": name})

    def list_tokens(self) -> list[dict[str, Any]]:
        """Every token (without its secret), from the `{data, count}` answer."""
        return cast(list[dict[str, Any]], self._json("GET", "/tokens")["data"])

    def revoke_token(self, token_id: int) -> None:
        self._call("DELETE", f"/tokens/{token_id}")

    def register_worker(
        self,
        *,
        host: str,
        pid: int | None,
        gpu: str | None,
        builders: list[str],
        datasets: list[str],
    ) -> dict[str, Any]:
        body = {"host": host, "pid": pid, "gpu": gpu, "builders": builders, "datasets": datasets}
        return self._json("POST", "/workers", json=body)

    def lease(self, worker_id: str, *, exclude: list[str] | None = None) -> Ask:
        body = {"exclude": exclude or []}
        return ask_from_json(self._call("POST", f"/workers/{worker_id}/lease", json=body))

    def workers(self) -> list[dict[str, Any]]:
        """Every registered worker, from the `{data, count}` answer."""
        return cast(list[dict[str, Any]], self._json("GET", "/workers")["data"])

    def goodbye(self, worker_id: str, *, retry_seconds: float | None = None) -> dict[str, Any]:
        """Say this worker exits: it shows as exited and its running trial is queued again.
        `retry_seconds` shortens the retries, for an exit that should not wait long."""
        return self._json("POST", f"/workers/{worker_id}/goodbye", retry_seconds=retry_seconds)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return cast(dict[str, Any], self._call(method, path, **kwargs))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._call_raw(method, path, **kwargs)
        return response.json() if response.content else None  # JSON: typed by each caller

    def _retrying(self, retry_seconds: float | None = None) -> Retrying:
        seconds = self._retry_seconds if retry_seconds is None else retry_seconds
        return retrying(seconds=seconds, ceiling=self.BACKOFF_MAX_SECONDS)

    def _call_raw(
        self, method: str, path: str, *, retry_seconds: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        for attempt in self._retrying(retry_seconds):
            with attempt:
                response = self._http.request(method, path, **kwargs)
                if should_retry(response):
                    raise ServerUnavailable(response)
        if response.status_code >= 400:
            raise ParzenError(response.status_code, json_or_text(response))
        return response

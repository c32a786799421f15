"""The framework's floor, as bench/load.py's anchor for server CPU per request: a FastAPI app
with nothing of Parzen's in it (no database, no token, no middleware of ours), one `async
def` route with a report's path, body and answer, served by uvicorn as `parzen server` is
(the same number of processes, httptools, the access log on), and sent the same requests by
the same client. Parzen's CPU per report over this one's, in the same run, is what Parzen
adds to FastAPI; it does not move with the machine's speed, which the milliseconds do.

    uvicorn bench.load_anchor:app     # the app alone
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel

from bench.servers import serving

ROOT = Path(__file__).resolve().parents[1]
app = FastAPI()


class Report(BaseModel):
    step: int
    values: dict[str, float]
    lease_token: str
    attempt: int | None = None


class Answer(BaseModel):
    should_stop: bool
    reason: str = ""


@app.post("/api/v1/trials/{trial_id}/report")
async def report(trial_id: int, body: Report) -> Answer:
    return Answer(should_stop=False)


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@contextlib.contextmanager
def bare_server(port: int, processes: int) -> Iterator[tuple[str, int]]:
    """This app under uvicorn on `port`: its address and the uvicorn master's pid."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.load_anchor:app",
        "--port",
        str(port),
        "--workers",
        str(processes),
        "--log-level",
        "info",  # parzen server's level: the access log costs the same on both
    ]
    with serving(command, port=port, cwd=ROOT) as served:
        yield served

"""Servers the benches run as processes of their own: started, waited for until `/readyz`
answers 200, and stopped (terminated, killed if they linger)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx


@contextlib.contextmanager
def serving(
    command: Sequence[str], *, port: int, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`command` (a server listening on `port`) run in `cwd`, its output discarded: its
    address and its pid, once it is ready."""
    log = open(os.devnull, "w")  # noqa: SIM115
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{address}/readyz", timeout=2).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(command)} (in {cwd}) did not become ready")
            time.sleep(0.3)
        yield address, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

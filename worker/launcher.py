"""`parzen worker --gpus ...`: one daemon process per GPU, each seeing only its own GPU."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence

log = logging.getLogger("parzen.worker")


def detect_gpus() -> list[str]:
    """GPU indices from nvidia-smi; none on a machine without an NVIDIA driver."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def parse_gpus(spec: str) -> list[str]:
    """'all' (what is detected), 'none' / '' (CPU), or a list like '0,2'."""
    spec = spec.strip().lower()
    if spec in ("", "none", "cpu"):
        return []
    if spec == "all":
        return detect_gpus()
    gpus = [part.strip() for part in spec.split(",") if part.strip()]
    bad = [g for g in gpus if not g.isdigit()]
    if bad:
        raise ValueError(f"--gpus takes 'all', 'none' or indices like '0,2'; got {bad}")
    return gpus


def supervise(
    gpus: Sequence[str | None], argv: Sequence[str], recycle_code: int, *, metrics_port: int = 0
) -> int:
    """Run one daemon process per GPU (or one on the CPU for [None]) and start a fresh one
    whenever a daemon exits with `recycle_code`; pass signals on. Returns the worst exit
    code of the daemons that ended for good. With `metrics_port`, the daemon of the i-th GPU
    serves its metrics on metrics_port + i (a recycled one takes the same port again)."""
    children: dict[int, tuple[str | None, subprocess.Popen[bytes]]] = {}
    stopping = False

    def start(gpu: str | None) -> None:
        env = os.environ | {"CUDA_VISIBLE_DEVICES": gpu or ""}
        command = child_command(argv, gpu, list(gpus).index(gpu), metrics_port)
        child = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
        children[child.pid] = (gpu, child)
        log.info("started worker process %d on %s", child.pid, f"GPU {gpu}" if gpu else "CPU")

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for _, child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for gpu in gpus:
        start(gpu)
    worst = 0
    while children:
        pid, status = os.wait()
        if pid not in children:
            continue
        gpu, _ = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if code == recycle_code and not stopping:
            start(gpu)
        else:
            worst = max(worst, code if code >= 0 else 128 - code)
    return worst


def child_command(
    argv: Sequence[str], gpu: str | None, index: int, metrics_port: int = 0
) -> list[str]:
    """The command line of the daemon of the index-th GPU: its own GPU, its own metrics port."""
    command = [sys.executable, "-m", "parzen.cli.main", *argv, "--gpus", gpu or "none", "--child"]
    if metrics_port:
        command += ["--metrics-port", str(metrics_port + index)]
    return command


def _die_with_parent() -> None:
    """In the child: be killed when the supervisor dies, even by SIGKILL (Linux), so that a
    killed worker leaves no orphan training on."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass

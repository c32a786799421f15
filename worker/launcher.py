"""`parzen worker --gpus ...`: one daemon process per GPU, each seeing only its own GPU."""

from __future__ import annotations

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


def run_per_gpu(gpus: Sequence[str], argv: Sequence[str]) -> int:
    """Start `argv --gpus G` once per GPU with CUDA_VISIBLE_DEVICES=G; pass signals on."""
    children = []
    for gpu in gpus:
        env = os.environ | {"CUDA_VISIBLE_DEVICES": gpu}
        command = [sys.executable, "-m", "cli.main", *argv, "--gpus", gpu]
        children.append(subprocess.Popen(command, env=env))
        log.info("started worker process %d on GPU %s", children[-1].pid, gpu)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    return max(child.wait() for child in children)

"""worker/launcher.py: a daemon process dies with its supervisor, and GPU specs parse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from parzen.worker.launcher import parse_gpus

ROOT = Path(__file__).resolve().parents[2]

# A supervisor's stand-in: starts a child that would sleep a minute, prints its pid, waits.
PARENT = """
import subprocess, sys, time
from parzen.worker.launcher import _die_with_parent
hook = _die_with_parent if sys.argv[1] == "hooked" else None
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=hook)
print(child.pid, flush=True)
time.sleep(60)
"""


def _gone(pid: int, within: float) -> bool:
    """Whether the process exits (or is a zombie, as an orphan init never reaps) in time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _child_of_a_killed_parent(mode: str) -> int:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()  # SIGKILL: the supervisor gets no chance to pass anything on
    parent.wait(10)
    return child


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_daemon_process_dies_when_its_supervisor_is_killed() -> None:
    """Fails if a worker process outlives a supervisor killed with SIGKILL: an orphan that
    trains on, holding its GPU, with nobody to stop it. The control (a child started without
    the hook) shows that the orphan would otherwise live on."""
    hooked = _child_of_a_killed_parent("hooked")
    assert _gone(hooked, within=5), "the hooked child outlived its parent"
    control = _child_of_a_killed_parent("control")
    try:
        assert not _gone(control, within=1), "a plain child died too: the test shows nothing"
    finally:
        os.kill(control, signal.SIGKILL)


def test_gpu_specs_parse_to_indices_and_refuse_anything_else() -> None:
    """Fails if `--gpus` accepts a name it cannot pass to CUDA_VISIBLE_DEVICES."""
    assert parse_gpus("0, 2") == ["0", "2"]
    assert parse_gpus("none") == parse_gpus("") == parse_gpus("CPU") == []
    with pytest.raises(ValueError, match=r"--gpus takes 'all', 'none' or indices.*'gpu1'"):
        parse_gpus("0,gpu1")

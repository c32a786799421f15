"""The worker on Keras 3's other backends: GPU nodes without TensorFlow run JAX or PyTorch.

Keras picks its backend once per process, from KERAS_BACKEND, before its first import; this
test process already runs TensorFlow, so the worker runs as a real `parzen worker` process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from tests.conftest import ADMIN_TOKEN
from tests.worker.conftest import study

SPACE = {
    "units": {"type": "int", "low": 16, "high": 32},
    "batch_norm": {"type": "choice", "options": [True, False]},
    "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 1e-2},
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax"])
def test_worker_trains_a_study_on_another_keras_backend(
    backend: str, live_server: ServerThread, api: ParzenClient, tmp_path: Path
) -> None:
    """Fails if the worker calls TensorFlow outside the backend check (worker/backend.py),
    or if a checkpoint or report cannot be made on that backend."""
    if importlib.util.find_spec(backend) is None and os.environ.get("CI"):
        pytest.fail(f"{backend} is not installed: `pip install -e '.[{backend}]'`")
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    api.create_study(study("on-" + backend, "mlp", "digits_flat", SPACE))
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PARZEN_TOKEN": ADMIN_TOKEN,
        "JAX_PLATFORMS": "cpu",
    }
    flags = ["--gpus", "none", "--burst", "--poll", "0.2", "--artifact-dir", str(tmp_path)]
    worker = subprocess.run(
        [sys.executable, "-m", "parzen.cli.main", "worker", "--server", live_server.url, *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert f"{backend} backend" in worker.stderr, worker.stderr[-3000:]
    summary = api.get_study("on-" + backend)
    assert summary["counts"] == {"complete": 2}, worker.stderr[-3000:]
    for number in (1, 2):
        trial = api.trial("on-" + backend, number)
        assert [v["step"] for v in trial["intermediate"]][:1] == [1]
        assert 0.0 < trial["value"] <= 1.0

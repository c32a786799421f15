"""The app's start-up (service/main.py), in a process of its own where it must be seen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

START_AND_LIST = """
import json
import sys
from fastapi.testclient import TestClient
from parzen.service.config import Settings
from parzen.service.db.migrate import upgrade
from parzen.service.main import create_app

url = f"sqlite:///{sys.argv[1]}"
upgrade(url)
before = {m for m in ("parzen.service.algorithms.tpe_mv", "parzen.service.algorithms.tpe")
          if m in sys.modules}
with TestClient(create_app(Settings(database_url=url, auth=False))):
    after = {m for m in ("parzen.service.algorithms.tpe_mv", "parzen.service.algorithms.tpe")
             if m in sys.modules}
print(json.dumps([sorted(before), sorted(after)]))
"""


def test_the_server_imports_the_samplers_before_its_first_ask(tmp_path: Path) -> None:
    """If this fails, a fresh server process imports SciPy and hyperopt in its first asks
    (~0.2 s for tpe-mv, ~0.7 s for tpe), holding the study's sampler meanwhile."""
    listed = subprocess.run(
        [sys.executable, "-c", START_AND_LIST, str(tmp_path / "parzen.db")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    before, after = json.loads(listed.stdout.strip().splitlines()[-1])
    assert before == []  # nothing imported by merely building the app
    assert after == ["parzen.service.algorithms.tpe", "parzen.service.algorithms.tpe_mv"]

"""The server image installs Parzen from its wheel, not from a source tree: that install must
still be able to run `parzen migrate` (the migrations travel as data files)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "README.md", "alembic.ini", "alembic", "service", "worker", "cli"]


def test_a_wheel_install_runs_parzen_migrate(tmp_path: Path) -> None:
    """If this fails, `parzen migrate` in the server image (deploy/docker/server.Dockerfile)
    cannot find alembic.ini or the migrations, and no database can be created from it."""
    tree = tmp_path / "src"  # what the Dockerfile copies: build there, not in the checkout
    tree.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, tree / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), "."],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The dependencies from this interpreter's site-packages, appended after the venv's own
    # (a plain path in a .pth file: this environment's editable install stays out of it).
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    (wheel,) = (tmp_path / "dist").glob("parzen-*.whl")
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    run = tmp_path / "run"  # away from any source tree
    run.mkdir()
    result = subprocess.run(
        [venv / "bin" / "parzen", "migrate", "--database-url", "sqlite:///parzen.db"],
        cwd=run,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(run / "parzen.db") as db:
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    heads = sorted(p.name.split("_")[0] for p in (ROOT / "alembic" / "versions").glob("*.py"))
    assert revision == heads[-1]

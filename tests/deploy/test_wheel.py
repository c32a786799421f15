"""The server image installs Parzen from its wheel, not from a source tree, and
bench/gpu_smoke.sh installs it with `pip --target`: both installs must still be able to run
`parzen migrate` (the migrations travel in the wheel as data files)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "pyproject.toml",
    "README.md",
    "alembic.ini",
    "alembic",
    "service",
    "worker",
    "cli",
    "parzen",
]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Parzen's wheel, built from a copy of what the Dockerfile copies (not in the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    tree = tmp / "src"
    tree.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, tree / name)
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), "."],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    (built,) = (tmp / "dist").glob("parzen-*.whl")
    return built


def migrate_and_check(command: list[str | Path], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [*command, "migrate", "--database-url", "sqlite:///parzen.db"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(cwd / "parzen.db") as db:
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    heads = sorted(p.name.split("_")[0] for p in (ROOT / "alembic" / "versions").glob("*.py"))
    assert revision == heads[-1]


def test_a_wheel_install_in_a_venv_runs_parzen_migrate(wheel: Path, tmp_path: Path) -> None:
    """If this fails, `parzen migrate` in the server image (deploy/docker/server.Dockerfile)
    cannot find alembic.ini or the migrations, and no database can be created from it."""
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
    subprocess.run([*PIP, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    run = tmp_path / "run"  # away from any source tree
    run.mkdir()
    migrate_and_check([venv / "bin" / "parzen"], run, dict(os.environ))


def test_a_pip_target_install_runs_parzen_migrate(wheel: Path, tmp_path: Path) -> None:
    """If this fails, bench/gpu_smoke.sh (pip install --target beside a machine's own JAX or
    PyTorch) starts no server: its migrations are not found."""
    target = tmp_path / "site"
    subprocess.run([*PIP, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    run = tmp_path / "run"
    run.mkdir()
    env = os.environ | {"PYTHONPATH": str(target)}
    migrate_and_check([sys.executable, "-m", "parzen.cli.main"], run, env)


def test_the_wheel_installs_one_top_level_package(wheel: Path) -> None:
    """If this fails, installing Parzen puts generic module names (`cli`, `service`, `worker`)
    into a user's site-packages, where they shadow or collide with other distributions."""
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
    packages = {top for top in tops if not top.endswith((".dist-info", ".data"))}
    assert packages == {"parzen"}
    assert "parzen/service/main.py" in archive.namelist()

"""The deployment files, checked offline: Kustomize overlays against the Kubernetes schemas,
docker-compose.yml by Compose v2 itself, the Dockerfiles by hadolint (deploy/check.sh), and one
set of PARZEN_* names across the files, service.config.Settings and the README."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main

from parzen.cli.main import app
from parzen.service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHECK = ROOT / "deploy" / "check.sh"
TOOLS = ("kubectl", "kubernetes-validate", "hadolint", "shellcheck")
NAME = re.compile(r"\bPARZEN_[A-Z0-9_]+\b")


def require(tool: str) -> str:
    """The tool's path; a skip on a developer's machine, a failure in CI (CI=true)."""
    found = shutil.which(tool) or shutil.which(tool, path=str(BIN))
    if found is None:
        message = f"{tool} is missing: pip install -e '.[deploy]' (kubectl: the distribution)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_check(*, root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"BIN": str(BIN)}
    return subprocess.run(
        ["bash", str(root / "deploy" / "check.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def test_every_deployment_file_passes_the_offline_checks() -> None:
    """If this fails, an overlay does not render or breaks the Kubernetes schemas, Compose
    refuses docker-compose.yml, or hadolint finds a fault in a Dockerfile: see the output."""
    for tool in TOOLS:
        require(tool)
    result = run_check()
    assert result.returncode == 0, result.stdout + result.stderr


BREAKAGES = {
    # A field Kubernetes does not know: only --strict catches it.
    "kubernetes-validate": ("deploy/kubernetes/base/worker.yaml", "replicas: 2", "replica: 2"),
    # A key the Compose specification does not have.
    "docker-compose config": ("docker-compose.yml", '    restart: "no"', "    restarts: no"),
    # An untagged base image (hadolint DL3006/DL3007).
    "hadolint": ("deploy/docker/server.Dockerfile", "FROM python:3.11-slim\n", "FROM python\n"),
}


@pytest.mark.parametrize("check", sorted(BREAKAGES))
def test_the_check_fails_on_a_broken_file(check: str, tmp_path: Path) -> None:
    """If this fails, deploy/check.sh passes a broken file (a check that cannot fail)."""
    for tool in TOOLS:
        require(tool)
    path, old, new = BREAKAGES[check]
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "deploy", copy / "deploy")
    shutil.copytree(ROOT / "bench", copy / "bench")
    shutil.copy(ROOT / "docker-compose.yml", copy)
    text = (copy / path).read_text()
    assert old in text, f"{path} no longer holds {old!r}: update this test"
    (copy / path).write_text(text.replace(old, new, 1))
    result = run_check(root=copy)
    assert result.returncode != 0
    assert f"FAIL: {check}" in result.stderr


def rendered_overlays() -> str:
    kubectl = require("kubectl")
    overlays = sorted((ROOT / "deploy" / "kubernetes" / "overlays").iterdir())
    return "\n".join(
        subprocess.run(
            [kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True
        ).stdout
        for path in overlays
    )


def settings_names() -> set[str]:
    return {f"PARZEN_{name.upper()}" for name in Settings.model_fields}


def cli_names() -> set[str]:
    """The client and worker side: every PARZEN_* envvar an option of `parzen` reads."""
    names: set[str] = set()

    def walk(command: click.Command) -> None:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            names.update([envvar] if isinstance(envvar, str) else envvar or [])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return {name for name in names if name.startswith("PARZEN_")}


def test_deployment_files_name_only_settings_that_exist() -> None:
    """If this fails, a manifest, the compose file or a Dockerfile sets a PARZEN_* variable
    that nothing reads (a typo, or a setting renamed on one side only)."""
    used: dict[str, set[str]] = {}
    texts = {"rendered manifests": rendered_overlays()}
    files = [ROOT / "docker-compose.yml", ROOT / "deploy" / "compose.env.example"]
    for path in [*files, *sorted((ROOT / "deploy").rglob("*Dockerfile"))]:
        texts[str(path.relative_to(ROOT))] = path.read_text()
    for where, text in texts.items():
        for name in NAME.findall(text):
            used.setdefault(name, set()).add(where)
    known = settings_names() | cli_names()
    unknown = {name: sorted(where) for name, where in used.items() if name not in known}
    assert not unknown, f"PARZEN_* names no setting or CLI option reads: {unknown}"


def readme_settings_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Settings", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\|\s*`(PARZEN_[A-Z0-9_]+)`", section, flags=re.MULTILINE))


def test_the_readme_settings_table_lists_every_setting() -> None:
    """If this fails, a server setting exists that the README's settings table does not
    document: add a row for each missing name."""
    missing = sorted(settings_names() - readme_settings_table())
    assert not missing, f"README.md's settings table lacks {missing}"


def test_the_cli_names_include_the_client_side_settings() -> None:
    """If this fails, the agreement test above no longer knows PARZEN_URL / PARZEN_TOKEN."""
    assert {"PARZEN_URL", "PARZEN_TOKEN"} <= cli_names()

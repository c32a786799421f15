"""`make quickstart`: a server on embedded SQLite, one worker, a TPE study on digits.

Starts `parzen server` and `parzen worker` as real processes (in local mode: loopback, no
tokens), creates examples/quickstart.yaml, shows progress until the budget is spent, prints
the best trial, and leaves the server up for a look at the API until Ctrl-C (or exits at once
when not run from a terminal).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from parzen.cli.format import flatten, number
from parzen.service.server import free_port
from parzen.worker.client import ParzenClient

console = Console()
ROOT = Path(__file__).resolve().parents[1]


def main(
    study_file: Path = ROOT / "examples" / "quickstart.yaml",
    workdir: Path = Path("quickstart"),
    keep_serving: bool | None = None,
) -> None:
    workdir.mkdir(exist_ok=True)
    database = workdir / "parzen.db"
    database.unlink(missing_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "PARZEN_DATABASE_URL": f"sqlite:///{database.resolve()}",
        "PARZEN_AUTH": "false",
        "PARZEN_HOST": "127.0.0.1",
        "PARZEN_PORT": str(port),
        "PARZEN_ARTIFACT_DIR": str((workdir / "artifacts").resolve()),
        "PYTHONUNBUFFERED": "1",
    }
    logs = {name: open(workdir / f"{name}.log", "w") for name in ("server", "worker")}  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "parzen.cli.main", "server"],
        env=env,
        stdout=logs["server"],
        stderr=subprocess.STDOUT,
    )
    worker = None
    try:
        api = ParzenClient(url, retry_seconds=60)
        spec = yaml.safe_load(study_file.read_text())
        api.create_study(spec)
        console.print(f"server {url}  (log: {workdir / 'server.log'})")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parzen.cli.main",
                "worker",
                "--url",
                url,
                "--gpus",
                "all",
                "--burst",
                "--poll",
                "0.5",
                "--artifact-dir",
                str(workdir / "artifacts"),
            ],
            env=env,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
        )
        _follow(api, spec["name"], spec["budget"]["max_trials"], worker)
        _show_best(api, spec["name"], url)
        if keep_serving if keep_serving is not None else sys.stdin.isatty():
            console.print("The server keeps running: press Ctrl-C to stop it.")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in (worker, server):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)


def _follow(api: ParzenClient, name: str, total: int, worker: subprocess.Popen[bytes]) -> None:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"study {name}", total=total, best="-")
        while True:
            study = api.get_study(name)
            finished = sum(study["counts"].get(s, 0) for s in ("complete", "pruned", "failed"))
            best = study["best_value"]
            progress.update(task, completed=finished, best="-" if best is None else f"{best:.4f}")
            if study["state"] == "complete" or finished >= total:
                return
            if worker.poll() is not None:
                console.print(f"[red]the worker exited early (code {worker.returncode})[/red]")
                raise typer.Exit(1)
            time.sleep(0.5)


def _show_best(api: ParzenClient, name: str, url: str) -> None:
    best = api.best_trial(name)
    counts = api.get_study(name)["counts"]
    table = Table(title=f"best of {name}: trial {best['number']}, val_accuracy {best['value']:.4f}")
    table.add_column("parameter")
    table.add_column("value")
    for key, value in flatten(best["params"]).items():
        table.add_row(key, number(value))
    console.print(table)
    console.print(f"trials: {counts}")
    console.print(f"API:       {url}/api/v1/studies/{name}   (docs: {url}/docs)")
    console.print(f"dashboard: {url}/")


if __name__ == "__main__":
    typer.run(main)

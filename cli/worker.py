"""`parzen worker`: the daemon of a training node."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from parzen.cli.common import DEFAULT_URL, TokenOption

# --url like every other command; --server (its old name) stays as a hidden alias.
Url = Annotated[str, typer.Option("--url", envvar="PARZEN_URL", help="Server address.")]
ServerAlias = Annotated[str | None, typer.Option("--server", hidden=True)]


def worker(
    url: Url = DEFAULT_URL,
    server: ServerAlias = None,
    token: TokenOption = None,
    gpus: Annotated[
        str, typer.Option(help="'all', 'none', or indices like '0,2': one process per GPU.")
    ] = "all",
    burst: Annotated[bool, typer.Option(help="Exit when no work is left.")] = False,
    module: Annotated[
        list[str] | None,
        typer.Option(
            help="Module with builders/datasets to load (repeatable).",
            envvar="PARZEN_WORKER_MODULES",
        ),
    ] = None,
    artifact_dir: Annotated[Path, typer.Option(help="Checkpoints of trials.")] = Path(
        "artifacts/worker"
    ),
    tensorboard_dir: Annotated[Path | None, typer.Option(help="TensorBoard logs root.")] = None,
    poll: Annotated[float, typer.Option(help="Seconds between asks when idle.")] = 2.0,
    max_failures: Annotated[
        int, typer.Option(help="Give up a study after this many failures in a row.")
    ] = 3,
    max_trials_per_process: Annotated[
        int,
        typer.Option(
            help="Start a fresh process after this many trials (0: never): a safety "
            "valve for plugins whose models leak memory."
        ),
    ] = 0,
    metrics_port: Annotated[
        int,
        typer.Option(
            help="Serve Prometheus metrics on this port (0: off); with several GPUs, the "
            "daemon of the i-th GPU listens on port + i.",
        ),
    ] = 0,
    child: Annotated[bool, typer.Option(hidden=True, help="Run as a supervised daemon.")] = False,
) -> None:
    """Lease trials, train them with Keras, report every epoch, tell the results."""
    from parzen.worker.launcher import parse_gpus

    url = server or url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        selected = parse_gpus(gpus)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--gpus") from exc
    if not child and (len(selected) > 1 or max_trials_per_process):
        from parzen.worker.daemon import RECYCLE
        from parzen.worker.launcher import supervise

        argv = [
            "worker",
            "--url",
            url,
            "--poll",
            str(poll),
            "--artifact-dir",
            str(artifact_dir),
            "--max-failures",
            str(max_failures),
            "--max-trials-per-process",
            str(max_trials_per_process),
        ]
        argv += ["--burst"] if burst else []
        for name in module or []:
            argv += ["--module", name]
        if tensorboard_dir:
            argv += ["--tensorboard-dir", str(tensorboard_dir)]
        if token:
            os.environ["PARZEN_TOKEN"] = token  # children read it; keep it off the command line
        raise typer.Exit(supervise(selected or [None], argv, RECYCLE, metrics_port=metrics_port))
    # One GPU or none: this process is the daemon. Hide the other GPUs from the framework.
    os.environ["CUDA_VISIBLE_DEVICES"] = selected[0] if selected else ""
    from parzen.worker.daemon import DaemonConfig, create

    config = DaemonConfig(
        url=url,
        token=token,
        burst=burst,
        modules=tuple(module or ()),
        artifact_dir=artifact_dir,
        tensorboard_dir=tensorboard_dir,
        poll_seconds=poll,
        max_failures=max_failures,
        gpu=selected[0] if selected else None,
        max_trials_per_process=max_trials_per_process,
        metrics_port=metrics_port,
    )
    raise typer.Exit(create(config).run())

"""`parzen worker`: the daemon of a training node."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DEFAULT_URL, TokenOption

Server = Annotated[str, typer.Option("--server", envvar="PARZEN_URL", help="Server address.")]


def worker(
    server: Server = DEFAULT_URL,
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
) -> None:
    """Lease trials, train them with Keras, report every epoch, tell the results."""
    from worker.launcher import parse_gpus, run_per_gpu

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        selected = parse_gpus(gpus)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--gpus") from exc
    if len(selected) > 1:
        argv = [
            "worker",
            "--server",
            server,
            "--poll",
            str(poll),
            "--artifact-dir",
            str(artifact_dir),
            "--max-failures",
            str(max_failures),
        ]
        argv += ["--burst"] if burst else []
        for name in module or []:
            argv += ["--module", name]
        if tensorboard_dir:
            argv += ["--tensorboard-dir", str(tensorboard_dir)]
        if token:
            os.environ["PARZEN_TOKEN"] = token  # children read it; keep it off the command line
        raise typer.Exit(run_per_gpu(selected, argv))
    # One GPU or none: this process is the daemon. Hide the other GPUs from the framework.
    os.environ["CUDA_VISIBLE_DEVICES"] = selected[0] if selected else ""
    from worker.daemon import Daemon, DaemonConfig

    config = DaemonConfig(
        url=server,
        token=token,
        burst=burst,
        modules=tuple(module or ()),
        artifact_dir=artifact_dir,
        tensorboard_dir=tensorboard_dir,
        poll_seconds=poll,
        max_failures=max_failures,
        gpu=selected[0] if selected else None,
    )
    raise typer.Exit(Daemon(config).run())

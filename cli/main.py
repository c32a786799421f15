"""The `parzen` command."""

from __future__ import annotations

from typing import Annotated

import typer

from parzen.cli import study, token
from parzen.cli.worker import worker

app = typer.Typer(
    help="Parzen: hyperparameter optimization for Keras models.", no_args_is_help=True
)
app.add_typer(study.app, name="study")
app.add_typer(token.app, name="token")
app.command()(worker)


@app.command()
def server(
    host: Annotated[str | None, typer.Option(help="Bind address [PARZEN_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [PARZEN_PORT].")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL [PARZEN_DATABASE_URL].")
    ] = None,
    workers: Annotated[int, typer.Option(help="Server processes sharing the database.")] = 1,
    migrate: Annotated[
        bool | None,
        typer.Option(
            help="Migrate at start-up under a lock [PARZEN_MIGRATE, default on]; "
            "--no-migrate refuses to start on an old schema (run `parzen migrate` once)."
        ),
    ] = None,
) -> None:
    """Apply the database migrations, then serve the API (and the dashboard)."""
    import logging
    import os

    from parzen.service.config import Settings
    from parzen.service.server import SchemaNotReady, serve
    from parzen.service.storage import DatabaseUnreachable

    # Flags win over the environment; the app factory reads the environment in every process.
    flags = {"HOST": host, "PORT": port, "DATABASE_URL": database_url, "MIGRATE": migrate}
    for key, value in flags.items():
        if value is not None:
            os.environ[f"PARZEN_{key}"] = str(value).lower() if key == "MIGRATE" else str(value)
    # Before uvicorn configures its own loggers: the migration's lines ("Running upgrade ...")
    # say which replica migrated.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        serve(Settings(), workers=workers)
    except (SchemaNotReady, DatabaseUnreachable) as exc:
        typer.echo(f"parzen server: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def migrate(
    database_url: Annotated[str | None, typer.Option(help="[PARZEN_DATABASE_URL]")] = None,
) -> None:
    """Apply the database migrations and exit (for deployments that migrate once)."""
    from parzen.service.config import Settings
    from parzen.service.db.migrate import upgrade

    migrated = upgrade(database_url or Settings().database_url)
    # Under the migration lock: "already" means another process (a replica) had migrated.
    typer.echo(
        "migrated the database to the latest revision"
        if migrated
        else "database already at the latest revision"
    )


if __name__ == "__main__":
    app()

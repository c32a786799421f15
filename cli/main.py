"""The `parzen` command."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import study, token
from cli.worker import worker

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
) -> None:
    """Apply the database migrations, then serve the API (and the dashboard)."""
    import os

    from service.config import Settings
    from service.server import serve

    # Flags win over the environment; the app factory reads the environment in every process.
    for key, value in {"HOST": host, "PORT": port, "DATABASE_URL": database_url}.items():
        if value is not None:
            os.environ[f"PARZEN_{key}"] = str(value)
    serve(Settings(), workers=workers)


@app.command()
def migrate(
    database_url: Annotated[str | None, typer.Option(help="[PARZEN_DATABASE_URL]")] = None,
) -> None:
    """Apply the database migrations and exit (for deployments that migrate once)."""
    from service.config import Settings
    from service.db.migrate import upgrade

    upgrade(database_url or Settings().database_url)
    typer.echo("database is at the latest revision")


if __name__ == "__main__":
    app()

"""`parzen token create`: a new bearer token, printed once."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import DEFAULT_URL, TokenOption, UrlOption, client, console

app = typer.Typer(help="Manage bearer tokens (needs an admin token).", no_args_is_help=True)


@app.command()
def create(
    role: Annotated[str, typer.Option(help="admin, worker or viewer.")] = "worker",
    name: Annotated[str, typer.Option(help="What the token is for.")] = "",
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Create a token and print it (only its hash is kept: store it now)."""
    with client(url, token) as api:
        created = api.create_token(role, name)
    console.print(created["token"], highlight=False, soft_wrap=True)

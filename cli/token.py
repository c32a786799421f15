"""`parzen token create|list|revoke`: bearer tokens (a new one is printed once)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from parzen.cli.common import DEFAULT_URL, TokenOption, UrlOption, client, console

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


@app.command("list")
def list_(url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Every token: id, role, name, and when it was created or revoked (never the secret)."""
    with client(url, token) as api:
        tokens = api.list_tokens()
    table = Table("id", "role", "name", "created", "revoked")
    for t in tokens:
        table.add_row(
            str(t["id"]), t["role"], t["name"], str(t["created_at"]), str(t["revoked_at"] or "-")
        )
    console.print(table)


@app.command()
def revoke(
    token_id: Annotated[int, typer.Argument(help="The id that `parzen token list` shows.")],
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with client(url, token) as api:
        api.revoke_token(token_id)
    console.print(f"revoked token {token_id}")

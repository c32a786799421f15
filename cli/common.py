"""What every command shares: the client from flags or environment, and error printing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from rich.console import Console

from parzen.worker.client import ParzenClient, ParzenError, ServerUnavailable

console = Console()
err_console = Console(stderr=True)

UrlOption = Annotated[str, typer.Option("--url", envvar="PARZEN_URL", help="Server address.")]
TokenOption = Annotated[
    str | None, typer.Option("--token", envvar="PARZEN_TOKEN", help="Bearer token.")
]
DEFAULT_URL = "http://127.0.0.1:8000"
# A person waits at the prompt: retry a restarting server briefly, then say what is wrong.
RETRY_SECONDS = 3.0
UNREACHABLE_EXIT = 2


@contextmanager
def client(url: str, token: str | None) -> Iterator[ParzenClient]:
    """A client whose refusals end the command with the server's message and exit code 1,
    and a server that cannot be reached with one line and exit code 2 (never a traceback)."""
    try:
        with ParzenClient(url, token, retry_seconds=RETRY_SECONDS) as api:
            yield api
    except ParzenError as exc:
        err_console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from exc
    except (httpx.TransportError, OSError) as exc:
        err_console.print(
            f"[red]error[/red] cannot reach {url}: is `parzen server` running?",
            highlight=False,
            markup=True,
        )
        raise typer.Exit(UNREACHABLE_EXIT) from exc
    except ServerUnavailable as exc:
        err_console.print(f"[red]error[/red] {url} is unavailable ({exc}): try again later")
        raise typer.Exit(UNREACHABLE_EXIT) from exc


def load_document(path: Path) -> dict[str, Any]:
    """A study file in YAML or JSON (JSON is YAML, but its errors read better from json)."""
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        err_console.print(f"[red]error[/red] {path} is not valid YAML/JSON: {exc}")
        raise typer.Exit(2) from exc
    if not isinstance(data, dict):
        err_console.print(f"[red]error[/red] {path} must hold a mapping (name, space, ...)")
        raise typer.Exit(2)
    return data

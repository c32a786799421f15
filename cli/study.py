"""`parzen study ...`: create, list, show, best, trials, pause, resume, stop, delete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import DEFAULT_URL, TokenOption, UrlOption, client, console, load_document
from cli.export import register as register_export
from cli.report import print_report

app = typer.Typer(help="Create and inspect studies.", no_args_is_help=True)


@app.command()
def create(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON.")],
    hypermodel: Annotated[
        str | None, typer.Option(help="Fill in the space from this KerasTuner-style hypermodel.")
    ] = None,
    module: Annotated[
        list[str] | None, typer.Option(help="A module to import that registers hypermodels.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Create a study from a YAML or JSON file."""
    document = load_document(file)
    if hypermodel is not None:
        from cli.hypermodel import fill_space

        document = fill_space(document, hypermodel, module or [])
    with client(url, token) as api:
        study = api.create_study(document)
    console.print(f"created study [bold]{study['name']}[/bold] (seed {study['seed']})")


@app.command("list")
def list_(url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Every study with its trial counts and best value."""
    with client(url, token) as api:
        studies = api.list_studies(limit=1000)["data"]
    table = Table(
        "name", "state", "direction", "metric", "trials", "complete", "running", "failed", "best"
    )
    for s in studies:
        counts = s["counts"]
        table.add_row(
            s["name"],
            s["state"],
            s["direction"],
            s["metric"],
            f"{s['trials_created']}/{s['budget']['max_trials']}",
            str(counts.get("complete", 0)),
            str(counts.get("running", 0)),
            str(counts.get("failed", 0)),
            _fmt(s["best_value"]),
        )
    console.print(table)


@app.command()
def show(name: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """A study's settings and progress."""
    with client(url, token) as api:
        study = api.get_study(name)
    console.print_json(data=study)


@app.command()
def best(name: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """The best complete trial: its value and parameters."""
    with client(url, token) as api:
        trial = api.best_trial(name)
    console.print(f"trial {trial['number']} of {name}: value {_fmt(trial['value'])}")
    console.print_json(data=trial["params"])


@app.command()
def trials(
    name: str,
    state: Annotated[list[str] | None, typer.Option(help="Only these states.")] = None,
    order: Annotated[str, typer.Option(help="number, -number, value or -value.")] = "number",
    limit: int = 50,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """A page of a study's trials."""
    with client(url, token) as api:
        page = api.trials(name, state=state, order=order, limit=limit)
    table = Table("#", "state", "value", "attempt", "params")
    for t in page["data"]:
        table.add_row(
            str(t["number"]), t["state"], _fmt(t["value"]), str(t["attempt"]), _short(t["params"])
        )
    console.print(table)
    console.print(f"{len(page['data'])} of {page['count']} trials")


def _state_command(action: str) -> None:
    def command(name: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
        with client(url, token) as api:
            study = getattr(api, f"{action}_study")(name)
        console.print(f"study {name} is {study['state']}")

    command.__doc__ = f"{action.capitalize()} a study."
    app.command(action)(command)


for _action in ("pause", "resume", "stop"):
    _state_command(_action)


@app.command()
def finalize(
    name: str,
    top_k: Annotated[int, typer.Option(help="Candidates: the best by validation.")] = 5,
    mode: Annotated[str, typer.Option(help="checkpoint or retrain.")] = "checkpoint",
    rescore: Annotated[str, typer.Option(help="auto, kfold or none.")] = "auto",
    override: Annotated[bool, typer.Option(help="Past the test budget (audited).")] = False,
    wait: Annotated[bool, typer.Option(help="Wait for a worker to finish the job.")] = True,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Evaluate the top trials once on the sealed test split; print the report."""
    with client(url, token) as api:
        job = api.finalize(name, top_k=top_k, mode=mode, rescore=rescore, override=override)
        console.print(f"finalization {job['id']} of {name} queued: trials {job['candidates']}")
        while wait:
            state = next(f for f in api.test_report(name)["finalizations"] if f["id"] == job["id"])
            if state["state"] == "failed":
                console.print(f"[red]finalization failed[/red]: {state['error']}")
                raise typer.Exit(1)
            if state["state"] == "complete":
                break
            time.sleep(1)
        print_report(console, name, api.test_report(name))


@app.command()
def report(name: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """The sealed test report and every access to the test split."""
    with client(url, token) as api:
        print_report(console, name, api.test_report(name))


@app.command()
def delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Delete a study and all its trials."""
    if not yes:
        typer.confirm(f"Delete study {name} and all its trials?", abort=True)
    with client(url, token) as api:
        api.delete_study(name)
    console.print(f"deleted study {name}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _short(params: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in params.items())
    return text if len(text) <= 80 else text[:77] + "..."


register_export(app)  # export, import (cli/export.py)

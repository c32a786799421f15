"""`parzen study ...`: create, list, show, best, trials, pause, resume, stop, delete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from parzen.cli.common import DEFAULT_URL, TokenOption, UrlOption, client, console, load_document
from parzen.cli.export import register as register_export
from parzen.cli.format import flatten, number, server_order, to_csv, trial_rows
from parzen.cli.report import print_report
from parzen.cli.summary import print_summary

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
        from parzen.cli.hypermodel import fill_space

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
            number(s["best_value"]),
        )
    console.print(table)


@app.command()
def show(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="The study as JSON.")] = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """A study's settings and progress."""
    with client(url, token) as api:
        study = api.get_study(name)
    if as_json:
        console.print_json(data=study)
        return
    print_summary(console, study)


@app.command()
def best(name: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """The best complete trial: its value and parameters."""
    with client(url, token) as api:
        study = api.get_study(name)
        trial = api.best_trial(name)
    goal = "lowest" if study["direction"] == "minimize" else "highest"
    console.print(
        f"trial {trial['number']} of {name}: {study['metric']} {number(trial['value'])} "
        f"({goal} of {study['counts'].get('complete', 0)} complete)",
        highlight=False,
    )
    table = Table("parameter", "value", box=None)
    for key, value in flatten(trial["params"]).items():
        table.add_row(key, number(value))
    console.print(table)


Order = Annotated[
    str,
    typer.Option(
        help="best (the study's direction), worst, number, -number, value or -value.",
    ),
]
Format = Annotated[str, typer.Option("--format", help="table, json or csv.")]
FORMATS = ("table", "json", "csv")
ORDERS = ("best", "worst", "number", "-number", "value", "-value")


@app.command()
def trials(
    name: str,
    state: Annotated[list[str] | None, typer.Option(help="Only these states.")] = None,
    order: Order = "best",
    offset: Annotated[int, typer.Option(min=0, help="Skip this many trials.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    output: Format = "table",
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """A page of a study's trials, one column per parameter, best first by default."""
    if order not in ORDERS:
        raise typer.BadParameter(f"one of {', '.join(ORDERS)}", param_hint="--order")
    if output not in FORMATS:
        raise typer.BadParameter(f"one of {', '.join(FORMATS)}", param_hint="--format")
    with client(url, token) as api:
        direction = api.get_study(name)["direction"]
        page = api.trials(
            name, state=state, order=server_order(order, direction), offset=offset, limit=limit
        )
    if output == "json":
        console.print_json(data=page)
        return
    columns, rows = trial_rows(page["data"])
    if output == "csv":
        typer.echo(to_csv(columns, rows), nl=False)
        return
    table = Table(*["#" if c == "number" else c for c in columns])
    for row in rows:
        table.add_row(*(number(cell) for cell in row))
    console.print(table)
    shown = len(page["data"])
    first = offset + 1 if shown else offset
    console.print(f"trials {first}-{offset + shown} of {page['count']} ({order} first)")


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


register_export(app)  # export, import (cli/export.py)

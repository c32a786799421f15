"""`parzen study export` and `parzen study import`: a study's trials to a file (CSV,
Parquet, JSON Lines), and finished trials into a study from such a file or from an Optuna
study (a warm start). Registered on the study app by `register(app)` (cli/study.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from parzen.cli.common import DEFAULT_URL, TokenOption, UrlOption, client, console, err_console
from parzen.worker.trials_table import FORMATS, optuna_rows, read_table, rows_to_import, write_table


def export(
    name: str,
    format: Annotated[str, typer.Option("--format", help="csv, parquet or jsonl.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write [NAME.FORMAT].")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Every trial of a study, one row each: number, state, value, attempt, epochs,
    timings, flattened parameters (params.layer, params.layer.filters) and metrics."""
    fmt = _format(format)
    target = output or Path(f"{name}.{fmt}")
    with client(url, token) as api:
        trials = api.all_trials(name)
    count = write_table(trials, target, fmt)
    console.print(f"wrote {count} trials of {name} to {target}")


def import_(
    name: str,
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="An export (any format).")
    ] = None,
    optuna_storage: Annotated[
        str | None, typer.Option(help="An Optuna storage URL (sqlite:///optuna.db).")
    ] = None,
    optuna_study: Annotated[str | None, typer.Option(help="The Optuna study's name.")] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
) -> None:
    """Append finished trials to a study (a warm start): from an export, or an Optuna study."""
    rows: list[dict[str, Any]]
    if optuna_storage:
        import optuna

        study = optuna.load_study(study_name=optuna_study, storage=optuna_storage)
        rows, source = optuna_rows(study), f"optuna study {study.study_name}"
    elif file is not None:
        rows, source = read_table(file), str(file)
    else:
        err_console.print("[red]error[/red] give a FILE or --optuna-storage (and --optuna-study)")
        raise typer.Exit(2)
    trials = rows_to_import(rows)
    with client(url, token) as api:
        numbers = api.import_trials(name, trials)
    console.print(f"imported {len(numbers)} finished trials into {name} from {source}")


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command("import")(import_)


def _format(text: str) -> Any:
    if text not in FORMATS:
        err_console.print(f"[red]error[/red] --format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    return text

"""`parzen study export` / `import`, `client.trials_dataframe`, the Optuna import and
`study create --hypermodel`, against a real server on a free port."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from parzen.cli.main import app
from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from tests.conftest import ADMIN_TOKEN

runner = CliRunner()
SPACE = {
    "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "act": {"type": "choice", "options": ["relu", "gelu"]},
    "layer": {
        "type": "choice",
        "options": [
            {"name": "conv", "filters": {"type": "int", "low": 8, "high": 64}},
            {"name": "dense", "units": {"type": "int", "low": 16, "high": 512, "log": True}},
            "identity",
        ],
    },
}


def _run(server: ServerThread, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--url", server.url, "--token", ADMIN_TOKEN])
    return result.exit_code, result.output


def _study(api: ParzenClient, name: str, space: dict[str, Any] = SPACE) -> None:
    api.create_study(
        {
            "name": name,
            "direction": "minimize",
            "metric": "loss",
            "space": space,
            "seed": 4,
            "algorithm": "random",
            "budget": {"max_trials": 40, "max_parallel": 40},
        }
    )


def _run_trials(api: ParzenClient, name: str, count: int) -> None:
    """Trials in every state: complete, pruned (after reports), failed, and one running."""
    for i in range(count):
        trial = api.ask(name).trial
        assert trial is not None
        token = trial.lease_token
        if i == count - 1:
            continue  # left running
        for step in (1, 2):
            api.report(trial.id, step, {"loss": 1.0 / (i + step)}, lease_token=token)
        if i % 3 == 2:
            api.tell(trial.id, "failed", error="boom", lease_token=token)
        elif i % 3 == 1:
            api.tell(trial.id, "pruned", 0.5 + i, lease_token=token)
        else:
            api.tell(trial.id, "complete", 0.1 * i, lease_token=token, metrics={"acc": 0.9})


@pytest.fixture
def api(live_server: ServerThread) -> Any:
    with ParzenClient(live_server.url, ADMIN_TOKEN, retry_seconds=5) as client:
        yield client


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_export_then_import_round_trips_every_finished_trial(
    live_server: ServerThread, api: ParzenClient, tmp_path: Path, fmt: str
) -> None:
    """Flattened conditional parameters, states, values and epochs survive the file, and the
    import gives a second study the same finished history."""
    _study(api, "source")
    _run_trials(api, "source", 9)
    target = tmp_path / f"out.{fmt}"
    code, out = _run(live_server, "study", "export", "source", "--format", fmt, "-o", str(target))
    assert code == 0 and "wrote 9 trials" in out, out

    from parzen.worker.trials_table import read_table

    rows = read_table(target)
    assert [r["number"] for r in rows] == list(range(1, 10))
    columns = list(rows[0])
    assert columns[:10] == [
        "number", "state", "value", "attempt", "epochs",
        "created_at", "started_at", "finished_at", "duration_seconds", "error",
    ]  # fmt: skip
    assert {"params.lr", "params.act", "params.layer"} <= set(columns)
    originals = api.all_trials("source")
    for row, trial in zip(rows, originals, strict=True):
        assert row["state"] == trial["state"] and row["value"] == trial["value"]
        assert row["epochs"] == trial["last_step"]
        layer = trial["params"]["layer"]
        if isinstance(layer, dict):  # a branch: its name, then its parameters below it
            assert row["params.layer"] == layer["name"]
            (key,) = set(layer) - {"name"}
            assert row[f"params.layer.{key}"] == layer[key]
            other = {"conv": "units", "dense": "filters"}[layer["name"]]
            assert row.get(f"params.layer.{other}") is None  # the branch not taken: empty
        else:
            assert row["params.layer"] == "identity"
    if fmt == "csv":  # a spreadsheet sees plain cells
        with target.open() as source:
            header = next(csv.reader(source))
        assert header == columns

    _study(api, "warm")
    code, out = _run(live_server, "study", "import", "warm", str(target))
    assert code == 0 and "imported 8 finished trials" in out, out
    imported = api.all_trials("warm")
    finished = [t for t in originals if t["state"] != "running"]
    assert [(t["params"], t["state"], t["value"]) for t in imported] == [
        (t["params"], t["state"], None if t["state"] == "failed" else t["value"]) for t in finished
    ]
    assert api.ask("warm").trial.number == 9  # type: ignore[union-attr]


def test_trials_dataframe_has_the_export_columns(api: ParzenClient) -> None:
    _study(api, "frame")
    _run_trials(api, "frame", 4)
    frame = api.trials_dataframe("frame")
    assert len(frame) == 4 and list(frame["number"]) == [1, 2, 3, 4]
    assert list(frame["state"]) == ["complete", "pruned", "failed", "running"]
    assert {"params.lr", "params.layer", "metrics.acc", "duration_seconds"} <= set(frame.columns)
    assert frame.loc[0, "metrics.acc"] == 0.9


def test_an_optuna_study_is_imported_as_a_warm_start(
    live_server: ServerThread, api: ParzenClient, tmp_path: Path
) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="opt", storage=storage, direction="minimize")

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        act = trial.suggest_categorical("act", ["relu", "gelu"])
        trial.report(x, 1)
        if trial.number == 3:
            raise optuna.TrialPruned()
        return x * (2 if act == "gelu" else 1)

    study.optimize(objective, n_trials=6)
    space = {"lr": SPACE["lr"], "act": SPACE["act"]}
    _study(api, "from-optuna", space)
    code, out = _run(
        live_server, "study", "import", "from-optuna",
        "--optuna-storage", storage, "--optuna-study", "opt",
    )  # fmt: skip
    assert code == 0 and "imported 6 finished trials" in out, out
    imported = api.all_trials("from-optuna")
    for mine, theirs in zip(imported, study.trials, strict=True):
        assert mine["params"] == theirs.params
        assert mine["state"] == ("pruned" if theirs.number == 3 else "complete")
        expected = theirs.intermediate_values[1] if theirs.number == 3 else theirs.value
        assert mine["value"] == pytest.approx(expected)
    assert api.best_trial("from-optuna")["value"] == pytest.approx(study.best_value)


def test_an_import_whose_params_the_space_refuses_names_the_path(
    live_server: ServerThread, api: ParzenClient, tmp_path: Path
) -> None:
    _study(api, "strict")
    bad = tmp_path / "bad.jsonl"
    row = {"state": "complete", "value": 1.0, "params.lr": 5.0, "params.act": "relu"}
    bad.write_text(json.dumps(row | {"params.layer": "identity"}) + "\n")
    code, out = _run(live_server, "study", "import", "strict", str(bad))
    assert code == 1 and "$.trials[0].params.lr" in out and "outside" in out
    assert api.get_study("strict")["trials_created"] == 0  # nothing stored


def test_study_create_fills_in_the_space_from_a_hypermodel(
    live_server: ServerThread, api: ParzenClient, tmp_path: Path
) -> None:
    from parzen.worker.hypermodels import hypermodel_space
    from tests.worker.kt_models import build_layers

    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"name": "hm", "metric": "val_accuracy"}))
    code, out = _run(
        live_server, "study", "create", str(path),
        "--hypermodel", "kt_layers", "--module", "tests.worker.kt_models",
    )  # fmt: skip
    assert code == 0, out
    study = api.get_study("hm")
    assert study["space"] == hypermodel_space(build_layers)
    assert study["objective"]["builder"] == "kt_layers"

"""The `parzen` command against a real server on a free port."""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from parzen.cli.main import app
from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient
from tests.conftest import ADMIN_TOKEN
from tests.service.factories import MIXED_SPACE

runner = CliRunner()


def _run(server: ServerThread, *args: str, token: str = ADMIN_TOKEN) -> tuple[int, str]:
    argv = [*args, "--url", server.url, "--token", token]
    result = runner.invoke(app, argv, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _study_file(tmp_path: Path, **changes: object) -> Path:
    spec = {
        "name": "cli-study",
        "direction": "minimize",
        "metric": "val_loss",
        "space": MIXED_SPACE,
        "budget": {"max_trials": 5, "max_parallel": 2},
    } | changes
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_study_create_list_show_best(live_server: ServerThread, tmp_path: Path) -> None:
    code, out = _run(live_server, "study", "create", str(_study_file(tmp_path)))
    assert code == 0 and "created study cli-study" in out
    with ParzenClient(live_server.url, ADMIN_TOKEN) as api:
        trial = api.ask("cli-study").trial
        assert trial is not None
        api.tell(trial.id, "complete", 0.125, lease_token=trial.lease_token)
    code, out = _run(live_server, "study", "list")
    assert code == 0 and "cli-study" in out and "0.125" in out
    code, out = _run(live_server, "study", "show", "cli-study", "--json")
    assert code == 0 and '"max_trials": 5' in out
    code, out = _run(live_server, "study", "show", "cli-study")
    assert code == 0 and "minimize val_loss" in out and "1 of 5 (1 complete" in out
    code, out = _run(live_server, "study", "best", "cli-study")
    assert code == 0 and "trial 1 of cli-study: val_loss 0.125" in out and "learning_rate" in out
    code, out = _run(live_server, "study", "trials", "cli-study")
    assert code == 0 and "trials 1-1 of 1" in out


def test_bad_study_file_names_the_json_path(live_server: ServerThread, tmp_path: Path) -> None:
    bad = dict(MIXED_SPACE, dropout={"type": "uniform", "low": 0.5, "high": 0.1})
    code, out = _run(live_server, "study", "create", str(_study_file(tmp_path, space=bad)))
    assert code == 1 and "$.space.dropout.low" in out


def test_token_create_prints_a_working_token(live_server: ServerThread) -> None:
    code, out = _run(live_server, "token", "create", "--role", "viewer")
    assert code == 0
    token = out.strip()
    code, out = _run(live_server, "study", "list", token=token)
    assert code == 0
    code, out = _run(live_server, "token", "create", "--role", "admin", token=token)
    assert code == 1 and "403" in out


def test_wrong_token_is_refused(live_server: ServerThread) -> None:
    code, out = _run(live_server, "study", "list", token="nope")
    assert code == 1 and "401" in out


def _tell_values(server: ServerThread, name: str, values: list[float]) -> list[dict[str, object]]:
    """Complete one trial per value, in order; the params each trial got."""
    params = []
    with ParzenClient(server.url, ADMIN_TOKEN) as api:
        for value in values:
            trial = api.ask(name).trial
            assert trial is not None
            api.tell(trial.id, "complete", value, lease_token=trial.lease_token)
            params.append(trial.params)
    return params


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_trials_list_best_first_for_the_direction(
    live_server: ServerThread, tmp_path: Path, direction: str
) -> None:
    """`--order` defaults to best first: lowest on a minimize study, highest on maximize."""
    spec = _study_file(tmp_path, direction=direction, budget={"max_trials": 5, "max_parallel": 1})
    _run(live_server, "study", "create", str(spec))
    _tell_values(live_server, "cli-study", [0.5, 0.1, 0.9])
    code, out = _run(live_server, "study", "trials", "cli-study", "--format", "json")
    assert code == 0
    values = [t["value"] for t in json.loads(out)["data"]]
    assert values == ([0.1, 0.5, 0.9] if direction == "minimize" else [0.9, 0.5, 0.1])
    code, out = _run(
        live_server, "study", "trials", "cli-study", "--order", "worst", "--format", "json"
    )
    assert [t["value"] for t in json.loads(out)["data"]] == values[::-1]
    code, out = _run(
        live_server, "study", "trials", "cli-study", "--offset", "1", "--limit", "1",
        "--format", "json",
    )  # fmt: skip
    assert [t["value"] for t in json.loads(out)["data"]] == values[1:2]


def test_trials_table_has_a_column_per_parameter_and_rounds(
    live_server: ServerThread, tmp_path: Path
) -> None:
    """One column per (flattened) parameter, values to 4 significant digits, no reprs."""
    _run(live_server, "study", "create", str(_study_file(tmp_path)))
    params = _tell_values(live_server, "cli-study", [0.0173466123])
    code, out = _run(live_server, "study", "trials", "cli-study")
    assert code == 0
    header = out.splitlines()[1]
    for column in ("learning_rate", "units", "activation", "layer.kind", "dropout"):
        assert column in header, column
    assert "0.01735" in out and "0.0173466" not in out
    assert "{" not in out and "'" not in out  # no dict reprs
    lr = params[0]["learning_rate"]
    assert isinstance(lr, float) and (f"{lr:.4g}" in out or f"{lr:.3e}" in out)


def test_trials_csv_holds_the_raw_values(live_server: ServerThread, tmp_path: Path) -> None:
    """CSV output keeps full precision (for spreadsheets) under the same columns."""
    _run(live_server, "study", "create", str(_study_file(tmp_path)))
    params = _tell_values(live_server, "cli-study", [0.0173466123])
    code, out = _run(live_server, "study", "trials", "cli-study", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1 and float(rows[0]["value"]) == 0.0173466123
    assert float(rows[0]["learning_rate"]) == params[0]["learning_rate"]
    assert rows[0]["layer.kind"] == params[0]["layer"]["kind"]  # type: ignore[index]


def test_token_list_and_revoke(live_server: ServerThread) -> None:
    """A token listed by id can be revoked, and is refused afterwards."""
    code, out = _run(live_server, "token", "create", "--role", "viewer", "--name", "ci-viewer")
    viewer = out.strip()
    code, out = _run(live_server, "token", "list")
    assert code == 0 and "ci-viewer" in out and viewer not in out
    line = next(line for line in out.splitlines() if "ci-viewer" in line)
    token_id = next(cell for cell in line.replace("│", " ").split() if cell.isdigit())
    code, out = _run(live_server, "token", "revoke", token_id)
    assert code == 0 and f"revoked token {token_id}" in out
    code, out = _run(live_server, "study", "list", token=viewer)
    assert code == 1 and "401" in out


def test_unreachable_server_gets_one_line_and_exit_code_2() -> None:
    """No traceback when nothing listens: one line naming the URL, exit code 2."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = runner.invoke(app, ["study", "list", "--url", url], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [f"error cannot reach {url}: is `parzen server` running?"]
    assert "Traceback" not in result.output

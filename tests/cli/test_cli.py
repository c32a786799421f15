"""The `parzen` command against a real server on a free port."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from cli.main import app
from service.server import ServerThread
from tests.conftest import ADMIN_TOKEN
from tests.service.factories import MIXED_SPACE
from worker.client import ParzenClient

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
    code, out = _run(live_server, "study", "show", "cli-study")
    assert code == 0 and '"max_trials": 5' in out
    code, out = _run(live_server, "study", "best", "cli-study")
    assert code == 0 and "trial 1" in out and "learning_rate" in out
    code, out = _run(live_server, "study", "trials", "cli-study")
    assert code == 0 and "1 of 1 trials" in out


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

"""The sealed test step end to end: search, finalize, report, audit."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from typer.testing import CliRunner

from parzen.cli.main import app
from parzen.service.server import ServerThread
from parzen.worker.client import ParzenClient, ParzenError
from parzen.worker.daemon import Daemon
from tests.conftest import ADMIN_TOKEN
from tests.worker import plugins
from tests.worker.conftest import study

SPACE = {
    "units": {"type": "int", "low": 16, "high": 64, "log": True},
    "layers": {"type": "int", "low": 1, "high": 2},
    "learning_rate": {"type": "loguniform", "low": 1e-3, "high": 3e-2},
}


def test_search_never_sees_the_test_split_and_finalize_reports_honestly(
    api: ParzenClient, run_daemon: Callable[..., Daemon], live_server: ServerThread
) -> None:
    body = study("sealed", "mlp", "sealed_digits", SPACE)
    body["objective"] |= {"max_epochs": 4, "split": {"seed": 5}}
    body["budget"] = {"max_trials": 4, "max_parallel": 1}
    api.create_study(body)
    plugins.SPLIT_LOADS.clear()
    run_daemon(modules=("tests.worker.plugins",))
    assert plugins.SPLIT_LOADS == [("search", 5)]  # loaded once, and never the test split
    trials = api.trials("sealed")["data"]
    assert all(t["artifact"] for t in trials)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    download = httpx.get(
        f"{live_server.url}/dashboard/api/trials/{trials[0]['id']}/artifact", headers=auth
    )
    assert download.status_code == 200 and download.content[:2] == b"PK"  # a .keras zip

    job = api.finalize("sealed", top_k=3)
    assert len(job["candidates"]) == 3
    run_daemon(modules=("tests.worker.plugins",))
    # A new worker loads the search split, and the test split once, last: after the pick.
    assert plugins.SPLIT_LOADS == [("search", 5), ("search", 5), ("test", 5)]
    body = api.test_report("sealed")
    report = body["report"]
    ranked = sorted(trials, key=lambda t: -t["value"])[:3]
    assert [c["number"] for c in report["candidates"]] == [t["number"] for t in ranked]
    assert report["rescore"] == "kfold"  # 359 validation rows: small, so re-scored
    for row, trial in zip(report["candidates"], ranked, strict=True):
        assert row["search_value"] == trial["value"]
        assert row["validation"] == pytest.approx(trial["value"], abs=1e-6)
        assert 0 <= row["test"] <= 1 and row["gap"] == pytest.approx(trial["value"] - row["test"])
        assert row["kfold"] is not None
    kfold = [row["kfold"] for row in report["candidates"]]
    assert report["pick"]["number"] == report["candidates"][kfold.index(max(kfold))]["number"]
    assert sum(report["ensemble"]["weights"].values()) == pytest.approx(1.0)
    assert body["test_uses"] == 1
    assert [a["kind"] for a in body["accesses"]] == ["requested", "loaded"]
    assert api.get_study("sealed")["counts"] == {"complete": 4}  # no test score became a trial

    # A retrained finalization is a second use of the test split, and it is counted.
    api.finalize("sealed", top_k=2, mode="retrain", rescore="none")
    run_daemon(modules=("tests.worker.plugins",))
    body = api.test_report("sealed")
    assert (
        body["report"]["mode"] == "retrain" and body["report"]["pick"]["chosen_by"] == "validation"
    )
    assert body["test_uses"] == 2

    page = httpx.get(
        f"{live_server.url}/studies/sealed", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert page.status_code == 200 and "Test report" in page.text
    assert f"trial {body['report']['pick']['number']}</strong>" in page.text
    assert "Uses of the test split: 2" in page.text

    result = CliRunner().invoke(
        app,
        ["study", "report", "sealed", "--url", live_server.url, "--token", ADMIN_TOKEN],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0 and "ensemble" in result.output
    assert "used 2 time(s) (budget 3)" in result.output


def test_finalize_needs_checkpoints_and_an_admin(
    api: ParzenClient, live_server: ServerThread
) -> None:
    api.create_study(study("empty", "mlp", "digits_flat", SPACE))
    with pytest.raises(ParzenError) as refused:
        api.finalize("empty")
    assert refused.value.status_code == 409
    worker_token = api.create_token("worker")["token"]
    with (
        ParzenClient(live_server.url, worker_token) as worker,
        pytest.raises(ParzenError) as caught,
    ):
        worker.finalize("empty")
    assert caught.value.status_code == 403

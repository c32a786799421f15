"""The dashboard's pages and data through the app (TestClient), over both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from parzen.service.config import Settings
from parzen.service.main import create_app
from parzen.service.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.service.dashboard.fill import import_trials
from tests.service.writes import api_report, api_tell

STUDY_PAGES = ("/", "/studies/big", "/studies/big/trials/1")
DATA = (
    "/dashboard/api/studies",
    "/dashboard/api/studies/big/history",
    "/dashboard/api/studies/big/trials",
    "/dashboard/api/studies/big/params",
    "/dashboard/api/studies/big/importance",
    "/dashboard/api/studies/big/curves",
    "/dashboard/api/studies/big/timeline",
    "/dashboard/api/studies/big/workers",
    "/dashboard/api/studies/big/changes?seq=0&epoch=0",
)


@pytest.fixture
def anonymous(settings: Settings, storage: Storage) -> Iterator[TestClient]:
    import_trials(storage, "big", 20)
    with TestClient(create_app(settings, storage), follow_redirects=False) as client:
        yield client


def _token(client: TestClient, role: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    made = client.post("/api/v1/tokens", json={"role": role, "name": role}, headers=headers)
    return str(made.json()["token"])


def test_without_a_token_pages_ask_to_sign_in_and_data_is_refused(anonymous: TestClient) -> None:
    for path in STUDY_PAGES:
        page = anonymous.get(path)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
        assert "big" not in page.text
    for path in DATA:
        refused = anonymous.get(path)
        assert refused.status_code == 401 and "big" not in refused.text
    anonymous.cookies.set("parzen_token", "forged")
    bad = anonymous.get("/studies/big")
    assert bad.status_code == 303 and "refused=1" in bad.headers["location"]
    anonymous.cookies.clear()
    assert anonymous.get("/dashboard/static/plotly.min.js").status_code == 200  # no data


def test_viewer_signs_in_with_a_cookie_or_sends_a_bearer(anonymous: TestClient) -> None:
    viewer = _token(anonymous, "viewer")
    wrong = anonymous.post("/login", data={"token": "nope", "next": "/studies/big"})
    assert wrong.status_code == 401 and "Unknown or revoked token" in wrong.text
    signed = anonymous.post("/login", data={"token": viewer, "next": "/studies/big"})
    assert signed.status_code == 303 and signed.headers["location"] == "/studies/big"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    for path in (*STUDY_PAGES, *DATA):
        assert anonymous.get(path).status_code == 200, path
    anonymous.cookies.clear()
    bearer = {"Authorization": f"Bearer {viewer}"}
    assert anonymous.get("/dashboard/api/studies/big/history", headers=bearer).status_code == 200
    anonymous.cookies.set("parzen_token", viewer)
    out = anonymous.post("/logout")
    assert out.status_code == 303 and 'parzen_token=""' in out.headers["set-cookie"]


def test_sign_in_never_redirects_off_site_nor_accepts_cross_site_posts(
    anonymous: TestClient,
) -> None:
    viewer = _token(anonymous, "viewer")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        signed = anonymous.post("/login", data={"token": viewer, "next": target})
        assert signed.headers["location"] == "/"
    cross = anonymous.post(
        "/login", data={"token": viewer}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403 and "set-cookie" not in cross.headers


def test_pages_are_read_only_and_carry_a_content_policy(client: TestClient) -> None:
    client.post(
        "/api/v1/studies",
        json={"name": "s", "space": {"x": {"type": "uniform", "low": 0, "high": 1}}},
    )
    page = client.get("/studies/s")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    forms = re.findall(r"<form[^>]*>", page.text)
    assert forms and all('action="/logout"' in form for form in forms)
    assert 'id="report"' not in page.text  # no finalized report yet: no section
    assert client.post("/studies/s").status_code == 405


def test_local_mode_needs_no_token(storage: Storage, tmp_path: Path, database_url: str) -> None:
    settings = Settings(database_url=database_url, auth=False, artifact_dir=tmp_path)
    import_trials(storage, "big", 5)
    # local mode serves loopback clients only; TestClient's own client host is "testclient"
    with TestClient(create_app(settings, storage), client=("127.0.0.1", 50000)) as client:
        page = client.get("/studies/big")
        assert page.status_code == 200 and "local mode" in page.text
        assert client.get("/dashboard/api/studies/big/history").status_code == 200
        assert client.get("/login", follow_redirects=False).status_code == 303


def test_large_studies_get_bounded_plot_data(client: TestClient, storage: Storage) -> None:
    import_trials(storage, "big", 3000)
    history = client.get("/dashboard/api/studies/big/history").json()
    complete = history["series"]["complete"]
    assert complete["total"] == 3000 and len(complete["number"]) <= 2100
    best = storage.table_trials(study_name="big", states=("complete",), order="value", limit=1)
    assert best[0][0].value == min(complete["value"])
    params = client.get("/dashboard/api/studies/big/params?top=10").json()
    assert params["total"] == 3000 and params["chosen"] == 300 and len(params["values"]) == 300
    assert params["values"][-1] == best[0][0].value  # the best is drawn last, on top
    labels = {d["label"]: d for d in params["dimensions"]}
    assert labels["learning_rate"]["log"] and labels["layer"]["options"] == ["conv", "dense"]
    capped = client.get("/dashboard/api/studies/big/params?limit=500").json()
    assert len(capped["values"]) == 500
    page = client.get("/dashboard/api/studies/big/trials?order=value&desc=true&page=3&size=50")
    assert page.json()["pages"] == 60 and len(page.json()["rows"]) == 50


def test_importance_is_cached_until_a_trial_finishes(client: TestClient, storage: Storage) -> None:
    import_trials(storage, "big", 200)
    first = client.get("/dashboard/api/studies/big/importance").json()
    assert first["trials"] == 200 and first["labels"][0] == "learning_rate"
    cache = client.app.state.dashboard_cache  # type: ignore[attr-defined]
    size = len(cache._items)
    assert client.get("/dashboard/api/studies/big/importance").json() == first
    assert len(cache._items) == size
    import_trials(storage, "other", 3)
    client.get("/dashboard/api/studies/other/importance")
    assert len(cache._items) > size


def test_changes_report_new_trials_and_epochs(client: TestClient) -> None:
    space = {"x": {"type": "uniform", "low": 0, "high": 1}}
    client.post("/api/v1/studies", json={"name": "s", "space": space, "metric": "loss"})
    start = client.get("/dashboard/api/studies/s/changes").json()
    assert start["trials"] == [] and start["epochs"] == [] and not start["reset"]
    trial = client.post("/api/v1/studies/s/ask").json()["trial"]
    api_report(client, trial, 1, {"loss": 2})
    after = client.get(
        f"/dashboard/api/studies/s/changes?seq={start['seq']}&epoch={start['epoch']}"
    ).json()
    assert [t["state"] for t in after["trials"]] == ["running"]
    assert after["epochs"] == [[1, "running", 1, 2.0]]
    api_tell(client, trial, "complete", 1.5)
    done = client.get(
        f"/dashboard/api/studies/s/changes?seq={after['seq']}&epoch={after['epoch']}"
    ).json()
    assert done["trials"] == [{"number": 1, "state": "complete", "value": 1.5, "last_step": 1}]
    assert done["epochs"] == [] and done["study"]["best_value"] == 1.5


def test_unknown_study_and_trial_pages_are_404(client: TestClient) -> None:
    assert client.get("/studies/nope").status_code == 404
    assert "does not exist" in client.get("/studies/nope").text
    assert client.get("/dashboard/api/studies/nope/history").status_code == 404
    assert client.get("/trials/999").status_code == 404

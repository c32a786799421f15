"""The vendored Plotly bundle and the dashboard's compression, through the app."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from fastapi.testclient import TestClient

from parzen.service.config import Settings
from parzen.service.dashboard import PLOTLY_JS
from parzen.service.main import create_app
from parzen.service.storage import Storage

STATIC = Path(__file__).parents[3] / "service" / "dashboard" / "static"


def test_plotly_bundle_is_gzipped_and_cached_for_good(settings: Settings, storage: Storage) -> None:
    """Fails when the 1.5 MB bundle goes out uncompressed or without its immutable cache."""
    with TestClient(create_app(settings, storage)) as client:
        zipped = client.get("/dashboard/static/plotly.min.js?v=4.1.1")
        plain = client.get(
            "/dashboard/static/plotly.min.js?v=4.1.1", headers={"Accept-Encoding": "identity"}
        )
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(plain.content) / 2
    assert zipped.content == plain.content == PLOTLY_JS.read_bytes()  # httpx inflates it
    assert "immutable" in zipped.headers["cache-control"]
    assert "max-age=31536000" in zipped.headers["cache-control"]
    assert "content-encoding" not in plain.headers


def test_pages_static_files_are_compressed_and_the_api_is_not(
    settings: Settings, storage: Storage
) -> None:
    """Fails when GZip stops covering the dashboard, or starts costing the workers' API."""
    with TestClient(create_app(settings, storage)) as client:
        css = client.get("/dashboard/static/dashboard.css")
        api = client.get("/api/v1/studies", headers={"Authorization": "Bearer x" * 1})
        openapi = client.get("/openapi.json")
    assert css.headers.get("content-encoding") == "gzip"
    assert openapi.headers.get("content-encoding") == "gzip"  # large, not on the hot path
    assert "content-encoding" not in api.headers


def test_bundle_has_every_trace_type_the_pages_draw() -> None:
    """Fails when a page starts drawing a trace type the partial bundle lacks (add it to
    static/vendor/build/entry.js and rebuild, see static/vendor/README.md)."""
    bundle = PLOTLY_JS.read_text()
    registered = set(re.findall(r'moduleType:"trace",name:"([a-z0-9]+)"', bundle))
    scripts = " ".join(p.read_text() for p in STATIC.glob("*.js"))
    drawn = {"scatter", "scattergl"} | set(re.findall(r'type: *"([a-z0-9]+)"', scripts))
    drawn -= {"button", "category", "checkbox", "date", "linear", "log", "text", "number"}
    shapes = drawn & {"line", "rect", "circle", "path"}  # layout shapes, not traces
    if shapes:
        assert 'moduleType:"component",name:"shapes"' in bundle
    drawn -= shapes
    assert drawn <= registered, f"missing from the bundle: {sorted(drawn - registered)}"
    assert len(gzip.compress(bundle.encode())) < 700_000

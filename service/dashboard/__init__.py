"""The web dashboard: server-rendered pages at `/`, their data under `/dashboard/api`,
static files (and a partial Plotly.js bundle, static/vendor/) under `/dashboard/static`."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

from parzen.service.dashboard import analysis, auth, compare, data, not_found, pages
from parzen.service.dashboard.cache import StudyCache
from parzen.service.dashboard.templating import HERE, PLOTLY_VERSION

PLOTLY_JS = HERE / "static" / "vendor" / f"plotly-parzen-{PLOTLY_VERSION}.min.js"
# The URL carries the bundle's version (the pages' ?v=...), so a browser may keep it for good.
IMMUTABLE = "public, max-age=31536000, immutable"


class DashboardGZip(GZipMiddleware):
    """GZip for the dashboard's pages, data and static files; the API's answers (small, and
    on the workers' hot path) pass untouched."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else "/api"
        if path.startswith(("/api/", "/healthz", "/readyz", "/metrics")):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


@functools.cache
def _plotly_gzipped() -> bytes:
    return gzip.compress(Path(PLOTLY_JS).read_bytes(), compresslevel=9, mtime=0)


def install(app: FastAPI) -> None:
    app.state.dashboard_cache = StudyCache()
    app.add_exception_handler(auth.LoginRequired, auth.redirect_to_login)
    app.add_exception_handler(not_found.PageNotFound, not_found.not_found_page)
    app.add_middleware(DashboardGZip, minimum_size=1024, compresslevel=6)
    for module in (auth, pages, data, analysis, compare):
        app.include_router(module.router)

    @app.get("/dashboard/static/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        # Compressed once per process (level 9): 1.56 MB -> 0.5 MB.
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            body = _plotly_gzipped()
        else:
            body = PLOTLY_JS.read_bytes()
        return Response(body, media_type="text/javascript", headers=headers)

    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard")
